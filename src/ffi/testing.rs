//! `lv_test_*`: the headless test client (`crate::testing::TestClient`) for C and the
//! bindings. JSON in and out; every string handed out is the caller's, freed with
//! `lv_string_free`.

use std::ffi::{c_char, c_int, CString};
use std::sync::Mutex;
use std::time::Duration;

use super::app::{app_ref, lv_app};
use super::{
    arg, boundary, fail, opt_arg, set_last_error, LV_ERR_NULL, LV_ERR_PANIC, LV_ERR_REENTRANT, LV_OK,
};
use crate::error::{Error, Result};
use crate::testing::{TestClient, TestOptions};

/// A headless browser showing one page of an app, from `lv_test_open`; released with
/// `lv_test_close`. Its calls may come from any thread (one at a time: a second call
/// waits for the first), but never from inside a callback (`LV_ERR_REENTRANT`): they
/// wait for the app's sessions, which may need that callback's thread.
pub struct lv_test {
    client: Mutex<TestClient>,
}

/// Calls may come from any thread: the client must be movable between them.
const _: fn() = || {
    fn send<T: Send>() {}
    send::<TestClient>();
};

/// The handle checked, the calling thread checked, `f` run on the client.
unsafe fn with_client(t: *mut lv_test, what: &str, f: impl FnOnce(&mut TestClient) -> Result<()>) -> c_int {
    // SAFETY: NULL or a handle from `lv_test_open` that was not closed.
    let Some(t) = t.as_ref() else {
        set_last_error("t is NULL");
        return LV_ERR_NULL;
    };
    if crate::host::on_host_thread() {
        set_last_error(format!("{what} cannot be called from a callback"));
        return LV_ERR_REENTRANT;
    }
    let mut client = t.client.lock().unwrap_or_else(|e| e.into_inner());
    match f(&mut client) {
        Ok(()) => LV_OK,
        Err(e) => fail(e),
    }
}

/// Hands `text` out through `out` (checked non-NULL by the caller).
unsafe fn give(out: *mut *mut c_char, text: String) -> Result<()> {
    let s = CString::new(text).map_err(|_| Error::State("the text holds a NUL byte".into()))?;
    // SAFETY: `out` was checked non-NULL and is the caller's writable pointer.
    *out = s.into_raw();
    Ok(())
}

fn out_arg(out: *mut *mut c_char, name: &str) -> std::result::Result<(), c_int> {
    if out.is_null() {
        set_last_error(format!("{name} is NULL"));
        return Err(LV_ERR_NULL);
    }
    Ok(())
}

/// Loads the page at `path` ("/counter", with a query if any) of `app` as a browser
/// would, in-process (no port, no `lv_app_start` needed): a GET through the app's request
/// path, cookies kept, then a WebSocket joined in memory with the page's boot data.
/// `options_json` may be NULL, or `{"timeout_ms": 5000, "headers": {"Name": "value"},
/// "cookies": {"name": "value"}, "host": "localhost"}` (each key optional): the time
/// an event waits for its reply, headers and cookies sent with every request (an auth
/// hook's login cookie), and the host the browser asks for.
///
/// On `LV_OK`, `*out` is the client; release it with `lv_test_close` (before
/// `lv_app_free`). `LV_ERR_NOT_FOUND` when the GET answers an error status (the
/// message has it), `LV_ERR_STATE` when the page is not live or its join is refused,
/// `LV_ERR_TIMEOUT` when the join is not answered in time, `LV_ERR_JSON` for bad
/// options, `LV_ERR_REENTRANT` from a callback.
#[no_mangle]
pub unsafe extern "C" fn lv_test_open(
    app: *mut lv_app,
    path: *const c_char,
    options_json: *const c_char,
    out: *mut *mut lv_test,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        if crate::host::on_host_thread() {
            set_last_error("lv_test_open cannot be called from a callback");
            return LV_ERR_REENTRANT;
        }
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let path = match arg(path, "path") {
            Ok(p) => p,
            Err(c) => return c,
        };
        let opts = match opt_arg(options_json, "options_json") {
            Ok(None) => TestOptions::default(),
            Ok(Some(json)) => match TestOptions::from_json(json) {
                Ok(o) => o,
                Err(e) => return fail(e),
            },
            Err(c) => return c,
        };
        match TestClient::open_with(&app, path, opts) {
            Ok(client) => {
                // SAFETY: checked non-NULL; the caller's writable pointer.
                *out = Box::into_raw(Box::new(lv_test { client: Mutex::new(client) }));
                LV_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Releases a test client: its socket closes (its session waits for a reconnect
/// that never comes, as after a closed tab). NULL is a no-op; the handle must not be
/// used afterwards.
#[no_mangle]
pub unsafe extern "C" fn lv_test_close(t: *mut lv_test) {
    boundary((), || {
        if !t.is_null() {
            // SAFETY: from `Box::into_raw` in `lv_test_open`, released once.
            drop(Box::from_raw(t));
        }
    })
}

/// Loads another page of the app in the same browser (cookies kept), as typing its
/// URL would. Errors as `lv_test_open`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_visit(t: *mut lv_test, path: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let path = match arg(path, "path") {
            Ok(p) => p,
            Err(c) => return c,
        };
        with_client(t, "lv_test_visit", |c| c.visit(path))
    })
}

