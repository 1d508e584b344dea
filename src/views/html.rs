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

/// The `id` of every element in `html` (as [`keyed_children`] reads them), in order.
pub(crate) fn element_ids(html: &str) -> Vec<&str> {
    let mut scanner = Scanner { src: html.as_bytes(), at: 0 };
    let mut ids = Vec::new();
    while let Some(i) = memchr::memchr(b'<', &scanner.src[scanner.at..]) {
        scanner.at += i + 1;
        if scanner.starts_with(b"!--") {
            scanner.at += 3;
            scanner.skip_past(b"-->");
        } else if matches!(scanner.peek(0), Some(b'!' | b'?')) {
            scanner.skip_past(b">");
        } else if scanner.peek(0) == Some(b'/') && scanner.peek(1).is_some_and(|b| b.is_ascii_alphabetic()) {
            scanner.skip_tag(None);
        } else if scanner.peek(0).is_some_and(|b| b.is_ascii_alphabetic()) {
            let name_start = scanner.at;
            while scanner.peek(0).is_some_and(|b| !is_space(b) && b != b'/' && b != b'>') {
                scanner.at += 1;
            }
            let name = &scanner.src[name_start..scanner.at];
            if let Some(id) = scanner.tag_id() {
                ids.push(id);
            }
            if let Some(raw) = RAW_TEXT.iter().find(|raw| name.eq_ignore_ascii_case(raw)) {
                scanner.skip_raw_text(raw);
            }
        }
    }
    ids
}

/// One top-level element of a region's HTML that carries an `id`: what a patch can
/// replace, remove or append on its own (see [`keyed_children`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyedChild<'a> {
    pub id: &'a str,
    /// The element's whole markup, start tag to end tag.
    pub html: &'a str,
    /// It holds a form control (`input`, `select`, `textarea`), whose state in the
    /// browser may differ from its markup.
    pub controls: bool,
}

/// The top-level elements of `html` when it is nothing but elements that each carry
/// a distinct, non-empty, plain `id` (whitespace between them aside), with their
/// markup; `None` otherwise. Such a region can be patched child by child: a browser
/// finds each child by its id, wherever its parser put it.
///
/// Deliberately strict, so that what it splits is what a browser builds: top-level
/// text, comments, an element that is not closed (or closed twice), or a
/// self-closing tag that is not a void element give `None`, and the region is sent
/// whole as before.
pub(crate) fn keyed_children(html: &str) -> Option<Vec<KeyedChild<'_>>> {
    keyed_children_reusing(html, |_, _| None)
}

