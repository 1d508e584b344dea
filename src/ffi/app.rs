//! `lv_app_*`, registration, serving and publishing.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::page::{lv_auth_fn, lv_drop_fn, lv_page, FfiAuth, FfiPage, UserData};
use super::{
    arg, boundary, fail, opt_arg, set_last_error, status, LV_ERR_BUFFER, LV_ERR_NULL, LV_ERR_PAGE,
    LV_ERR_PANIC, LV_ERR_REENTRANT, LV_ERR_STATE, LV_ERR_TIMEOUT, LV_OK,
};
use crate::app::App;
use crate::error::Error;
use crate::options::Options;
use crate::page::PageSpec;

/// An application: its options, pages and (once started) its server. Create with
/// `lv_app_new`, release with `lv_app_free`. Thread-safe: every `lv_app_*` function,
/// `lv_app_register_page` and `lv_app_publish` may be called from any thread, and
/// `lv_app_free` may run while other threads are still inside such calls (blocked in
/// `lv_app_wait` or `lv_app_serve`, publishing): the app is reference-counted inside the
/// library and the last call out releases it.
pub struct lv_app {
    app: App,
}

/// One call's reference to the app. The C handle is an `Arc<lv_app>` turned into a
/// raw pointer; each call holds a strong count while it runs, so `lv_app_free` on
/// another thread only drops the handle's own count and the memory outlives the call.
pub(crate) struct AppRef(Arc<lv_app>);

impl std::ops::Deref for AppRef {
    type Target = App;
    fn deref(&self) -> &App {
        &self.0.app
    }
}

pub(super) unsafe fn app_ref(app: *const lv_app) -> Result<AppRef, c_int> {
    if app.is_null() {
        set_last_error("app is NULL");
        return Err(LV_ERR_NULL);
    }
    // SAFETY: `app` came from `Arc::into_raw` in `lv_app_new` and the caller's own
    // count (released only by `lv_app_free`) is still held while it calls in.
    Arc::increment_strong_count(app);
    Ok(AppRef(Arc::from_raw(app)))
}

/// Creates an app from a JSON options document (NULL or "" means `{}`). Keys:
/// `views` (see below), `dev`, `secret` (≥ 32 bytes; default
/// `$MIZULIVE_SECRET`), `redis` (a `redis://` URL; default `$MIZULIVE_REDIS`, else
/// none: a single node), `previous_secrets`,
/// `previous_secrets_ttl_s`, `token_ttl_s`, `secure_cookies`, `trust_forwarded_proto`,
/// `allowed_origins`, `redirect_hosts`, `csp`, `csp_extra`, `host_threads`,
/// `io_threads`, `host_queue`, `grace_ms`, `max_frame_bytes`, `max_form_bytes`,
/// `events_per_second`, `event_burst`, `control_frames_per_second`,
/// `control_frame_burst`, `outbound_queue`, `mailbox`, `resume_buffer`,
/// `resume_buffer_bytes`, `max_state_bytes`, `max_sessions`, `max_unjoined_sessions`,
/// `max_connections`, `header_timeout_ms`, `body_timeout_ms`, `keep_alive_timeout_ms`,
/// `join_timeout_ms`, `socket_idle_timeout_ms`, `shutdown_timeout_ms`, `layout`, `root_id`,
/// `metrics`, `log_format`, `static_dir`, `static_prefix`. Unknown
/// keys are an error. docs/c-api.md gives each one's default.
///
/// `views` is where the templates come from: a folder (a string, default "views",
/// relative to the working directory) with `layouts/`, `pages/` and `partials/`, which
/// dev mode reloads on change; or the templates themselves, a JSON object of name to
/// source (`{"pages/counter/index.html": "<p>{{ state.count }}</p>", ...}`), so a
/// program needs no folder at run time. `{}` starts with none: add them with
/// `lv_app_add_view`. A folder that does not exist is an error.
///
/// Returns NULL on failure (see `lv_last_error`). The caller owns the app and must
/// release it with `lv_app_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_app_new(options_json: *const c_char) -> *mut lv_app {
    boundary(std::ptr::null_mut(), || {
        let json = match opt_arg(options_json, "options_json") {
            Ok(j) => j.unwrap_or(""),
            Err(_) => return std::ptr::null_mut(),
        };
        crate::logging::init();
        match Options::from_json(json).and_then(App::new) {
            Ok(app) => Arc::into_raw(Arc::new(lv_app { app })) as *mut lv_app,
            Err(e) => {
                fail(e);
                std::ptr::null_mut()
            }
        }
    })
}

