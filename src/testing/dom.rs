//! The test client's document: a small HTML tree builder and serializer.
//!
//! Hand-written for the same reason as `views::html`: the test client needs a tree of
//! elements, attributes and text that it can read, patch and serialize the way a
//! browser's `innerHTML` would, not a conforming HTML5 parser. It handles what
//! templates produce: void elements, raw-text elements (`script`, `style`) and escapable
//! raw text (`textarea`, `title`), comments, a doctype, character references in text
//! and attribute values, and the end tags templates commonly leave out (`p`, `li`,
//! `option`, `dt`/`dd`, table rows and cells), closed as a browser closes them.
//! It does not synthesize `html`/`head`/`body` or apply the table and formatting
//! adoption rules.

/// A node's index in its [`Dom`] (an import, not a type alias: the header generator
/// would export an alias).
pub(crate) use std::primitive::usize as NodeId;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeData {
    Document,
    Doctype(String),
    Element { name: String, attrs: Vec<(String, String)> },
    Text(String),
    Comment(String),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub parent: Option<NodeId>,
    pub children: Vec<NodeId>,
    pub data: NodeData,
}

/// A document: nodes in an arena, the root ([`Dom::ROOT`]) being the document node.
/// Removed nodes stay in the arena, detached.
#[derive(Debug, Clone)]
pub(crate) struct Dom {
    nodes: Vec<Node>,
}

const VOID: &[&str] =
    &["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];
/// Content is text up to the element's end tag, character references kept as written.
const RAW_TEXT: &[&str] = &["script", "style", "xmp", "iframe", "noembed", "noframes"];
/// Content is text up to the element's end tag, character references decoded.
const RCDATA: &[&str] = &["textarea", "title"];
/// A start tag of one of these closes an open `p` (HTML's "close a p element").
const CLOSES_P: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "details",
    "dialog",
    "div",
    "dl",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "ul",
];
/// Elements an implied end tag never reaches past.
const SCOPE: &[&str] = &["html", "table", "td", "th", "caption", "template", "button", "object"];

impl Dom {
    pub(crate) const ROOT: NodeId = 0;

    /// Parses a whole document.
    pub fn parse(html: &str) -> Dom {
        let mut dom =
            Dom { nodes: vec![Node { parent: None, children: Vec::new(), data: NodeData::Document }] };
        dom.parse_into(Dom::ROOT, html);
        dom
    }

    /// Parses `html` as a fragment and appends its nodes to `parent`.
    pub fn parse_into(&mut self, parent: NodeId, html: &str) {
        Builder { dom: self, stack: vec![parent], src: html, at: 0 }.run();
    }

    /// Parses `html` as a fragment into a new detached container; its children are the
    /// fragment's nodes.
    pub fn fragment(&mut self, html: &str) -> NodeId {
        let holder = self.push(None, NodeData::Document);
        self.parse_into(holder, html);
        holder
    }

    fn push(&mut self, parent: Option<NodeId>, data: NodeData) -> NodeId {
        let id = self.nodes.len();
        self.nodes.push(Node { parent, children: Vec::new(), data });
        if let Some(p) = parent {
            self.nodes[p].children.push(id);
        }
        id
    }

    /// The element's name (lowercase), or `None` for other nodes.
    pub fn name(&self, id: NodeId) -> Option<&str> {
        match &self.nodes[id].data {
            NodeData::Element { name, .. } => Some(name),
            _ => None,
        }
    }

    pub fn is(&self, id: NodeId, wanted: &str) -> bool {
        self.name(id) == Some(wanted)
    }

    pub fn attrs(&self, id: NodeId) -> &[(String, String)] {
        match &self.nodes[id].data {
            NodeData::Element { attrs, .. } => attrs,
            _ => &[],
        }
    }

