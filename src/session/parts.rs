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
use crate::views::html::{decode_text, keyed_children_reusing, text_runs, KeyedChild};

/// A keyed child as last sent.
#[derive(Debug, Clone)]
pub(crate) struct SentChild {
    /// Shared with the next render while the child does not change.
    pub id: Arc<str>,
    /// Hash of its markup.
    pub hash: u64,
    /// Its text nodes, when they can be changed in place ([`text_runs`]): the hash of
    /// its markup without them, then the hash of each. Shared with the next render
    /// while the child does not change.
    pub texts: Option<Arc<[u64]>>,
    /// Its markup's length and where its id is in it, to find it again in the next
    /// render without reading it ([`Sent::split`]); 0 when too long to say.
    len: u32,
    id_at: u32,
    /// It holds a form control ([`KeyedChild::controls`]).
    controls: bool,
}

impl SentChild {
    fn of(child: &KeyedChild<'_>) -> SentChild {
        let id_at = child.id.as_ptr() as usize - child.html.as_ptr() as usize;
        let (len, id_at) = match (u32::try_from(child.html.len()), u32::try_from(id_at)) {
            (Ok(len), Ok(id_at)) => (len, id_at),
            _ => (0, 0),
        };
        SentChild {
            id: Arc::from(child.id),
            hash: html_hash(child.html),
            texts: None,
            len,
            id_at,
            controls: child.controls,
        }
    }

    /// This child, when `rest` starts with its markup: the same bytes, by their hash.
    fn found_at<'a>(&self, rest: &'a str) -> Option<KeyedChild<'a>> {
        let id_at = self.id_at as usize;
        // Its id where it would be first: a different child costs no hash.
        let id = rest.get(id_at..id_at + self.id.len()).filter(|id| **id == *self.id)?;
        let html = rest.get(..self.len as usize).filter(|h| !h.is_empty() && html_hash(h) == self.hash)?;
        Some(KeyedChild { id, html, controls: self.controls })
    }
}

/// What a session remembers of the HTML it last sent for a region.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Hash of the HTML: [`html_hash`] of all of it, or for keyed children, a hash of
    /// their hashes (whitespace between them, which is never sent, aside; a child's
    /// hash covers its id), so that no byte of a keyed region is hashed twice.
    pub hash: u64,
    /// Each keyed child, in order, when the HTML is keyed children.
    pub children: Option<Box<[SentChild]>>,
}

impl Sent {
    /// The memory of `html`, whose keyed children (if any) are `children`; their
    /// texts are left to [`diff`] or [`Sent::with_texts`].
    pub fn of(html: &str, children: Option<&[KeyedChild<'_>]>) -> Sent {
        Sent::remember(html, children, &[], &[])
    }

    /// A region's render split into its keyed children (`None` when it is not keyed
    /// children, as [`keyed_children`](crate::views::html::keyed_children) says), with its memory. What `before` remembers
    /// is not read again: where the child last sent in that place (or the one after it,
    /// when one was removed) has the same markup, by its hash, it is that child. So a
    /// table in which one row changed reads that row, and a list that grew reads the
    /// new item.
    pub fn split<'a>(html: &'a str, before: Option<&Sent>) -> (Option<Vec<KeyedChild<'a>>>, Sent) {
        let old = before.and_then(|b| b.children.as_deref()).unwrap_or_default();
        // For each child found, the old child it is, if it is one.
        let mut same: Vec<Option<usize>> = Vec::new();
        // The old child expected next.
        let mut next = 0;
        let children = keyed_children_reusing(html, |found, rest| {
            if same.len() < found.len() {
                // The last child was read: it took the expected one's place when it
                // has its id (or the one after's, when that one was removed).
                same.push(None);
                let id = found.last().map(|c| c.id);
                if let Some(skip) = (0..2).find(|k| old.get(next + k).map(|o| &*o.id) == id) {
                    next += skip + 1;
                }
            }
            let (at, child) =
                (next..old.len().min(next + 2)).find_map(|j| Some((j, old[j].found_at(rest)?)))?;
            same.push(Some(at));
            next = at + 1;
            Some(child)
        });
        let sent = Sent::remember(html, children.as_deref(), &same, old);
        (children, sent)
    }