/// [`keyed_children`], told of children it need not read again. Where a top-level
/// element starts, `known(children, rest)` is asked for it, with the children found
/// so far and the markup from that element on; it may answer with a child whose
/// markup is a prefix of `rest`, such as a child as last rendered whose bytes `rest`
/// starts with. That child is taken as it is and the walk goes on after it: the same
/// bytes from the same place split the same way, so the answer is the one reading
/// them would give. A child that is not a prefix of `rest` is read instead. The
/// children it answers with must have distinct ids, as those of one earlier reading
/// do: only the children read are checked against the others.
pub(crate) fn keyed_children_reusing<'a>(
    html: &'a str,
    mut known: impl FnMut(&[KeyedChild<'a>], &'a str) -> Option<KeyedChild<'a>>,
) -> Option<Vec<KeyedChild<'a>>> {
    let mut scanner = Scanner { src: html.as_bytes(), at: 0 };
    let mut children: Vec<KeyedChild<'_>> = Vec::new();
    let mut depth = 0usize;
    // Where the current top-level element starts, and its id.
    let mut open: Option<(usize, &str)> = None;
    let mut controls = false;
    // The children read here, not answered by `known`.
    let mut read: Vec<usize> = Vec::new();
    loop {
        let text_start = scanner.at;
        let Some(i) = find_byte(b'<', &scanner.src[scanner.at..]) else {
            let rest = &scanner.src[text_start..];
            return (depth == 0 && rest.iter().all(|b| is_space(*b)) && distinct(&children, &read))
                .then_some(children);
        };
        if depth == 0 && !scanner.src[text_start..text_start + i].iter().all(|b| is_space(*b)) {
            return None;
        }
        let tag_start = text_start + i;
        if depth == 0 {
            let rest = &html[tag_start..];
            if let Some(child) = known(&children, rest).filter(|c| is_prefix(c.html, rest)) {
                scanner.at = tag_start + child.html.len();
                children.push(child);
                continue;
            }
        }
        scanner.at = tag_start + 1;
        if scanner.peek(0) == Some(b'/') && scanner.peek(1).is_some_and(|b| b.is_ascii_alphabetic()) {
            // Most end tags are a name and `>`; anything else is walked like a start
            // tag's attributes, as a browser does.
            scanner.at += 1;
            scanner.skip_until(SPACE | SLASH | GT | EQ);
            if scanner.peek(0) == Some(b'>') {
                scanner.at += 1;
            } else {
                scanner.at = tag_start + 1;
                scanner.skip_tag(None);
            }
            depth = depth.checked_sub(1)?;
            if depth == 0 {
                let (start, id) = open.take()?;
                read.push(children.len());
                children.push(KeyedChild { id, html: &html[start..scanner.at], controls });
            }
        } else if scanner.peek(0).is_some_and(|b| b.is_ascii_alphabetic()) {
            let name_start = scanner.at;
            scanner.skip_until(SPACE | SLASH | GT);
            let kind = TagKind::of(&scanner.src[name_start..scanner.at]);
            // Only a top-level element's id matters.
            let id = if depth == 0 {
                scanner.tag_id()
            } else {
                scanner.skip_tag(None);
                None
            };
            let self_closing = scanner.at >= 2 && &scanner.src[scanner.at - 2..scanner.at] == b"/>";
            if self_closing && !kind.void {
                return None;
            }
            if depth == 0 {
                let id = id.filter(|id| !id.is_empty())?;
                open = Some((tag_start, id));
                controls = false;
            }
            controls |= kind.control;
            if let Some(raw) = kind.raw_text {
                scanner.skip_raw_text(raw);
            } else if !kind.void {
                depth += 1;
                continue;
            }
            // A void or raw-text element ends here.
            if depth == 0 {
                let (start, id) = open.take()?;
                read.push(children.len());
                children.push(KeyedChild { id, html: &html[start..scanner.at], controls });
            }
        } else if depth == 0 {
            // A comment, doctype or stray `<` at the top level.
            return None;
        } else if scanner.starts_with(b"!--") {
            scanner.at += 3;
            scanner.skip_past(b"-->");
        } else if matches!(scanner.peek(0), Some(b'!' | b'?')) {
            scanner.skip_past(b">");
        }
    }
}

