//! The C ABI. Everything `extern "C"` lives under this module.
//!
//! Conventions (see include/mizulive.h for the user-facing text): every exported
//! body runs inside [`boundary`], which catches panics; pointers and UTF-8 are
//! checked; a status code comes back and a readable message is left for the calling
//! thread in `lv_last_error`.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)]

mod app;
mod ctx;
mod log;
mod page;
mod scaffold;
mod testing;
mod transport;

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};

use crate::error::Error;

/// A status: what every `int`-returning function returns. Callbacks return `int`
/// too (`LV_OK` or any non-zero value for failure). The values are fixed: new codes
/// are only ever added.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum lv_status {
    /// Success.
    LV_OK = 0,
    /// A required pointer argument was NULL.
    LV_ERR_NULL = 1,
    /// A string argument was not valid UTF-8.
    LV_ERR_UTF8 = 2,
    /// JSON from the host did not parse, or a value is not of the type asked for
    /// (`lv_get_int` on a string).
    LV_ERR_JSON = 3,
    /// The options are unusable.
    LV_ERR_CONFIG = 4,
    /// A page route, template or region map is unusable.
    LV_ERR_PAGE = 5,
    /// A template failed to load or render.
    LV_ERR_TEMPLATE = 6,
    /// Binding or serving failed, or Redis could not be reached.
    LV_ERR_IO = 7,
    /// The call does not fit the current state (already started, shut down, a
    /// context or auth request used outside its callback).
    LV_ERR_STATE = 8,
    /// The named region, timer or value does not exist.
    LV_ERR_NOT_FOUND = 9,
    /// A callback failed. Callbacks may return it (or any non-zero value).
    LV_ERR_CALLBACK = 10,
    /// The call is not allowed from inside a callback (it would wait for itself).
    LV_ERR_REENTRANT = 11,
    /// `lv_app_wait` timed out, or `lv_app_shutdown` gave up waiting for callbacks still
    /// running after `shutdown_timeout_ms`.
    LV_ERR_TIMEOUT = 12,
    /// An output buffer was too small.
    LV_ERR_BUFFER = 13,
    /// A limit (such as `max_sessions`) is reached; retrying later may succeed.
    LV_ERR_BUSY = 14,
    /// A request the host's server handed in is malformed (a bad method, path or
    /// header line, a text frame that is not UTF-8).
    LV_ERR_REQUEST = 15,
    /// A JSON pointer into the state is malformed (`"count"` without its leading
    /// `/`, a `~` not in `~0`/`~1`), or a write leads through a string, number or
    /// boolean or past the end of an array. The JSON is fine; the pointer is not.
    LV_ERR_POINTER = 16,
    /// A bug in mizulive: a panic was caught at the boundary.
    LV_ERR_PANIC = 99,
}

// The same codes as plain `int`s, for the functions' bodies (not in the header: the
// enum's constants are already `int` in C).
pub const LV_OK: c_int = lv_status::LV_OK as c_int;
pub const LV_ERR_NULL: c_int = lv_status::LV_ERR_NULL as c_int;
pub const LV_ERR_UTF8: c_int = lv_status::LV_ERR_UTF8 as c_int;
pub const LV_ERR_JSON: c_int = lv_status::LV_ERR_JSON as c_int;
pub const LV_ERR_CONFIG: c_int = lv_status::LV_ERR_CONFIG as c_int;
pub const LV_ERR_PAGE: c_int = lv_status::LV_ERR_PAGE as c_int;
pub const LV_ERR_TEMPLATE: c_int = lv_status::LV_ERR_TEMPLATE as c_int;
pub const LV_ERR_IO: c_int = lv_status::LV_ERR_IO as c_int;
pub const LV_ERR_STATE: c_int = lv_status::LV_ERR_STATE as c_int;
pub const LV_ERR_NOT_FOUND: c_int = lv_status::LV_ERR_NOT_FOUND as c_int;
pub const LV_ERR_CALLBACK: c_int = lv_status::LV_ERR_CALLBACK as c_int;
pub const LV_ERR_REENTRANT: c_int = lv_status::LV_ERR_REENTRANT as c_int;
pub const LV_ERR_TIMEOUT: c_int = lv_status::LV_ERR_TIMEOUT as c_int;
pub const LV_ERR_BUFFER: c_int = lv_status::LV_ERR_BUFFER as c_int;
pub const LV_ERR_BUSY: c_int = lv_status::LV_ERR_BUSY as c_int;
pub const LV_ERR_REQUEST: c_int = lv_status::LV_ERR_REQUEST as c_int;
pub const LV_ERR_POINTER: c_int = lv_status::LV_ERR_POINTER as c_int;
pub const LV_ERR_PANIC: c_int = lv_status::LV_ERR_PANIC as c_int;

