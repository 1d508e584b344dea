//! Functions for use inside a callback, on the `lv_ctx*` it received.
//!
//! Strings these return are owned by the library and live until the callback
//! returns. Calling them with a context from another callback or thread returns
//! `LV_ERR_STATE` (or NULL).

use serde_json::Value;
use std::any::Any;
use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr::{null, null_mut};
use std::time::Duration;

use super::page::{ctx, lv_ctx, lv_drop_fn};
use super::{
    arg, boundary, fail, set_last_error, status, LV_ERR_BUFFER, LV_ERR_CALLBACK, LV_ERR_JSON,
    LV_ERR_NOT_FOUND, LV_ERR_NULL, LV_ERR_PANIC, LV_OK,
};
use crate::error::Error;
use crate::page::{check_pointer, json_get, kind_of, Ctx};

/// Lends `s` to C until the callback returns.
fn lend(ctx: &mut Ctx<'_>, s: CString) -> *const c_char {
    let ptr = s.as_ptr();
    ctx.lent.push(s);
    ptr
}

/// `s` for C. A NUL would end the text early there: it reads U+FFFD instead. Most
/// texts have none, and are not copied for it.
fn c_text(s: String) -> CString {
    CString::new(s).unwrap_or_else(|e| nul_replaced(&e.into_vec()))
}

/// A copy of `s` for C, as [`c_text`]: one allocation, with room for the NUL (a
/// `String` cloned for it would be grown again to add one), and one scan for a NUL.
fn c_text_of(s: &str) -> CString {
    let mut bytes = Vec::with_capacity(s.len() + 1);
    bytes.extend_from_slice(s.as_bytes());
    CString::new(bytes).unwrap_or_else(|e| nul_replaced(&e.into_vec()))
}

/// `value` as compact JSON for C, written straight into the bytes C gets (`capacity`:
/// at least its length, so that adding the NUL does not grow them). JSON text holds no
/// NUL: serde_json writes U+0000 in a string as `\u0000`.
fn c_json(value: &Value, capacity: usize) -> CString {
    let mut out = Vec::with_capacity(capacity + 1);
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, value);
    CString::new(out).unwrap_or_else(|e| nul_replaced(&e.into_vec()))
}

/// `text` (UTF-8 that holds a NUL) with U+FFFD for each NUL.
#[cold]
fn nul_replaced(text: &[u8]) -> CString {
    CString::new(String::from_utf8_lossy(text).replace('\0', "\u{fffd}")).unwrap_or_default()
}

