//! Pages and the auth hook implemented by C callbacks.

use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CString};

use super::{arg, set_last_error, LV_ERR_NULL, LV_ERR_STATE, LV_OK};
use crate::app::{Auth, AuthDecision, RequestInfo};
use crate::page::{Ctx, Event, HostError, Info, Page};
use serde_json::Value;

/// A callback's view of its session. Valid only during the callback it was passed to,
/// and only on that callback's thread.
pub struct lv_ctx {
    _private: [u8; 0],
}

/// `on_mount(ctx, params_json, user_data)`: set the initial state. `params_json` is
/// the route params as a JSON object, e.g. `{"room":"lobby"}`. Return `LV_OK`, or
/// any non-zero value for failure: the GET answers 500, or the status set with
/// `lv_set_status` (`return lv_not_found(ctx);` answers 404).
pub type lv_mount_fn = Option<
    unsafe extern "C" fn(ctx: *mut lv_ctx, params_json: *const c_char, user_data: *mut c_void) -> c_int,
>;

/// `on_event(ctx, event_json, user_data)`: handle a browser event. `event_json` is the
/// event as docs/protocol.md describes it (`type`, `name`, `target`, `values`, `form`,
/// `key`, `meta`). Return `LV_OK`, or non-zero for failure: the browser gets an error
/// reply and the session keeps the state it had before the event.
pub type lv_event_fn = Option<
    unsafe extern "C" fn(ctx: *mut lv_ctx, event_json: *const c_char, user_data: *mut c_void) -> c_int,
>;

/// `on_info(ctx, msg_json, user_data)`: a message published on a subscribed topic
/// (`lv_info_topic` names it) or a timer's payload (`lv_info_topic` is NULL).
pub type lv_info_fn =
    Option<unsafe extern "C" fn(ctx: *mut lv_ctx, msg_json: *const c_char, user_data: *mut c_void) -> c_int>;

/// `on_close(ctx, reason, user_data)`: the session is ending; `reason` is "expired"
/// (its browser did not come back within the grace period) or "shutdown" (without
/// "redis"; with it, a stopping node hands its sessions to the others instead, and
/// they close only when they expire). State changes and marks are not rendered;
/// publishing (a departure) works.
pub type lv_close_fn =
    Option<unsafe extern "C" fn(ctx: *mut lv_ctx, reason: *const c_char, user_data: *mut c_void)>;

/// Releases a `user_data`. Called exactly once, after the last callback that could
/// see it, at the latest before `lv_app_shutdown`/`lv_app_free` returns.
pub type lv_drop_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// A page: templates plus callbacks. The struct and its strings are copied by
/// `lv_app_register_page`; they need not outlive the call.
#[repr(C)]
pub struct lv_page {
    /// Page template name: "counter/index" is views/pages/counter/index.html. Required.
    pub template: *const c_char,
    /// Regions as a JSON object, DOM id → partial name:
    /// `{"stats": "counter/stats"}` (views/partials/counter/stats.html). May be NULL.
    pub regions: *const c_char,
    /// Layout name (views/layouts/<name>.html); NULL for the app's default.
    pub layout: *const c_char,
    /// May be NULL: the state then starts as `{}`.
    pub on_mount: lv_mount_fn,
    /// Required.
    pub on_event: lv_event_fn,
    /// May be NULL: infos are then ignored.
    pub on_info: lv_info_fn,
    /// May be NULL.
    pub on_close: lv_close_fn,
    /// Passed to every callback of this page.
    pub user_data: *mut c_void,
    /// May be NULL. Called exactly once if registration succeeds; if it fails,
    /// `user_data` stays the caller's.
    pub drop: lv_drop_fn,
}

/// A host pointer the library carries between threads. The header tells hosts that
/// callbacks run on library threads, concurrently for different sessions.
pub(crate) struct UserData {
    pub ptr: *mut c_void,
    /// Set once the library owns `ptr` (after a successful registration).
    pub drop: std::sync::Mutex<lv_drop_fn>,
}