/// ABI version; a binding built for another value must refuse to load the library.
pub const LV_ABI_VERSION: u32 = 4;

thread_local! {
    /// `None` when the last call succeeded: clearing it at every call then costs no
    /// allocation (an empty `CString` is one).
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(msg: impl Into<String>) {
    let msg = msg.into().replace('\0', " ");
    LAST_ERROR.with(|e| *e.borrow_mut() = Some(CString::new(msg).unwrap_or_default()));
}

/// Empties this thread's last error and hands back the message it held. The caller
/// keeps it alive until its call ends: a host may pass `lv_last_error()` itself as an
/// argument (`lv_error(ctx, lv_last_error())`), and freeing the message before the
/// argument is read would hand the library freed memory.
fn take_last_error() -> Option<CString> {
    LAST_ERROR.with(|e| e.borrow_mut().take())
}

/// Runs an exported body inside the panic boundary: clears the thread's last error
/// (keeping the old message readable until the body is done), catches a panic
/// (recorded as the last error) and returns `on_panic` for it. Everything an exported
/// function does, error handling included, runs in here.
pub(crate) fn boundary<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let previous = take_last_error();
        let value = body();
        drop(previous);
        value
    }));
    match result {
        Ok(v) => v,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            // Recording the message allocates; a panic there must not unwind into C.
            let _ = std::panic::catch_unwind(|| {
                set_last_error(format!("internal error (panic) in mizulive: {msg}"))
            });
            on_panic
        }
    }
}

/// Maps an error to its status code and records its message.
pub(crate) fn fail(err: Error) -> c_int {
    let code = match &err {
        Error::Config(_) => LV_ERR_CONFIG,
        Error::Page(_) => LV_ERR_PAGE,
        Error::Json(_) => LV_ERR_JSON,
        Error::Pointer(_) => LV_ERR_POINTER,
        Error::Template(_) => LV_ERR_TEMPLATE,
        // Redis is reached over the network: a failure there is I/O to the caller.
        Error::Io(_) | Error::Redis(_) => LV_ERR_IO,
        Error::Callback(_) | Error::Answered { .. } => LV_ERR_CALLBACK,
        Error::State(_) => LV_ERR_STATE,
        Error::Busy(_) => LV_ERR_BUSY,
        Error::Timeout(_) => LV_ERR_TIMEOUT,
        Error::NotFound(_) => LV_ERR_NOT_FOUND,
        Error::Request(_) => LV_ERR_REQUEST,
    };
    set_last_error(err.to_string());
    code
}

pub(crate) fn status(result: crate::Result<()>) -> c_int {
    match result {
        Ok(()) => LV_OK,
        Err(e) => fail(e),
    }
}

/// Borrows a C string argument; `what` names it in the error message.
pub(crate) unsafe fn arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, c_int> {
    if ptr.is_null() {
        set_last_error(format!("{what} is NULL"));
        return Err(LV_ERR_NULL);
    }
    CStr::from_ptr(ptr).to_str().map_err(|e| {
        set_last_error(format!("{what} is not valid UTF-8: {e}"));
        LV_ERR_UTF8
    })
}

/// Like [`arg`], but NULL is allowed.
pub(crate) unsafe fn opt_arg<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, c_int> {
    if ptr.is_null() {
        Ok(None)
    } else {
        arg(ptr, what).map(Some)
    }
}

