//! What changed between two JSON texts of a state, found without parsing them.
//!
//! A host that keeps its state in its own types (Python, Go) hands the library the
//! whole state as JSON after each callback, though most callbacks change one field or
//! append one item. [`changes`] compares the new text with the one the state was last
//! set from, value by value (an object's members by key, an array's items by index),
//! and returns the pointers whose values differ with their new text: the caller
//! parses only those. It reads the compact JSON the bindings write; anything else
//! (whitespace between tokens, an escape in a key, a key twice, nesting deeper than
//! [`MAX_DEPTH`], text that is not JSON) returns `None`, and the caller parses the
//! whole text as before, which also explains what is wrong with it.

use std::collections::HashMap;

/// Nesting this deep or deeper is compared as one value.
const MAX_DEPTH: usize = 32;

/// A state's text shorter than this is parsed whole: for a few fields that costs less
/// than comparing and setting them one by one.
pub(crate) const COMPARED_FROM: usize = 256;

/// One difference: what the caller does to the state it has to get the new one.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Change<'a> {
    /// Set the value at the pointer to the JSON text (a last token `-` appends).
    Set(String, &'a str),
    /// Remove the member at the pointer.
    Remove(String),
}

/// The changes that turn the state parsed from `old` into the one `new` holds, in
/// the order to apply them (removals first), or `None` when the texts are not both
/// compact JSON objects of the shape read here.
pub(crate) fn changes<'a>(old: &'a str, new: &'a str) -> Option<Vec<Change<'a>>> {
    // Each text one object. Reading the new text's members (in compare) checks its
    // structure and that nothing follows it; what is not the old text's is parsed by
    // the caller.
    if old.as_bytes().first() != Some(&b'{') || new.as_bytes().first() != Some(&b'{') {
        return None;
    }
    let mut out = Vec::new();
    let mut sets = Vec::new();
    compare(old, new, String::new(), 0, &mut out, &mut sets)?;
    out.append(&mut sets);
    Some(out)
}

/// Adds to `removes` and `sets` what turns the value text `old` into `new`, both at
/// `pointer`.
fn compare<'a>(
    old: &'a str,
    new: &'a str,
    pointer: String,
    depth: usize,
    removes: &mut Vec<Change<'a>>,
    sets: &mut Vec<Change<'a>>,
) -> Option<()> {
    if old == new {
        return Some(());
    }
    let (o, n) = (old.as_bytes()[0], new.as_bytes()[0]);
    if depth >= MAX_DEPTH || o != n || (o != b'{' && o != b'[') {
        // The root is always an object: a changed scalar or kind has a pointer.
        sets.push(Change::Set(pointer, new));
        return Some(());
    }
    if o == b'{' {
        let (old_members, _) = members(old)?;
        let (new_members, end) = members(new)?;
        if depth == 0 && end != new.len() {
            return None;
        }
        // Members looked up by key: in the list for a few, through an index for more.
        let index = |list: &[(&'a str, &'a str)]| -> Option<HashMap<&'a str, &'a str>> {
            (list.len() > 8).then(|| list.iter().copied().collect())
        };
        let find =
            |list: &[(&'a str, &'a str)], index: &Option<HashMap<&'a str, &'a str>>, key: &str| match index {
                Some(index) => index.get(key).copied(),
                None => list.iter().find(|m| m.0 == key).map(|m| m.1),
            };
        let (old_index, new_index) = (index(&old_members), index(&new_members));
        for (key, _) in &old_members {
            if find(&new_members, &new_index, key).is_none() {
                removes.push(Change::Remove(child(&pointer, key)));
            }
        }
        for (key, value) in &new_members {
            let before = find(&old_members, &old_index, key);
            match before {
                Some(before) => compare(before, value, child(&pointer, key), depth + 1, removes, sets)?,
                None => sets.push(Change::Set(child(&pointer, key), value)),
            }
        }
        return Some(());
    }
    // Items appended: the old text but its `]`, a comma, the new items.
    let open = &old[..old.len() - 1];
    if old.len() > 2 && new.len() > old.len() && new.starts_with(open) && new.as_bytes()[open.len()] == b',' {
        let (appended, end) = items(new, open.len() + 1)?;
        if end != new.len() {
            return None;
        }
        for item in appended {
            sets.push(Change::Set(format!("{pointer}/-"), item));
        }
        return Some(());
    }
    let (old_items, _) = items(old, 1)?;
    let (new_items, _) = items(new, 1)?;
    let shared = old_items.len().min(new_items.len());
    let changed = (0..shared).filter(|&i| old_items[i] != new_items[i]).count();
    if new_items.len() < old_items.len() || changed > 4.max(shared / 2) {
        sets.push(Change::Set(pointer, new));
        return Some(());
    }
    for i in (0..shared).filter(|&i| old_items[i] != new_items[i]) {
        compare(old_items[i], new_items[i], format!("{pointer}/{i}"), depth + 1, removes, sets)?;
    }
    for item in &new_items[shared..] {
        sets.push(Change::Set(format!("{pointer}/-"), item));
    }
    Some(())
}

