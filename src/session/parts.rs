//! Patching a region child by child. A region whose HTML is a list of elements with
//! ids (table rows, list items, chat messages) changes, most of the time, in a few
//! of them: one row updated, items appended at the end, one removed. Such a change
//! goes out as those children alone instead of the whole region, so a 100-row table
//! costs one row per event and a growing list one item. A child whose markup changed
//! only in its text (a cell's number) goes out as the changed texts alone, by the
//! index of their text nodes, where a browser's parser certainly makes those nodes
//! ([`text_runs`]).
//!
//! Anything else (a reordering, an insertion before the end, children without ids,
//! or parts no smaller than the whole) is sent whole, as before. Children holding
//! form controls are always sent when their region is rendered, changed or not, so
//! that the server's rendering of a control wins as it does for a whole region.

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use super::render::{hash_keys, html_hash};
use crate::protocol::ChildChanges;
use crate::views::html::{decode_text, text_runs, KeyedChild};

/// A keyed child as last sent.
#[derive(Debug, Clone)]
pub(crate) struct SentChild {
    pub id: Box<str>,
    /// Hash of its markup.
    pub hash: u64,
    /// Its text nodes, when they can be changed in place ([`text_runs`]): the hash of
    /// its markup without them, then the hash of each. Shared with the next render
    /// while the child does not change.
    pub texts: Option<Arc<[u64]>>,
}

/// What a session remembers of the HTML it last sent for a region.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Hash of the HTML: [`html_hash`] of all of it, or for keyed children, a hash of
    /// their ids and hashes (whitespace between them, which is never sent, aside), so
    /// that no byte of a keyed region is hashed twice.
    pub hash: u64,
    /// Each keyed child, in order, when the HTML is keyed children.
    pub children: Option<Box<[SentChild]>>,
}

impl Sent {
    /// The memory of `html`, whose keyed children (if any) are `children`; their
    /// texts are left to [`diff`] or [`Sent::with_texts`].
    pub fn of(html: &str, children: Option<&[KeyedChild<'_>]>) -> Sent {
        match children {
            None => Sent { hash: html_hash(html), children: None },
            Some(kids) => {
                let children: Box<[SentChild]> = kids
                    .iter()
                    .map(|c| SentChild { id: Box::from(c.id), hash: html_hash(c.html), texts: None })
                    .collect();
                // Tagged: its input is never the same as a whole HTML's.
                let mut h = hash_keys().build_hasher();
                h.write(b"keyed");
                for c in &children {
                    h.write(c.id.as_bytes());
                    h.write_u8(0xff);
                    h.write_u64(c.hash);
                }
                Sent { hash: h.finish(), children: Some(children) }
            }
        }
    }

    /// Records every child's texts: for a region sent whole, or first rendered.
    pub fn with_texts(mut self, children: Option<&[KeyedChild<'_>]>) -> Sent {
        if let (Some(sent), Some(kids)) = (self.children.as_mut(), children) {
            for (s, c) in sent.iter_mut().zip(kids) {
                s.texts = texts_of(c.html).map(|(t, _)| t);
            }
        }
        self
    }
}

/// Byte ranges of a child's text nodes in its markup.
type Runs = Vec<std::ops::Range<usize>>;

/// A child's text hashes (see [`SentChild::texts`]) and its text runs.
fn texts_of(html: &str) -> Option<(Arc<[u64]>, Runs)> {
    let runs = text_runs(html)?;
    let mut shape = hash_keys().build_hasher();
    let mut at = 0;
    for r in &runs {
        shape.write(&html.as_bytes()[at..r.start]);
        shape.write_u8(0xff);
        at = r.end;
    }
    shape.write(&html.as_bytes()[at..]);
    let hashes: Arc<[u64]> =
        std::iter::once(shape.finish()).chain(runs.iter().map(|r| html_hash(&html[r.clone()]))).collect();
    Some((hashes, runs))
}

/// New texts for some of a child's text nodes: how many it has (the client checks
/// that its copy has as many), then each changed node's index and text. Sent as one
/// array: `[count, index, "text", index, "text", ...]`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TextSet {
    pub count: usize,
    pub changes: Vec<(usize, String)>,
}

impl Serialize for TextSet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(1 + 2 * self.changes.len()))?;
        seq.serialize_element(&self.count)?;
        for (i, text) in &self.changes {
            seq.serialize_element(i)?;
            seq.serialize_element(text)?;
        }
        seq.end()
    }
}

