//! The event frame as the runtime writes it, read by hand: nearly every frame a
//! session gets is one, and serde's derive spends most of its time on the generic
//! machinery around eleven small fields rather than on the bytes.
//!
//! The reader is an accelerator, never a judge: it takes only the plain shape (known
//! fields, each once; strings without escapes; the values' and form's entries plain
//! strings or lists of them) and answers `None` for anything else, which then takes
//! the serde path, where every error gets its message. What it accepts, serde reads
//! alike: `fuzzing::client_frame` and the tests compare the two.
//!
//! A frame in the runtime's own field order is read in one pass that matches each
//! field's name with the punctuation around it ([`in_order`]); any other order takes
//! the reader that looks each name up ([`any_order`]), which reads it alike.

use serde_json::{Map, Value};

use super::{ClientFrame, Event, KeyMeta};

/// The event frame in `text`, when it has the plain shape and names an event.
pub(crate) fn read(text: &str) -> Option<ClientFrame> {
    in_order(text).or_else(|| any_order(text))
}

/// The frame exactly as the runtime writes it (`frame` and `push` in runtime.js): its
/// fields in that order, `field` and `eid` last when present. Each name is then
/// matched as part of the literal before it, where [`any_order`] reads it as a string
/// and looks it up: that was most of the time a frame took. Any other order is left
/// to [`any_order`]; what this accepts, that reads alike (the tests hold them to it).
pub(crate) fn in_order(text: &str) -> Option<ClientFrame> {
    let mut r = Reader { text, src: text.as_bytes(), at: 0 };
    r.expect(br#"{"t":"event","ref":"#)?;
    let r#ref = r.number()?;
    r.expect(br#","type":"#)?;
    let kind = r.string()?;
    r.expect(br#","name":"#)?;
    let name = r.string()?;
    r.expect(br#","target":"#)?;
    let target = r.null_or(Reader::string)?;
    r.expect(br#","values":"#)?;
    let values = r.entries(false)?;
    r.expect(br#","form":"#)?;
    let form = r.entries(true)?;
    r.expect(br#","key":"#)?;
    let key = r.null_or(Reader::string)?;
    r.expect(br#","meta":{"shift":"#)?;
    let shift = r.bool()?;
    r.expect(br#","ctrl":"#)?;
    let ctrl = r.bool()?;
    r.expect(br#","alt":"#)?;
    let alt = r.bool()?;
    r.expect(br#","meta":"#)?;
    let meta = KeyMeta { shift, ctrl, alt, meta: r.bool()? };
    r.expect(b"}")?;
    let field = if r.expect(br#","field":"#).is_some() { r.null_or(Reader::string)? } else { None };
    let eid = if r.expect(br#","eid":"#).is_some() { r.null_or(Reader::number)? } else { None };
    r.expect(b"}")?;
    if r.at != r.src.len() || name.is_empty() {
        return None;
    }
    let event = Event {
        kind: kind.to_owned(),
        name: name.to_owned(),
        target: target.map(str::to_owned),
        values,
        form,
        field: field.map(str::to_owned),
        key: key.map(str::to_owned),
        meta,
    };
    Some(ClientFrame::Event { r#ref, eid, event: Box::new(event) })
}

/// The frame in the plain shape, its fields in any order.
pub(crate) fn any_order(text: &str) -> Option<ClientFrame> {
    let mut r = Reader { text, src: text.as_bytes(), at: 0 };
    let mut seen = 0u16;
    let (mut t, mut r#ref, mut eid) = (None, None, None);
    let mut event = Event::default();
    r.object(|r, key| {
        let bit = match key {
            "t" => {
                t = Some(r.string()?);
                1
            }
            "ref" => {
                r#ref = Some(r.number()?);
                2
            }
            "eid" => {
                eid = r.null_or(Reader::number)?;
                4
            }
            "type" => {
                event.kind = r.string()?.to_owned();
                8
            }
            "name" => {
                event.name = r.string()?.to_owned();
                16
            }
            "target" => {
                event.target = r.null_or(Reader::string)?.map(str::to_owned);
                32
            }
            "values" => {
                event.values = r.entries(false)?;
                64
            }
            "form" => {
                event.form = r.entries(true)?;
                128
            }
            "field" => {
                event.field = r.null_or(Reader::string)?.map(str::to_owned);
                256
            }
            "key" => {
                event.key = r.null_or(Reader::string)?.map(str::to_owned);
                512
            }
            "meta" => {
                event.meta = r.meta()?;
                1024
            }
            _ => return None,
        };
        // A field named twice is an error for serde.
        (seen & bit == 0).then(|| seen |= bit)
    })?;
    r.space();
    if r.at != r.src.len() || t != Some("event") || event.name.is_empty() {
        return None;
    }
    Some(ClientFrame::Event { r#ref: r#ref?, eid, event: Box::new(event) })
}

/// The bytes that end a plain string: its quote, a backslash, a control character.
const STOP: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

struct Reader<'a> {
    text: &'a str,
    src: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// Skips JSON whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.src.get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, consumed when it is `byte`.
    fn eat(&mut self, byte: u8) -> bool {
        self.space();
        let found = self.src.get(self.at) == Some(&byte);
        self.at += usize::from(found);
        found
    }

    /// Consumes `bytes`, exactly as they are (no whitespace skipped), when they come
    /// next.
    #[inline(always)]
    fn expect(&mut self, bytes: &[u8]) -> Option<()> {
        let found = self.src[self.at..].starts_with(bytes);
        self.at += if found { bytes.len() } else { 0 };
        found.then_some(())
    }

    #[inline]
    fn literal(&mut self, word: &[u8]) -> bool {
        self.space();
        self.expect(word).is_some()
    }

    /// A string without escapes or control characters (JSON forbids them raw).
    fn string(&mut self) -> Option<&'a str> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.at;
        let len = self.src[start..].iter().position(|&b| STOP[usize::from(b)])?;
        // Ends at its quote: not at a backslash, and not past a raw control character
        // (which `eat` would take for whitespace).
        if self.src[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        // Both ends are ASCII quotes, so on character boundaries.
        self.text.get(start..start + len)
    }

    /// A JSON integer that fits a `u64`: no sign, fraction or exponent.
    fn number(&mut self) -> Option<u64> {
        self.space();
        let digits = self.src[self.at..].iter().take_while(|b| b.is_ascii_digit()).count();
        let text = &self.src[self.at..self.at + digits];
        self.at += digits;
        let leading_zero = digits > 1 && text[0] == b'0';
        if digits == 0 || leading_zero || matches!(self.src.get(self.at), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        text.iter().try_fold(0u64, |n, d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
    }

    /// `null`, or what `read` reads.
    fn null_or<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.literal(b"null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    fn bool(&mut self) -> Option<bool> {
        if self.literal(b"true") {
            Some(true)
        } else if self.literal(b"false") {
            Some(false)
        } else {
            None
        }
    }

    /// An object, calling `field` with each key to read its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            field(self, key)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// The values' or form's object: each entry a plain string, or with `lists` a
    /// list of them too. A key given twice keeps its last value, as serde's map does.
    fn entries(&mut self, lists: bool) -> Option<Map<String, Value>> {
        let mut map = Map::new();
        self.object(|r, key| {
            let value = if lists && r.eat(b'[') {
                let mut items = Vec::new();
                if !r.eat(b']') {
                    loop {
                        items.push(Value::String(r.string()?.to_owned()));
                        if r.eat(b']') {
                            break;
                        }
                        if !r.eat(b',') {
                            return None;
                        }
                    }
                }
                Value::Array(items)
            } else {
                Value::String(r.string()?.to_owned())
            };
            map.insert(key.to_owned(), value);
            Some(())
        })?;
        Some(map)
    }

    /// The modifier keys: known names, each once, each a bool.
    fn meta(&mut self) -> Option<KeyMeta> {
        let mut meta = KeyMeta::default();
        let mut seen = 0u8;
        self.object(|r, key| {
            let (slot, bit) = match key {
                "shift" => (&mut meta.shift, 1),
                "ctrl" => (&mut meta.ctrl, 2),
                "alt" => (&mut meta.alt, 4),
                "meta" => (&mut meta.meta, 8),
                _ => return None,
            };
            *slot = r.bool()?;
            (seen & bit == 0).then(|| seen |= bit)
        })?;
        Some(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the hand reader makes of `text`, and what serde makes of it.
    fn both(text: &str) -> (Option<String>, String) {
        (
            read(text).map(|f| format!("{:?}", Ok::<_, ()>(f))),
            format!("{:?}", ClientFrame::parse_by_serde(text)),
        )
    }

    #[test]
    fn the_runtimes_frames_are_read_by_hand_as_serde_reads_them() {
        let frames = [
            // A click, as runtime.js writes it.
            r#"{"t":"event","ref":12,"type":"click","name":"inc","target":null,"values":{"by":"1","row":"42"},"form":{},"key":null,"meta":{"shift":false,"ctrl":true,"alt":false,"meta":false},"eid":12}"#,
            // A submit with a form, a target, a key and a field.
            r#"{"t":"event","ref":3,"type":"submit","name":"save","target":"cart","values":{},"form":{"tags":["a","b"],"none":[],"title":["Hé ✓ <b>&"]},"field":"title","key":"Enter","meta":{"shift":true,"ctrl":false,"alt":true,"meta":false},"eid":9}"#,
            // Whitespace between tokens, fields in another order, a repeated value key.
            " {\n\t\"name\" : \"x\" , \"ref\" : 0 , \"t\":\"event\", \"eid\": null, \"values\": {\"k\":\"1\",\"k\":\"2\"} }\r\n",
            r#"{"t":"event","ref":18446744073709551615,"name":"max"}"#,
        ];
        for text in frames {
            let (by_hand, by_serde) = both(text);
            assert_eq!(by_hand.as_deref(), Some(by_serde.as_str()), "{text}");
        }
    }

    /// Frames in the runtime's order take the one-pass reader, and it reads them as
    /// the reader of any order does; other orders are left to that one.
    #[test]
    fn the_runtimes_order_is_read_in_one_pass() {
        let in_runtime_order = [
            r#"{"t":"event","ref":12,"type":"click","name":"inc","target":null,"values":{"by":"1","row":"42"},"form":{},"key":null,"meta":{"shift":false,"ctrl":true,"alt":false,"meta":false},"eid":12}"#,
            r#"{"t":"event","ref":3,"type":"submit","name":"save","target":"cart","values":{},"form":{"tags":["a","b"],"none":[],"title":["Hé ✓ <b>&"]},"key":"Enter","meta":{"shift":true,"ctrl":false,"alt":true,"meta":true},"field":"title","eid":9}"#,
            r#"{"t":"event","ref":0,"type":"change","name":"n","target":null,"values":{},"form":{"q":"x"},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false},"field":null}"#,
            r#"{"t":"event","ref":7,"type":"keydown","name":"k","target":null,"values":{},"form":{},"key":"a","meta":{"shift":false,"ctrl":false,"alt":false,"meta":false},"eid":null}"#,
        ];
        for text in in_runtime_order {
            let fast = in_order(text).map(|f| format!("{f:?}"));
            assert!(fast.is_some(), "the one-pass reader declined {text}");
            assert_eq!(fast, any_order(text).map(|f| format!("{f:?}")), "{text}");
            let (by_hand, by_serde) = both(text);
            assert_eq!(by_hand.as_deref(), Some(by_serde.as_str()), "{text}");
        }
        let other_orders = [
            // eid before field, fields swapped, whitespace between tokens, meta's keys
            // reordered, a field missing.
            r#"{"t":"event","ref":3,"type":"change","name":"n","target":null,"values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false},"eid":9,"field":"q"}"#,
            r#"{"t":"event","ref":3,"name":"n","type":"click","target":null,"values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}"#,
            r#"{"t": "event","ref":3,"type":"click","name":"n","target":null,"values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}"#,
            r#"{"t":"event","ref":3,"type":"click","name":"n","target":null,"values":{},"form":{},"key":null,"meta":{"ctrl":false,"shift":false,"alt":false,"meta":false}}"#,
            r#"{"t":"event","ref":3,"type":"click","name":"n","values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}"#,
        ];
        for text in other_orders {
            assert!(in_order(text).is_none(), "{text}");
            let (by_hand, by_serde) = both(text);
            assert_eq!(by_hand.as_deref(), Some(by_serde.as_str()), "{text}");
        }
        // The one-pass reader declines an empty name, a field twice, and anything after
        // the closing brace (whitespace there is the other reader's to take).
        let declined = [
            r#"{"t":"event","ref":3,"type":"click","name":"","target":null,"values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}}"#,
            r#"{"t":"event","ref":3,"type":"click","name":"n","target":null,"values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false},"eid":1,"eid":2}"#,
            r#"{"t":"event","ref":3,"type":"click","name":"n","target":null,"values":{},"form":{},"key":null,"meta":{"shift":false,"ctrl":false,"alt":false,"meta":false}} "#,
        ];
        for text in declined {
            assert!(in_order(text).is_none(), "{text}");
        }
    }

    /// Anything off the plain shape is left to serde, which reads it or names the
    /// error: the hand reader never says yes where serde would say something else.
    #[test]
    fn anything_else_is_left_to_serde() {
        let frames = [
            "{\"t\":\"event\",\"ref\":1,\"name\":\"a\nb\"}",
            "{\"t\":\"event\",\"ref\":1,\"name\":\"a\tb\"}",
            "{\"t\":\"event\",\"ref\":1,\"name\":\"a\r\"}",
            r#"{"t":"event","ref":1,"name":"a\"b"}"#,
            r#"{"t":"ev\u0065nt","ref":1,"name":"x"}"#,
            r#"{"t":"event","ref":1,"name":"a","name":"b"}"#,
            r#"{"t":"event","ref":1,"ref":2,"name":"a"}"#,
            r#"{"t":"event","ref":01,"name":"a"}"#,
            r#"{"t":"event","ref":1.0,"name":"a"}"#,
            r#"{"t":"event","ref":1e3,"name":"a"}"#,
            r#"{"t":"event","ref":-1,"name":"a"}"#,
            r#"{"t":"event","ref":18446744073709551616,"name":"a"}"#,
            r#"{"t":"event","ref":1,"name":"a"} x"#,
            r#"{"t":"event","ref":1,"name":"a",}"#,
            r#"{"t":"event","ref":1,"name":"a""#,
            r#"{"t":"event","ref":1,"name":""}"#,
            r#"{"t":"event","name":"a"}"#,
            r#"{"t":"heartbeat","ref":1,"name":"a"}"#,
            r#"{"t":"event","ref":1,"name":"a","type":null}"#,
            r#"{"t":"event","ref":1,"name":"a","values":{"n":2}}"#,
            r#"{"t":"event","ref":1,"name":"a","values":{"l":["x"]}}"#,
            r#"{"t":"event","ref":1,"name":"a","form":{"l":["x",1]}}"#,
            r#"{"t":"event","ref":1,"name":"a","form":{"l":["x",]}}"#,
            r#"{"t":"event","ref":1,"name":"a","meta":{"shift":1}}"#,
            r#"{"t":"event","ref":1,"name":"a","meta":{"shift":true,"shift":false}}"#,
            r#"{"t":"event","ref":1,"name":"a","meta":{"hyper":true}}"#,
            r#"{"t":"event","ref":1,"name":"a","extra":1}"#,
            r#"{"t":"event","ref":1,"name":"a","target":truex}"#,
            r#"{"t":"event","ref":1,"name":"a","meta":{"alt":tru}}"#,
            r#"["event"]"#,
        ];
        for text in frames {
            let (by_hand, by_serde) = both(text);
            assert_eq!(by_hand, None, "{text} (serde: {by_serde})");
        }
    }
}