/// Shuts the app down (as `lv_app_shutdown`) and releases the caller's handle. NULL is a
/// no-op. Must not be called from a callback: it then does nothing and records
/// `LV_ERR_REENTRANT`.
///
/// Other threads may be inside calls on `app` meanwhile (blocked in `lv_app_wait` or
/// `lv_app_serve`, in `lv_app_publish`, ...): the shutdown makes the waits return, and the
/// memory is freed when the last of those calls has returned. No call may *start*
/// on `app` once `lv_app_free` has been called.
#[no_mangle]
pub unsafe extern "C" fn lv_app_free(app: *mut lv_app) {
    boundary((), || {
        if app.is_null() {
            return;
        }
        if crate::host::on_host_thread() {
            set_last_error("lv_app_free cannot be called from a callback");
            return;
        }
        // SAFETY: `app` came from `Arc::into_raw` in `lv_app_new`; this takes back
        // the count the handle held.
        let owned = Arc::from_raw(app as *const lv_app);
        // Shut down before letting go, so calls blocked in lv_app_wait/lv_app_serve return and
        // drop their counts; whichever count goes last frees the app.
        if let Err(e) = owned.app.shutdown() {
            fail(e);
        }
        // After a shutdown that timed out, callbacks still running may call
        // lv_app_publish(app) when they resume, holding no count yet: the handle's count
        // passes to the last of their threads, which frees the app as it ends.
        let app = owned.clone();
        app.app.keep_until_host_threads_end(Box::new(owned));
        drop(app);
    })
}

/// Adds a template held in memory, so a program can carry its views inside it
/// (string literals, `xxd -i`, C23 `#embed`) instead of reading a folder at run time.
/// `name` is the template's file name as under a views folder:
/// "layouts/default.html", "pages/counter/index.html", "partials/counter/stats.html"
/// (relative, under `layouts/`, `pages/` or `partials/`, `/`-separated, no `.` or
/// `..` parts). `name` and `source` are copied. A template of the same name already
/// added is replaced; one added here wins over a file of that name in the views
/// folder. Add a page's templates before `lv_app_register_page`, which checks that they
/// exist; a template added later shows on the next render.
///
/// ```c
/// lv_app *app = lv_app_new("{\"views\": {}}");
/// lv_app_add_view(app, "pages/hello.html", "<p>Hello {{ state.name }}</p>");
/// ```
///
/// Fails with `LV_ERR_TEMPLATE`, adding nothing, for a bad name (the message names
/// it) or a source that does not compile (the message gives the line).
#[no_mangle]
pub unsafe extern "C" fn lv_app_add_view(
    app: *mut lv_app,
    name: *const c_char,
    source: *const c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let name = match arg(name, "name") {
            Ok(n) => n,
            Err(c) => return c,
        };
        let source = match arg(source, "source") {
            Ok(s) => s,
            Err(c) => return c,
        };
        status(app.add_view(name, source))
    })
}

