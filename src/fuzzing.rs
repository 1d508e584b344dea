//! Entry points for the fuzz targets in `fuzz/`: each feeds untrusted bytes to one of
//! the parsers a client or a page's data reaches, and checks what must hold for any
//! input besides "does not panic". Not a stable API: it exists for `cargo fuzz` and
//! moves with the code it exercises.

use minijinja::Environment;
use std::sync::OnceLock;

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::Method;

use crate::protocol::ClientFrame;
use crate::protocol::Event;
use crate::server::{guard, http};
use crate::token::{Claims, Signer};
use crate::views::helpers;

/// A client frame off the WebSocket. An event the hand reader takes is the event
/// serde reads (and what its one-pass reader takes, what its reader of any order
/// reads); an event that parses reaches the host as JSON, so it must survive the
/// trip there and back unchanged.
pub fn client_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some(frame) = crate::protocol::event_frame::in_order(text) {
        let any = crate::protocol::event_frame::any_order(text);
        assert_eq!(format!("{:?}", Some(&frame)), format!("{:?}", any.as_ref()), "{text:?}");
    }
    if let Some(frame) = crate::protocol::event_frame::read(text) {
        let by_serde = ClientFrame::parse_by_serde(text);
        assert_eq!(format!("{:?}", Ok::<_, ()>(frame)), format!("{by_serde:?}"), "{text:?}");
    }
    if let Ok(ClientFrame::Event { event, .. }) = ClientFrame::parse(text) {
        let json = serde_json::to_string(&event).expect("an event serializes");
        let back: Event = serde_json::from_str(&json).expect("the host's copy of an event parses");
        assert_eq!(back, *event);
        let mut written = Vec::new();
        event.write_json(&mut written);
        assert_eq!(written, json.as_bytes(), "the host's copy is what serde writes");
    }
}

/// A no-JS form post's body. Whatever the fields, the post stands for one named
/// event or is refused, and the event reaches the host intact, every value of a
/// repeated field kept in order.
pub fn form_body(data: &[u8]) {
    let mut fields = http::parse_form(data);
    let _ = http::take_field(&mut fields, "_lv_token");
    let _ = http::take_field(&mut fields, "_csrf");
    let data_fields: Vec<(String, String)> =
        fields.iter().filter(|(k, _)| !k.starts_with("_lv_")).cloned().collect();
    let Ok(event) = http::form_event(fields) else { return };
    assert!(!event.name.is_empty());
    let sent: usize = event.form.values().map(|v| v.as_array().map_or(0, Vec::len)).sum();
    assert_eq!(sent, data_fields.len(), "a form field went missing");
    let json = serde_json::to_string(&event).expect("an event serializes");
    let back: Event = serde_json::from_str(&json).expect("the host's copy of an event parses");
    assert_eq!(back, event);
}

/// A request's `Cookie` headers, as every page request, post and upgrade carries them.
/// Nothing panics, and the auth hook's view of the cookies agrees with the lookup the
/// server itself uses, a repeated name included.
pub fn cookie_header(data: &[u8]) {
    let mut headers = HeaderMap::new();
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append(header::COOKIE, value);
        }
    }
    let opts = crate::Options::default();
    let _ =
        guard::browser_of(&opts, &crate::token::Signer::new(b"0123456789abcdef0123456789abcdef"), &headers);
    let info = guard::request_info(&Method::GET, "/", "", &headers);
    for (name, value) in &info.cookies {
        let found = guard::cookie(&headers, name);
        assert_eq!(value.as_str(), found.as_deref(), "the hook and the server disagree on cookie {name:?}");
    }
}

const SECRET: &[u8] = b"fuzzing-secret-fuzzing-secret-0123456789";
const OLD_SECRET: &[u8] = b"an-older-secret-an-older-secret-012345";