/// The child-by-child change of one region (docs/protocol.md, `patch`'s `remove`,
/// `set`, `text` and `append`), applied in this order.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct RegionParts {
    /// Ids of children to remove.
    pub remove: Vec<String>,
    /// Child id -> its new markup (the whole element), morphed into the old one.
    pub set: BTreeMap<String, String>,
    /// Child id -> new texts of some of its text nodes, where nothing else changed.
    pub text: BTreeMap<String, TextSet>,
    /// Markup of new children, appended after the last one.
    pub append: String,
}

/// The regions' changes, merged into a patch's fields: child ids are unique in the
/// page, so `remove`, `set` and `text` need no region; `append` is keyed by region.
impl ChildChanges for BTreeMap<String, RegionParts> {
    fn write_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let parts = || self.values();
        if parts().any(|p| !p.remove.is_empty()) {
            map.serialize_entry("remove", &Seq::of(parts().flat_map(|p| &p.remove)))?;
        }
        if parts().any(|p| !p.set.is_empty()) {
            map.serialize_entry("set", &Entries::of(parts().flat_map(|p| &p.set)))?;
        }
        if parts().any(|p| !p.text.is_empty()) {
            map.serialize_entry("text", &Entries::of(parts().flat_map(|p| &p.text)))?;
        }
        if parts().any(|p| !p.append.is_empty()) {
            let appends = self.iter().filter(|(_, p)| !p.append.is_empty()).map(|(id, p)| (id, &p.append));
            map.serialize_entry("append", &Entries::of(appends))?;
        }
        Ok(())
    }
}

/// An iterator serialized once as a JSON array.
struct Seq<I>(Cell<Option<I>>);

impl<I> Seq<I> {
    fn of(items: I) -> Self {
        Seq(Cell::new(Some(items)))
    }
}

impl<I: Iterator<Item: Serialize>> Serialize for Seq<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.take().into_iter().flatten())
    }
}

/// An iterator of pairs serialized once as a JSON object.
struct Entries<I>(Cell<Option<I>>);

impl<I> Entries<I> {
    fn of(pairs: I) -> Self {
        Entries(Cell::new(Some(pairs)))
    }
}

impl<K: Serialize, V: Serialize, I: Iterator<Item = (K, V)>> Serialize for Entries<I> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.take().into_iter().flatten())
    }
}

impl RegionParts {
    /// Roughly what these parts add to a patch frame, JSON punctuation and keys
    /// included, to weigh against the region's whole HTML.
    fn bytes(&self) -> usize {
        const FRAME: usize = 10; // a field of its own, such as ,"text":{}
        FRAME
            + self.remove.iter().map(|id| id.len() + 3).sum::<usize>()
            + self.set.iter().map(|(id, html)| id.len() + html.len() + 6).sum::<usize>()
            + self
                .text
                .iter()
                .map(|(id, t)| id.len() + 8 + t.changes.iter().map(|(_, s)| s.len() + 8).sum::<usize>())
                .sum::<usize>()
            + self.append.len()
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.text.is_empty() && self.append.is_empty()
    }
}