/// Clicks the one element `selector` matches (a CSS selector; docs/c-api.md lists
/// the subset): sends the `click` of the element or its nearest ancestor with
/// `data-lv-click`, with its `data-lv-value-*` and `data-lv-target`, and waits for
/// the reply. `LV_ERR_NOT_FOUND` when the selector matches nothing or the element has
/// no `data-lv-click` in reach (the message names the selector and lists the page's
/// `data-lv-click` names), `LV_ERR_REQUEST` for a selector that is malformed or
/// matches several elements, `LV_ERR_CALLBACK` when the reply is an error (its code
/// and message are in `lv_last_error`), `LV_ERR_TIMEOUT` when no reply comes in
/// time, `LV_ERR_STATE` when the page's socket is closed.
#[no_mangle]
pub unsafe extern "C" fn lv_test_click(t: *mut lv_test, selector: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || match arg(selector, "selector") {
        Ok(s) => with_client(t, "lv_test_click", |c| c.click(s)),
        Err(code) => code,
    })
}

/// Focus enters the element: its (or its nearest ancestor's) `data-lv-focus` event.
/// Errors as `lv_test_click`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_focus(t: *mut lv_test, selector: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || match arg(selector, "selector") {
        Ok(s) => with_client(t, "lv_test_focus", |c| c.focus(s)),
        Err(code) => code,
    })
}

/// Focus leaves the element: its (or its nearest ancestor's) `data-lv-blur` event.
/// Errors as `lv_test_click`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_blur(t: *mut lv_test, selector: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || match arg(selector, "selector") {
        Ok(s) => with_client(t, "lv_test_blur", |c| c.blur(s)),
        Err(code) => code,
    })
}

/// Submits a form as a browser does: `selector` names the form (with
/// `data-lv-submit`) or a submit button in it, which is then the submitter.
/// `fields_json` (NULL for none) fills fields first, as a user would: a JSON object of
/// field name to a string, an array of strings (checkboxes, a multiple select),
/// true/false (every checkbox of the name) or null. A name the form has no field for,
/// or a value no option or checkbox has, is `LV_ERR_NOT_FOUND`. Otherwise errors as
/// `lv_test_click`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_submit(
    t: *mut lv_test,
    selector: *const c_char,
    fields_json: *const c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let selector = match arg(selector, "selector") {
            Ok(s) => s,
            Err(c) => return c,
        };
        let fields = match opt_arg(fields_json, "fields_json") {
            Ok(None) => None,
            Ok(Some(json)) => match serde_json::from_str::<serde_json::Value>(json) {
                Ok(v) => Some(v),
                Err(e) => return fail(Error::json(e)),
            },
            Err(c) => return c,
        };
        with_client(t, "lv_test_submit", |c| c.submit(selector, fields.as_ref()))
    })
}

/// Sets a form field as a user would and sends the `change` of its nearest ancestor
/// with `data-lv-change`, with the form's fields and `field`. `value`: the text of a
/// text field or textarea; the option to select (a JSON array of them for a multiple
/// select); for a checkbox or radio its own value or "true" checks it, "" or "false"
/// unchecks it. Errors as `lv_test_click`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_change(
    t: *mut lv_test,
    selector: *const c_char,
    value: *const c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let (selector, value) = match (arg(selector, "selector"), arg(value, "value")) {
            (Ok(s), Ok(v)) => (s, v),
            (Err(c), _) | (_, Err(c)) => return c,
        };
        with_client(t, "lv_test_change", |c| c.change(selector, value))
    })
}

/// A key event: `event_type` "keydown" or "keyup", `key` as `KeyboardEvent.key` ("Enter",
/// "a", " "), on the element or its nearest ancestor with `data-lv-<event_type>`. A key the
/// element's `data-lv-key` filters out is not sent, as in a browser:
/// `LV_ERR_NOT_FOUND` naming the filter. Otherwise errors as `lv_test_click`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_key(
    t: *mut lv_test,
    selector: *const c_char,
    event_type: *const c_char,
    key: *const c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let (selector, kind, key) =
            match (arg(selector, "selector"), arg(event_type, "event_type"), arg(key, "key")) {
                (Ok(s), Ok(k), Ok(v)) => (s, k, v),
                (Err(c), _, _) | (_, Err(c), _) | (_, _, Err(c)) => return c,
            };
        with_client(t, "lv_test_key", |c| c.key(selector, kind, key))
    })
}

/// Sends an event written by hand: a JSON object with at least "type" and "name"
/// (and any of "target", "values", "form", "field", "key", "meta", as in
/// docs/protocol.md), and waits for its reply. Errors as `lv_test_click`; bad JSON is
/// `LV_ERR_JSON`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_event(t: *mut lv_test, event_json: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || match arg(event_json, "event_json") {
        Ok(json) => with_client(t, "lv_test_event", |c| c.event(json)),
        Err(code) => code,
    })
}

