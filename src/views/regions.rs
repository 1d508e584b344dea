//! Whether a page holds the elements its regions fill, found before it is served.
//!
//! A region is a DOM id whose element a partial fills; a page whose templates lack
//! that element registers fine and then patches nothing. So registration reads the
//! page template, its layout and every template they name with a literal (`partial`,
//! `include`, `extends`, `import`, `from`) for an element carrying each region's id.
//! An id written by an expression (`id="{{ x }}"`), a template named by one, or HTML
//! printed with `safe` could hold the element too: then the answer is "unsure", and
//! the first rendered document decides (see `Views::check`).

use minijinja::Environment;
use std::collections::HashSet;

use super::{html, partial_file};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    Yes,
    No,
    Unsure,
}

/// For each of `ids`, whether the templates of `page` (and `layout`) hold an element
/// with that id.
pub(crate) fn scan<'i>(
    env: &Environment<'static>,
    page: &str,
    layout: Option<&str>,
    ids: &[&'i str],
) -> Vec<(&'i str, Found)> {
    let mut literal: HashSet<String> = HashSet::new();
    let mut dynamic = false;
    let mut seen: HashSet<String> = HashSet::new();
    let mut todo: Vec<String> = std::iter::once(page).chain(layout).map(str::to_string).collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        // A missing template is the render's error to report, not this one's.
        let Ok(tmpl) = env.get_template(&name) else { continue };
        let src = tmpl.source();
        for id in html::element_ids(src) {
            if id.contains("{{") || id.contains("{%") {
                dynamic = true;
            } else {
                literal.insert(id.to_string());
            }
        }
        let (named, unknown) = named_templates(src);
        dynamic |= unknown || prints_safe(src);
        todo.extend(named);
    }
    ids.iter()
        .map(|id| {
            let found = if literal.contains(*id) {
                Found::Yes
            } else if dynamic {
                Found::Unsure
            } else {
                Found::No
            };
            (*id, found)
        })
        .collect()
}

/// The templates `src` names with a literal, as files; true when it names one with
/// an expression too.
fn named_templates(src: &str) -> (Vec<String>, bool) {
    let mut named = Vec::new();
    let mut unknown = false;
    let mut rest = src;
    while let Some(i) = rest.find("partial(") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "partial(".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        match literal(rest) {
            Some(name) => named.push(partial_file(name)),
            None => unknown = true,
        }
    }
    let mut rest = src;
    while let Some(i) = rest.find("{%") {
        rest = &rest[i + 2..];
        let tag = rest.trim_start_matches(['-', '+']).trim_start();
        let word = tag.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
        if matches!(word, "include" | "extends" | "import" | "from") {
            match literal(tag[word.len()..].trim_start()) {
                Some(name) => named.push(name.to_string()),
                None => unknown = true,
            }
        }
    }
    (named, unknown)
}

/// The string literal `s` starts with (after spaces), when it starts with one.
fn literal(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let quote = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let end = s[1..].find(quote)?;
    Some(&s[1..1 + end])
}

/// Whether `src` prints markup it does not escape, which could hold any element.
fn prints_safe(src: &str) -> bool {
    let squeezed: String = src.chars().filter(|c| !c.is_whitespace()).collect();
    squeezed.contains("|safe")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(templates: &[(&str, &str)]) -> Environment<'static> {
        let mut env = Environment::new();
        for (name, src) in templates {
            env.add_template_owned(name.to_string(), src.to_string()).unwrap();
        }
        env
    }

    #[test]
    fn ids_are_found_in_the_page_its_partials_and_its_layout() {
        let env = env(&[
            ("pages/p.html", r#"<main id="a">{{ partial("box") }}{% include "partials/inc.html" %}</main>"#),
            ("partials/box.html", "<section id='b'></section>"),
            ("partials/inc.html", "<p id=c>x</p>"),
            ("layouts/default.html", r#"<body><aside id="d"></aside>{{ content }}</body>"#),
        ]);
        let found = scan(&env, "pages/p.html", Some("layouts/default.html"), &["a", "b", "c", "d", "e"]);
        assert_eq!(
            found,
            [("a", Found::Yes), ("b", Found::Yes), ("c", Found::Yes), ("d", Found::Yes), ("e", Found::No)]
        );
        // `data-id="e"` and text are no id.
        let env = env_with_text();
        assert_eq!(scan(&env, "pages/t.html", None, &["e"]), [("e", Found::No)]);
    }

    fn env_with_text() -> Environment<'static> {
        env(&[("pages/t.html", r#"<p data-id="e" class="e">id="e"</p><!-- <i id="e"> -->"#)])
    }

    #[test]
    fn ids_written_by_expressions_are_unsure_not_missing() {
        for src in [
            r#"<div id="{{ state.rid }}"></div>"#,
            r#"<div id="r-{% if x %}1{% endif %}"></div>"#,
            r#"{{ partial(state.which) }}"#,
            r#"{% include state.which %}"#,
            r#"{{ state.html | safe }}"#,
        ] {
            let env = env(&[("pages/p.html", src)]);
            assert_eq!(scan(&env, "pages/p.html", None, &["r"]), [("r", Found::Unsure)], "{src}");
        }
    }
}