/// The text nodes a browser's parser makes of one keyed child's markup, in document
/// order, as byte ranges of it (character references not decoded yet): each run of
/// text between two tags or comments is one node, whitespace-only runs included.
///
/// `None` when the parser could build them otherwise than this walk assumes, so that
/// a text can be changed in place only where its node is certain: end tags that do
/// not close the element last opened, non-whitespace text where a table puts no text
/// (a browser moves it out), table parts outside their table, a `<` that is text,
/// raw-text and foreign content (`script`, `textarea`, `pre`, `template`, `svg`, ...),
/// and `data-lv-ignore`, whose content the runtime leaves alone.
pub(crate) fn text_runs(html: &str) -> Option<Vec<std::ops::Range<usize>>> {
    let src = html.as_bytes();
    let mut scanner = Scanner { src, at: 0 };
    // The names of the open elements, as written.
    let mut open: Vec<&[u8]> = Vec::new();
    let mut runs = Vec::new();
    loop {
        let start = scanner.at;
        let next = find_byte(b'<', &src[start..]).map(|i| start + i);
        let end = next.unwrap_or(src.len());
        if end > start {
            let text = &src[start..end];
            let parent = open.last()?;
            if text.iter().any(|&b| b == b'\r' || b == 0) {
                return None;
            }
            if NO_TEXT.iter().any(|t| parent.eq_ignore_ascii_case(t)) && !text.iter().all(|b| is_space(*b)) {
                return None;
            }
            runs.push(start..end);
        }
        let Some(lt) = next else { break };
        scanner.at = lt + 1;
        match (scanner.peek(0), scanner.peek(1)) {
            (Some(b'/'), Some(b)) if b.is_ascii_alphabetic() => {
                scanner.at += 1;
                let name_start = scanner.at;
                scanner.skip_until(SPACE | SLASH | GT);
                let name = &src[name_start..scanner.at];
                scanner.skip_tag(None);
                if !open.pop()?.eq_ignore_ascii_case(name) {
                    return None;
                }
            }
            (Some(b), _) if b.is_ascii_alphabetic() => {
                let name_start = scanner.at;
                scanner.skip_until(SPACE | SLASH | GT);
                let name = &src[name_start..scanner.at];
                let kind = TagKind::of(name);
                if kind.raw_text.is_some() || UNCERTAIN.iter().any(|n| name.eq_ignore_ascii_case(n)) {
                    return None;
                }
                if let Some(part) = TABLE_PARTS.iter().position(|t| name.eq_ignore_ascii_case(t)) {
                    // The child's own element is where its region puts it; below it, a
                    // table part must be where a table has it.
                    let parent_ok = |names: &[&[u8]]| {
                        open.last().is_some_and(|p| names.iter().any(|n| p.eq_ignore_ascii_case(n)))
                    };
                    let placed = open.is_empty()
                        || match TABLE_PARTS[part] {
                            // A table goes anywhere text may (in a table part, a browser
                            // moves it out).
                            b"table" => !open
                                .last()
                                .is_some_and(|p| NO_TEXT.iter().any(|n| p.eq_ignore_ascii_case(n))),
                            // Straight in a table, a row gets a tbody of its own: the
                            // text nodes stay where they were.
                            b"tr" => parent_ok(&[b"table", b"tbody", b"thead", b"tfoot"]),
                            b"td" | b"th" => parent_ok(&[b"tr"]),
                            _ => parent_ok(&[b"table"]),
                        };
                    if !placed {
                        return None;
                    }
                }
                if scanner.skip_tag(Some(b"data-lv-ignore")) {
                    return None;
                }
                let self_closing = scanner.at >= 2 && &src[scanner.at - 2..scanner.at] == b"/>";
                if self_closing && !kind.void {
                    return None;
                }
                if !kind.void {
                    open.push(name);
                }
            }
            (Some(b'!'), _) if scanner.starts_with(b"!--") => {
                scanner.at += 3;
                // `<!-->` and `<!--->` end where they start.
                if scanner.peek(0) == Some(b'>') || scanner.starts_with(b"->") {
                    return None;
                }
                scanner.skip_past(b"-->");
            }
            // A `<` that is text, a doctype or a bogus comment.
            _ => return None,
        }
    }
    open.is_empty().then_some(runs)
}

/// Table elements: outside a table a browser drops them.
const TABLE_PARTS: &[&[u8]] =
    &[b"table", b"tbody", b"thead", b"tfoot", b"tr", b"td", b"th", b"caption", b"colgroup"];

/// Where a browser takes text other than whitespace out of the element (out of the
/// table, before it).
const NO_TEXT: &[&[u8]] = &[b"table", b"tbody", b"thead", b"tfoot", b"tr", b"colgroup"];

/// Elements whose text nodes are not simply their markup's text: parsed as raw text
/// with scripting on (`noscript`), kept out of the tree (`template`), a first newline
/// dropped (`pre`, `listing`), foreign content, a tree rebuilt (`html`, `body`,
/// `head`, `form` in a form), or content the browser ignores.
const UNCERTAIN: &[&[u8]] = &[
    b"noscript",
    b"template",
    b"pre",
    b"listing",
    b"svg",
    b"math",
    b"html",
    b"head",
    b"body",
    b"form",
    b"frameset",
    b"frame",
    b"col",
    b"select",
    b"option",
    b"optgroup",
    b"image",
    b"object",
];

/// A text run's characters as a browser reads them: `&amp;`, `&lt;`, `&gt;`, `&quot;`,
/// `&apos;` and numeric references of printable characters decoded, a `&` that starts
/// no reference kept. `None` for any other reference (a name this does not know, a
/// number a browser would replace), so that its node is sent whole instead.
pub(crate) fn decode_text(raw: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !raw.contains('&') {
        return Some(std::borrow::Cow::Borrowed(raw));
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '#') {
            out.push('&');
            continue;
        }
        let end = rest.find(';')?;
        let body = &rest[..end];
        let ch = match body {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let num = body.strip_prefix('#')?;
                let n = match num.strip_prefix(['x', 'X']) {
                    Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        u32::from_str_radix(hex, 16).ok()?
                    }
                    None if !num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) => num.parse().ok()?,
                    _ => return None,
                };
                let printable = matches!(n, 0x20..=0x7e | 0xa0..=0xd7ff | 0xe000..=0xfdcf | 0xfdf0..=0xfffd | 0x10000..=0x10fffd);
                char::from_u32(n).filter(|_| printable)?
            }
        };
        out.push(ch);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Some(std::borrow::Cow::Owned(out))
}