/// Registers a page at `route` ("/counter", "/rooms/{room}"). Copies `page` and its
/// strings. Fails with `LV_ERR_PAGE` for a bad route, region map or missing
/// callback, `LV_ERR_TEMPLATE` when a template is missing or does not compile.
/// On success the app owns `page->user_data` and calls `page->drop` once.
#[no_mangle]
pub unsafe extern "C" fn lv_app_register_page(
    app: *mut lv_app,
    route: *const c_char,
    page: *const lv_page,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let route = match arg(route, "route") {
            Ok(r) => r,
            Err(c) => return c,
        };
        if page.is_null() {
            set_last_error("page is NULL");
            return LV_ERR_NULL;
        }
        let page = &*page;
        let template = match arg(page.template, "page->template") {
            Ok(t) => t.to_string(),
            Err(c) => return c,
        };
        let regions: BTreeMap<String, String> = match opt_arg(page.regions, "page->regions") {
            Ok(None) => BTreeMap::new(),
            Ok(Some(json)) if json.trim().is_empty() => BTreeMap::new(),
            Ok(Some(json)) => match serde_json::from_str(json) {
                Ok(map) => map,
                Err(e) => {
                    set_last_error(format!(
                        "page->regions must be a JSON object of region id to partial name: {e}"
                    ));
                    return LV_ERR_PAGE;
                }
            },
            Err(c) => return c,
        };
        let layout = match opt_arg(page.layout, "page->layout") {
            Ok(l) => l.map(str::to_string),
            Err(c) => return c,
        };
        if page.on_event.is_none() {
            set_last_error("page->on_event is required");
            return LV_ERR_PAGE;
        }
        // Not yet owning user_data: a failed registration must not drop it.
        let handler = FfiPage {
            on_mount: page.on_mount,
            on_event: page.on_event,
            on_info: page.on_info,
            on_close: page.on_close,
            user: UserData { ptr: page.user_data, drop: Mutex::new(None) },
        };
        let handler = Arc::new(handler);
        let spec = PageSpec { template, regions, layout, handler: handler.clone() };
        match app.register_page(route, spec) {
            Ok(()) => {
                // Registered: from now on the page owns user_data. Only the router
                // and the sessions hold the handler, so its drop runs exactly once.
                *handler.user.drop.lock().unwrap_or_else(|e| e.into_inner()) = page.drop;
                LV_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Installs the auth hook (NULL removes it). Runs on a host thread for every page
/// GET, every no-JS form POST and every WebSocket join (`method` in the request
/// JSON says which: a join is asked as a `GET` of the page it joins, with the
/// upgrade request's headers and cookies). A POST or join whose user differs from the
/// one its session was mounted for is refused. On success the app owns `user_data`
/// and calls `drop` once.
#[no_mangle]
pub unsafe extern "C" fn lv_app_set_auth(
    app: *mut lv_app,
    auth: lv_auth_fn,
    user_data: *mut c_void,
    drop: lv_drop_fn,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let hook = auth.map(|cb| {
            Arc::new(FfiAuth { cb, user: UserData { ptr: user_data, drop: Mutex::new(drop) } })
                as Arc<dyn crate::app::Auth>
        });
        app.set_auth(hook);
        LV_OK
    })
}

/// `thread_exit(user_data)`: see `lv_app_set_thread_exit`.
pub type lv_thread_exit_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Installs a function each host thread of `app` calls once as it ends: during
/// `lv_app_shutdown`, after its last callback, on that thread. A host releases there what
/// it keeps per thread (CPython: a thread state kept between callbacks). NULL removes
/// it. On success the app owns `user_data` and calls `drop` once, when the hook is
/// replaced or the app is freed. Call it before `lv_app_shutdown`; afterwards the threads
/// are gone and it has no effect.
#[no_mangle]
pub unsafe extern "C" fn lv_app_set_thread_exit(
    app: *mut lv_app,
    thread_exit: lv_thread_exit_fn,
    user_data: *mut c_void,
    drop: lv_drop_fn,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let hook = thread_exit.map(|cb| {
            let user = UserData { ptr: user_data, drop: Mutex::new(drop) };
            Arc::new(move || {
                let user = &user; // the whole UserData (Send + Sync), not its raw field
                                  // SAFETY: the host gave us this function and user_data for this purpose.
                unsafe { cb(user.ptr) }
            }) as crate::host::ExitHook
        });
        app.set_thread_exit(hook);
        LV_OK
    })
}

fn listen_addr(addr: Option<&str>) -> String {
    match addr {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => std::env::var("MIZULIVE_ADDR")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "127.0.0.1:3000".into()),
    }
}