/// A session token from a page, a form or a join. Only a token this secret signed may
/// verify, and one it signed always does.
pub fn token(data: &[u8]) {
    let signer = Signer::new(SECRET);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(claims) = signer.verify(text) {
        assert_eq!(signer.verify(&signer.sign(&claims)), Ok(claims));
    }
    // The input as claims' fields: whatever a route or user id holds, signing and
    // verifying gives the same claims back.
    let claims = Claims {
        sid: text.to_string(),
        route: text.to_string(),
        path: text.to_string(),
        params: serde_json::Map::new(),
        uid: Some(text.to_string()),
        br: text.to_string(),
        exp: crate::token::now_secs() + 60,
    };
    assert_eq!(signer.verify(&signer.sign(&claims)), Ok(claims.clone()));
    // A token of a rotated-out secret verifies only where that secret is listed as
    // previous; a CSRF token only for the browser it was made for.
    let old = Signer::new(OLD_SECRET);
    let rotated = Signer::with_previous(SECRET, &[OLD_SECRET], u64::MAX);
    let from_old = old.sign(&claims);
    assert_eq!(rotated.verify(&from_old), Ok(claims.clone()));
    assert!(signer.verify(&from_old).is_err());
    let csrf = signer.csrf(&claims.sid, &claims.br);
    assert!(signer.check_csrf(&claims.sid, &claims.br, &csrf));
    assert!(!signer.check_csrf(&claims.sid, &format!("{}x", claims.br), &csrf));
    assert!(!signer.check_csrf(&claims.sid, &claims.br, text));
}

/// Templates calling each `lv.*` helper with the fuzzed values `a`, `b` and `c`.
const HELPER_CALLS: &[&str] = &[
    "{{ lv.click(a, x=b, y=c) }}",
    "{{ lv.submit(a, x=b) }}",
    "{{ lv.change(a, debounce=b, x=c) }}",
    "{{ lv.keyup(a, key=b, x=c) }}",
    "{{ lv.keydown(a, key=b) }}",
    "{{ lv.focus(a, x=b) }}{{ lv.blur(a) }}",
    "{{ lv.target(a) }}",
    "{{ lv.debounce(a) }}{{ lv.throttle(b) }}",
    "{{ lv.loading(class=a) }}",
    "{{ lv.form(a, id=b, reset=c) }}",
    "{{ lv.form(none, class=a, hidden=b) }}",
];

/// The helper calls compiled once: compiling them for every input would leave little
/// time for the helpers themselves.
fn helper_env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.add_global("lv", helpers::lv());
        for (name, source) in HELPER_CALLS.iter().enumerate() {
            env.add_template_owned(name.to_string(), *source).expect("the helper calls compile");
        }
        env
    })
}

/// Page data in the template helpers: the input is a JSON array whose first three
/// elements are `a`, `b` and `c`, or text whose first three lines are. Whatever the
/// values, a helper either fails with an error or writes markup in which a value can
/// never open a tag or end an attribute: every `<` starts one of the helper's own
/// tags, and quotes pair up.
pub fn template_helpers(data: &[u8]) {
    let values: Vec<serde_json::Value> = match serde_json::from_slice(data) {
        Ok(serde_json::Value::Array(items)) => items,
        _ => String::from_utf8_lossy(data).lines().map(|l| serde_json::Value::String(l.into())).collect(),
    };
    let value = |i: usize| values.get(i).cloned().unwrap_or(serde_json::Value::Null);
    let ctx = serde_json::json!({
        "a": value(0), "b": value(1), "c": value(2),
        "_lv": {"token": value(1), "csrf": value(2), "action": value(0)},
    });
    let ctx = minijinja::Value::from_serialize(&ctx);
    for (name, source) in HELPER_CALLS.iter().enumerate() {
        let Ok(template) = helper_env().get_template(&name.to_string()) else { continue };
        let Ok(html) = template.render(&ctx) else { continue };
        let tags = html.matches('<').count();
        let own = html.matches("<form ").count() + html.matches("<input ").count();
        assert_eq!(tags, own, "a value opened a tag in {source}: {html}");
        assert_eq!(html.matches('"').count() % 2, 0, "unpaired quote in {source}: {html}");
    }
}
