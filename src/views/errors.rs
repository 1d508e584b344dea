//! Template errors a user can act on: what went wrong, the value that was undefined
//! (`state.colums`, not just "undefined value"), the file and line, and that line of
//! the template.
//!
//! minijinja reports an undefined value without its name but with the span of the
//! failing expression, so the name is recovered here: the paths in that expression
//! (and, when the span is only a filter's name, in its whole tag) are looked up in the
//! render's context, and the first one that is undefined is the one named. A path
//! rooted in a loop or `set` variable cannot be looked up; when the span is that path
//! alone, it is named as written.

use minijinja::{Environment, ErrorKind, Value};
use std::ops::Range;

/// The message of a template error: `undefined value state.colums (in
/// pages/board.html line 12)`, then the line of the template it points at and any
/// cause. `env` finds the template's source; `ctx` is the context the failing render
/// got, when there was one.
pub(crate) fn describe(err: &minijinja::Error, env: Option<&Environment<'_>>, ctx: Option<&Value>) -> String {
    let source = err.template_source().map(str::to_string).or_else(|| {
        let name = err.name()?;
        env?.get_template(name).ok().map(|t| t.source().to_string())
    });
    let undefined =
        err.kind() == ErrorKind::UndefinedError || err.detail().is_some_and(|d| d.contains("undefined"));
    let named = match (undefined, &source, err.range()) {
        (true, Some(src), Some(range)) => undefined_name(src, range, ctx),
        _ => None,
    };
    let mut msg = err.kind().to_string();
    match (err.kind(), &named) {
        (ErrorKind::UndefinedError, Some(name)) => {
            msg.push(' ');
            msg.push_str(name);
            if let Some(detail) = err.detail() {
                msg.push_str(&format!(": {detail}"));
            }
        }
        (_, named) => {
            if let Some(detail) = err.detail() {
                msg.push_str(&format!(": {detail}"));
            }
            if let Some(name) = named {
                msg.push_str(&format!(" ({name} is undefined)"));
            }
        }
    }
    match (err.name(), err.line()) {
        (Some(name), Some(line)) => msg.push_str(&format!(" (in {name} line {line})")),
        (Some(name), None) => msg.push_str(&format!(" (in {name})")),
        _ => {}
    }
    if let (Some(src), Some(line)) = (&source, err.line()) {
        if let Some(text) = src.lines().nth(line.saturating_sub(1)) {
            msg.push_str(&format!("\n  {line} | {}", text.trim_end()));
        }
    }
    let mut cause = std::error::Error::source(err);
    while let Some(inner) = cause {
        msg.push_str(&format!("\ncaused by: {inner}"));
        cause = inner.source();
    }
    msg
}

/// The undefined value the expression at `range` of `src` reads, as written there.
fn undefined_name(src: &str, range: Range<usize>, ctx: Option<&Value>) -> Option<String> {
    let (start, end) = (range.start.min(src.len()), range.end.min(src.len()));
    if start > end || !src.is_char_boundary(start) || !src.is_char_boundary(end) {
        return None;
    }
    // A span may begin inside a path (`.a.b` of `state.a.b`): widen it to the path.
    let bytes = src.as_bytes();
    let path_byte = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.';
    let mut from = start;
    while from > 0 && path_byte(bytes[from - 1]) {
        from -= 1;
    }
    let mut to = end;
    while to < bytes.len() && to > from && path_byte(bytes[to - 1]) && path_byte(bytes[to]) {
        to += 1;
    }
    let span = &src[from..to];
    if let Some(name) = ctx.and_then(|ctx| first_undefined(span, ctx)) {
        return Some(name);
    }
    // The span names only a filter or test: look at its whole tag.
    let tag_from = src[..from].rfind("{{").into_iter().chain(src[..from].rfind("{%")).max();
    let tag_to = [src[to..].find("}}"), src[to..].find("%}")].into_iter().flatten().min().map(|i| to + i);
    if let (Some(a), Some(b), Some(ctx)) = (tag_from, tag_to, ctx) {
        if let Some(name) = first_undefined(&src[a + 2..b], ctx) {
            return Some(name);
        }
    }
    // A path of a loop or `set` variable, or of a name the context lacks, alone.
    match paths(span).as_slice() {
        [only] if only.text == span.trim() => Some(only.text.to_string()),
        _ => None,
    }
}

