//! Just enough of an HTML tokenizer to find out whether rendered markup has a live root.
//!
//! A text search for `data-lv` is fooled by content: a chat message or an attribute
//! value that says `data-lv` is text, not an attribute, and must not stop the page
//! body from getting its live root. So this walks the markup the way a browser's
//! tokenizer does (tags, attributes, quoted values, comments, raw-text elements) and
//! only looks at attribute *names* of start tags. Hand-written because the question is
//! this narrow: a full HTML parser crate would build a DOM for every render to answer it.

/// True when a start tag in `html` carries a `data-lv` attribute (any case, with or
/// without a value): the element the client runtime picks with `[data-lv]`.
pub(crate) fn has_live_root(html: &str) -> bool {
    let mut scanner = Scanner { src: html.as_bytes(), at: 0 };
    scanner.find_attribute(b"data-lv")
}

/// Elements whose content the browser reads as text up to their own end tag, so a
/// `<div data-lv>` inside them is not an element.
const RAW_TEXT: &[&[u8]] =
    &[b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes", b"plaintext"];

struct Scanner<'a> {
    src: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.src.get(self.at + offset).copied()
    }

    fn starts_with(&self, prefix: &[u8]) -> bool {
        self.src.len() >= self.at + prefix.len()
            && self.src[self.at..self.at + prefix.len()].eq_ignore_ascii_case(prefix)
    }

    /// Moves past the next occurrence of `needle` (or to the end).
    fn skip_past(&mut self, needle: &[u8]) {
        match find(&self.src[self.at..], needle) {
            Some(i) => self.at += i + needle.len(),
            None => self.at = self.src.len(),
        }
    }

    fn find_attribute(&mut self, wanted: &[u8]) -> bool {
        while let Some(i) = self.src[self.at..].iter().position(|b| *b == b'<') {
            self.at += i + 1;
            if self.starts_with(b"!--") {
                self.at += 3;
                self.skip_past(b"-->");
            } else if matches!(self.peek(0), Some(b'!' | b'?')) {
                // Doctype or bogus comment: ends at the first `>`.
                self.skip_past(b">");
            } else if self.peek(0) == Some(b'/') && self.peek(1).is_some_and(|b| b.is_ascii_alphabetic()) {
                // An end tag's "attributes" are ignored by browsers, and so here.
                self.skip_tag(None);
            } else if self.peek(0).is_some_and(|b| b.is_ascii_alphabetic()) {
                let name_start = self.at;
                while self.peek(0).is_some_and(|b| !is_space(b) && b != b'/' && b != b'>') {
                    self.at += 1;
                }
                let name = &self.src[name_start..self.at];
                if self.skip_tag(Some(wanted)) {
                    return true;
                }
                if let Some(raw) = RAW_TEXT.iter().find(|raw| name.eq_ignore_ascii_case(raw)) {
                    self.skip_raw_text(raw);
                }
            }
            // Anything else after `<` is text.
        }
        false
    }

    /// Reads attributes up to the end of the tag. True when one is named `wanted`.
    fn skip_tag(&mut self, wanted: Option<&[u8]>) -> bool {
        let mut found = false;
        loop {
            while self.peek(0).is_some_and(|b| is_space(b) || b == b'/') {
                self.at += 1;
            }
            match self.peek(0) {
                None => return found,
                Some(b'>') => {
                    self.at += 1;
                    return found;
                }
                Some(_) => {}
            }
            // A name runs to space, `/`, `>` or `=`; a leading `=` belongs to it.
            let name_start = self.at;
            self.at += 1;
            while self.peek(0).is_some_and(|b| !is_space(b) && !matches!(b, b'/' | b'>' | b'=')) {
                self.at += 1;
            }
            if wanted.is_some_and(|w| self.src[name_start..self.at].eq_ignore_ascii_case(w)) {
                found = true;
            }
            while self.peek(0).is_some_and(is_space) {
                self.at += 1;
            }
            if self.peek(0) != Some(b'=') {
                continue;
            }
            self.at += 1;
            while self.peek(0).is_some_and(is_space) {
                self.at += 1;
            }
            match self.peek(0) {
                Some(quote @ (b'"' | b'\'')) => {
                    self.at += 1;
                    self.skip_past(&[quote]);
                }
                _ => {
                    while self.peek(0).is_some_and(|b| !is_space(b) && b != b'>') {
                        self.at += 1;
                    }
                }
            }
        }
    }

    /// Skips the text of a raw-text element up to its end tag (`</name` followed by
    /// space, `/` or `>`).
    fn skip_raw_text(&mut self, name: &[u8]) {
        while let Some(i) = find(&self.src[self.at..], b"</") {
            self.at += i + 2;
            if self.starts_with(name)
                && self.src.get(self.at + name.len()).is_none_or(|b| is_space(*b) || matches!(b, b'/' | b'>'))
            {
                self.skip_tag(None);
                return;
            }
        }
        self.at = self.src.len();
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// Case-insensitive search (tag names in end tags may be in any case).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::has_live_root;

    #[test]
    fn finds_the_attribute_on_real_tags() {
        assert!(has_live_root(r#"<div id="lv-root" data-lv>"#));
        assert!(has_live_root(r#"<main data-lv="">x</main>"#));
        assert!(has_live_root(r#"<main class=a DATA-LV>"#));
        assert!(has_live_root(r#"<main class="a"data-lv/>"#));
        assert!(has_live_root("<p>a</p><div\ndata-lv\n>"));
    }

    #[test]
    fn ignores_text_values_comments_and_raw_text() {
        assert!(!has_live_root(r#"<button data-lv-click="inc">"#));
        assert!(!has_live_root("<p>say data-lv here</p>"));
        assert!(!has_live_root("<p>&lt;div data-lv&gt;</p>"));
        assert!(!has_live_root(r#"<p title="<div data-lv>">x</p>"#));
        assert!(!has_live_root(r#"<p title='a data-lv b'>x</p>"#));
        assert!(!has_live_root("<!-- <div data-lv> -->"));
        assert!(!has_live_root("<script>let s = '<div data-lv>';</script>"));
        assert!(!has_live_root("<textarea><div data-lv></textarea>"));
        assert!(!has_live_root("</div data-lv>"));
        assert!(!has_live_root("a < data-lv"));
        assert!(!has_live_root("<p data-lv-x=1 x=data-lv>"));
        // After the raw text ends, tags count again.
        assert!(has_live_root("<style>p{}</STYLE ><div data-lv>"));
    }
}