/// Binds `addr` ("127.0.0.1:3000"; port 0 picks a free one; NULL uses
/// `$MIZULIVE_ADDR`, else 127.0.0.1:3000) and serves in the background. Returns at
/// once; see `lv_app_local_addr`, `lv_app_wait`, `lv_app_shutdown`.
#[no_mangle]
pub unsafe extern "C" fn lv_app_start(app: *mut lv_app, addr: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || match app_ref(app) {
        Ok(app) => start(&app, addr),
        Err(c) => c,
    })
}

unsafe fn start(app: &App, addr: *const c_char) -> c_int {
    let addr = match opt_arg(addr, "addr") {
        Ok(a) => listen_addr(a),
        Err(c) => return c,
    };
    match app.start(&addr) {
        Ok(_) => LV_OK,
        Err(e) => fail(e),
    }
}

/// `lv_app_start`, then blocks until the app is shut down (by `lv_app_shutdown` or
/// `lv_app_free` from another thread). Returns `LV_OK` after a clean shutdown.
#[no_mangle]
pub unsafe extern "C" fn lv_app_serve(app: *mut lv_app, addr: *const c_char) -> c_int {
    boundary(LV_ERR_PANIC, || {
        // One reference for the whole call: lv_app_free may run while this waits.
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let rc = start(&app, addr);
        if rc != LV_OK {
            return rc;
        }
        app.wait(None);
        LV_OK
    })
}

/// Waits up to `timeout_ms` (negative: forever) for the app to shut down. Returns
/// `LV_OK` once it has, `LV_ERR_TIMEOUT` otherwise. Bindings loop on short waits so
/// their own signal handling (Ctrl-C) stays responsive.
#[no_mangle]
pub unsafe extern "C" fn lv_app_wait(app: *mut lv_app, timeout_ms: i64) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        if crate::host::on_host_thread() {
            set_last_error("lv_app_wait cannot be called from a callback");
            return LV_ERR_REENTRANT;
        }
        let timeout = (timeout_ms >= 0).then(|| Duration::from_millis(timeout_ms as u64));
        if app.wait(timeout) {
            LV_OK
        } else {
            LV_ERR_TIMEOUT
        }
    })
}

/// Writes the bound address ("127.0.0.1:41234", NUL-terminated) into `buf` of `len`
/// bytes. `LV_ERR_STATE` before `lv_app_start`, `LV_ERR_BUFFER` if `buf` is too small.
#[no_mangle]
pub unsafe extern "C" fn lv_app_local_addr(app: *const lv_app, buf: *mut c_char, len: usize) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        if buf.is_null() {
            set_last_error("buf is NULL");
            return LV_ERR_NULL;
        }
        let Some(addr) = app.local_addr() else {
            set_last_error("the app is not started");
            return LV_ERR_STATE;
        };
        let text = addr.to_string();
        if text.len() + 1 > len {
            set_last_error(format!("buffer of {len} bytes is too small for {text:?}"));
            return LV_ERR_BUFFER;
        }
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf as *mut u8, text.len());
        *buf.add(text.len()) = 0;
        LV_OK
    })
}

/// Stops the server gracefully: stops accepting, tells browsers to reconnect,
/// finishes in-flight callbacks, calls every page's and the auth hook's drop once.
/// No callback starts after it returns. Idempotent. `LV_ERR_REENTRANT` from a
/// callback.
///
/// Bounded: it waits at most `shutdown_timeout_ms` (default 20 000) for sessions
/// and callbacks. If callbacks are still running then, it returns `LV_ERR_TIMEOUT`
/// (the message and a log line say how many) and leaves them to finish on their own
/// threads; what was queued behind them never runs, and their page's drop runs when
/// they end. `lv_app_free` then leaves the app to the last of those threads, so such
/// a late callback may still call `lv_app_publish` (or use its `lv_ctx`) safely.
#[no_mangle]
pub unsafe extern "C" fn lv_app_shutdown(app: *mut lv_app) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        if crate::host::on_host_thread() {
            set_last_error("lv_app_shutdown cannot be called from a callback");
            return LV_ERR_REENTRANT;
        }
        status(app.shutdown())
    })
}