/// The pointer to member `key` below `pointer` (`~` and `/` escaped).
fn child(pointer: &str, key: &str) -> String {
    let mut p = String::with_capacity(pointer.len() + key.len() + 1);
    p.push_str(pointer);
    p.push('/');
    for c in key.chars() {
        match c {
            '~' => p.push_str("~0"),
            '/' => p.push_str("~1"),
            c => p.push(c),
        }
    }
    p
}

/// The members of the object at the start of `text`: (key without its quotes, value
/// text), and where the object ends; `None` for a key with an escape or one that
/// comes twice, or text that is not an object.
fn members(text: &str) -> Option<(Vec<(&str, &str)>, usize)> {
    let b = text.as_bytes();
    let mut out: Vec<(&str, &str)> = Vec::new();
    let mut at = 1;
    if *b.get(at)? == b'}' {
        return Some((out, at + 1));
    }
    let end = loop {
        let key_end = string_end(b, at)?;
        let key = &text[at + 1..key_end - 1];
        if key.contains('\\') || b.get(key_end) != Some(&b':') {
            return None;
        }
        let end = value_end(b, key_end + 1, 1)?;
        out.push((key, &text[key_end + 1..end]));
        match b.get(end) {
            Some(b',') => at = end + 1,
            Some(b'}') => break end + 1,
            _ => return None,
        }
    };
    if out.len() > 8 {
        let mut keys: Vec<&str> = out.iter().map(|m| m.0).collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return None;
        }
    } else if out.iter().enumerate().any(|(i, m)| out[..i].iter().any(|o| o.0 == m.0)) {
        return None;
    }
    Some((out, end))
}

/// The items of an array's text from `at` (after its `[`, or after a comma), and
/// where the array ends.
fn items(text: &str, mut at: usize) -> Option<(Vec<&str>, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    if at == 1 && *b.get(at)? == b']' {
        return Some((out, at + 1));
    }
    loop {
        let end = value_end(b, at, 1)?;
        out.push(&text[at..end]);
        match b.get(end) {
            Some(b',') => at = end + 1,
            Some(b']') => return Some((out, end + 1)),
            _ => return None,
        }
    }
}

/// Where the string starting at `b[at]` (its `"`) ends: the index after its closing
/// quote. Control characters are not JSON inside a string.
fn string_end(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&b'"') {
        return None;
    }
    let mut i = at + 1;
    loop {
        // The next quote or backslash; no control character may come before it.
        let next = i + memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[i..next].iter().any(|&c| c < 0x20) {
            return None;
        }
        if b[next] == b'"' {
            return Some(next + 1);
        }
        i = next + 2;
    }
}