    pub fn attr(&self, id: NodeId, name: &str) -> Option<&str> {
        self.attrs(id).iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn has_attr(&self, id: NodeId, name: &str) -> bool {
        self.attr(id, name).is_some()
    }

    pub fn set_attr(&mut self, id: NodeId, name: &str, value: &str) {
        if let NodeData::Element { attrs, .. } = &mut self.nodes[id].data {
            match attrs.iter_mut().find(|(n, _)| n == name) {
                Some(a) => a.1 = value.to_string(),
                None => attrs.push((name.to_string(), value.to_string())),
            }
        }
    }

    pub fn remove_attr(&mut self, id: NodeId, name: &str) {
        if let NodeData::Element { attrs, .. } = &mut self.nodes[id].data {
            attrs.retain(|(n, _)| n != name);
        }
    }

    /// Replaces an element's attributes with another's (a morph of its start tag).
    pub fn copy_attrs(&mut self, to: NodeId, from: NodeId) {
        let attrs = self.attrs(from).to_vec();
        if let NodeData::Element { attrs: a, .. } = &mut self.nodes[to].data {
            *a = attrs;
        }
    }

    #[cfg(test)]
    pub fn children(&self, id: NodeId) -> &[NodeId] {
        &self.nodes[id].children
    }

    pub fn parent(&self, id: NodeId) -> Option<NodeId> {
        self.nodes[id].parent
    }

    pub fn element_children(&self, id: NodeId) -> impl Iterator<Item = NodeId> + '_ {
        self.nodes[id].children.iter().copied().filter(|&c| self.name(c).is_some())
    }

    /// Detaches a node from its parent.
    pub fn detach(&mut self, id: NodeId) {
        if let Some(p) = self.nodes[id].parent.take() {
            self.nodes[p].children.retain(|&c| c != id);
        }
    }

    /// Detaches every child of `id`.
    pub fn clear(&mut self, id: NodeId) {
        for c in std::mem::take(&mut self.nodes[id].children) {
            self.nodes[c].parent = None;
        }
    }

    /// Moves every child of `from` to the end of `to`.
    pub fn adopt_children(&mut self, to: NodeId, from: NodeId) {
        for c in std::mem::take(&mut self.nodes[from].children) {
            self.nodes[c].parent = Some(to);
            self.nodes[to].children.push(c);
        }
    }

    /// Puts `new` where `old` is; `old` is detached.
    pub fn replace(&mut self, old: NodeId, new: NodeId) {
        self.detach(new);
        let Some(p) = self.nodes[old].parent.take() else { return };
        if let Some(slot) = self.nodes[p].children.iter_mut().find(|c| **c == old) {
            *slot = new;
        }
        self.nodes[new].parent = Some(p);
    }

    /// Replaces the children of `id` by a text node (or none for "").
    pub fn set_text(&mut self, id: NodeId, text: &str) {
        self.clear(id);
        if !text.is_empty() {
            self.push(Some(id), NodeData::Text(text.to_string()));
        }
    }

