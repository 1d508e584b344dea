//! CSS selectors for the test client: the subset tests need to point at an element.
//!
//! Supported: type (`button`), universal (`*`), `#id`, `.class`, attributes (`[name]`,
//! `[name=value]`, `[name="value"]`, `[name='value']`, and `~=` `^=` `$=` `*=`),
//! compounds of those (`button.primary[data-lv-click=inc]`), the descendant (space) and
//! child (`>`) combinators, and lists (`a, b`). Names match case-insensitively, values
//! exactly. Anything else (pseudo-classes, `+`, `~`) is refused with a message naming it.

use super::dom::{Dom, NodeId};

/// A parsed selector list.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector {
    alternatives: Vec<Complex>,
}

/// Compounds joined by combinators, the subject last.
#[derive(Debug, Clone, PartialEq)]
struct Complex {
    /// `(compound, child)`: `child` is true when the compound is joined to the next one
    /// by `>`, false for a descendant combinator. The last entry's flag is unused.
    steps: Vec<(Compound, bool)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Compound {
    tag: Option<String>,
    id: Option<String>,
    classes: Vec<String>,
    attrs: Vec<(String, Op, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Exists,
    Equals,
    Word,
    Prefix,
    Suffix,
    Contains,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut p = Parser { src: text, chars: text.char_indices().peekable() };
        let mut alternatives = Vec::new();
        loop {
            alternatives.push(p.complex()?);
            p.skip_ws();
            match p.chars.next() {
                None => break,
                Some((_, ',')) => continue,
                Some((i, c)) => return Err(format!("unexpected {c:?} at {i}")),
            }
        }
        Ok(Selector { alternatives })
    }

    pub fn matches(&self, dom: &Dom, el: NodeId) -> bool {
        self.alternatives.iter().any(|c| c.matches(dom, el))
    }

    /// Every element under `root` that matches, in document order.
    pub fn select(&self, dom: &Dom, root: NodeId) -> Vec<NodeId> {
        dom.descendants(root).into_iter().filter(|&n| self.matches(dom, n)).collect()
    }
}

impl Complex {
    fn matches(&self, dom: &Dom, el: NodeId) -> bool {
        let n = self.steps.len();
        self.steps[n - 1].0.matches(dom, el) && self.matches_from(dom, el, n - 1)
    }

    /// Whether the steps before `i` match the ancestors of `el` (which matched step `i`).
    fn matches_from(&self, dom: &Dom, el: NodeId, i: usize) -> bool {
        if i == 0 {
            return true;
        }
        let (ref compound, child) = self.steps[i - 1];
        let mut at = dom.parent(el);
        while let Some(a) = at {
            if dom.name(a).is_none() {
                return false;
            }
            if compound.matches(dom, a) && self.matches_from(dom, a, i - 1) {
                return true;
            }
            if child {
                return false;
            }
            at = dom.parent(a);
        }
        false
    }
}

impl Compound {
    fn matches(&self, dom: &Dom, el: NodeId) -> bool {
        let Some(name) = dom.name(el) else { return false };
        if self.tag.as_ref().is_some_and(|t| t != name) {
            return false;
        }
        if self.id.as_ref().is_some_and(|id| dom.attr(el, "id") != Some(id)) {
            return false;
        }
        if !self.classes.is_empty() {
            let class = dom.attr(el, "class").unwrap_or("");
            if !self.classes.iter().all(|c| class.split_ascii_whitespace().any(|x| x == c)) {
                return false;
            }
        }
        self.attrs.iter().all(|(n, op, v)| {
            let Some(have) = dom.attr(el, n) else { return false };
            match op {
                Op::Exists => true,
                Op::Equals => have == v,
                Op::Word => have.split_ascii_whitespace().any(|w| w == v),
                Op::Prefix => !v.is_empty() && have.starts_with(v.as_str()),
                Op::Suffix => !v.is_empty() && have.ends_with(v.as_str()),
                Op::Contains => !v.is_empty() && have.contains(v.as_str()),
            }
        })
    }
}

struct Parser<'a> {
    src: &'a str,
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
}

