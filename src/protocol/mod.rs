//! Wire frames (docs/protocol.md): parsing what the browser sends, building what
//! the server sends. Frames are JSON objects tagged by `t`, but for the most common
//! one, the patch, which carries no tag: a frame without `t` is a patch.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A server frame's text, shared without copying between the session that built it,
/// its resume buffer and the socket that writes it.
pub use tokio_tungstenite::tungstenite::Utf8Bytes as Frame;

pub(crate) mod event_frame;

pub const PROTOCOL_VERSION: u64 = 4;

/// A client event, as the browser sent it (see docs/protocol.md).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Event {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub target: Option<String>,
    pub values: Map<String, Value>,
    pub form: Map<String, Value>,
    pub field: Option<String>,
    pub key: Option<String>,
    pub meta: KeyMeta,
}

/// Modifier keys held during an event.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct KeyMeta {
    pub shift: bool,
    pub ctrl: bool,
    pub alt: bool,
    pub meta: bool,
}

impl Event {
    /// The value named `key`: `data-lv-value-*` first, then the first form value.
    pub fn get(&self, key: &str) -> Option<String> {
        let v = self.values.get(key).or_else(|| match self.form.get(key) {
            Some(Value::Array(items)) => items.first(),
            other => other,
        })?;
        Some(match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        })
    }

    /// Every value named `key`, as text: the `data-lv-value-*` first (if any), then
    /// each value of the form field, in the order the browser sent them.
    pub fn all(&self, key: &str) -> Vec<String> {
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let mut out: Vec<String> = self.values.get(key).map(text).into_iter().collect();
        match self.form.get(key) {
            Some(Value::Array(items)) => out.extend(items.iter().map(text)),
            Some(v) => out.push(text(v)),
            None => {}
        }
        out
    }

    /// `get(key)` as an integer, or `default` when missing or not a number.
    pub fn int(&self, key: &str, default: i64) -> i64 {
        self.get(key).and_then(|s| s.trim().parse().ok()).unwrap_or(default)
    }

    /// Appends the event's JSON to `out`: the bytes `serde_json` writes for it, with
    /// the field names written as they are rather than each run through the
    /// serializer and its escaping (a host gets this with every event).
    pub(crate) fn write_json(&self, out: &mut Vec<u8>) {
        fn string(out: &mut Vec<u8>, s: &str) {
            // Writing to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, s);
        }
        fn optional(out: &mut Vec<u8>, s: Option<&str>) {
            match s {
                Some(s) => string(out, s),
                None => out.extend_from_slice(b"null"),
            }
        }
        fn flag(out: &mut Vec<u8>, name: &[u8], on: bool) {
            out.extend_from_slice(name);
            out.extend_from_slice(if on { b"true" } else { b"false" });
        }
        out.extend_from_slice(br#"{"type":"#);
        string(out, &self.kind);
        out.extend_from_slice(br#","name":"#);
        string(out, &self.name);
        out.extend_from_slice(br#","target":"#);
        optional(out, self.target.as_deref());
        for (name, map) in [(&br#","values":"#[..], &self.values), (br#","form":"#, &self.form)] {
            out.extend_from_slice(name);
            let _ = serde_json::to_writer(&mut *out, map);
        }
        out.extend_from_slice(br#","field":"#);
        optional(out, self.field.as_deref());
        out.extend_from_slice(br#","key":"#);
        optional(out, self.key.as_deref());
        let KeyMeta { shift, ctrl, alt, meta } = self.meta;
        flag(out, br#","meta":{"shift":"#, shift);
        flag(out, br#","ctrl":"#, ctrl);
        flag(out, br#","alt":"#, alt);
        flag(out, br#","meta":"#, meta);
        out.extend_from_slice(b"}}");
    }
}

/// A frame from the browser.
#[derive(Debug)]
pub enum ClientFrame {
    Join(Join),
    /// `eid`: the client's number for the event, for de-duplication (absent: none).
    Event {
        r#ref: u64,
        eid: Option<u64>,
        /// Boxed: it travels on to the session as it is, and the socket's task keeps
        /// room only for a pointer.
        event: Box<Event>,
    },
    Heartbeat,
}

#[derive(Debug, Deserialize)]
pub struct Join {
    pub v: u64,
    pub token: String,
    pub url: String,
    #[serde(default)]
    pub seq: u64,
}

/// What every frame is read for first: its type.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(borrow, default)]
    t: Option<std::borrow::Cow<'a, str>>,
}

/// An event frame's numbers; its other fields are the [`Event`].
#[derive(Deserialize)]
struct EventIds {
    r#ref: u64,
    #[serde(default)]
    eid: Option<u64>,
}

/// An event frame in one pass: its type, its numbers and the [`Event`]'s fields
/// (serde's `flatten` would buffer the whole frame first). Anything it does not
/// read (another frame type, a malformed event) takes the general path.
#[derive(Deserialize)]
struct EventFrame<'a> {
    #[serde(borrow)]
    t: std::borrow::Cow<'a, str>,
    r#ref: u64,
    #[serde(default)]
    eid: Option<u64>,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    values: Map<String, Value>,
    #[serde(default)]
    form: Map<String, Value>,
    #[serde(default)]
    field: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    meta: KeyMeta,
}

impl EventFrame<'_> {
    fn into_client_frame(self) -> ClientFrame {
        let EventFrame { t: _, r#ref, eid, kind, name, target, values, form, field, key, meta } = self;
        let event = Box::new(Event { kind, name, target, values, form, field, key, meta });
        ClientFrame::Event { r#ref, eid, event }
    }
}

/// Why a frame was refused; becomes an `error` frame.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

impl ClientFrame {
    /// Reads a frame straight into its typed form: each field is parsed once, with no
    /// intermediate JSON tree. An event of the plain shape the runtime writes (nearly
    /// every frame) is read by hand ([`event_frame`]); another well-formed event in one
    /// serde pass; any other frame is scanned once for its type, then once for that
    /// type's fields, which is also how a malformed event gets its precise error.
    pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
        match event_frame::read(text) {
            Some(frame) => Ok(frame),
            None => Self::parse_by_serde(text),
        }
    }

    /// [`ClientFrame::parse`] without the hand-read event: what that reader must agree
    /// with (the fuzz target compares them).
    pub(crate) fn parse_by_serde(text: &str) -> Result<ClientFrame, FrameError> {
        let bad = |message: String| FrameError { code: "bad_frame", message };
        // Serde would also read a struct from an array (`["heartbeat"]`); frames are objects.
        if !text.trim_start().starts_with('{') {
            return match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => Err(bad("expected a JSON object with a string \"t\" field".into())),
                Err(e) => Err(bad(format!("not valid JSON: {e}"))),
            };
        }
        if let Ok(frame) = serde_json::from_str::<EventFrame>(text) {
            if frame.t == "event" && !frame.name.is_empty() {
                return Ok(frame.into_client_frame());
            }
        }
        Self::parse_tagged(text)
    }

    /// The general path: the type first, then that type's fields.
    fn parse_tagged(text: &str) -> Result<ClientFrame, FrameError> {
        let bad = |message: String| FrameError { code: "bad_frame", message };
        let kind = match serde_json::from_str::<Tag>(text) {
            Ok(Tag { t: Some(t) }) => t,
            Ok(Tag { t: None }) => {
                return Err(bad("expected a JSON object with a string \"t\" field".into()))
            }
            Err(e) if e.is_data() => {
                return Err(bad(format!("expected a JSON object with a string \"t\" field: {e}")))
            }
            Err(e) => return Err(bad(format!("not valid JSON: {e}"))),
        };
        match &*kind {
            "join" => {
                serde_json::from_str(text).map(ClientFrame::Join).map_err(|e| bad(format!("join: {e}")))
            }
            "event" => {
                let event = |e: serde_json::Error| bad(format!("event: {e}"));
                let ids: EventIds = serde_json::from_str(text).map_err(event)?;
                let event: Box<Event> = serde_json::from_str(text).map_err(event)?;
                if event.name.is_empty() {
                    return Err(bad("event: \"name\" must not be empty".into()));
                }
                Ok(ClientFrame::Event { r#ref: ids.r#ref, eid: ids.eid, event })
            }
            "heartbeat" => Ok(ClientFrame::Heartbeat),
            other => {
                Err(FrameError { code: "unknown_type", message: format!("unknown frame type {other:?}") })
            }
        }
    }
}

/// The patch frame, the one frame without a `t`: it is most of what a server sends,
/// and the tag would be a quarter of a small one. With `ref`, it also answers that
/// event, which succeeded (a failed event changes nothing, so its answer is always a
/// `reply`): an event that changed the page costs one frame, not a patch and a
/// reply. It carries no number: every patch of a session is the one after the last
/// (`joined.seq` says where the count stands), so the client counts them for a resume.
pub(crate) struct Patch<'a, P: ChildChanges> {
    pub reply: Option<u64>,
    pub regions: &'a BTreeMap<String, String>,
    pub parts: &'a P,
    pub root: Option<&'a str>,
    pub title: Option<&'a str>,
}

/// How regions changed child by child, as a patch writes them: merged across the
/// regions into its `remove`, `set`, `text` and `append` fields (a child's id is
/// unique in the page; `append` is keyed by region).
pub(crate) trait ChildChanges {
    /// Writes the fields that are not empty.
    fn write_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error>;
}

/// No change child by child.
impl ChildChanges for () {
    fn write_fields<M: SerializeMap>(&self, _: &mut M) -> Result<(), M::Error> {
        Ok(())
    }
}

impl<P: ChildChanges> Serialize for Patch<'_, P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        // `ref` first: `without_reply` takes the reply out by its place.
        if let Some(r) = self.reply {
            map.serialize_entry("ref", &r)?;
        }
        if !self.regions.is_empty() {
            map.serialize_entry("regions", self.regions)?;
        }
        if let Some(root) = self.root {
            map.serialize_entry("root", root)?;
        }
        if let Some(title) = self.title {
            map.serialize_entry("title", title)?;
        }
        self.parts.write_fields(&mut map)?;
        map.end()
    }
}

pub(crate) fn patch<P: ChildChanges>(
    regions: &BTreeMap<String, String>,
    parts: &P,
    root: Option<&str>,
    title: Option<&str>,
    reply: Option<u64>,
) -> String {
    to_text(&Patch { reply, regions, parts, root, title })
}

/// What a patch that answers an event starts with (its `ref` is serialized first).
const REPLYING_HEAD: &str = r#"{"ref":"#;

/// A patch frame without the reply [`patch`] folded into it, as two pieces to put
/// back to back (another frame is `[frame, ""]`): a patch replayed to a client that
/// rejoins answers no event of that connection.
pub fn without_reply(frame: &str) -> [&str; 2] {
    if let Some(rest) = frame.strip_prefix(REPLYING_HEAD) {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Some(rest) = rest[digits..].strip_prefix(',') {
            return ["{", rest];
        }
    }
    [frame, ""]
}

pub fn joined(seq: u64, eid: u64, resumed: bool, root: Option<&str>, token: Option<&str>) -> String {
    to_text(&serde_json::json!({
        "t": "joined", "v": PROTOCOL_VERSION, "seq": seq, "eid": eid,
        "resumed": resumed, "root": root, "token": token,
    }))
}

pub fn reply_ok(r#ref: u64) -> String {
    to_text(&serde_json::json!({"t": "reply", "ref": r#ref, "ok": true}))
}

pub fn reply_error(r#ref: u64, code: &str, message: &str) -> String {
    to_text(&serde_json::json!({
        "t": "reply", "ref": r#ref, "ok": false,
        "error": {"code": code, "message": message},
    }))
}

pub fn error(code: &str, message: &str, recoverable: bool) -> String {
    to_text(&serde_json::json!({
        "t": "error", "code": code, "message": message, "recoverable": recoverable,
    }))
}

pub fn commands(cmds: &[Value]) -> String {
    to_text(&serde_json::json!({"t": "command", "cmds": cmds}))
}

pub fn redirect(to: &str) -> String {
    to_text(&serde_json::json!({"t": "redirect", "to": to}))
}

pub fn navigate(to: &str, replace: bool) -> String {
    to_text(&serde_json::json!({"t": "navigate", "to": to, "replace": replace}))
}

pub fn heartbeat() -> String {
    r#"{"t":"heartbeat"}"#.to_string()
}

pub fn close(reason: &str, reconnect: bool) -> String {
    to_text(&serde_json::json!({"t": "close", "reason": reason, "reconnect": reconnect}))
}

fn to_text<T: Serialize>(v: &T) -> String {
    // Serializing maps of strings and plain structs cannot fail.
    serde_json::to_string(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_and_rejects_garbage() {
        let f =
            ClientFrame::parse(r#"{"t":"event","ref":3,"type":"click","name":"inc","values":{"by":"1"}}"#)
                .unwrap();
        match f {
            ClientFrame::Event { r#ref, eid, event } => {
                assert_eq!(r#ref, 3);
                assert_eq!(eid, None);
                assert_eq!(event.name, "inc");
                assert_eq!(event.int("by", 0), 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        match ClientFrame::parse(r#"{"t":"event","ref":4,"eid":9,"type":"click","name":"inc"}"#).unwrap() {
            ClientFrame::Event { eid, .. } => assert_eq!(eid, Some(9)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            ClientFrame::parse(r#"{"t":"event","ref":4,"eid":-1,"name":"inc"}"#).unwrap_err().code,
            "bad_frame"
        );
        assert_eq!(ClientFrame::parse("nope").unwrap_err().code, "bad_frame");
        assert_eq!(ClientFrame::parse("[1]").unwrap_err().code, "bad_frame");
        assert_eq!(ClientFrame::parse(r#"["heartbeat"]"#).unwrap_err().code, "bad_frame");
        assert_eq!(ClientFrame::parse(r#"{"t":7}"#).unwrap_err().code, "bad_frame");
        assert_eq!(ClientFrame::parse(r#"{"t":"heartbeat""#).unwrap_err().code, "bad_frame");
        assert_eq!(
            ClientFrame::parse(r#"{"t":"event","ref":1,"name":"x","values":[]}"#).unwrap_err().code,
            "bad_frame"
        );
        assert!(matches!(ClientFrame::parse(r#" {"n":1,"t":"heartbeat"}"#), Ok(ClientFrame::Heartbeat)));
        match ClientFrame::parse(r#"{"name":"a\"b","ref":2,"t":"ev\u0065nt","values":{"k":"v"},"x":[1]}"#)
            .unwrap()
        {
            ClientFrame::Event { r#ref, event, .. } => {
                assert_eq!((r#ref, event.name.as_str(), event.get("k").as_deref()), (2, "a\"b", Some("v")))
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ClientFrame::parse(r#"{"t":"dance"}"#).unwrap_err().code, "unknown_type");
        assert_eq!(ClientFrame::parse(r#"{"t":"event","ref":"x"}"#).unwrap_err().code, "bad_frame");
        assert_eq!(ClientFrame::parse(r#"{"t":"event","ref":1,"name":""}"#).unwrap_err().code, "bad_frame");
        assert_eq!(
            ClientFrame::parse(r#"{"t":"event","ref":1,"name":"a","name":"b"}"#).unwrap_err().code,
            "bad_frame"
        );
    }

    /// The one-pass read of an event frame and the general path read every frame
    /// alike: the same event, or the same error.
    #[test]
    fn an_event_reads_the_same_in_one_pass() {
        let frames = [
            r#"{"t":"event","ref":3,"type":"click","name":"inc","values":{"by":"1"}}"#,
            r#"{"t":"event","ref":3,"eid":8,"type":"submit","name":"save","target":"cart","values":{"n":2,"s":"x"},"form":{"a":["1","2"],"b":"c"},"field":"a","key":"Enter","meta":{"shift":true,"alt":true},"extra":{"x":[1]}}"#,
            r#"{"name":"a\"b","ref":2,"t":"ev\u0065nt","values":{"k":"v"},"x":[1]}"#,
            r#"{"t":"event","ref":1,"name":"x","target":null,"field":null,"key":null,"meta":{}}"#,
            r#"{"t":"event","ref":1,"name":""}"#,
            r#"{"t":"event","name":"x"}"#,
            r#"{"t":"event","ref":-1,"name":"x"}"#,
            r#"{"t":"event","ref":1,"name":"x","meta":{"shift":"yes"}}"#,
            r#"{"t":"event","ref":1,"name":"x","type":null}"#,
            r#"{"t":"heartbeat","ref":1,"name":"x"}"#,
            r#"{"t":"join","ref":1,"name":"x"}"#,
            r#"{"t":"dance","ref":1,"name":"x"}"#,
            r#"{"t":null,"ref":1,"name":"x"}"#,
        ];
        for text in frames {
            let one_pass = format!("{:?}", ClientFrame::parse(text));
            let general = format!("{:?}", ClientFrame::parse_tagged(text));
            assert_eq!(one_pass, general, "{text}");
        }
        // The well-formed ones took the one-pass path.
        for text in &frames[..4] {
            let frame = serde_json::from_str::<EventFrame>(text).expect(text);
            assert!(frame.t == "event" && !frame.name.is_empty(), "{text}");
        }
    }

    #[test]
    fn an_event_is_written_as_serde_writes_it() {
        let frames = [
            r#"{"t":"event","ref":1,"type":"click","name":"inc","values":{"by":"1"}}"#,
            r#"{"t":"event","ref":2,"type":"submit","name":"save \"it\"","target":"row\n7","values":{},"form":{"title":["Hé \u2028 <b>&"],"tags":["a","b"],"n":[1.5,null,true,{"x":[]}]},"field":"title","key":"Enter","meta":{"shift":true,"ctrl":false,"alt":true,"meta":false}}"#,
            r#"{"t":"event","ref":3,"name":"\u0000\ud83d\ude00","key":"\t"}"#,
        ];
        for text in frames {
            let Ok(ClientFrame::Event { event, .. }) = ClientFrame::parse(text) else { panic!("{text}") };
            let mut ours = Vec::new();
            event.write_json(&mut ours);
            assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&event).unwrap(), "{text}");
        }
        let mut ours = Vec::new();
        Event::default().write_json(&mut ours);
        assert_eq!(String::from_utf8(ours).unwrap(), serde_json::to_string(&Event::default()).unwrap());
    }

    #[test]
    fn a_reply_folds_into_its_patch_and_leaves_it_for_a_replay() {
        let regions = BTreeMap::from([("stats".to_string(), "<b>3</b>".to_string())]);
        let plain = patch(&regions, &(), None, Some("T"), None);
        let replying = patch(&regions, &(), None, Some("T"), Some(17));
        let folded: Value = serde_json::from_str(&replying).unwrap();
        let mut expected: Value = serde_json::from_str(&plain).unwrap();
        expected["ref"] = 17.into();
        assert_eq!(folded, expected);
        assert_eq!(without_reply(&replying).concat(), plain);
        assert_eq!(without_reply(&plain).concat(), plain);
        let other = r#"{"t":"reply","ref":3,"ok":true}"#;
        assert_eq!(without_reply(other).concat(), other);
    }
}