    /// [`Sent::of`], where `same[i]` names the child of `old` that child `i` is.
    fn remember(
        html: &str,
        children: Option<&[KeyedChild<'_>]>,
        same: &[Option<usize>],
        old: &[SentChild],
    ) -> Sent {
        let Some(kids) = children else {
            return Sent { hash: html_hash(html), children: None };
        };
        let children: Box<[SentChild]> = kids
            .iter()
            .enumerate()
            .map(|(i, c)| match same.get(i).copied().flatten() {
                Some(j) => SentChild { id: Arc::clone(&old[j].id), texts: None, ..old[j] },
                None => SentChild::of(c),
            })
            .collect();
        // Tagged: its input is never the same as a whole HTML's.
        let mut h = hash_keys().build_hasher();
        h.write(b"keyed");
        for c in &children {
            h.write_u64(c.hash);
        }
        Sent { hash: h.finish(), children: Some(children) }
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

    fn sent(html: &str) -> Sent {
        let kids = keyed_children(html);
        Sent::of(html, kids.as_deref()).with_texts(kids.as_deref())
    }

    /// What a render of `new` after one of `old` sends of it, the way `render` finds it.
    fn parts(old: &str, new: &str) -> Option<RegionParts> {
        let before = sent(old);
        let (kids, mut now) = Sent::split(new, Some(&before));
        let kids = kids.expect("keyed children");
        let (old, now) = before.children.as_deref().zip(now.children.as_deref_mut()).expect("keyed children");
        diff(old, &kids, now, new)
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

    /// Child markups that test the splitter's corners: a form control, a void element
    /// and a raw-text one at the top, a `>` and an id-like text in quotes, a comment.
    const KINDS: [&str; 6] = [
        "<tr id=\"{id}\"><td>row</td><td>{v}</td><td><button data-x=\"a>b\">bump</button></td></tr>",
        "<li id=\"{id}\"><input name=\"n\" value=\"{v}\"></li>",
        "<img id=\"{id}\" alt=\"{v}\">",
        "<script id=\"{id}\">var v = \"</li>{v}\";</script>",
        "<p title='id=\"x\"' id=\"{id}\"><!-- <b> -->{v}</p>",
        "<div id={id}><span>{v}</span></div>",
    ];

    /// A splitter's input: children (kind, id, value), or something else at the top.
    fn markup(children: &[(usize, u32, u32)], stray: Option<&str>) -> String {
        let mut html = String::from("\n");
        for (i, (kind, id, v)) in children.iter().enumerate() {
            if stray.is_some() && i == children.len() / 2 {
                html.push_str(stray.unwrap_or_default());
            }
            html.push_str(&KINDS[*kind].replace("{id}", &format!("c{id}")).replace("{v}", &v.to_string()));
            html.push_str(if i % 3 == 0 { "\n" } else { "" });
        }
        html
    }

    /// What `split` remembers of a child, to compare with a fresh reading.
    fn memory(s: &Sent) -> Option<Vec<String>> {
        let kids = s.children.as_deref()?;
        Some(
            kids.iter()
                .map(|c| format!("{} {} {} {} {}", c.id, c.hash, c.len, c.id_at, c.controls))
                .collect(),
        )
    }

    #[test]
    fn a_split_after_a_render_is_what_reading_it_whole_gives() {
        // Edits of every kind, one after another, each split with the last one's memory.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut rand = move |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut children: Vec<(usize, u32, u32)> = (0..12).map(|i| (i % KINDS.len(), i as u32, 0)).collect();
        let mut before = Sent::split(&markup(&children, None), None).1;
        for (round, fresh_id) in (0..2_000).zip(100..) {
            let len = children.len().max(1);
            let mut stray = None;
            match rand(9) {
                0 | 1 => {
                    if let Some(c) = children.get_mut(rand(len)) {
                        c.2 += 1 + rand(1_000) as u32; // a changed value, maybe longer
                    }
                }
                2 if !children.is_empty() => drop(children.remove(rand(len))),
                3 => children.insert(rand(len + 1), (rand(KINDS.len()), fresh_id, 0)),
                4 => children.push((rand(KINDS.len()), fresh_id, 0)),
                5 if len > 1 => children.swap(rand(len), rand(len)),
                6 if !children.is_empty() => {
                    // A duplicate id: not keyed children any more.
                    let id = children[rand(len)].1;
                    children.push((0, id, 7));
                }
                7 => stray = Some(["text", "<!-- c -->", "<b>no id</b>", "</p>", "<br/>"][rand(5)]),
                _ => children.truncate(len.saturating_sub(rand(3))),
            }
            if round % 50 == 0 {
                children.retain(|c| c.0 != 0 || c.2 != 7); // drop the duplicates
            }
            let html = markup(&children, stray);
            let (kids, now) = Sent::split(&html, Some(&before));
            let read = keyed_children(&html);
            assert_eq!(kids, read, "round {round}: {html}");
            let whole = Sent::of(&html, read.as_deref());
            assert_eq!(now.hash, whole.hash, "round {round}");
            assert_eq!(memory(&now), memory(&whole), "round {round}");
            if kids.is_some() {
                before = now;
            }
        }
    }

    #[test]
    fn a_child_that_did_not_change_is_not_read_again() {
        // What split takes from memory shares its id with it; what it reads does not.
        let mut values = [0; 30];
        let before = Sent::split(&rows(&values), None).1;
        values[7] = 1;
        let mut list = rows(&values);
        list.push_str("<tr id=\"r30\"><td>row 30</td><td>0</td></tr>\n");
        let (kids, now) = Sent::split(&list, Some(&before));
        assert_eq!(kids.map(|k| k.len()), Some(31));
        let (old, now) = before.children.as_deref().zip(now.children.as_deref()).expect("keyed");
        let taken: Vec<bool> =
            (0..31).map(|i| old.get(i).is_some_and(|o| Arc::ptr_eq(&o.id, &now[i].id))).collect();
        let expected: Vec<bool> = (0..31).map(|i| i != 7 && i != 30).collect();
        assert_eq!(taken, expected);

        // One removed: the children after it are found one place earlier.
        let mut list = String::new();
        for (i, v) in values.iter().enumerate().filter(|(i, _)| *i != 3) {
            list.push_str(&format!("<tr id=\"r{i}\"><td>row {i}</td><td>{v}</td></tr>\n"));
        }
        let after = Sent::split(&rows(&values), Some(&before)).1;
        let (_, now) = Sent::split(&list, Some(&after));
        let (old, now) = after.children.as_deref().zip(now.children.as_deref()).expect("keyed");
        assert!(now.iter().all(|c| old.iter().any(|o| Arc::ptr_eq(&o.id, &c.id))), "all taken from memory");
    }
}