/// FNV-1a, 64 bits: a digest that is cheap for short ids.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// What a start tag's name says about the element, for [`keyed_children`]: found by
/// one match on the lower-cased name instead of a case-insensitive comparison with
/// every name of the void elements, the form controls and [`RAW_TEXT`] (most of the splitter's time
/// when it did that for each tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct TagKind {
    void: bool,
    control: bool,
    raw_text: Option<&'static [u8]>,
}

impl TagKind {
    fn of(name: &[u8]) -> TagKind {
        // The longest name of the three lists has 9 bytes.
        let mut lower = [0u8; 9];
        let Some(lower) = lower.get_mut(..name.len()) else {
            return TagKind::default();
        };
        for (l, b) in lower.iter_mut().zip(name) {
            *l = b.to_ascii_lowercase();
        }
        let (void, control, raw_text): (bool, bool, Option<&'static [u8]>) = match &*lower {
            b"area" | b"base" | b"br" | b"col" | b"embed" | b"hr" | b"img" | b"link" | b"meta"
            | b"source" | b"track" | b"wbr" => (true, false, None),
            b"input" => (true, true, None),
            b"select" => (false, true, None),
            b"textarea" => (false, true, Some(b"textarea")),
            b"script" => (false, false, Some(b"script")),
            b"style" => (false, false, Some(b"style")),
            b"title" => (false, false, Some(b"title")),
            b"xmp" => (false, false, Some(b"xmp")),
            b"iframe" => (false, false, Some(b"iframe")),
            b"noembed" => (false, false, Some(b"noembed")),
            b"noframes" => (false, false, Some(b"noframes")),
            b"plaintext" => (false, false, Some(b"plaintext")),
            _ => (false, false, None),
        };
        TagKind { void, control, raw_text }
    }
}

/// Whether `part` is a non-empty slice of `whole` that starts where `whole` starts.
fn is_prefix(part: &str, whole: &str) -> bool {
    std::ptr::eq(part.as_ptr(), whole.as_ptr()) && !part.is_empty() && part.len() <= whole.len()
}

