//! Patching a region child by child. A region whose HTML is a list of elements with
//! ids (table rows, list items, chat messages) changes, most of the time, in a few
//! of them: one row updated, items appended at the end, one removed. Such a change
//! goes out as those children alone instead of the whole region, so a 100-row table
//! costs one row per event and a growing list one item.
//!
//! Anything else (a reordering, an insertion before the end, children without ids,
//! or parts no smaller than the whole) is sent whole, as before. Children holding
//! form controls are always sent when their region is rendered, changed or not, so
//! that the server's rendering of a control wins as it does for a whole region.

use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

use std::hash::BuildHasher;

use super::render::{hash_keys, html_hash};
use crate::views::html::KeyedChild;

/// A keyed child as last sent: its id and the hash of its markup.
pub(crate) type SentChild = (Box<str>, u64);

/// What a session remembers of the HTML it last sent for a region.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    /// Hash of the HTML: [`html_hash`] of all of it, or for keyed children, a hash of
    /// their ids and hashes (whitespace between them, which is never sent, aside), so
    /// that no byte of a keyed region is hashed twice.
    pub hash: u64,
    /// Each keyed child's id and hash, in order, when the HTML is keyed children.
    pub children: Option<Box<[SentChild]>>,
}

impl Sent {
    /// The memory of `html`, whose keyed children (if any) are `children`.
    pub fn of(html: &str, children: Option<&[KeyedChild<'_>]>) -> Sent {
        match children {
            None => Sent { hash: html_hash(html), children: None },
            Some(kids) => {
                let children: Box<[SentChild]> =
                    kids.iter().map(|c| (Box::from(c.id), html_hash(c.html))).collect();
                // Tagged: its input is never the same as a whole HTML's.
                let hash = hash_keys().hash_one(("keyed", &children));
                Sent { hash, children: Some(children) }
            }
        }
    }
}

/// The child-by-child change of one region (docs/protocol.md, `patch.parts`),
/// applied in this order: remove, set, append.
#[derive(Debug, Default, Serialize, PartialEq)]
pub(crate) struct RegionParts {
    /// Ids of children to remove.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
    /// Child id -> its new markup (the whole element), morphed into the old one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    /// Markup of new children, appended after the last one.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub append: String,
}

impl RegionParts {
    /// Roughly what these parts add to a patch frame, JSON punctuation and keys
    /// included, to weigh against the region's whole HTML.
    fn bytes(&self) -> usize {
        const FRAME: usize = 24; // "parts":{"id":{"append":""}} against "regions":{"id":""}
        FRAME
            + self.remove.iter().map(|id| id.len() + 3).sum::<usize>()
            + self.set.iter().map(|(id, html)| id.len() + html.len() + 6).sum::<usize>()
            + self.append.len()
    }

    pub fn is_empty(&self) -> bool {
        self.remove.is_empty() && self.set.is_empty() && self.append.is_empty()
    }
}

/// The parts that turn the region last sent as `old` into `html`, whose keyed
/// children are `new` and hash to `hashes` (its [`Sent::children`]), or `None` when
/// the region should be sent whole.
pub(crate) fn diff(
    old: &[SentChild],
    new: &[KeyedChild<'_>],
    hashes: &[SentChild],
    html: &str,
) -> Option<RegionParts> {
    let mut parts = RegionParts::default();
    // A child with form controls is sent even when its markup is the same: as with a
    // whole region, the server's rendering of a control wins over what the user left
    // in it.
    let keep = |parts: &mut RegionParts, id: &str, hash: u64, i: usize| {
        if new[i].controls || hash != hashes[i].1 {
            parts.set.insert(id.to_string(), new[i].html.to_string());
        }
    };
    // Most changes leave every child where it was (a row updated, items appended):
    // then the old children are the first new ones, and no lookup is needed.
    let in_place = old.len() <= new.len() && old.iter().zip(new).all(|((id, _), c)| **id == *c.id);
    // The children kept must stay in their order, ahead of any new one.
    let mut kept = 0;
    if in_place {
        for (i, (id, hash)) in old.iter().enumerate() {
            keep(&mut parts, id, *hash, i);
        }
        kept = old.len();
    } else {
        let wanted: HashMap<&str, usize> = new.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
        for (id, hash) in old {
            match wanted.get(&**id) {
                None => parts.remove.push(id.to_string()),
                Some(&i) if i == kept => {
                    keep(&mut parts, id, *hash, i);
                    kept += 1;
                }
                Some(_) => return None,
            }
        }
    }
    for child in &new[kept..] {
        parts.append.push_str(child.html);
    }
    (parts.bytes() < html.len()).then_some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::html::keyed_children;

    fn sent(html: &str) -> Box<[SentChild]> {
        Sent::of(html, keyed_children(html).as_deref()).children.expect("keyed children")
    }

    fn parts(old: &str, new: &str) -> Option<RegionParts> {
        diff(&sent(old), &keyed_children(new).expect("keyed children"), &sent(new), new)
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
        assert_eq!(p.set.keys().collect::<Vec<_>>(), ["r7"]);
        assert_eq!(p.set["r7"], "<tr id=\"r7\"><td>row 7</td><td>1</td></tr>");
        assert!(p.remove.is_empty() && p.append.is_empty());
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
        assert_eq!(parts(&rows(&[0, 0, 0]), &rows(&[1, 1, 1])), None, "parts no smaller than the whole");
    }
}