unsafe impl Send for UserData {}
unsafe impl Sync for UserData {}

impl Drop for UserData {
    fn drop(&mut self) {
        let drop = self.drop.get_mut().map(|d| d.take()).unwrap_or(None);
        if let Some(drop) = drop {
            // SAFETY: the host gave us this function for this pointer; we call it once.
            unsafe { drop(self.ptr) };
        }
    }
}

thread_local! {
    /// The context of the callback running on this thread, so a stale or foreign
    /// `lv_ctx*` is refused instead of dereferenced.
    static CURRENT: Cell<*mut lv_ctx> = const { Cell::new(std::ptr::null_mut()) };
    /// The same for the request of the auth hook running on this thread.
    static CURRENT_AUTH: Cell<*mut lv_auth> = const { Cell::new(std::ptr::null_mut()) };
}

/// Resolves a `lv_ctx*` to the live context, or records why it cannot be used.
pub(crate) unsafe fn ctx<'a, 'b>(ptr: *mut lv_ctx) -> Result<&'a mut Ctx<'b>, c_int> {
    if ptr.is_null() {
        set_last_error("ctx is NULL");
        return Err(LV_ERR_NULL);
    }
    if CURRENT.with(|c| c.get()) != ptr {
        set_last_error("ctx used outside its callback (or on another thread)");
        return Err(LV_ERR_STATE);
    }
    Ok(&mut *(ptr as *mut Ctx<'b>))
}

pub(crate) struct FfiPage {
    pub on_mount: lv_mount_fn,
    pub on_event: lv_event_fn,
    pub on_info: lv_info_fn,
    pub on_close: lv_close_fn,
    pub user: UserData,
}

type Callback = unsafe extern "C" fn(*mut lv_ctx, *const c_char, *mut c_void) -> c_int;

impl FfiPage {
    fn call(&self, kind: &str, cb: Callback, ctx: &mut Ctx<'_>, json: Vec<u8>) -> Result<(), HostError> {
        // JSON text escapes NUL, so this cannot fail; fall back to "{}" regardless.
        let json = CString::new(json).unwrap_or_else(|_| CString::from(c"{}"));
        let ptr = ctx as *mut Ctx<'_> as *mut lv_ctx;
        let previous = CURRENT.with(|c| c.replace(ptr));
        // SAFETY: the host promised a function with this signature; `ptr` is live
        // for the duration of the call and `json` outlives it.
        let rc = unsafe { cb(ptr, json.as_ptr(), self.user.ptr) };
        CURRENT.with(|c| c.set(previous));
        if rc == LV_OK {
            Ok(())
        } else {
            Err(HostError(ctx.failure.take().unwrap_or_else(|| format!("{kind} returned {rc}"))))
        }
    }
}

/// The bytes an event's JSON starts with room for: a click with a few values, or a
/// small form (`{"type":"click","name":"inc","target":null,"values":{},...}` is about
/// 150 bytes).
const EVENT_JSON_CAPACITY: usize = 512;

impl Page for FfiPage {
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError> {
        let Some(cb) = self.on_mount else { return Ok(()) };
        let params = serde_json::to_vec(ctx.params()).unwrap_or_else(|_| b"{}".to_vec());
        self.call("on_mount", cb, ctx, params)
    }

    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError> {
        let Some(cb) = self.on_event else {
            return Err(HostError("the page has no on_event".into()));
        };
        // Written straight into the buffer the C string then takes over, sized for a
        // typical event and its NUL, so neither the writing nor the NUL grows it.
        let mut json = Vec::with_capacity(EVENT_JSON_CAPACITY);
        event.write_json(&mut json);
        self.call("on_event", cb, ctx, json)
    }

    fn info(&self, ctx: &mut Ctx<'_>, info: &Info) -> Result<(), HostError> {
        let Some(cb) = self.on_info else { return Ok(()) };
        // Room for the NUL the C string adds: no second allocation.
        let mut json = Vec::with_capacity(info.data.len() + 1);
        json.extend_from_slice(info.data.as_bytes());
        self.call("on_info", cb, ctx, json)
    }

    fn close(&self, ctx: &mut Ctx<'_>, reason: &str) {
        let Some(cb) = self.on_close else { return };
        let reason = CString::new(reason).unwrap_or_default();
        let ptr = ctx as *mut Ctx<'_> as *mut lv_ctx;
        let previous = CURRENT.with(|c| c.replace(ptr));
        // SAFETY: as in `call`.
        unsafe { cb(ptr, reason.as_ptr(), self.user.ptr) };
        CURRENT.with(|c| c.set(previous));
    }
}

/// The auth hook's view of one request. Valid only during the hook, on its thread:
/// a stale or foreign `lv_auth*` is refused with `LV_ERR_STATE`.
pub struct lv_auth {
    decision: AuthDecision,
    request: *const RequestInfo,
    /// Strings lent to the hook; they live until it returns.
    lent: Vec<CString>,
}

/// `auth(req, request_json, user_data)`: decide who may load or use a page, on a
/// page GET, a form POST (`"method":"POST"`) and a WebSocket join (asked as a `GET`
/// of the page, with the upgrade's headers, `upgrade: websocket` among them).
/// `request_json` is `{"method","path","query","headers":{...},"cookies":{...},
/// "browser":{...}}` (header names lower-case; `browser` the browser session as the
/// request found it, see `lv_auth_browser_session`). Return `LV_OK` to allow (with the user id set by
/// `lv_auth_set_user`, if any, or to the location set by `lv_auth_redirect`), or
/// non-zero to refuse with 403 (a join: a `forbidden` error, close code 1008).
pub type lv_auth_fn = Option<
    unsafe extern "C" fn(req: *mut lv_auth, request_json: *const c_char, user_data: *mut c_void) -> c_int,
>;

pub(crate) struct FfiAuth {
    pub cb: unsafe extern "C" fn(*mut lv_auth, *const c_char, *mut c_void) -> c_int,
    pub user: UserData,
}

impl Auth for FfiAuth {
    fn authenticate(&self, request: &RequestInfo) -> AuthDecision {
        let json = serde_json::to_string(request).unwrap_or_else(|_| "{}".into());
        let json = CString::new(json).unwrap_or_else(|_| CString::from(c"{}"));
        let mut req = lv_auth { decision: AuthDecision::Allow(None), request, lent: Vec::new() };
        let ptr: *mut lv_auth = &mut req;
        let previous = CURRENT_AUTH.with(|c| c.replace(ptr));
        // SAFETY: as for page callbacks.
        let rc = unsafe { (self.cb)(ptr, json.as_ptr(), self.user.ptr) };
        CURRENT_AUTH.with(|c| c.set(previous));
        if rc == LV_OK {
            req.decision
        } else {
            AuthDecision::Deny
        }
    }
}

/// Resolves a `lv_auth*` to the request of the auth hook running on this thread, or
/// records why it cannot be used (NULL, stale, from another thread).
unsafe fn auth<'a>(ptr: *mut lv_auth) -> Result<&'a mut lv_auth, c_int> {
    if ptr.is_null() {
        set_last_error("req is NULL");
        return Err(LV_ERR_NULL);
    }
    if CURRENT_AUTH.with(|c| c.get()) != ptr {
        set_last_error("req used outside its auth hook (or on another thread)");
        return Err(LV_ERR_STATE);
    }
    Ok(&mut *ptr)
}

/// Inside the auth hook: the request belongs to `user_id` (copied). It travels in the
/// session token and is visible to callbacks (`lv_user_id`) and templates (`user_id`).
#[no_mangle]
pub unsafe extern "C" fn lv_auth_set_user(req: *mut lv_auth, user_id: *const c_char) -> c_int {
    super::boundary(super::LV_ERR_PANIC, || {
        let req = match auth(req) {
            Ok(r) => r,
            Err(code) => return code,
        };
        match arg(user_id, "user_id") {
            Ok(uid) => {
                req.decision = AuthDecision::Allow(Some(uid.to_string()));
                LV_OK
            }
            Err(code) => code,
        }
    })
}

/// Inside the auth hook: the browser session (a JSON object, `{}` when the browser
/// has none) with the hook's own writes, as JSON text. Owned by the library, valid
/// until the hook returns. NULL (see `lv_last_error`) when `req` is NULL or stale.
#[no_mangle]
pub unsafe extern "C" fn lv_auth_browser_session(req: *mut lv_auth) -> *const c_char {
    super::boundary(std::ptr::null(), || {
        let Ok(req) = auth(req) else { return std::ptr::null() };
        // SAFETY: `request` is the hook's request, alive while the hook runs.
        let json = Value::Object(unsafe { &*req.request }.browser_session()).to_string();
        let s = CString::new(json).unwrap_or_default();
        let ptr = s.as_ptr();
        req.lent.push(s);
        ptr
    })
}

/// Inside the auth hook: sets `key` (copied) in the browser session to the JSON
/// `json` (copied), e.g. the user a login recognised. Stored unless the hook denies
/// the request (returns non-zero), before the page mounts or the event runs; every
/// page session of this browser sees it from its next callback. `LV_ERR_JSON` on bad
/// JSON, `LV_ERR_STATE` when the map would be over `max_browser_session_bytes`
/// (nothing changes then).
#[no_mangle]
pub unsafe extern "C" fn lv_auth_browser_set(
    req: *mut lv_auth,
    key: *const c_char,
    json: *const c_char,
) -> c_int {
    super::boundary(super::LV_ERR_PANIC, || {
        let req = match auth(req) {
            Ok(r) => r,
            Err(code) => return code,
        };
        let (key, json) = match (arg(key, "key"), arg(json, "json")) {
            (Ok(k), Ok(j)) => (k, j),
            (Err(code), _) | (_, Err(code)) => return code,
        };
        let value = match serde_json::from_str::<Value>(json) {
            Ok(v) => v,
            Err(e) => return super::fail(crate::error::Error::json(e)),
        };
        // SAFETY: as in `lv_auth_browser_session`.
        super::status(unsafe { &*req.request }.browser_set(key, value))
    })
}

/// Inside the auth hook: removes `key` from the browser session (e.g. at logout),
/// stored as `lv_auth_browser_set` is. `LV_ERR_NOT_FOUND` when there is no such key.
#[no_mangle]
pub unsafe extern "C" fn lv_auth_browser_remove(req: *mut lv_auth, key: *const c_char) -> c_int {
    super::boundary(super::LV_ERR_PANIC, || {
        let req = match auth(req) {
            Ok(r) => r,
            Err(code) => return code,
        };
        let key = match arg(key, "key") {
            Ok(k) => k,
            Err(code) => return code,
        };
        // SAFETY: as in `lv_auth_browser_session`.
        match unsafe { &*req.request }.browser_remove(key) {
            Some(_) => LV_OK,
            None => {
                super::fail(crate::error::Error::NotFound(format!("no key {key:?} in the browser session")))
            }
        }
    })
}

/// Inside the auth hook: answer with a 303 to `location` (copied), e.g. a login page.
#[no_mangle]
pub unsafe extern "C" fn lv_auth_redirect(req: *mut lv_auth, location: *const c_char) -> c_int {
    super::boundary(super::LV_ERR_PANIC, || {
        let req = match auth(req) {
            Ok(r) => r,
            Err(code) => return code,
        };
        match arg(location, "location") {
            Ok(loc) => {
                req.decision = AuthDecision::Redirect(loc.to_string());
                LV_OK
            }
            Err(code) => code,
        }
    })
}