    /// The text nodes under `id`, in document order.
    pub fn text_nodes(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack: Vec<NodeId> = self.nodes[id].children.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if matches!(self.nodes[n].data, NodeData::Text(_)) {
                out.push(n);
            }
            stack.extend(self.nodes[n].children.iter().rev().copied());
        }
        out
    }

    /// Sets the value of a text node (nothing for another node).
    pub fn set_node_text(&mut self, id: NodeId, text: &str) {
        if let NodeData::Text(t) = &mut self.nodes[id].data {
            *t = text.to_string();
        }
    }

    /// Every element under `id` (not `id` itself), in document order.
    pub fn descendants(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack: Vec<NodeId> = self.nodes[id].children.iter().rev().copied().collect();
        while let Some(n) = stack.pop() {
            if self.name(n).is_some() {
                out.push(n);
            }
            stack.extend(self.nodes[n].children.iter().rev().copied());
        }
        out
    }

    /// The element itself or its nearest ancestor element for which `pred` holds.
    pub fn closest(&self, id: NodeId, pred: impl Fn(NodeId) -> bool) -> Option<NodeId> {
        let mut at = Some(id);
        while let Some(n) = at {
            if self.name(n).is_some() && pred(n) {
                return Some(n);
            }
            at = self.nodes[n].parent;
        }
        None
    }

    /// The first element under `id` (or `id` itself) whose `id` attribute is `wanted`.
    pub fn by_id(&self, within: NodeId, wanted: &str) -> Option<NodeId> {
        if self.attr(within, "id") == Some(wanted) {
            return Some(within);
        }
        self.descendants(within).into_iter().find(|&n| self.attr(n, "id") == Some(wanted))
    }

    pub fn text_content(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.collect_text(id, &mut out);
        out
    }

    fn collect_text(&self, id: NodeId, out: &mut String) {
        match &self.nodes[id].data {
            NodeData::Text(t) => out.push_str(t),
            NodeData::Comment(_) | NodeData::Doctype(_) => {}
            _ => {
                for &c in &self.nodes[id].children {
                    self.collect_text(c, out);
                }
            }
        }
    }

    /// The markup of `id`'s children, as `innerHTML` gives it.
    pub fn inner_html(&self, id: NodeId) -> String {
        let mut out = String::new();
        let raw = self.name(id).is_some_and(|n| RAW_TEXT.contains(&n));
        for &c in &self.nodes[id].children {
            self.write(c, raw, &mut out);
        }
        out
    }

    /// The markup of `id` itself, as `outerHTML` gives it.
    pub fn outer_html(&self, id: NodeId) -> String {
        let mut out = String::new();
        self.write(id, false, &mut out);
        out
    }

    fn write(&self, id: NodeId, raw: bool, out: &mut String) {
        match &self.nodes[id].data {
            NodeData::Document => {
                for &c in &self.nodes[id].children {
                    self.write(c, false, out);
                }
            }
            NodeData::Doctype(d) => {
                out.push_str("<!");
                out.push_str(d);
                out.push('>');
            }
            NodeData::Comment(c) => {
                out.push_str("<!--");
                out.push_str(c);
                out.push_str("-->");
            }
            NodeData::Text(t) if raw => out.push_str(t),
            NodeData::Text(t) => escape(t, false, out),
            NodeData::Element { name, attrs } => {
                out.push('<');
                out.push_str(name);
                for (n, v) in attrs {
                    out.push(' ');
                    out.push_str(n);
                    out.push_str("=\"");
                    escape(v, true, out);
                    out.push('"');
                }
                out.push('>');
                if VOID.contains(&name.as_str()) {
                    return;
                }
                let raw = RAW_TEXT.contains(&name.as_str());
                for &c in &self.nodes[id].children {
                    self.write(c, raw, out);
                }
                out.push_str("</");
                out.push_str(name);
                out.push('>');
            }
        }
    }
}

/// Escapes as the HTML serialization algorithm does: `&`, U+00A0 and either `"` (in
/// an attribute value) or `<` and `>` (in text).
fn escape(s: &str, attr: bool, out: &mut String) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '\u{a0}' => out.push_str("&nbsp;"),
            '"' if attr => out.push_str("&quot;"),
            '<' if !attr => out.push_str("&lt;"),
            '>' if !attr => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
}

/// Decodes character references (`&amp;`, `&#39;`, `&#x27;`, a few common names);
/// anything else stays as written, as a browser leaves an unknown `&name;`.
pub(crate) fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest[1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '#')).map(|e| e + 1);
        let (body, after) = match end {
            Some(e) if rest[e..].starts_with(';') => (&rest[1..e], &rest[e + 1..]),
            _ => {
                out.push('&');
                rest = &rest[1..];
                continue;
            }
        };
        let ch = if let Some(num) = body.strip_prefix('#') {
            let n = match num.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => num.parse::<u32>().ok(),
            };
            n.map(|n| char::from_u32(n).filter(|&c| c != '\0').unwrap_or('\u{fffd}'))
        } else {
            named(body)
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = after;
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn named(name: &str) -> Option<char> {
    Some(match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "nbsp" => '\u{a0}',
        "copy" => '©',
        "reg" => '®',
        "hellip" => '…',
        "mdash" => '—',
        "ndash" => '–',
        "laquo" => '«',
        "raquo" => '»',
        "times" => '×',
        "middot" => '·',
        "bull" => '•',
        "larr" => '←',
        "rarr" => '→',
        "uarr" => '↑',
        "darr" => '↓',
        "check" => '✓',
        "euro" => '€',
        _ => return None,
    })
}

/// Builds the tree from the markup, one token at a time.
struct Builder<'d, 's> {
    dom: &'d mut Dom,
    /// Open elements; the first is the node parsed into, never popped.
    stack: Vec<NodeId>,
    src: &'s str,
    at: usize,
}

