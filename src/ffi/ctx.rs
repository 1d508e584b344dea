//! Functions for use inside a callback, on the `lv_ctx*` it received.
//!
//! Strings these return are owned by the library and live until the callback
//! returns. Calling them with a context from another callback or thread returns
//! `LV_ERR_STATE` (or NULL).

use serde_json::Value;
use std::ffi::{c_char, c_int, CString};
use std::ptr::null;
use std::time::Duration;

use super::page::{ctx, lv_ctx};
use super::{
    arg, boundary, fail, set_last_error, status, LV_ERR_CALLBACK, LV_ERR_JSON, LV_ERR_NOT_FOUND, LV_ERR_NULL,
    LV_ERR_PANIC, LV_OK,
};
use crate::error::Error;
use crate::page::Ctx;

/// Lends `s` to C until the callback returns.
fn lend(ctx: &mut Ctx<'_>, s: String) -> *const c_char {
    let s = CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default();
    let ptr = s.as_ptr();
    ctx.lent.push(s);
    ptr
}

/// Status-returning body on a live context.
unsafe fn call(ptr: *mut lv_ctx, f: impl FnOnce(&mut Ctx<'_>) -> c_int) -> c_int {
    boundary(LV_ERR_PANIC, || match ctx(ptr) {
        Ok(c) => f(c),
        Err(code) => code,
    })
}

/// String-returning body on a live context (NULL on failure).
unsafe fn call_str(ptr: *mut lv_ctx, f: impl FnOnce(&mut Ctx<'_>) -> Option<String>) -> *const c_char {
    boundary(null(), || match ctx(ptr) {
        Ok(c) => match f(c) {
            Some(s) => lend(c, s),
            None => null(),
        },
        Err(_) => null(),
    })
}

/// The session state as JSON text.
#[no_mangle]
pub unsafe extern "C" fn lv_get_state(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| Some(c.state().to_string()))
}

/// Replaces the state with `json` (copied). On bad JSON returns `LV_ERR_JSON` and
/// the state is unchanged.
#[no_mangle]
pub unsafe extern "C" fn lv_set_state(ctx: *mut lv_ctx, json: *const c_char) -> c_int {
    call(ctx, |c| match arg(json, "json") {
        Ok(j) => status(c.set_state_json(j)),
        Err(code) => code,
    })
}

/// The value at a JSON pointer ("/count", "/items/0") as JSON text, or NULL (with
/// `LV_ERR_NOT_FOUND` in `lv_last_error`) when there is none.
#[no_mangle]
pub unsafe extern "C" fn lv_get(ctx: *mut lv_ctx, pointer: *const c_char) -> *const c_char {
    call_str(ctx, |c| {
        let p = arg(pointer, "pointer").ok()?;
        let v = c.get(p).map(Value::to_string);
        if v.is_none() {
            set_last_error(format!("no value at {p:?}"));
        }
        v
    })
}

/// The integer at a JSON pointer into `*out`. `LV_ERR_NOT_FOUND` when absent,
/// `LV_ERR_JSON` when not an integer; `*out` is written only on success.
#[no_mangle]
pub unsafe extern "C" fn lv_get_int(ctx: *mut lv_ctx, pointer: *const c_char, out: *mut i64) -> c_int {
    call(ctx, |c| {
        let p = match arg(pointer, "pointer") {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        match c.get(p) {
            None => fail(Error::NotFound(format!("no value at {p:?}"))),
            Some(v) => match v.as_i64() {
                Some(n) => {
                    *out = n;
                    LV_OK
                }
                None => fail(Error::Json(format!("value at {p:?} is not an integer: {v}"))),
            },
        }
    })
}

/// The number at a JSON pointer into `*out` (integers convert).
#[no_mangle]
pub unsafe extern "C" fn lv_get_double(ctx: *mut lv_ctx, pointer: *const c_char, out: *mut f64) -> c_int {
    call(ctx, |c| {
        let p = match arg(pointer, "pointer") {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        match c.get(p) {
            None => fail(Error::NotFound(format!("no value at {p:?}"))),
            Some(v) => match v.as_f64() {
                Some(n) => {
                    *out = n;
                    LV_OK
                }
                None => fail(Error::Json(format!("value at {p:?} is not a number: {v}"))),
            },
        }
    })
}

/// The string at a JSON pointer, or NULL when absent or not a string.
#[no_mangle]
pub unsafe extern "C" fn lv_get_str(ctx: *mut lv_ctx, pointer: *const c_char) -> *const c_char {
    call_str(ctx, |c| {
        let p = arg(pointer, "pointer").ok()?;
        match c.get(p) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => {
                set_last_error(format!("value at {p:?} is not a string: {other}"));
                None
            }
            None => {
                set_last_error(format!("no value at {p:?}"));
                None
            }
        }
    })
}

unsafe fn set_value(
    ctx: *mut lv_ctx,
    pointer: *const c_char,
    value: impl FnOnce() -> Result<Value, c_int>,
) -> c_int {
    call(ctx, |c| {
        let p = match arg(pointer, "pointer") {
            Ok(p) => p,
            Err(code) => return code,
        };
        match value() {
            Ok(v) => status(c.set(p, v)),
            Err(code) => code,
        }
    })
}

/// Sets the value at a JSON pointer to parsed `json`, creating objects on the way;
/// a last token "-" appends to an array ("/log/-").
#[no_mangle]
pub unsafe extern "C" fn lv_set(ctx: *mut lv_ctx, pointer: *const c_char, json: *const c_char) -> c_int {
    set_value(ctx, pointer, || {
        let j = arg(json, "json")?;
        serde_json::from_str(j).map_err(|e| {
            set_last_error(format!("invalid JSON: {e}"));
            LV_ERR_JSON
        })
    })
}

/// Sets an integer at a JSON pointer.
#[no_mangle]
pub unsafe extern "C" fn lv_set_int(ctx: *mut lv_ctx, pointer: *const c_char, value: i64) -> c_int {
    set_value(ctx, pointer, || Ok(Value::from(value)))
}

/// Sets a number at a JSON pointer. NaN and infinities are refused (`LV_ERR_JSON`).
#[no_mangle]
pub unsafe extern "C" fn lv_set_double(ctx: *mut lv_ctx, pointer: *const c_char, value: f64) -> c_int {
    set_value(ctx, pointer, || {
        serde_json::Number::from_f64(value).map(Value::Number).ok_or_else(|| {
            set_last_error(format!("{value} is not a JSON number"));
            LV_ERR_JSON
        })
    })
}

/// Sets a string (copied) at a JSON pointer.
#[no_mangle]
pub unsafe extern "C" fn lv_set_str(ctx: *mut lv_ctx, pointer: *const c_char, value: *const c_char) -> c_int {
    set_value(ctx, pointer, || Ok(Value::String(arg(value, "value")?.to_string())))
}

/// Removes the value at a JSON pointer ("/log/0", "/user/name").
/// `LV_ERR_NOT_FOUND` when there is none.
#[no_mangle]
pub unsafe extern "C" fn lv_remove(ctx: *mut lv_ctx, pointer: *const c_char) -> c_int {
    call(ctx, |c| {
        let p = match arg(pointer, "pointer") {
            Ok(p) => p,
            Err(code) => return code,
        };
        match c.remove(p) {
            Some(_) => LV_OK,
            None => fail(Error::NotFound(format!("no value at {p:?}"))),
        }
    })
}

/// The browser session: a JSON object shared by every page session of this browser
/// (its signed `lv_bid` cookie), on every node, `{}` when the browser has none yet.
/// As it was when the callback started, with the callback's own writes. Owned by the
/// library, valid until the callback returns.
#[no_mangle]
pub unsafe extern "C" fn lv_browser_session(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| Some(Value::Object(c.browser_session().clone()).to_string()))
}

/// Sets `key` (copied) in the browser session to the JSON `json` (copied), e.g. a
/// voter id or who logged in. Stored when the callback succeeds (a failing callback's
/// writes are dropped, like its state) and seen by the next callback of every page
/// session of this browser: another page load, another tab, another node. Works in
/// `on_mount`, `on_event` (over the WebSocket and on a no-JS POST) and `on_info`.
/// `LV_ERR_JSON` on bad JSON; `LV_ERR_STATE` when the map would be over
/// `max_browser_session_bytes` as compact JSON. Either way nothing changes.
#[no_mangle]
pub unsafe extern "C" fn lv_browser_set(ctx: *mut lv_ctx, key: *const c_char, json: *const c_char) -> c_int {
    call(ctx, |c| match (arg(key, "key"), arg(json, "json")) {
        (Ok(k), Ok(j)) => status(c.browser_set_json(k, j)),
        (Err(code), _) | (_, Err(code)) => code,
    })
}

/// Removes `key` from the browser session, stored as `lv_browser_set` is.
/// `LV_ERR_NOT_FOUND` when there is no such key.
#[no_mangle]
pub unsafe extern "C" fn lv_browser_remove(ctx: *mut lv_ctx, key: *const c_char) -> c_int {
    call(ctx, |c| {
        let k = match arg(key, "key") {
            Ok(k) => k,
            Err(code) => return code,
        };
        match c.browser_remove(k) {
            Some(_) => LV_OK,
            None => fail(Error::NotFound(format!("no key {k:?} in the browser session"))),
        }
    })
}

/// The length of the array, object or string at a JSON pointer into `*out`.
/// `LV_ERR_NOT_FOUND` when absent, `LV_ERR_JSON` for a number, boolean or null.
#[no_mangle]
pub unsafe extern "C" fn lv_len(ctx: *mut lv_ctx, pointer: *const c_char, out: *mut usize) -> c_int {
    call(ctx, |c| {
        let p = match arg(pointer, "pointer") {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        let len = match c.get(p) {
            None => return fail(Error::NotFound(format!("no value at {p:?}"))),
            Some(Value::Array(a)) => a.len(),
            Some(Value::Object(o)) => o.len(),
            Some(Value::String(s)) => s.chars().count(),
            Some(other) => return fail(Error::Json(format!("value at {p:?} has no length: {other}"))),
        };
        *out = len;
        LV_OK
    })
}

/// Marks region `id` for re-rendering after the callback; the root id (default
/// "lv-root") re-renders the page body. `LV_ERR_NOT_FOUND` for an unknown region.
#[no_mangle]
pub unsafe extern "C" fn lv_mark(ctx: *mut lv_ctx, id: *const c_char) -> c_int {
    call(ctx, |c| match arg(id, "id") {
        Ok(id) => status(c.mark(id)),
        Err(code) => code,
    })
}

/// Marks every region (the page body when the page has none).
#[no_mangle]
pub unsafe extern "C" fn lv_mark_all(ctx: *mut lv_ctx) -> c_int {
    call(ctx, |c| {
        c.mark_all();
        LV_OK
    })
}

/// Subscribes this session to `topic`; publishes arrive through `on_info`.
/// Subscriptions end with the session.
#[no_mangle]
pub unsafe extern "C" fn lv_subscribe(ctx: *mut lv_ctx, topic: *const c_char) -> c_int {
    call(ctx, |c| match arg(topic, "topic") {
        Ok(t) => {
            c.subscribe(t);
            LV_OK
        }
        Err(code) => code,
    })
}

/// Unsubscribes this session from `topic` (a no-op when not subscribed).
#[no_mangle]
pub unsafe extern "C" fn lv_unsubscribe(ctx: *mut lv_ctx, topic: *const c_char) -> c_int {
    call(ctx, |c| match arg(topic, "topic") {
        Ok(t) => {
            c.unsubscribe(t);
            LV_OK
        }
        Err(code) => code,
    })
}

/// Sets a flash message (`kind` such as "info" or "error"), visible to templates as
/// `flash.<kind>` on the next render that reaches the browser, then cleared.
#[no_mangle]
pub unsafe extern "C" fn lv_flash(ctx: *mut lv_ctx, kind: *const c_char, message: *const c_char) -> c_int {
    call(ctx, |c| match (arg(kind, "kind"), arg(message, "message")) {
        (Ok(k), Ok(m)) => {
            c.flash(k, m);
            LV_OK
        }
        (Err(code), _) | (_, Err(code)) => code,
    })
}

/// Delivers `json` (copied, must be valid JSON) to this session's `on_info` after
/// `delay_ms` (with `lv_info_topic` NULL). Writes the timer id to `*out_timer` if it
/// is not NULL. Timers end with the session.
#[no_mangle]
pub unsafe extern "C" fn lv_send_after(
    ctx: *mut lv_ctx,
    delay_ms: u64,
    json: *const c_char,
    out_timer: *mut u64,
) -> c_int {
    call(ctx, |c| match arg(json, "json") {
        Ok(j) => match c.send_after(Duration::from_millis(delay_ms), j) {
            Ok(id) => {
                if !out_timer.is_null() {
                    *out_timer = id;
                }
                LV_OK
            }
            Err(e) => fail(e),
        },
        Err(code) => code,
    })
}

/// Cancels a pending timer. `LV_ERR_NOT_FOUND` when it already fired or never was.
#[no_mangle]
pub unsafe extern "C" fn lv_cancel_timer(ctx: *mut lv_ctx, timer: u64) -> c_int {
    call(ctx, |c| {
        if c.cancel_timer(timer) {
            LV_OK
        } else {
            set_last_error(format!("no pending timer {timer}"));
            LV_ERR_NOT_FOUND
        }
    })
}

/// After the callback, loads `url` in the browser (a full page load). After a no-JS
/// POST, the 303 goes there. `url` must be a path of this app (one leading `/`) or an
/// http(s) URL whose host is listed in the `redirect_hosts` option; anything else
/// (`javascript:`, `//other.example`, another host) returns `LV_ERR_STATE` and fails
/// the callback, whatever it returns.
#[no_mangle]
pub unsafe extern "C" fn lv_redirect(ctx: *mut lv_ctx, url: *const c_char) -> c_int {
    call(ctx, |c| match arg(url, "url") {
        Ok(u) => status(c.redirect(u)),
        Err(code) => code,
    })
}

/// After the callback, moves the browser to another route of this app without a full
/// load (`history.pushState`, or `replaceState` when `replace` is non-zero). `url` is
/// checked as for `lv_redirect`.
#[no_mangle]
pub unsafe extern "C" fn lv_navigate(ctx: *mut lv_ctx, url: *const c_char, replace: c_int) -> c_int {
    call(ctx, |c| match arg(url, "url") {
        Ok(u) => status(c.navigate(u, replace != 0)),
        Err(code) => code,
    })
}

/// Sets the document title (sent with the next patch, used by later full renders).
#[no_mangle]
pub unsafe extern "C" fn lv_set_title(ctx: *mut lv_ctx, title: *const c_char) -> c_int {
    call(ctx, |c| match arg(title, "title") {
        Ok(t) => {
            c.set_title(t);
            LV_OK
        }
        Err(code) => code,
    })
}

/// After the callback, focuses the element matching a CSS selector.
#[no_mangle]
pub unsafe extern "C" fn lv_focus(ctx: *mut lv_ctx, selector: *const c_char) -> c_int {
    call(ctx, |c| match arg(selector, "selector") {
        Ok(s) => {
            c.focus(s);
            LV_OK
        }
        Err(code) => code,
    })
}

/// After the callback, scrolls the element matching `selector` into view (its end
/// when `end` is non-zero); NULL scrolls the page to the top.
#[no_mangle]
pub unsafe extern "C" fn lv_scroll(ctx: *mut lv_ctx, selector: *const c_char, end: c_int) -> c_int {
    call(ctx, |c| match super::opt_arg(selector, "selector") {
        Ok(s) => {
            c.scroll(s, end != 0);
            LV_OK
        }
        Err(code) => code,
    })
}

/// Records why the callback fails and returns `LV_ERR_CALLBACK`, so a callback can
/// `return lv_error(ctx, "title is required");`. The message reaches the browser in
/// dev mode only.
#[no_mangle]
pub unsafe extern "C" fn lv_error(ctx: *mut lv_ctx, message: *const c_char) -> c_int {
    let rc = call(ctx, |c| {
        c.failure = Some(arg(message, "message").unwrap_or("callback failed").to_string());
        LV_OK
    });
    if rc == LV_OK {
        LV_ERR_CALLBACK
    } else {
        rc
    }
}

/// The session id (32 hex characters).
#[no_mangle]
pub unsafe extern "C" fn lv_session_id(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| Some(c.session_id().to_string()))
}

/// This browser's stable id (22 URL-safe characters): the same in every page
/// session of the browser, on every node; another browser's differs. A pseudonym
/// of the browser cookie, not the cookie itself.
#[no_mangle]
pub unsafe extern "C" fn lv_browser_id(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| Some(c.browser_id().to_string()))
}