/// The message of the last failed `lv_*` call on this thread, or "" if it succeeded.
///
/// Ownership: the string belongs to the library and stays valid until the next `lv_*`
/// call on the same thread returns; it may be passed as an argument to that call. Never NULL. Go callers must read it on the same OS thread
/// as the failed call (`runtime.LockOSThread`).
#[no_mangle]
pub extern "C" fn lv_last_error() -> *const c_char {
    // During thread teardown the thread-local may be gone; "" then, never a panic.
    std::panic::catch_unwind(|| LAST_ERROR.try_with(|e| e.borrow().as_ref().map(|m| m.as_ptr())).ok())
        .ok()
        .flatten()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

/// The name and meaning of a status code, e.g. `lv_errstr(LV_ERR_JSON)` is
/// "LV_ERR_JSON: invalid JSON, or a value of another type than asked for". For an
/// unknown code, a string saying so ("unknown mizulive status code"). Static, never
/// NULL, never free it; the same text on every thread. `lv_last_error` holds the
/// message of the call that failed; this names its kind.
#[no_mangle]
pub extern "C" fn lv_errstr(code: c_int) -> *const c_char {
    errstr(code).as_ptr()
}

fn errstr(code: c_int) -> &'static CStr {
    match code {
        LV_OK => c"LV_OK: success",
        LV_ERR_NULL => c"LV_ERR_NULL: a required pointer argument was NULL",
        LV_ERR_UTF8 => c"LV_ERR_UTF8: a string argument was not valid UTF-8",
        LV_ERR_JSON => c"LV_ERR_JSON: invalid JSON, or a value of another type than asked for",
        LV_ERR_CONFIG => c"LV_ERR_CONFIG: the options are unusable",
        LV_ERR_PAGE => c"LV_ERR_PAGE: a page route, template name or region map is unusable",
        LV_ERR_TEMPLATE => c"LV_ERR_TEMPLATE: a template failed to load or render",
        LV_ERR_IO => c"LV_ERR_IO: binding, serving or reaching Redis failed",
        LV_ERR_STATE => c"LV_ERR_STATE: the call does not fit the current state (shut down, or a context used outside its callback)",
        LV_ERR_NOT_FOUND => c"LV_ERR_NOT_FOUND: no such region, timer, key or value",
        LV_ERR_CALLBACK => c"LV_ERR_CALLBACK: a callback failed",
        LV_ERR_REENTRANT => c"LV_ERR_REENTRANT: not allowed from inside a callback",
        LV_ERR_TIMEOUT => c"LV_ERR_TIMEOUT: a wait timed out",
        LV_ERR_BUFFER => c"LV_ERR_BUFFER: an output buffer was too small",
        LV_ERR_BUSY => c"LV_ERR_BUSY: a limit is reached; retrying later may succeed",
        LV_ERR_REQUEST => c"LV_ERR_REQUEST: a request handed in by the host's server is malformed",
        LV_ERR_POINTER => c"LV_ERR_POINTER: a JSON pointer is malformed or does not fit the state",
        LV_ERR_PANIC => c"LV_ERR_PANIC: a bug in mizulive (a panic caught at its boundary)",
        _ => c"unknown mizulive status code",
    }
}

/// The library version, e.g. "0.1.0". Static; never free it.
#[no_mangle]
pub extern "C" fn lv_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const c_char
}

/// The ABI version of the loaded library. Compare it with `LV_ABI_VERSION` from the
/// header the program was built with and refuse to run on a mismatch.
#[no_mangle]
pub extern "C" fn lv_abi_version() -> u32 {
    LV_ABI_VERSION
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reached_limit_is_busy_not_a_wrong_state() {
        assert_eq!(fail(Error::Busy("max_sessions".into())), LV_ERR_BUSY);
        assert_eq!(fail(Error::State("shut down".into())), LV_ERR_STATE);
        let msg = unsafe { CStr::from_ptr(lv_last_error()) };
        assert_eq!(msg.to_str().ok(), Some("shut down"));
        assert_eq!(fail(Error::Redis("connection refused".into())), LV_ERR_IO);
    }

    /// Every code of the enum has its own text, which starts with its name.
    #[test]
    fn errstr_names_every_code() {
        for (code, name) in [
            (LV_OK, "LV_OK"),
            (LV_ERR_JSON, "LV_ERR_JSON: "),
            (LV_ERR_POINTER, "LV_ERR_POINTER: "),
            (LV_ERR_REQUEST, "LV_ERR_REQUEST: "),
            (LV_ERR_PANIC, "LV_ERR_PANIC: "),
        ] {
            assert!(errstr(code).to_str().unwrap().starts_with(name), "{code}");
        }
        let texts: std::collections::HashSet<_> = (0..100).map(errstr).collect();
        assert_eq!(texts.len(), 19, "18 codes and the unknown text");
        assert_eq!(errstr(-1), c"unknown mizulive status code");
    }
}