/// Publishes `json` (copied; must be valid JSON) on `topic`. Every session
/// subscribed to it gets the message through `on_info`, in publish order. Safe from
/// any thread, callbacks included; never blocks on sessions.
#[no_mangle]
pub unsafe extern "C" fn lv_app_publish(
    app: *mut lv_app,
    topic: *const c_char,
    json: *const c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let topic = match arg(topic, "topic") {
            Ok(t) => t,
            Err(c) => return c,
        };
        let json = match arg(json, "json") {
            Ok(j) => j,
            Err(c) => return c,
        };
        status(app.publish(topic, json))
    })
}

/// Number of live sessions (with or without a socket), or 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn lv_app_session_count(app: *const lv_app) -> usize {
    boundary(0, || app_ref(app).map(|a| a.session_count()).unwrap_or(0))
}

/// Renders a template of the views folder ("pages/counter/index.html") with a JSON
/// context, without a session: for tests and tools. On success `*out_html` receives a
/// NUL-terminated string the caller owns and frees with `lv_string_free`.
#[no_mangle]
pub unsafe extern "C" fn lv_app_render(
    app: *mut lv_app,
    template_name: *const c_char,
    context_json: *const c_char,
    out_html: *mut *mut c_char,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(c) => return c,
        };
        let template = match arg(template_name, "template_name") {
            Ok(t) => t,
            Err(c) => return c,
        };
        let ctx = match opt_arg(context_json, "context_json") {
            Ok(c) => c.unwrap_or("{}"),
            Err(c) => return c,
        };
        if out_html.is_null() {
            set_last_error("out_html is NULL");
            return LV_ERR_NULL;
        }
        match app.render(template, ctx) {
            Ok(html) => match CString::new(html) {
                Ok(s) => {
                    *out_html = s.into_raw();
                    LV_OK
                }
                Err(_) => fail(Error::Template("rendered HTML contains a NUL byte".into())),
            },
            Err(e) => fail(e),
        }
    })
}

/// Frees a string returned by `lv_app_render`. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn lv_string_free(s: *mut c_char) {
    boundary((), || {
        if !s.is_null() {
            drop(CString::from_raw(s));
        }
    })
}

// The names before every app function took the `lv_app_` prefix. Kept so existing
// programs build and link unchanged; each calls its `lv_app_*` twin.

/// The same as `lv_app_register_page` (the design card's name for it; both stay).
#[no_mangle]
pub unsafe extern "C" fn lv_register_page(
    app: *mut lv_app,
    route: *const c_char,
    page: *const lv_page,
) -> c_int {
    lv_app_register_page(app, route, page)
}

/// Deprecated: use `lv_app_start`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_start(app: *mut lv_app, addr: *const c_char) -> c_int {
    lv_app_start(app, addr)
}

/// Deprecated: use `lv_app_serve`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_serve(app: *mut lv_app, addr: *const c_char) -> c_int {
    lv_app_serve(app, addr)
}

/// Deprecated: use `lv_app_wait`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_wait(app: *mut lv_app, timeout_ms: i64) -> c_int {
    lv_app_wait(app, timeout_ms)
}

/// Deprecated: use `lv_app_local_addr`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_local_addr(app: *const lv_app, buf: *mut c_char, len: usize) -> c_int {
    lv_app_local_addr(app, buf, len)
}

/// Deprecated: use `lv_app_shutdown`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_shutdown(app: *mut lv_app) -> c_int {
    lv_app_shutdown(app)
}

/// Deprecated: use `lv_app_publish`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_publish(app: *mut lv_app, topic: *const c_char, json: *const c_char) -> c_int {
    lv_app_publish(app, topic, json)
}

/// Deprecated: use `lv_app_session_count`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_session_count(app: *const lv_app) -> usize {
    lv_app_session_count(app)
}

/// Deprecated: use `lv_app_render`, which it calls.
#[no_mangle]
pub unsafe extern "C" fn lv_render(
    app: *mut lv_app,
    template_name: *const c_char,
    context_json: *const c_char,
    out_html: *mut *mut c_char,
) -> c_int {
    lv_app_render(app, template_name, context_json, out_html)
}