/// Whether no two children share an id (a browser would find only the first), when
/// those not in `read` are known to have distinct ids.
fn distinct(children: &[KeyedChild<'_>], read: &[usize]) -> bool {
    // A few read among many (a row changed, an item appended): each against the rest.
    if read.len() <= 8 {
        return read
            .iter()
            .all(|&r| children.iter().enumerate().all(|(i, c)| i == r || c.id != children[r].id));
    }
    // Sorting a 64-bit digest of each id costs far less than sorting the ids (which
    // share their prefixes: `row-1`, `row-2`); only when two digests are equal, as
    // two equal ids' are, are the ids themselves compared.
    let mut digests: Vec<u64> = children.iter().map(|c| fnv1a(c.id.as_bytes())).collect();
    digests.sort_unstable();
    if digests.windows(2).all(|pair| pair[0] != pair[1]) {
        return true;
    }
    let mut ids: Vec<&str> = children.iter().map(|c| c.id).collect();
    ids.sort_unstable();
    ids.windows(2).all(|pair| pair[0] != pair[1])
}

/// Elements whose content the browser reads as text up to their own end tag, so a
/// `<div data-lv>` inside them is not an element.
const RAW_TEXT: &[&[u8]] =
    &[b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed", b"noframes", b"plaintext"];

struct Scanner<'a> {
    src: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.src.get(self.at + offset).copied()
    }

    /// Moves to the next byte of one of the classes in `stop` (or to the end).
    fn skip_until(&mut self, stop: u8) {
        let rest = self.src.get(self.at..).unwrap_or_default();
        self.at += rest.iter().position(|&b| CLASS[usize::from(b)] & stop != 0).unwrap_or(rest.len());
    }

    /// Moves past the bytes of the classes in `over`.
    fn skip_over(&mut self, over: u8) {
        let rest = self.src.get(self.at..).unwrap_or_default();
        self.at += rest.iter().position(|&b| CLASS[usize::from(b)] & over == 0).unwrap_or(rest.len());
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
        while let Some(i) = memchr::memchr(b'<', &self.src[self.at..]) {
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
        self.attributes(|name, _| found |= wanted.is_some_and(|w| name.eq_ignore_ascii_case(w)));
        found
    }

    /// Reads the rest of a start tag (like `skip_tag`) and returns its `id` value when
    /// it is quoted or plain and holds no character reference (`&`), which the browser
    /// would decode into another id.
    fn tag_id(&mut self) -> Option<&'a str> {
        let src = self.src;
        // The first id attribute counts, as in a browser; one with a character
        // reference counts as none.
        let mut id: Option<Option<&'a str>> = None;
        self.attributes(|name, value| {
            if id.is_none() && name.eq_ignore_ascii_case(b"id") {
                let bytes = value.map_or(&b""[..], |v| &src[v]);
                id = Some(std::str::from_utf8(bytes).ok().filter(|_| !bytes.contains(&b'&')));
            }
        });
        id.flatten()
    }

    /// Walks the attributes of a tag up to and past its `>`, the way a browser's
    /// tokenizer does, calling `each` with every attribute's name and value range.
    fn attributes(&mut self, mut each: impl FnMut(&[u8], Option<std::ops::Range<usize>>)) {
        loop {
            self.skip_over(SPACE | SLASH);
            match self.peek(0) {
                None => return,
                Some(b'>') => {
                    self.at += 1;
                    return;
                }
                Some(_) => {}
            }
            // A name runs to space, `/`, `>` or `=`; a leading `=` belongs to it.
            let name_start = self.at;
            self.at += 1;
            self.skip_until(SPACE | SLASH | GT | EQ);
            let name = name_start..self.at;
            self.skip_over(SPACE);
            if self.peek(0) != Some(b'=') {
                each(&self.src[name], None);
                continue;
            }
            self.at += 1;
            self.skip_over(SPACE);
            let value = match self.peek(0) {
                Some(quote @ (b'"' | b'\'')) => {
                    self.at += 1;
                    let start = self.at;
                    self.skip_past(&[quote]);
                    // Up to the closing quote, or to the end when there is none.
                    let end = if self.src.get(self.at.wrapping_sub(1)) == Some(&quote) && self.at > start {
                        self.at - 1
                    } else {
                        self.at
                    };
                    start..end
                }
                _ => {
                    let start = self.at;
                    self.skip_until(SPACE | GT);
                    start..self.at
                }
            };
            each(&self.src[name], Some(value));
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

/// Byte classes of [`CLASS`]: HTML's whitespace, `/`, `>` and `=`.
const SPACE: u8 = 1;
const SLASH: u8 = 2;
const GT: u8 = 4;
const EQ: u8 = 8;

/// Each byte's class, so that a scan stops on one lookup per byte.
static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    class[b' ' as usize] = SPACE;
    class[b'\t' as usize] = SPACE;
    class[b'\n' as usize] = SPACE;
    class[b'\r' as usize] = SPACE;
    class[0x0c] = SPACE;
    class[b'/' as usize] = SLASH;
    class[b'>' as usize] = GT;
    class[b'=' as usize] = EQ;
    class
};

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')
}

/// The first `b` in `haystack`: a plain loop over its first 32 bytes, then `memchr`.
fn find_byte(b: u8, haystack: &[u8]) -> Option<usize> {
    const NEAR: usize = 32;
    let near = &haystack[..haystack.len().min(NEAR)];
    match near.iter().position(|&x| x == b) {
        Some(i) => Some(i),
        None if haystack.len() > NEAR => memchr::memchr(b, &haystack[NEAR..]).map(|i| i + NEAR),
        None => None,
    }
}

/// Case-insensitive search (tag names in end tags may be in any case).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    match needle {
        // The common case (a closing quote, `>`): a plain byte search, by hand over
        // the first bytes, where it most often ends, since `memchr` costs more to start.
        [b] if !b.is_ascii_alphabetic() => find_byte(*b, haystack),
        _ => haystack.windows(needle.len()).position(|w| w.eq_ignore_ascii_case(needle)),
    }
}

#[cfg(test)]
mod tests {
    use super::{has_live_root, keyed_children, TagKind, CLASS, EQ, GT, RAW_TEXT, SLASH, SPACE};

    /// Form controls: what the user changes in place.
    const CONTROLS: &[&[u8]] = &[b"input", b"select", b"textarea"];

    /// Elements that have no content and no end tag.
    const VOID: &[&[u8]] = &[
        b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"source",
        b"track", b"wbr",
    ];