impl Parser<'_> {
    fn skip_ws(&mut self) -> bool {
        let mut any = false;
        while self.chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
            self.chars.next();
            any = true;
        }
        any
    }

    fn complex(&mut self) -> Result<Complex, String> {
        let mut steps = Vec::new();
        self.skip_ws();
        loop {
            let compound = self.compound()?;
            let spaced = self.skip_ws();
            match self.chars.peek().map(|&(_, c)| c) {
                Some('>') => {
                    self.chars.next();
                    self.skip_ws();
                    steps.push((compound, true));
                }
                Some(',') | None => {
                    steps.push((compound, false));
                    return Ok(Complex { steps });
                }
                Some(c @ ('+' | '~')) => return Err(format!("the combinator {c:?} is not supported")),
                Some(_) if spaced => steps.push((compound, false)),
                Some(c) => return Err(format!("unexpected {c:?}")),
            }
        }
    }

    fn compound(&mut self) -> Result<Compound, String> {
        let mut c = Compound::default();
        let mut any = false;
        loop {
            match self.chars.peek().map(|&(_, c)| c) {
                Some('*') if !any => {
                    self.chars.next();
                }
                Some('#') => {
                    self.chars.next();
                    c.id = Some(self.ident("an id after '#'")?);
                }
                Some('.') => {
                    self.chars.next();
                    c.classes.push(self.ident("a class after '.'")?);
                }
                Some('[') => {
                    self.chars.next();
                    c.attrs.push(self.attribute()?);
                }
                Some(':') => {
                    let rest: String =
                        self.chars.clone().map(|(_, c)| c).take_while(|c| !c.is_whitespace()).collect();
                    return Err(format!("the pseudo-class {rest:?} is not supported"));
                }
                Some(ch) if !any && is_ident_char(ch) => {
                    c.tag = Some(self.ident("a tag name")?.to_ascii_lowercase());
                }
                Some(ch) if !any => {
                    return Err(format!("expected an element, '#', '.' or '[', found {ch:?}"))
                }
                None if !any => return Err("expected a selector, found the end".into()),
                _ => return Ok(c),
            }
            any = true;
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, String> {
        let mut out = String::new();
        while let Some(&(_, ch)) = self.chars.peek() {
            if ch == '\\' {
                self.chars.next();
                match self.chars.next() {
                    Some((_, e)) => out.push(e),
                    None => return Err("a '\\' ends the selector".into()),
                }
            } else if is_ident_char(ch) {
                out.push(ch);
                self.chars.next();
            } else {
                break;
            }
        }
        if out.is_empty() {
            return Err(format!("expected {what}"));
        }
        Ok(out)
    }

    fn attribute(&mut self) -> Result<(String, Op, String), String> {
        self.skip_ws();
        let name = self.ident("an attribute name after '['")?.to_ascii_lowercase();
        self.skip_ws();
        let op = match self.chars.next().map(|(_, c)| c) {
            Some(']') => return Ok((name, Op::Exists, String::new())),
            Some('=') => Op::Equals,
            Some(c @ ('~' | '^' | '$' | '*' | '|')) => {
                if self.chars.next().map(|(_, c)| c) != Some('=') {
                    return Err(format!("expected '=' after {c:?} in [{name}...]"));
                }
                match c {
                    '~' => Op::Word,
                    '^' => Op::Prefix,
                    '$' => Op::Suffix,
                    '*' => Op::Contains,
                    _ => return Err("the '|=' attribute operator is not supported".into()),
                }
            }
            other => return Err(format!("expected ']' or '=' in [{name}, found {other:?}")),
        };
        self.skip_ws();
        let value = match self.chars.peek().map(|&(_, c)| c) {
            Some(q @ ('"' | '\'')) => {
                self.chars.next();
                let mut v = String::new();
                loop {
                    match self.chars.next() {
                        Some((_, '\\')) => match self.chars.next() {
                            Some((_, e)) => v.push(e),
                            None => return Err(format!("unclosed quote in [{name}=...")),
                        },
                        Some((_, c)) if c == q => break,
                        Some((_, c)) => v.push(c),
                        None => return Err(format!("unclosed quote in [{name}=...")),
                    }
                }
                v
            }
            _ => self.ident(&format!("a value in [{name}=...]"))?,
        };
        self.skip_ws();
        match self.chars.next() {
            Some((_, ']')) => Ok((name, op, value)),
            Some((i, c)) => Err(format!("expected ']' at {i} in {:?}, found {c:?}", self.src)),
            None => Err(format!("expected ']' in {:?}", self.src)),
        }
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_' || !c.is_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<div id="root" data-lv>
      <ul id="list"><li id="a" class="item done">A <button data-lv-click="del" data-lv-value-id="a">x</button></li>
      <li id="b" class="item">B <button data-lv-click="del" data-lv-value-id="b">x</button></li></ul>
      <form data-lv-submit="save"><input name="title" type="text"><button type="submit">Save</button></form>
    </div>"#;

    fn ids(sel: &str) -> Vec<String> {
        let dom = Dom::parse(PAGE);
        let s = Selector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
        s.select(&dom, Dom::ROOT)
            .into_iter()
            .map(|n| {
                dom.attr(n, "id").or(dom.attr(n, "name")).unwrap_or(dom.name(n).unwrap_or("")).to_string()
            })
            .collect()
    }

    #[test]
    fn matches_the_supported_subset() {
        assert_eq!(ids("li"), ["a", "b"]);
        assert_eq!(ids("#b"), ["b"]);
        assert_eq!(ids(".item.done"), ["a"]);
        assert_eq!(ids("LI.item"), ["a", "b"]);
        assert_eq!(ids("[data-lv-value-id=b]"), ["button"]);
        assert_eq!(ids("#b [data-lv-click=\"del\"]"), ["button"]);
        assert_eq!(ids("ul > li#a > button"), ["button"]);
        assert_eq!(ids("#root > li"), Vec::<String>::new(), "li is not a child of #root");
        assert_eq!(ids("#root li"), ["a", "b"]);
        assert_eq!(ids("input[name='title'], #a"), ["a", "title"]);
        assert_eq!(ids("[class~=done]"), ["a"]);
        assert_eq!(ids("[data-lv-value-id^=a]"), ["button"]);
        assert_eq!(ids("form *[type=submit]"), ["button"]);
        assert_eq!(ids("[data-lv]"), ["root"]);
    }

    #[test]
    fn refuses_what_it_does_not_support_by_name() {
        for (sel, why) in [
            ("li:first-child", "pseudo-class \":first-child\""),
            ("li + li", "combinator '+'"),
            ("[x", "expected ']' or '='"),
            ("[x='a]", "unclosed quote"),
            ("", "expected a selector"),
            ("#", "expected an id"),
            ("a,", "expected a selector"),
        ] {
            let err = Selector::parse(sel).expect_err(sel);
            assert!(err.contains(why), "{sel}: {err}");
        }
    }
}