/// The next push: a frame the server sent that answers no event (a patch from
/// `lv_app_publish` or a timer, already applied to the page; a command; a redirect or
/// navigate, already followed; an error or close), waiting at most `timeout_ms`. On
/// `LV_OK` `*out_json` is the frame as JSON (`{"t":"patch",...}`: a patch, untagged on
/// the wire, is named here), the caller's to free with `lv_string_free`.
/// `LV_ERR_TIMEOUT` when none came.
#[no_mangle]
pub unsafe extern "C" fn lv_test_next_push(
    t: *mut lv_test,
    timeout_ms: u32,
    out_json: *mut *mut c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out_json, "out_json") {
            return c;
        }
        with_client(t, "lv_test_next_push", |c| {
            let push = c.next_push(Duration::from_millis(timeout_ms.into()))?;
            give(out_json, push.to_string())
        })
    })
}

/// Asserts that no push arrives within `ms` milliseconds (and none is queued):
/// `LV_OK`, or `LV_ERR_STATE` with the push that arrived in the message.
#[no_mangle]
pub unsafe extern "C" fn lv_test_refute_push(t: *mut lv_test, ms: u32) -> c_int {
    boundary(LV_ERR_PANIC, || {
        with_client(t, "lv_test_refute_push", |c| c.refute_push(Duration::from_millis(ms.into())))
    })
}

/// The page's HTML as a browser shows it now: the whole document for a NULL
/// `selector`, else the inner HTML of the first element it matches
/// (`LV_ERR_NOT_FOUND` for none). `*out` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_html(
    t: *mut lv_test,
    selector: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out, "out") {
            return c;
        }
        let selector = match opt_arg(selector, "selector") {
            Ok(s) => s,
            Err(c) => return c,
        };
        with_client(t, "lv_test_html", |c| {
            let html = match selector {
                None => c.html()?,
                Some(s) => c.html_of(s)?,
            };
            give(out, html)
        })
    })
}

/// The text content of the first element `selector` matches (`LV_ERR_NOT_FOUND` for
/// none). `*out` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_text(
    t: *mut lv_test,
    selector: *const c_char,
    out: *mut *mut c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out, "out") {
            return c;
        }
        match arg(selector, "selector") {
            Ok(s) => with_client(t, "lv_test_text", |c| give(out, c.text_of(s)?)),
            Err(code) => code,
        }
    })
}

/// The inner HTML of the element with id `id` (a region). `LV_ERR_NOT_FOUND` names
/// the ids the live root has. `*out` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_region(t: *mut lv_test, id: *const c_char, out: *mut *mut c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out, "out") {
            return c;
        }
        match arg(id, "id") {
            Ok(id) => with_client(t, "lv_test_region", |c| give(out, c.region(id)?)),
            Err(code) => code,
        }
    })
}

/// The page's title. `*out` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_title(t: *mut lv_test, out: *mut *mut c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out, "out") {
            return c;
        }
        with_client(t, "lv_test_title", |c| give(out, c.title()?))
    })
}

/// The path (and query) of the page the client shows, which a followed redirect
/// changes. `*out` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_path(t: *mut lv_test, out: *mut *mut c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out, "out") {
            return c;
        }
        with_client(t, "lv_test_path", |c| {
            let path = c.path().ok_or_else(|| Error::State("no page is loaded".into()))?.to_string();
            give(out, path)
        })
    })
}

/// The session's state as JSON, asked of the session (it is never sent to the
/// browser): what it holds after every callback so far. `*out_json` is the caller's,
/// freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_state(t: *mut lv_test, out_json: *mut *mut c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out_json, "out_json") {
            return c;
        }
        with_client(t, "lv_test_state", |c| give(out_json, c.state()?.to_string()))
    })
}

/// The answer to the last event this client sent, as JSON: `{"ok":true}`, or
/// `{"ok":false,"error":{"code":"host_error","message":"..."}}` as the reply carried
/// it (docs/protocol.md), for a test that checks a failed event's code and message
/// as fields. `LV_ERR_NOT_FOUND` before any event, and when the last one got no
/// answer (`LV_ERR_TIMEOUT`). `*out_json` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_reply(t: *mut lv_test, out_json: *mut *mut c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out_json, "out_json") {
            return c;
        }
        with_client(t, "lv_test_reply", |c| match c.last_reply() {
            Some(reply) => give(out_json, reply.to_string()),
            None => {
                Err(Error::NotFound("no answered event: none was sent yet, or the last got no reply".into()))
            }
        })
    })
}

/// The flash a callback set that no render has shown yet, as a JSON object (`{}` for
/// none): a render that reaches the browser shows it in the page and clears it.
/// `*out_json` is the caller's, freed with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_test_flash(t: *mut lv_test, out_json: *mut *mut c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if let Err(c) = out_arg(out_json, "out_json") {
            return c;
        }
        with_client(t, "lv_test_flash", |c| give(out_json, c.flash()?.to_string()))
    })
}