/// The user id from the auth hook, or NULL.
#[no_mangle]
pub unsafe extern "C" fn lv_user_id(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| c.user_id().map(str::to_string))
}

/// The route params as a JSON object, e.g. `{"room":"lobby"}`.
#[no_mangle]
pub unsafe extern "C" fn lv_params(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| Some(Value::Object(c.params().clone()).to_string()))
}

/// One route param, or NULL.
#[no_mangle]
pub unsafe extern "C" fn lv_param(ctx: *mut lv_ctx, name: *const c_char) -> *const c_char {
    call_str(ctx, |c| {
        let n = arg(name, "name").ok()?;
        c.params().get(n).and_then(Value::as_str).map(str::to_string)
    })
}

/// Inside `on_event`: the event's name, or NULL elsewhere.
#[no_mangle]
pub unsafe extern "C" fn lv_event_name(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| c.event().map(|e| e.name.clone()))
}

/// Inside `on_event`: the value named `key` — a `data-lv-value-*` first, else the
/// first form value — or NULL when the event has none.
#[no_mangle]
pub unsafe extern "C" fn lv_event_get(ctx: *mut lv_ctx, key: *const c_char) -> *const c_char {
    call_str(ctx, |c| {
        let k = arg(key, "key").ok()?;
        c.event().and_then(|e| e.get(k))
    })
}

/// Inside `on_info`: the topic of a published message, or NULL for a timer.
#[no_mangle]
pub unsafe extern "C" fn lv_info_topic(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| c.info().and_then(|i| i.topic.as_deref().map(str::to_string)))
}