/// Status-returning body on a live context.
unsafe fn call(ptr: *mut lv_ctx, f: impl FnOnce(&mut Ctx<'_>) -> c_int) -> c_int {
    boundary(LV_ERR_PANIC, || match ctx(ptr) {
        Ok(c) => f(c),
        Err(code) => code,
    })
}

/// Body on a live context that returns a text ready for C, which the context lends
/// until the callback returns (NULL on failure).
unsafe fn call_c_str(ptr: *mut lv_ctx, f: impl FnOnce(&mut Ctx<'_>) -> Option<CString>) -> *const c_char {
    boundary(null(), || match ctx(ptr) {
        Ok(c) => match f(c) {
            Some(s) => lend(c, s),
            None => null(),
        },
        Err(_) => null(),
    })
}

/// [`call_c_str`] for a `String` the body made.
unsafe fn call_str(ptr: *mut lv_ctx, f: impl FnOnce(&mut Ctx<'_>) -> Option<String>) -> *const c_char {
    call_c_str(ptr, |c| f(c).map(c_text))
}

/// [`call_c_str`] for a text the context holds: copied once, not cloned and then grown.
unsafe fn call_borrowed(
    ptr: *mut lv_ctx,
    f: impl for<'c> FnOnce(&'c Ctx<'_>) -> Option<&'c str>,
) -> *const c_char {
    call_c_str(ptr, |c| f(c).map(c_text_of))
}

/// Borrows a JSON pointer argument: NULL and bad UTF-8 as for any string, and a
/// misspelt pointer (`"count"`) as `LV_ERR_POINTER` with how to write it.
unsafe fn pointer_arg<'a>(ptr: *const c_char) -> Result<&'a str, c_int> {
    let p = arg(ptr, "pointer")?;
    check_pointer(p).map_err(fail)?;
    Ok(p)
}

/// Why there is no value at `p`: absent, or a step of the way is not a container.
fn no_value(state: &Value, p: &str) -> Error {
    let mut end = 0;
    for token in p.split('/').skip(1) {
        let next = end + 1 + token.len();
        match json_get(state, &p[..end]) {
            Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) if end > 0 => {
                return Error::NotFound(format!("no value at {p:?}: {:?} is {}", &p[..end], kind_of(v)));
            }
            _ => {}
        }
        end = next;
    }
    Error::NotFound(format!("no value at {p:?}"))
}

/// The value at pointer `p` of the state, or the error saying why there is none.
fn value_at<'c>(c: &'c Ctx<'_>, p: &str) -> Result<&'c Value, Error> {
    c.get(p).ok_or_else(|| no_value(c.state(), p))
}

/// The session state as JSON text.
#[no_mangle]
pub unsafe extern "C" fn lv_get_state(ctx: *mut lv_ctx) -> *const c_char {
    // Room for the state as last measured, within reason: past that the text grows.
    call_c_str(ctx, |c| Some(c_json(c.state(), c.state_bytes().min(1 << 16))))
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

/// A host's decoded copy of the state, kept with its session (`lv_set_state_cache`).
struct ForeignCache {
    value: *mut c_void,
    drop: lv_drop_fn,
}

// SAFETY: the header tells hosts that `drop` runs on any library thread.
unsafe impl Send for ForeignCache {}

impl Drop for ForeignCache {
    fn drop(&mut self) {
        if let Some(drop) = self.drop {
            // SAFETY: the host gave us this function for this pointer; it runs once.
            unsafe { drop(self.value) };
        }
    }
}

/// The value the host keeps with this session as its decoded copy of the state
/// (`lv_set_state_cache`), or NULL when it keeps none here. `*fresh` (may be NULL)
/// is set to 1 when the state is still the one the value was set for, 0 when
/// anything changed it since: a write (`lv_set_state`, `lv_set*`, `lv_remove`), a
/// failed callback's rollback. A stale value is still the host's to update and set
/// again.
#[no_mangle]
pub unsafe extern "C" fn lv_state_cache(ctx: *mut lv_ctx, fresh: *mut c_int) -> *mut c_void {
    boundary(null_mut(), || {
        let (value, is_fresh) = match super::page::ctx(ctx) {
            Ok(c) => match c.state_cache() {
                (Some(v), f) => (v.downcast_ref::<ForeignCache>().map_or(null_mut(), |v| v.value), f),
                (None, _) => (null_mut(), false),
            },
            Err(_) => (null_mut(), false),
        };
        if !fresh.is_null() {
            *fresh = c_int::from(is_fresh && !value.is_null());
        }
        value
    })
}

/// Keeps `value` with the session as the host's decoded copy of the state as it is
/// now, so that a later callback can use it instead of reading and decoding the
/// state (`lv_state_cache`). Call it after the callback's last write to the state.
/// The library calls `drop(value)` (if not NULL) once: when another value replaces
/// it (within that call), or when the session leaves this node (it ends, moves to
/// another node, the app is freed), on whatever thread that happens; `drop` must not
/// call back into the library with the session's context. A snapshot restored on
/// another node starts without a value. Setting the value already kept only marks it
/// fresh again (its `drop` stays). `LV_ERR_NULL` when `value` is NULL.
#[no_mangle]
pub unsafe extern "C" fn lv_set_state_cache(ctx: *mut lv_ctx, value: *mut c_void, drop: lv_drop_fn) -> c_int {
    call(ctx, |c| {
        if value.is_null() {
            set_last_error("value is NULL");
            return LV_ERR_NULL;
        }
        let kept = |v: &(dyn Any + Send)| v.downcast_ref::<ForeignCache>().is_some_and(|v| v.value == value);
        let same = c.state_cache().0.is_some_and(kept);
        c.set_state_cache((!same).then(|| Box::new(ForeignCache { value, drop }) as Box<dyn Any + Send>));
        LV_OK
    })
}

/// The value at a JSON pointer ("/count", "/items/0"; "" is the whole state) as JSON
/// text, or NULL when there is none (`lv_last_error` says so, and which step of the
/// way is not an object or array) or the pointer is misspelt ("count": the message
/// says to write "/count"). Every `lv_get_*` reads pointers alike; those returning a
/// status return `LV_ERR_NOT_FOUND` and `LV_ERR_POINTER` for these two cases.
#[no_mangle]
pub unsafe extern "C" fn lv_get(ctx: *mut lv_ctx, pointer: *const c_char) -> *const c_char {
    call_c_str(ctx, |c| {
        let p = pointer_arg(pointer).ok()?;
        match value_at(c, p) {
            Ok(v) => Some(c_json(v, 0)),
            Err(e) => {
                fail(e);
                None
            }
        }
    })
}

/// The integer at a JSON pointer into `*out`. `LV_ERR_NOT_FOUND` when absent,
/// `LV_ERR_JSON` when not an integer; `*out` is written only on success.
#[no_mangle]
pub unsafe extern "C" fn lv_get_int(ctx: *mut lv_ctx, pointer: *const c_char, out: *mut i64) -> c_int {
    call(ctx, |c| {
        let p = match pointer_arg(pointer) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        match value_at(c, p) {
            Err(e) => fail(e),
            Ok(v) => match v.as_i64() {
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
        let p = match pointer_arg(pointer) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        match value_at(c, p) {
            Err(e) => fail(e),
            Ok(v) => match v.as_f64() {
                Some(n) => {
                    *out = n;
                    LV_OK
                }
                None => fail(Error::Json(format!("value at {p:?} is not a number: {v}"))),
            },
        }
    })
}

/// The boolean at a JSON pointer into `*out` (1 for true, 0 for false).
/// `LV_ERR_NOT_FOUND` when absent, `LV_ERR_JSON` when not a boolean (a 0 or "false"
/// is not one); `*out` is written only on success.
#[no_mangle]
pub unsafe extern "C" fn lv_get_bool(ctx: *mut lv_ctx, pointer: *const c_char, out: *mut c_int) -> c_int {
    call(ctx, |c| {
        let p = match pointer_arg(pointer) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        match value_at(c, p) {
            Err(e) => fail(e),
            Ok(Value::Bool(b)) => {
                *out = c_int::from(*b);
                LV_OK
            }
            Ok(v) => fail(Error::Json(format!("value at {p:?} is not a boolean: {v}"))),
        }
    })
}

/// The string at a JSON pointer, or NULL when absent or not a string.
#[no_mangle]
pub unsafe extern "C" fn lv_get_str(ctx: *mut lv_ctx, pointer: *const c_char) -> *const c_char {
    call_str(ctx, |c| {
        let p = pointer_arg(pointer).ok()?;
        match value_at(c, p) {
            Ok(Value::String(s)) => Some(s.clone()),
            Ok(other) => {
                set_last_error(format!("value at {p:?} is not a string: {other}"));
                None
            }
            Err(e) => {
                fail(e);
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
        let p = match pointer_arg(pointer) {
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
/// a last token "-" appends to an array ("/log/-"). `LV_ERR_JSON` for bad JSON, or
/// for a whole state (pointer "") that is not an object; `LV_ERR_POINTER` for a
/// misspelt pointer ("count" for "/count"), or one that leads
/// through a string, number or boolean or past the end of an array (the message says
/// where). The same for every `lv_set_*`; the state is then unchanged.
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

/// Sets a boolean at a JSON pointer: true for any non-zero `value`, false for 0.
#[no_mangle]
pub unsafe extern "C" fn lv_set_bool(ctx: *mut lv_ctx, pointer: *const c_char, value: c_int) -> c_int {
    set_value(ctx, pointer, || Ok(Value::Bool(value != 0)))
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
        let p = match pointer_arg(pointer) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if p.is_empty() {
            set_last_error("the whole state cannot be removed (pointer \"\"); use lv_set_state(ctx, \"{}\")");
            return LV_ERR_NOT_FOUND;
        }
        match c.remove(p) {
            Some(_) => LV_OK,
            None => fail(no_value(c.state(), p)),
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

/// The length of the value at a JSON pointer into `*out`: for a string its length in
/// bytes of UTF-8, as `strlen` of `lv_get_str` gives it ("été" is 5); for an array
/// its items; for an object its keys. `LV_ERR_NOT_FOUND` when absent, `LV_ERR_JSON`
/// for a number, boolean or null.
#[no_mangle]
pub unsafe extern "C" fn lv_len(ctx: *mut lv_ctx, pointer: *const c_char, out: *mut usize) -> c_int {
    call(ctx, |c| {
        let p = match pointer_arg(pointer) {
            Ok(p) => p,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        let len = match value_at(c, p) {
            Err(e) => return fail(e),
            Ok(Value::Array(a)) => a.len(),
            Ok(Value::Object(o)) => o.len(),
            Ok(Value::String(s)) => s.len(),
            Ok(other) => return fail(Error::Json(format!("value at {p:?} has no length: {other}"))),
        };
        *out = len;
        LV_OK
    })
}

/// Appends one token to the JSON pointer held in `buf` (NUL-terminated, `len` bytes
/// in all): a `/`, then `token` with `~` written `~0` and `/` written `~1`, so a key
/// from user input ("a/b") cannot step into another one. Start from `buf[0] = '\0'`
/// (the whole state). On `LV_ERR_BUFFER` (it would not fit) `buf` is unchanged.
///
/// ```c
/// char p[128] = "";
/// lv_pointer_append(p, sizeof p, "boards");   // "/boards"
/// lv_pointer_append(p, sizeof p, name);       // "/boards/a~1b" for "a/b"
/// ```
///
/// An index needs no escaping: `snprintf(p, sizeof p, "/items/%zu/done", i)` is a
/// pointer too (check that its result is below `sizeof p`).
#[no_mangle]
pub unsafe extern "C" fn lv_pointer_append(buf: *mut c_char, len: usize, token: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if buf.is_null() {
            set_last_error("buf is NULL");
            return LV_ERR_NULL;
        }
        let token = match arg(token, "token") {
            Ok(t) => t,
            Err(code) => return code,
        };
        // The current pointer: at most `len` bytes, NUL-terminated within them.
        let bytes = std::slice::from_raw_parts(buf as *const u8, len);
        let Some(used) = bytes.iter().position(|&b| b == 0) else {
            set_last_error(format!("buf holds no NUL within its {len} bytes; start with buf[0] = '\\0'"));
            return LV_ERR_BUFFER;
        };
        let escaped = format!("/{}", token.replace('~', "~0").replace('/', "~1"));
        if used + escaped.len() + 1 > len {
            set_last_error(format!(
                "buffer of {len} bytes is too small for {:?}",
                format!("{}{escaped}", String::from_utf8_lossy(&bytes[..used]))
            ));
            return LV_ERR_BUFFER;
        }
        std::ptr::copy_nonoverlapping(escaped.as_ptr(), (buf as *mut u8).add(used), escaped.len());
        *buf.add(used + escaped.len()) = 0;
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
/// POST, the 303 goes there. From `on_mount`, the page GET answers 303 (or the 3xx
/// of `lv_set_status`) with `Location: url` and keeps no session. `url` must be a path of this app (one leading `/`) or an
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

/// Inside `on_mount`: the HTTP status the page GET answers with. With `LV_OK` from
/// the mount, the page renders as usual under that status (a live "no such board"
/// page with 404); when the mount fails after it (`return lv_error(ctx, "gone")`),
/// the GET answers the status with a short text ("410 Gone", plus the message in dev
/// mode) instead of a 500, and no session is kept. With `lv_redirect` in the mount, a
/// 3xx status (301, 302, 307, 308) replaces the default 303. `code` is 200 to 599,
/// else `LV_ERR_STATE`; so is a call outside `on_mount`.
///
/// A WebSocket join that finds no session (it expired) mounts afresh: if that mount
/// fails with a status, the browser is sent to its page's URL (a full load), whose GET
/// answers the status; if it redirects, the browser goes there.
#[no_mangle]
pub unsafe extern "C" fn lv_set_status(ctx: *mut lv_ctx, code: c_int) -> c_int {
    call(ctx, |c| match u16::try_from(code) {
        Ok(code) => status(c.set_status(code)),
        Err(_) => fail(Error::State(format!("{code} is not an HTTP status a page can answer (200 to 599)"))),
    })
}

/// Inside `on_mount`: fails the mount so that the page GET answers 404 Not Found
/// (`lv_set_status(ctx, 404)`, then `lv_error(ctx, "not found")`); returns
/// `LV_ERR_NOT_FOUND` for the mount to return:
///
/// ```c
/// if (!board_exists(name)) return lv_not_found(ctx);
/// ```
///
/// No session is kept. Outside `on_mount` it records `LV_ERR_STATE` and returns it.
#[no_mangle]
pub unsafe extern "C" fn lv_not_found(ctx: *mut lv_ctx) -> c_int {
    call(ctx, |c| {
        if let Err(e) = c.set_status(404) {
            return fail(e);
        }
        c.failure = Some("not found".to_string());
        LV_ERR_NOT_FOUND
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
    call_borrowed(ctx, |c| Some(c.session_id()))
}

/// This browser's stable id (22 URL-safe characters): the same in every page
/// session of the browser, on every node; another browser's differs. A pseudonym
/// of the browser cookie, not the cookie itself.
#[no_mangle]
pub unsafe extern "C" fn lv_browser_id(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| Some(c.browser_id()))
}

/// The user id from the auth hook, or NULL.
#[no_mangle]
pub unsafe extern "C" fn lv_user_id(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| c.user_id())
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
    call_borrowed(ctx, |c| c.event().map(|e| e.name.as_str()))
}

/// Inside `on_event`: the value named `key` — a `data-lv-value-*` first, else the
/// first form value — or NULL when the event has none. The same as
/// `lv_event_get_at(ctx, key, 0)`.
#[no_mangle]
pub unsafe extern "C" fn lv_event_get(ctx: *mut lv_ctx, key: *const c_char) -> *const c_char {
    call_str(ctx, |c| {
        let k = arg(key, "key").ok()?;
        c.event().and_then(|e| e.get(k))
    })
}

/// Inside `on_event`: how many values are named `key` into `*out`: the
/// `data-lv-value-*` of that name (if any), then every value of the form field (a
/// `<select multiple>` or checkboxes named alike send several: `sel=a&sel=b` is 2).
/// 0 when there is none. `LV_ERR_STATE` outside `on_event`.
#[no_mangle]
pub unsafe extern "C" fn lv_event_count(ctx: *mut lv_ctx, key: *const c_char, out: *mut usize) -> c_int {
    call(ctx, |c| {
        let k = match arg(key, "key") {
            Ok(k) => k,
            Err(code) => return code,
        };
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        let Some(e) = c.event() else {
            return fail(Error::State("lv_event_count outside on_event".into()));
        };
        *out = e.all(k).len();
        LV_OK
    })
}

/// Inside `on_event`: value `index` (from 0) of those `lv_event_count` counts for
/// `key`, in the order the browser sent them, or NULL (`LV_ERR_NOT_FOUND` in
/// `lv_last_error`) past the last. Owned by the library until the callback returns.
///
/// ```c
/// size_t n = 0;
/// lv_event_count(ctx, "sel", &n);
/// for (size_t i = 0; i < n; i++) puts(lv_event_get_at(ctx, "sel", i));
/// ```
#[no_mangle]
pub unsafe extern "C" fn lv_event_get_at(
    ctx: *mut lv_ctx,
    key: *const c_char,
    index: usize,
) -> *const c_char {
    call_str(ctx, |c| {
        let k = arg(key, "key").ok()?;
        let Some(e) = c.event() else {
            set_last_error("lv_event_get_at outside on_event");
            return None;
        };
        let mut all = e.all(k);
        if index >= all.len() {
            set_last_error(format!("the event has {} values named {k:?}, no value {index}", all.len()));
            return None;
        }
        Some(all.swap_remove(index))
    })
}

/// Inside `on_event`: the event's type: "click", "submit", "change", "keyup",
/// "keydown", "focus", "blur" (a no-JS form POST is a "submit"). NULL elsewhere.
#[no_mangle]
pub unsafe extern "C" fn lv_event_type(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| c.event().map(|e| e.kind.as_str()))
}

/// Inside `on_event`: the `data-lv-target` of the element, or NULL when it has none
/// (or outside `on_event`).
#[no_mangle]
pub unsafe extern "C" fn lv_event_target(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| c.event().and_then(|e| e.target.as_deref()))
}

/// Inside `on_event`: for a change event, the `name` of the form field that changed;
/// NULL otherwise.
#[no_mangle]
pub unsafe extern "C" fn lv_event_field(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| c.event().and_then(|e| e.field.as_deref()))
}

/// Inside `on_event`: for a key event, the key ("Enter", "a", "ArrowUp", as the
/// browser's `KeyboardEvent.key`); NULL otherwise.
#[no_mangle]
pub unsafe extern "C" fn lv_event_key(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| c.event().and_then(|e| e.key.as_deref()))
}

/// Inside `on_event`: the whole event as JSON text, as `on_event` received it
/// (docs/protocol.md: `type`, `name`, `target`, `values`, `form`, `field`, `key`,
/// `meta`), for a host that reads it with its own JSON parser. NULL elsewhere.
#[no_mangle]
pub unsafe extern "C" fn lv_event_json(ctx: *mut lv_ctx) -> *const c_char {
    call_str(ctx, |c| c.event().and_then(|e| serde_json::to_string(e).ok()))
}

/// Inside `on_info`: the topic of a published message, or NULL for a timer.
#[no_mangle]
pub unsafe extern "C" fn lv_info_topic(ctx: *mut lv_ctx) -> *const c_char {
    call_borrowed(ctx, |c| c.info().and_then(|i| i.topic.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::{c_json, c_text, c_text_of};
    use serde_json::json;

    #[test]
    fn a_nul_reaches_c_as_a_replacement_character() {
        for text in ["plain", "", "été", "2\0x", "\0\0"] {
            let want = text.replace('\0', "\u{fffd}");
            assert_eq!(c_text(text.to_owned()).to_str(), Ok(want.as_str()), "c_text({text:?})");
            assert_eq!(c_text_of(text).to_str(), Ok(want.as_str()), "c_text_of({text:?})");
        }
    }

    #[test]
    fn a_value_reaches_c_as_its_compact_json_whatever_the_room_guessed() {
        let value = json!({"nul": "a\0b", "text": "été \"q\"", "n": [1, -2.5, null, true], "o": {}});
        for room in [0, 3, 1 << 16] {
            let text = c_json(&value, room);
            assert_eq!(text.to_str(), Ok(value.to_string().as_str()), "room {room}");
            assert!(text.to_str().is_ok_and(|t| t.contains(r#""a\u0000b""#)), "{text:?}");
        }
    }
}