impl Builder<'_, '_> {
    fn run(mut self) {
        while self.at < self.src.len() {
            let rest = &self.src[self.at..];
            let Some(i) = rest.find('<') else {
                self.text(rest);
                self.at = self.src.len();
                break;
            };
            if i > 0 {
                self.text(&rest[..i]);
                self.at += i;
                continue;
            }
            let after = &rest[1..];
            if let Some(body) = after.strip_prefix("!--") {
                let (comment, len) = match body.find("-->") {
                    Some(e) => (&body[..e], 4 + e + 3),
                    None => (body, rest.len()),
                };
                let parent = self.current();
                self.dom.push(Some(parent), NodeData::Comment(comment.to_string()));
                self.at += len;
            } else if after.starts_with('!') || after.starts_with('?') {
                let end = rest.find('>').map_or(rest.len(), |e| e + 1);
                let inner = rest[1..end].trim_end_matches('>');
                if inner.len() > 1 && inner[1..].to_ascii_lowercase().starts_with("doctype") {
                    let parent = self.current();
                    self.dom.push(Some(parent), NodeData::Doctype(inner[1..].to_string()));
                } else {
                    let parent = self.current();
                    self.dom.push(Some(parent), NodeData::Comment(inner[1..].to_string()));
                }
                self.at += end;
            } else if after.starts_with('/') && after[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
                let end = rest.find('>').map_or(rest.len(), |e| e + 1);
                let name: String = rest[2..end]
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '/' && *c != '>')
                    .collect::<String>()
                    .to_ascii_lowercase();
                self.at += end;
                self.end_tag(&name);
            } else if after.starts_with(|c: char| c.is_ascii_alphabetic()) {
                self.start_tag();
            } else {
                // A `<` that opens no tag is text.
                self.text("<");
                self.at += 1;
            }
        }
    }

    fn current(&self) -> NodeId {
        *self.stack.last().unwrap_or(&Dom::ROOT)
    }

    fn text(&mut self, raw: &str) {
        let text = decode_entities(raw);
        self.push_text(text);
    }

    fn push_text(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        let parent = self.current();
        // Adjacent text merges, as in a browser's tree.
        if let Some(&last) = self.dom.nodes[parent].children.last() {
            if let NodeData::Text(t) = &mut self.dom.nodes[last].data {
                t.push_str(&text);
                return;
            }
        }
        self.dom.push(Some(parent), NodeData::Text(text));
    }

    fn start_tag(&mut self) {
        let src = self.src;
        let bytes = src.as_bytes();
        let mut i = self.at + 1;
        let name_start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'/' && bytes[i] != b'>' {
            i += 1;
        }
        let name = src[name_start..i].to_ascii_lowercase();
        let mut attrs: Vec<(String, String)> = Vec::new();
        loop {
            while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
                i += 1;
            }
            if i >= bytes.len() {
                break;
            }
            if bytes[i] == b'>' {
                i += 1;
                break;
            }
            let a_start = i;
            // A name may start with `=` (then it is part of the name, as in a browser).
            if bytes[i] == b'=' {
                i += 1;
            }
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'/' | b'>' | b'=')
            {
                i += 1;
            }
            let a_name = src[a_start..i].to_ascii_lowercase();
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < bytes.len() && bytes[i] == b'=' {
                i += 1;
                while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                    let q = bytes[i];
                    let v_start = i + 1;
                    let v_end =
                        bytes[v_start..].iter().position(|&b| b == q).map_or(bytes.len(), |e| v_start + e);
                    value = decode_entities(&src[v_start..v_end]);
                    i = (v_end + 1).min(bytes.len());
                } else {
                    let v_start = i;
                    while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                        i += 1;
                    }
                    value = decode_entities(&src[v_start..i]);
                }
            }
            // A repeated attribute keeps its first value, as in a browser.
            if !a_name.is_empty() && !attrs.iter().any(|(n, _)| *n == a_name) {
                attrs.push((a_name, value));
            }
        }
        self.at = i;
        self.implied_ends(&name);
        let parent = self.current();
        let el = self.dom.push(Some(parent), NodeData::Element { name: name.clone(), attrs });
        if VOID.contains(&name.as_str()) {
            return;
        }
        let raw = RAW_TEXT.contains(&name.as_str());
        if raw || RCDATA.contains(&name.as_str()) {
            let rest = &src[self.at..];
            let close = format!("</{name}");
            let end = find_ci(rest, &close).unwrap_or(rest.len());
            let mut content = &rest[..end];
            // A newline right after `<textarea>` (or `<pre>`) is not content.
            if name == "textarea" {
                content =
                    content.strip_prefix("\r\n").or_else(|| content.strip_prefix('\n')).unwrap_or(content);
            }
            let text = if raw { content.to_string() } else { decode_entities(content) };
            if !text.is_empty() {
                self.dom.push(Some(el), NodeData::Text(text));
            }
            let after = &rest[end..];
            self.at += end + after.find('>').map_or(after.len(), |e| e + 1);
            return;
        }
        self.stack.push(el);
        if name == "pre" {
            let rest = &src[self.at..];
            if let Some(r) = rest.strip_prefix("\r\n").or_else(|| rest.strip_prefix('\n')) {
                self.at += rest.len() - r.len();
            }
        }
    }

    /// Closes the elements a start tag of `name` ends implicitly.
    fn implied_ends(&mut self, name: &str) {
        let close_in_scope = |b: &mut Self, targets: &[&str], stop: &[&str]| {
            for depth in (1..b.stack.len()).rev() {
                let n = b.dom.name(b.stack[depth]).unwrap_or("");
                if targets.contains(&n) {
                    b.stack.truncate(depth);
                    return;
                }
                if stop.contains(&n) || SCOPE.contains(&n) {
                    return;
                }
            }
        };
        if CLOSES_P.contains(&name) || name == "li" || name == "dt" || name == "dd" {
            close_in_scope(self, &["p"], &[]);
        }
        match name {
            "li" => close_in_scope(self, &["li"], &["ul", "ol", "menu"]),
            "dt" | "dd" => close_in_scope(self, &["dt", "dd"], &["dl"]),
            "option" if self.dom.is(self.current(), "option") => {
                self.stack.pop();
            }
            "optgroup" => {
                if self.dom.is(self.current(), "option") {
                    self.stack.pop();
                }
                if self.dom.is(self.current(), "optgroup") {
                    self.stack.pop();
                }
            }
            "tr" => self.close_table_part(&["tr"], &["tbody", "thead", "tfoot", "table"]),
            "td" | "th" => self.close_table_part(&["td", "th"], &["tr", "table"]),
            "tbody" | "thead" | "tfoot" => self.close_table_part(&["tbody", "thead", "tfoot"], &["table"]),
            _ => {}
        }
    }

    /// Closes the nearest open element of `targets` (and whatever it holds) unless a
    /// `barrier` comes first: a new row ends the open row and its cells.
    fn close_table_part(&mut self, targets: &[&str], barrier: &[&str]) {
        for depth in (1..self.stack.len()).rev() {
            let n = self.dom.name(self.stack[depth]).unwrap_or("");
            if targets.contains(&n) {
                self.stack.truncate(depth);
                return;
            }
            if barrier.contains(&n) {
                return;
            }
        }
    }

    fn end_tag(&mut self, name: &str) {
        // The nearest open element of that name; a stray end tag is ignored.
        if let Some(depth) = (1..self.stack.len()).rev().find(|&d| self.dom.is(self.stack[d], name)) {
            self.stack.truncate(depth);
        }
    }
}