/// The first path in `expr` rooted in the context whose value is undefined, named up
/// to its first undefined part (`state.a` of `state.a.b`).
fn first_undefined(expr: &str, ctx: &Value) -> Option<String> {
    for path in paths(expr) {
        let Ok(mut value) = ctx.get_attr(path.parts[0].key()) else { continue };
        if value.is_undefined() {
            // Not in the context: a loop or `set` variable, or a name nobody set.
            continue;
        }
        for (i, part) in path.parts.iter().enumerate().skip(1) {
            let next = match part {
                Part::Attr(name) | Part::Key(name) => value.get_attr(name),
                Part::Index(i) => value.get_item(&Value::from(*i)),
            };
            match next {
                Ok(v) if v.is_undefined() => return Some(path.prefix(i)),
                Ok(v) => value = v,
                Err(_) => break,
            }
        }
    }
    None
}

/// One part of a path as written: `.name`, `['name']` or `[3]`.
#[derive(Debug, PartialEq)]
enum Part<'a> {
    Attr(&'a str),
    Key(&'a str),
    Index(i64),
}

impl Part<'_> {
    fn key(&self) -> &str {
        match self {
            Part::Attr(k) | Part::Key(k) => k,
            Part::Index(_) => "",
        }
    }
}

/// A variable and the parts read from it, as written in the template.
#[derive(Debug)]
struct Path<'a> {
    text: &'a str,
    parts: Vec<Part<'a>>,
    /// Where each part ends in `text`.
    ends: Vec<usize>,
}

impl Path<'_> {
    fn prefix(&self, part: usize) -> String {
        self.text[..self.ends[part]].to_string()
    }
}

/// The variable paths in an expression (`state.a.b`, `browser['voter']`, `rows[0]`),
/// skipping string literals, keywords, and the names of filters, tests and functions.
fn paths(expr: &str) -> Vec<Path<'_>> {
    const KEYWORDS: &[&str] = &[
        "and", "or", "not", "in", "is", "if", "else", "for", "true", "false", "none", "True", "False", "None",
    ];
    let b = expr.as_bytes();
    let ident_start = |c: u8| c.is_ascii_alphabetic() || c == b'_';
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let ident_end = |mut i: usize| {
        while i < b.len() && ident(b[i]) {
            i += 1;
        }
        i
    };
    let mut out = Vec::new();
    let mut i = 0;
    // The last non-space byte before `i`: a `|` or `is` before a name makes it a filter
    // or test, a `.` makes it an attribute of something that is no path (`"x".upper`).
    let mut prev_word: &str = "";
    let mut prev: u8 = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i = expr[i + 1..].find(c as char).map_or(b.len(), |j| i + 1 + j + 1);
            prev = c;
            continue;
        }
        if !ident_start(c) {
            if !c.is_ascii_whitespace() {
                prev = c;
                prev_word = "";
            }
            i += if c.is_ascii() { 1 } else { expr[i..].chars().next().map_or(1, char::len_utf8) };
            continue;
        }
        let start = i;
        i = ident_end(i);
        let word = &expr[start..i];
        let skip = KEYWORDS.contains(&word) || prev == b'|' || prev == b'.' || prev_word == "is";
        let mut parts = vec![Part::Attr(word)];
        let mut ends = vec![i - start];
        loop {
            if i + 1 < b.len() && b[i] == b'.' && ident_start(b[i + 1]) {
                let e = ident_end(i + 1);
                parts.push(Part::Attr(&expr[i + 1..e]));
                i = e;
            } else if i < b.len() && b[i] == b'[' {
                let inner = &expr[i + 1..];
                let Some(close) = inner.find(']') else { break };
                let key = inner[..close].trim();
                let quoted = key.len() >= 2
                    && (key.starts_with('"') && key.ends_with('"')
                        || key.starts_with('\'') && key.ends_with('\''));
                if quoted {
                    parts.push(Part::Key(&key[1..key.len() - 1]));
                } else if let Ok(n) = key.parse::<i64>() {
                    parts.push(Part::Index(n));
                } else {
                    break;
                }
                i += 1 + close + 1;
            } else {
                break;
            }
            ends.push(i - start);
        }
        let rest = expr[i..].trim_start();
        // A call, or the name of a keyword argument (`by=` of `lv.click("x", by=1)`).
        let call = rest.starts_with('(') || (rest.starts_with('=') && !rest.starts_with("=="));
        prev = b[i - 1];
        prev_word = word;
        if !skip && !call {
            out.push(Path { text: &expr[start..i], parts, ends });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<&str> {
        paths(expr).into_iter().map(|p| p.text).collect()
    }

    #[test]
    fn paths_are_read_as_written() {
        assert_eq!(names("state.colums"), ["state.colums"]);
        assert_eq!(names("'x' ~ state.cols | upper"), ["state.cols"]);
        assert_eq!(
            names("state.a is defined and browser['voter'] or rows[0].x"),
            ["state.a", "browser['voter']", "rows[0].x"]
        );
        assert_eq!(names("lv.click('inc', by=state.step) ~ \"state.no\""), ["state.step"]);
        assert_eq!(names("x | default(state.d) is not none"), ["x", "state.d"]);
    }
}