/// Where the value starting at `b[at]` ends. Containers are checked for their
/// structure (commas, colons, string keys); a scalar is read up to what ends it and
/// left to the parser, which reads every scalar that differs from the old text.
fn value_end(b: &[u8], at: usize, depth: usize) -> Option<usize> {
    match *b.get(at)? {
        b'"' => string_end(b, at),
        open @ (b'{' | b'[') => {
            if depth > 128 {
                return None;
            }
            let close = if open == b'{' { b'}' } else { b']' };
            let mut i = at + 1;
            if b.get(i) == Some(&close) {
                return Some(i + 1);
            }
            loop {
                if open == b'{' {
                    i = string_end(b, i)?;
                    if b.get(i) != Some(&b':') {
                        return None;
                    }
                    i += 1;
                }
                i = value_end(b, i, depth + 1)?;
                match *b.get(i)? {
                    b',' => i += 1,
                    c if c == close => return Some(i + 1),
                    _ => return None,
                }
            }
        }
        b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
            let len = b[at..].iter().position(|c| matches!(c, b',' | b'}' | b']')).unwrap_or(b.len() - at);
            let token = &b[at..at + len];
            token
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.'))
                .then_some(at + len)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::json_set;
    use serde_json::{json, Value};

    /// `old` with `changes` applied as the library applies them.
    fn apply(old: &Value, changes: &[Change<'_>]) -> Value {
        let mut state = old.clone();
        for change in changes {
            match change {
                Change::Set(pointer, text) => {
                    json_set(&mut state, pointer, serde_json::from_str(text).unwrap()).unwrap();
                }
                Change::Remove(pointer) => {
                    let (parent, key) = pointer.rsplit_once('/').unwrap();
                    let key = key.replace("~1", "/").replace("~0", "~");
                    state.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(&key).unwrap();
                }
            }
        }
        state
    }

    #[test]
    fn the_changes_of_a_counter_and_a_list_name_what_changed() {
        let c = changes(r#"{"bc":0,"count":5}"#, r#"{"bc":0,"count":6}"#).unwrap();
        assert_eq!(c, vec![Change::Set("/count".into(), "6")]);
        let c = changes(r#"{"items":["a","b"]}"#, r#"{"items":["a","b","c"]}"#).unwrap();
        assert_eq!(c, vec![Change::Set("/items/-".into(), r#""c""#)]);
        let c = changes(r#"{"rows":[1,2,3]}"#, r#"{"rows":[1,7,3]}"#).unwrap();
        assert_eq!(c, vec![Change::Set("/rows/1".into(), "7")]);
        let c = changes(r#"{"a/b":1,"gone":2,"t~":3}"#, r#"{"a/b":1,"t~":4,"new":{}}"#).unwrap();
        assert_eq!(
            c,
            vec![
                Change::Remove("/gone".into()),
                Change::Set("/t~0".into(), "4"),
                Change::Set("/new".into(), "{}")
            ]
        );
        assert_eq!(changes(r#"{"a":[1]}"#, r#"{"a":[1]}"#).unwrap(), vec![]);
    }

    #[test]
    fn texts_not_in_the_compact_shape_are_left_to_the_parser() {
        for (old, new) in [
            (r#"{"a":1}"#, r#"{"a": 2}"#),                         // whitespace
            (r#"{"a":1}"#, r#"{"a":1,}"#),                         // a trailing comma
            (r#"{"a":1}"#, r#"{"a":1}x"#),                         // text after the value
            (r#"{"a":1}"#, r#"{"a":1,"a":2}"#),                    // a key twice
            (r#"{"a":1}"#, r#"{"\u0061":2}"#),                     // an escape in a key
            (r#"{"a":1}"#, "{\"a\":\"\u{1}\"}"),                   // a control character in a string
            (r#"{"a":1}"#, r#"[1]"#),                              // not an object
            (r#"{"a":1}"#, r#"{"a":[1,]}"#),                       // a trailing comma inside
            (r#"{"a":1}"#, r#"{"a":{"b"}}"#),                      // a member without a value
            (r#"{"a":1}"#, r#"{"a":"unterminated}"#),              // a string that does not end
            (r#"{"a":1}"#, "{\"a\":\"sixteen bytes and \u{1}\"}"), // a control character further in
            (r#"{"a":1}"#, r#"{"a":"sixteen bytes and more}"#),    // a long string that does not end
        ] {
            assert_eq!(changes(old, new), None, "{new}");
        }
        // A changed scalar is the parser's to read: a bad one reaches it.
        let c = changes(r#"{"a":1}"#, r#"{"a":01}"#).unwrap();
        assert!(serde_json::from_str::<Value>(match &c[0] {
            Change::Set(_, text) => text,
            Change::Remove(_) => unreachable!(),
        })
        .is_err());
    }

    /// A small generator of JSON values that often share parts, so that their
    /// changes are small, as a callback's are.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }

        fn value(&mut self, depth: usize) -> Value {
            match self.next(if depth < 4 { 9 } else { 6 }) {
                0 => Value::Null,
                1 => json!(self.next(2) == 0),
                2 => json!(self.next(1000) as i64 - 500),
                3 => json!((self.next(1000) as f64) / 7.0),
                4 => json!(
                    ["x", "a\"b", "é/~", "\\", "longer than sixteen, \"quoted\" and \\ escaped"]
                        [self.next(5) as usize]
                ),
                5 => json!(format!("s{}", self.next(50))),
                6 | 7 => Value::Object(
                    (0..self.next(6))
                        .map(|_| {
                            (
                                {
                                    // "" is a key too: its pointer is "/".
                                    let base = ["k", "a/b", "t~", "é", "z", ""][self.next(6) as usize];
                                    let n = self.next(4);
                                    if base.is_empty() {
                                        String::new()
                                    } else {
                                        format!("{base}{n}")
                                    }
                                },
                                self.value(depth + 1),
                            )
                        })
                        .collect(),
                ),
                _ => Value::Array((0..self.next(6)).map(|_| self.value(depth + 1)).collect()),
            }
        }

        /// `v` with a few of its parts changed, added or removed.
        fn mutate(&mut self, v: &Value, depth: usize) -> Value {
            match v {
                Value::Object(map) if self.next(4) != 0 => {
                    let mut map = map.clone();
                    for key in map.keys().cloned().collect::<Vec<_>>() {
                        match self.next(8) {
                            0 => {
                                map.remove(&key);
                            }
                            1 | 2 => {
                                let changed = self.mutate(&map[&key], depth + 1);
                                map.insert(key, changed);
                            }
                            _ => {}
                        }
                    }
                    if self.next(3) == 0 {
                        map.insert(format!("n{}", self.next(5)), self.value(depth + 1));
                    }
                    Value::Object(map)
                }
                Value::Array(items) if self.next(4) != 0 => {
                    let mut items: Vec<Value> = items
                        .iter()
                        .map(|i| if self.next(5) == 0 { self.mutate(i, depth + 1) } else { i.clone() })
                        .collect();
                    match self.next(4) {
                        0 => items.push(self.value(depth + 1)),
                        1 => {
                            items.pop();
                        }
                        _ => {}
                    }
                    Value::Array(items)
                }
                _ => self.value(depth),
            }
        }
    }

    /// Thousands of state pairs: the changes applied to the old state give exactly
    /// the new one, as parsing the new text whole does.
    #[test]
    fn applying_the_changes_gives_the_state_the_new_text_holds() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut compared = 0;
        for _ in 0..3000 {
            let old = Value::Object((0..rng.next(6)).map(|i| (format!("f{i}"), rng.value(1))).collect());
            let new = rng.mutate(&old, 0);
            let Value::Object(_) = new else { continue };
            let (old_text, new_text) = (old.to_string(), new.to_string());
            let c = changes(&old_text, &new_text).expect("compact objects are compared");
            assert_eq!(apply(&old, &c), new, "{old_text} -> {new_text}: {c:?}");
            compared += 1;
        }
        assert!(compared > 2000, "{compared}");
    }
}