/// The first place `needle` (ASCII) occurs in `hay`, ignoring ASCII case.
fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    (0..=h.len().checked_sub(n.len())?).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(html: &str) -> String {
        Dom::parse(html).inner_html(Dom::ROOT)
    }

    #[test]
    fn builds_elements_text_and_void_elements() {
        let html = r#"<div id="a" class="x y"><p>Hi <b>there</b></p><br><input name=q value='1'></div>"#;
        assert_eq!(
            round_trip(html),
            r#"<div id="a" class="x y"><p>Hi <b>there</b></p><br><input name="q" value="1"></div>"#
        );
        let dom = Dom::parse(html);
        let input = dom.descendants(Dom::ROOT).into_iter().find(|&n| dom.is(n, "input")).expect("input");
        assert!(dom.children(input).is_empty(), "a void element has no children");
        assert_eq!(dom.parent(input).and_then(|p| dom.attr(p, "id")), Some("a"));
    }

    #[test]
    fn decodes_references_in_text_and_attributes_and_escapes_them_back() {
        let dom = Dom::parse(
            r#"<a title="x &amp; &quot;y&quot; &#39;z&#x27;">1 &lt; 2 &gt; 0 &nbsp;&copy; &bogus; & a</a>"#,
        );
        let a = dom.descendants(Dom::ROOT)[0];
        assert_eq!(dom.attr(a, "title"), Some("x & \"y\" 'z'"));
        assert_eq!(dom.text_content(a), "1 < 2 > 0 \u{a0}© &bogus; & a");
        assert_eq!(
            dom.outer_html(a),
            r#"<a title="x &amp; &quot;y&quot; 'z'">1 &lt; 2 &gt; 0 &nbsp;© &amp;bogus; &amp; a</a>"#
        );
    }

    #[test]
    fn raw_text_elements_hold_text_not_tags() {
        let html = "<script>if (a < b && c) { x('</div>'); }</script><style>p > b {}</style>\
                    <textarea name=t>\n<b>not bold</b> &amp;</textarea><title>A &amp; B</title>";
        let dom = Dom::parse(html);
        let els = dom.descendants(Dom::ROOT);
        assert_eq!(els.len(), 4, "no element inside raw text: {els:?}");
        assert_eq!(dom.text_content(els[0]), "if (a < b && c) { x('</div>'); }");
        assert_eq!(
            dom.text_content(els[2]),
            "<b>not bold</b> &",
            "textarea: leading newline dropped, refs decoded"
        );
        assert_eq!(dom.text_content(els[3]), "A & B");
        assert_eq!(dom.inner_html(els[1]), "p > b {}", "style content is not escaped");
    }

    #[test]
    fn script_content_may_hold_an_end_tag_in_another_case() {
        let dom = Dom::parse("<script>a</SCRIPT><p>after</p>");
        let els = dom.descendants(Dom::ROOT);
        assert_eq!(els.len(), 2);
        assert_eq!(dom.text_content(els[1]), "after");
    }

    #[test]
    fn comments_and_doctype_are_kept() {
        let html = "<!DOCTYPE html><div><!-- a <b>c</b> --></div>";
        assert_eq!(round_trip(html), html);
        assert!(Dom::parse(html).descendants(Dom::ROOT).len() == 1);
    }

    #[test]
    fn unclosed_p_li_and_option_close_as_in_a_browser() {
        assert_eq!(round_trip("<p>one<p>two<div>x</div>"), "<p>one</p><p>two</p><div>x</div>");
        assert_eq!(
            round_trip("<ul><li>a<li>b<ul><li>c</ul><li>d</ul>"),
            "<ul><li>a</li><li>b<ul><li>c</li></ul></li><li>d</li></ul>"
        );
        assert_eq!(
            round_trip("<select><option value=1>One<option value=2 selected>Two</select>"),
            r#"<select><option value="1">One</option><option value="2" selected="">Two</option></select>"#
        );
        assert_eq!(round_trip("<dl><dt>a<dd>b<dt>c</dl>"), "<dl><dt>a</dt><dd>b</dd><dt>c</dt></dl>");
        assert_eq!(
            round_trip("<table><tr><td>1<td>2<tr><td>3</table>"),
            "<table><tr><td>1</td><td>2</td></tr><tr><td>3</td></tr></table>"
        );
    }

    #[test]
    fn stray_end_tags_and_lone_angles_do_not_break_the_tree() {
        assert_eq!(round_trip("<div>a</span>b</div>c < d"), "<div>ab</div>c &lt; d");
        assert_eq!(round_trip("<div><span>x</div>y"), "<div><span>x</span></div>y");
    }

    #[test]
    fn fragments_attach_and_replace() {
        let mut dom = Dom::parse(r#"<ul id="l"><li id="a">A</li></ul>"#);
        let list = dom.by_id(Dom::ROOT, "l").expect("list");
        let frag = dom.fragment(r#"<li id="b">B</li>"#);
        dom.adopt_children(list, frag);
        let a = dom.by_id(Dom::ROOT, "a").expect("a");
        let frag = dom.fragment(r#"<li id="a">A2</li>"#);
        let new_a = dom.element_children(frag).next().expect("new a");
        dom.replace(a, new_a);
        assert_eq!(dom.inner_html(list), r#"<li id="a">A2</li><li id="b">B</li>"#);
    }
}