    #[test]
    fn tag_kinds_are_found_in_any_case() {
        let others: &[&[u8]] = &[b"td", b"tr", b"li", b"x", b"inputs"];
        for &name in VOID.iter().chain(CONTROLS).chain(RAW_TEXT).chain(others) {
            let upper = name.to_ascii_uppercase();
            let mut mixed = name.to_vec();
            mixed[0] = mixed[0].to_ascii_uppercase();
            for spelled in [name, &upper[..], &mixed[..]] {
                let kind = TagKind::of(spelled);
                let shown = String::from_utf8_lossy(spelled);
                assert_eq!(kind.void, VOID.contains(&name), "{shown}");
                assert_eq!(kind.control, CONTROLS.contains(&name), "{shown}");
                assert_eq!(kind.raw_text, RAW_TEXT.iter().copied().find(|r| *r == name), "{shown}");
            }
        }
        assert_eq!(TagKind::of(b"blockquote"), TagKind::default());
    }

    #[test]
    fn byte_classes_match_their_bytes() {
        for b in 0..=255u8 {
            let want = [(super::is_space(b), SPACE), (b == b'/', SLASH), (b == b'>', GT), (b == b'=', EQ)]
                .iter()
                .fold(0, |acc, &(is, class)| if is { acc | class } else { acc });
            assert_eq!(CLASS[usize::from(b)], want, "byte {b}");
        }
    }

    #[test]
    fn end_tags_with_attributes_end_where_a_browser_ends_them() {
        // `>` inside a quoted attribute value of an end tag does not end the tag.
        let html = r#"<li id=a>x</li title="a>b"><li id=b>y</li ><li id=c>z</li/>"#;
        assert_eq!(
            ids(html).unwrap(),
            [
                ("a".into(), r#"<li id=a>x</li title="a>b">"#.into()),
                ("b".into(), "<li id=b>y</li >".into()),
                ("c".into(), "<li id=c>z</li/>".into()),
            ]
        );
        assert_eq!(ids(r#"<li id=a>x</li="a>b"><li id=b>y</li>"#).unwrap().len(), 2);
    }

    #[test]
    fn notes_the_children_that_hold_form_controls() {
        let kids =
            keyed_children("<li id=a><input type=checkbox> a</li><li id=b>b</li><SELECT id=c></SELECT>")
                .unwrap();
        assert_eq!(kids.iter().map(|k| k.controls).collect::<Vec<_>>(), [true, false, true]);
    }

    fn ids(html: &str) -> Option<Vec<(String, String)>> {
        keyed_children(html).map(|c| c.into_iter().map(|c| (c.id.to_string(), c.html.to_string())).collect())
    }

    #[test]
    fn splits_a_region_into_its_keyed_children() {
        let rows = "\n  <tr id=\"row-1\"><td>a</td><td><button data-lv-click=\"bump\">b</button></td></tr>\n  <tr id='row-2' class=x><td>&lt;tr&gt;</td></tr>\n";
        assert_eq!(
            ids(rows).unwrap(),
            [
                (
                    "row-1".into(),
                    r#"<tr id="row-1"><td>a</td><td><button data-lv-click="bump">b</button></td></tr>"#
                        .into()
                ),
                ("row-2".into(), "<tr id='row-2' class=x><td>&lt;tr&gt;</td></tr>".into()),
            ]
        );
        assert_eq!(ids("").unwrap(), []);
        assert_eq!(ids("<li id=a>x<br>y<img src=\"a.png\"/></li><hr id=b>").unwrap().len(), 2);
        assert_eq!(
            ids("<div id=a><script>let s = '</div>';</script></div><textarea id=t></li></textarea>")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(ids("<LI ID=\"a\" title=\"<li id=b>\">x</Li>").unwrap()[0].0, "a");
    }

    #[test]
    fn leaves_anything_else_whole() {
        for html in [
            "<li>no id</li>",
            "<li id=a>x</li><li>no id</li>",
            "<li id=a>x</li><li id=a>twice</li>",
            "<li id=a>x</li><li id=b>y</li><li id=c>z</li><li id=b>again</li>",
            "<li id=\"\">empty</li>",
            "<li id=\"a&amp;b\">reference</li>",
            "text<li id=a>x</li>",
            "<li id=a>x</li>text",
            "<!-- c --><li id=a>x</li>",
            "<li id=a>not closed",
            "<li id=a>x</li></li>",
            "<li id=a>x<li id=b>y</li>",
            "<div id=a/>",
            "<svg id=a><path d=\"M0\"/></svg>",
        ] {
            assert_eq!(ids(html), None, "{html}");
        }
    }

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