/// How a changed child goes out: only its changed texts when nothing else in it
/// changed and each can be read as a browser reads it, else whole. Records its texts
/// in `now` either way.
fn changed_child(parts: &mut RegionParts, old: &SentChild, now: &mut SentChild, child: &KeyedChild<'_>) {
    let texts = texts_of(child.html);
    now.texts = texts.as_ref().map(|(t, _)| t.clone());
    let text_set = (|| {
        let (new, runs) = texts?;
        let old = old.texts.as_deref()?;
        if old.len() != new.len() || old[0] != new[0] {
            return None;
        }
        let mut set = TextSet { count: runs.len(), changes: Vec::new() };
        for (i, run) in runs.iter().enumerate() {
            if old[i + 1] != new[i + 1] {
                set.changes.push((i, decode_text(&child.html[run.clone()])?.into_owned()));
            }
        }
        Some(set)
    })();
    match text_set {
        Some(set) => {
            parts.text.insert(child.id.to_string(), set);
        }
        None => {
            parts.set.insert(child.id.to_string(), child.html.to_string());
        }
    }
}

/// The parts that turn the region last sent as `old` into `html`, whose keyed
/// children are `new` and `now` (its [`Sent::children`], whose texts this records),
/// or `None` when the region should be sent whole.
pub(crate) fn diff(
    old: &[SentChild],
    new: &[KeyedChild<'_>],
    now: &mut [SentChild],
    html: &str,
) -> Option<RegionParts> {
    let mut parts = RegionParts::default();
    // A child with form controls is sent even when its markup is the same: as with a
    // whole region, the server's rendering of a control wins over what the user left
    // in it.
    let keep = |parts: &mut RegionParts, old: &SentChild, now: &mut SentChild, child: &KeyedChild<'_>| {
        if child.controls {
            parts.set.insert(child.id.to_string(), child.html.to_string());
        } else if old.hash == now.hash {
            now.texts = old.texts.clone();
        } else {
            changed_child(parts, old, now, child);
        }
    };
    // Most changes leave every child where it was (a row updated, items appended):
    // then the old children are the first new ones, and no lookup is needed.
    let in_place = old.len() <= new.len() && old.iter().zip(new).all(|(o, c)| *o.id == *c.id);
    // The children kept must stay in their order, ahead of any new one.
    let mut kept = 0;
    if in_place {
        for (i, o) in old.iter().enumerate() {
            keep(&mut parts, o, &mut now[i], &new[i]);
        }
        kept = old.len();
    } else {
        let wanted: HashMap<&str, usize> = new.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        for o in old {
            match wanted.get(&*o.id) {
                None => parts.remove.push(o.id.to_string()),
                Some(&i) if i == kept => {
                    keep(&mut parts, o, &mut now[i], &new[i]);
                    kept += 1;
                }
                Some(_) => return None,
            }
        }
    }
    for (child, now) in new[kept..].iter().zip(&mut now[kept..]) {
        parts.append.push_str(child.html);
        now.texts = texts_of(child.html).map(|(t, _)| t);
    }
    (parts.bytes() < html.len()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol;
    use crate::views::html::keyed_children;

    fn sent(html: &str) -> Box<[SentChild]> {
        let kids = keyed_children(html);
        Sent::of(html, kids.as_deref()).with_texts(kids.as_deref()).children.expect("keyed children")
    }

    fn parts(old: &str, new: &str) -> Option<RegionParts> {
        let kids = keyed_children(new).expect("keyed children");
        let mut now = Sent::of(new, Some(&kids)).children.expect("keyed children");
        diff(&sent(old), &kids, &mut now, new)
    }

    fn rows(values: &[u32]) -> String {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("<tr id=\"r{i}\"><td>row {i}</td><td>{v}</td></tr>\n"))
            .collect()
    }

    #[test]
    fn one_changed_row_is_sent_alone() {
        let before = rows(&[0; 20]);
        let mut values = [0; 20];
        values[7] = 1;
        let p = parts(&before, &rows(&values)).expect("parts");
        // Only its text changed: only that text is sent.
        let text = TextSet { count: 2, changes: vec![(1, "1".into())] };
        assert_eq!(p, RegionParts { text: BTreeMap::from([("r7".into(), text)]), ..RegionParts::default() });
        let frame = protocol::patch(
            &BTreeMap::new(),
            &BTreeMap::from([("rows".to_string(), p)]),
            None,
            None,
            Some(3),
        );
        assert_eq!(frame, r#"{"ref":3,"text":{"r7":[2,1,"1"]}}"#);
    }

    #[test]
    fn the_changes_of_several_regions_go_out_merged_by_kind() {
        let a = RegionParts {
            remove: vec!["x".into()],
            append: r#"<li id="n">N</li>"#.into(),
            ..RegionParts::default()
        };
        let b = RegionParts {
            set: BTreeMap::from([("y".into(), r#"<li id="y">Y</li>"#.into())]),
            text: BTreeMap::from([("z".into(), TextSet { count: 1, changes: vec![(0, "Z".into())] })]),
            remove: vec!["w".into()],
            ..RegionParts::default()
        };
        let regions = BTreeMap::from([("whole".to_string(), "<b>1</b>".to_string())]);
        let parts = BTreeMap::from([("a".to_string(), a), ("b".to_string(), b)]);
        let frame = protocol::patch(&regions, &parts, None, Some("T"), None);
        assert_eq!(
            frame,
            r#"{"regions":{"whole":"<b>1</b>"},"title":"T","remove":["x","w"],"set":{"y":"<li id=\"y\">Y</li>"},"text":{"z":[1,0,"Z"]},"append":{"a":"<li id=\"n\">N</li>"}}"#
        );
        let no_parts = BTreeMap::<String, RegionParts>::new();
        assert_eq!(
            protocol::patch(&regions, &no_parts, None, None, None),
            r#"{"regions":{"whole":"<b>1</b>"}}"#
        );
    }

    /// A child's texts as a browser would show them, from the parts that change it.
    fn texts(old: &str, new: &str) -> Result<TextSet, String> {
        let pad = "<li id=\"pad\">a child long enough that parts are smaller than the whole</li>";
        let new = format!("{new}{pad}");
        if keyed_children(&new).is_none() {
            return Err("not keyed children: the region goes whole".into());
        }
        let p = parts(&format!("{old}{pad}"), &new).expect("parts");
        match (p.text.into_values().next(), p.set.into_values().next()) {
            (Some(t), None) => Ok(t),
            (None, Some(html)) => Err(html),
            other => panic!("expected one text or one set part: {other:?}"),
        }
    }

    #[test]
    fn texts_are_sent_as_a_browser_reads_them() {
        let t = texts(
            r#"<li id="a"><b>x</b> &amp; <i>y</i></li>"#,
            r#"<li id="a"><b>&lt;3 &#x27;q&#39; a&amp;b & c</b> &amp; <i>z</i></li>"#,
        )
        .expect("text parts");
        assert_eq!(t, TextSet { count: 3, changes: vec![(0, "<3 'q' a&b & c".into()), (2, "z".into())] });
        // Whitespace between tags is a node too; comments separate nodes.
        let t = texts("<li id=\"a\">\n <b>1</b><!-- c -->2</li>", "<li id=\"a\">\n <b>1</b><!-- c -->3</li>")
            .expect("text parts");
        assert_eq!(t, TextSet { count: 3, changes: vec![(2, "3".into())] });
        // A table inside a child, its cells' texts and the whitespace between its rows.
        let table = |v: u32| format!("<li id=\"a\"><table>\n<tr><td>x</td><td>{v}</td></tr></table></li>");
        let t = texts(&table(1), &table(2)).expect("text parts");
        assert_eq!(t, TextSet { count: 3, changes: vec![(2, "2".into())] });
    }

    #[test]
    fn a_child_whose_texts_are_uncertain_is_sent_whole() {
        let whole = |old: &str, new: &str| texts(old, new).expect_err("sent whole");
        // Markup changed (an attribute, an element, a text node more or less).
        whole(r#"<li id="a" class="x">1</li>"#, r#"<li id="a" class="y">2</li>"#);
        whole(r#"<li id="a">1</li>"#, r#"<li id="a"><b>1</b></li>"#);
        whole(r#"<li id="a"><b>1</b></li>"#, r#"<li id="a"><b>1</b>2</li>"#);
        // A reference a browser reads otherwise, or one this does not know.
        whole(r#"<li id="a">1</li>"#, r#"<li id="a">&nbsp;</li>"#);
        whole(r#"<li id="a">1</li>"#, r#"<li id="a">&#128;</li>"#);
        whole(r#"<li id="a">1</li>"#, r#"<li id="a">&copy</li>"#);
        // Content whose nodes are not its text: pre's first newline, raw text, text
        // a table moves out, a `<` that is text, an ignored element.
        whole("<li id=\"a\"><pre>1</pre></li>", "<li id=\"a\"><pre>2</pre></li>");
        whole("<li id=\"a\"><script>1</script></li>", "<li id=\"a\"><script>2</script></li>");
        whole("<li id=\"a\"><table><tr>1</tr></table></li>", "<li id=\"a\"><table><tr>2</tr></table></li>");
        whole("<li id=\"a\">1 < 2</li>", "<li id=\"a\">1 < 3</li>");
        whole("<li id=\"a\"><p data-lv-ignore>1</p></li>", "<li id=\"a\"><p data-lv-ignore>2</p></li>");
        whole("<li id=\"a\"><b>1</i></b></li>", "<li id=\"a\"><b>2</i></b></li>");
        whole("<li id=\"a\"><div><td>1</td></div></li>", "<li id=\"a\"><div><td>2</td></div></li>");
        // A table straight in a row is moved out of it.
        whole(
            "<li id=\"a\"><table><tr><table><tr><td>1</td></tr></table></tr></table></li>",
            "<li id=\"a\"><table><tr><table><tr><td>2</td></tr></table></tr></table></li>",
        );
    }

    #[test]
    fn appended_and_removed_children_are_sent_alone() {
        let list = |items: &[u32]| {
            items.iter().map(|i| format!("<li id=\"i{i}\">item {i}</li>")).collect::<String>()
        };
        let p = parts(&list(&[1, 2, 3, 4, 5, 6, 7, 8]), &list(&[1, 2, 3, 4, 5, 6, 7, 8, 9])).expect("parts");
        assert_eq!(p, RegionParts { append: "<li id=\"i9\">item 9</li>".into(), ..RegionParts::default() });
        let p = parts(&list(&[1, 2, 3, 4, 5, 6, 7, 8]), &list(&[1, 2, 4, 5, 6, 7, 8])).expect("parts");
        assert_eq!(p, RegionParts { remove: vec!["i3".into()], ..RegionParts::default() });
    }

    #[test]
    fn a_child_with_a_form_control_is_sent_even_unchanged() {
        let html = "<li id=\"a\"><input name=\"x\"></li><li id=\"b\">text that is long enough</li>";
        let p = parts(html, html).expect("parts");
        assert_eq!(p.set.keys().collect::<Vec<_>>(), ["a"]);
    }

    #[test]
    fn a_reorder_an_insertion_or_a_change_everywhere_is_sent_whole() {
        let list = |items: &[u32]| {
            items.iter().map(|i| format!("<li id=\"i{i}\">item {i}</li>")).collect::<String>()
        };
        assert_eq!(parts(&list(&[1, 2, 3, 4]), &list(&[2, 1, 3, 4])), None);
        assert_eq!(parts(&list(&[1, 2, 3, 4]), &list(&[0, 1, 2, 3, 4])), None);
        assert_eq!(parts(&list(&[1, 2, 3, 4]), &list(&[1, 2, 9, 3, 4])), None);
        let marked =
            |m: &str| (0..3).map(|i| format!("<li id=\"i{i}\" class=\"{m}\">{i}</li>")).collect::<String>();
        assert_eq!(parts(&marked("on"), &marked("off")), None, "parts no smaller than the whole");
    }
}
