//! Pages served by the host's own web server: `lv_http` answers a request it
//! received, `lv_ws_adopt` takes over a WebSocket's socket, and `lv_ws_open` /
//! `lv_ws_receive` / `lv_ws_next` / `lv_ws_close` carry a WebSocket frame by frame.

use bytes::Bytes;
use std::cell::RefCell;
use std::ffi::{c_char, c_int};
use std::time::Duration;

use super::app::{app_ref, lv_app};
use super::{
    arg, boundary, fail, set_last_error, status, LV_ERR_NULL, LV_ERR_PANIC, LV_ERR_REENTRANT, LV_OK,
};
use crate::embed::{HostFrame, HostSocket};
use crate::error::Error;

/// A request the host's web server received, as `lv_http`, `lv_ws_adopt` and
/// `lv_ws_open` take it. Borrowed for the call; nothing is kept.
#[repr(C)]
pub struct lv_http_request {
    /// "GET", "POST", ... Required.
    pub method: *const c_char,
    /// The request target as sent: path and query, "/counter?x=1". Required.
    pub target: *const c_char,
    /// The header lines, each "Name: value" ended by "\r\n" (or "\n"), in the order
    /// received; repeated names stay repeated. Include `Host` (the Origin check
    /// compares with it) and every `Cookie`. May be NULL when `headers_len` is 0.
    pub headers: *const c_char,
    pub headers_len: usize,
    /// The whole request body (a form post's fields). May be NULL when `body_len` is 0.
    pub body: *const u8,
    pub body_len: usize,
}

/// A response to send: status, header lines and body. From `lv_http` (or a refused
/// `lv_ws_open`); the caller releases it with `lv_response_free`.
pub struct lv_response {
    status: u16,
    headers: Vec<u8>,
    body: Bytes,
}

/// The library's end of a WebSocket whose frames the host's server carries. From
/// `lv_ws_open`; released with `lv_ws_close`.
pub struct lv_ws {
    socket: HostSocket,
}

/// A frame for one of the host's WebSockets, filled in by `lv_ws_next`.
#[repr(C)]
pub struct lv_ws_frame {
    /// The tag the socket was opened with (`lv_ws_open`).
    pub tag: u64,
    /// 0 for a text frame to send. Otherwise the socket is done: send a close frame
    /// with this code (and `data` as its reason), close the connection and release
    /// the socket with `lv_ws_close`. Later frames for the tag, if any, are dropped.
    pub close_code: u16,
    /// The frame's text (UTF-8, not NUL-terminated; `len` bytes). Owned by the
    /// library, valid until the next `lv_ws_next` call on the same thread.
    pub data: *const c_char,
    pub len: usize,
}

thread_local! {
    /// The frame `lv_ws_next` last handed out on this thread, kept for its `data`.
    static LAST_FRAME: RefCell<Option<HostFrame>> = const { RefCell::new(None) };
}

/// Borrows `len` bytes at `ptr` (NULL allowed when `len` is 0).
unsafe fn bytes_arg<'a>(ptr: *const u8, len: usize, what: &str) -> Result<&'a [u8], c_int> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        set_last_error(format!("{what} is NULL but its length is {len}"));
        return Err(LV_ERR_NULL);
    }
    // SAFETY: the caller passes `len` readable bytes at `ptr` for the call.
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// Checks and copies a request.
unsafe fn request_arg(req: *const lv_http_request, body: bool) -> Result<hyper::Request<Bytes>, c_int> {
    if req.is_null() {
        set_last_error("req is NULL");
        return Err(LV_ERR_NULL);
    }
    // SAFETY: checked non-NULL; the caller's struct is valid for the call.
    let req = &*req;
    let method = arg(req.method, "req->method")?;
    let target = arg(req.target, "req->target")?;
    let headers = bytes_arg(req.headers.cast(), req.headers_len, "req->headers")?;
    let body = if body {
        Bytes::copy_from_slice(bytes_arg(req.body, req.body_len, "req->body")?)
    } else {
        Bytes::new()
    };
    crate::embed::request(method, target, headers, body).map_err(fail)
}

fn response(resp: hyper::Response<Bytes>) -> *mut lv_response {
    let mut headers = Vec::new();
    for (name, value) in resp.headers() {
        headers.extend_from_slice(name.as_str().as_bytes());
        headers.extend_from_slice(b": ");
        headers.extend_from_slice(value.as_bytes());
        headers.extend_from_slice(b"\r\n");
    }
    let status = resp.status().as_u16();
    Box::into_raw(Box::new(lv_response { status, headers, body: resp.into_body() }))
}

/// Answers a request the host's own web server received, as the library's own
/// listener would: pages (the GET mounts a session), form posts, the client runtime
/// at /_live/runtime.js, metrics. Every check applies (tokens, CSRF, the form size
/// limit, the auth hook). A WebSocket upgrade goes to `lv_ws_adopt` or `lv_ws_open`
/// instead. Works without `lv_app_start`: a host that serves every request this way opens
/// no port of the library's.
///
/// Blocks until the response is ready. On `LV_OK`, `*out` is the response (of any
/// status, 404 for a path no page serves); the caller sends it and releases it with
/// `lv_response_free`. `LV_ERR_REQUEST` for a malformed request; `LV_ERR_STATE` once
/// the app is shut down; `LV_ERR_REENTRANT` from a callback.
#[no_mangle]
pub unsafe extern "C" fn lv_http(
    app: *mut lv_app,
    req: *const lv_http_request,
    out: *mut *mut lv_response,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if out.is_null() {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        }
        // SAFETY: checked non-NULL; the caller passes a writable pointer.
        *out = std::ptr::null_mut();
        if crate::host::on_host_thread() {
            set_last_error("lv_http cannot be called from a callback");
            return LV_ERR_REENTRANT;
        }
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(code) => return code,
        };
        let req = match request_arg(req, true) {
            Ok(r) => r,
            Err(code) => return code,
        };
        match app.handle_request(req) {
            Ok(resp) => {
                *out = response(resp);
                LV_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// The status code of a response; 0 for NULL.
#[no_mangle]
pub unsafe extern "C" fn lv_response_status(resp: *const lv_response) -> u16 {
    // SAFETY: NULL or a response from this library that was not freed.
    boundary(0, || resp.as_ref().map_or(0, |r| r.status))
}

/// The header lines of a response, each "Name: value\r\n", in order (`Set-Cookie` may
/// repeat); `*len` gets their length. Not NUL-terminated. Owned by the response.
/// NULL (and `*len` 0) for a NULL response.
#[no_mangle]
pub unsafe extern "C" fn lv_response_headers(resp: *const lv_response, len: *mut usize) -> *const c_char {
    boundary(std::ptr::null(), || {
        // SAFETY: NULL or a response from this library that was not freed.
        let (ptr, n) =
            resp.as_ref().map_or((std::ptr::null(), 0), |r| (r.headers.as_ptr().cast(), r.headers.len()));
        if let Some(len) = len.as_mut() {
            *len = n;
        }
        ptr
    })
}

/// The body of a response; `*len` gets its length. Owned by the response. NULL (and
/// `*len` 0) for a NULL response.
#[no_mangle]
pub unsafe extern "C" fn lv_response_body(resp: *const lv_response, len: *mut usize) -> *const u8 {
    boundary(std::ptr::null(), || {
        // SAFETY: NULL or a response from this library that was not freed.
        let (ptr, n) = resp.as_ref().map_or((std::ptr::null(), 0), |r| (r.body.as_ptr(), r.body.len()));
        if let Some(len) = len.as_mut() {
            *len = n;
        }
        ptr
    })
}

/// Releases a response. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn lv_response_free(resp: *mut lv_response) {
    boundary((), || {
        if !resp.is_null() {
            // SAFETY: from `Box::into_raw` in this module, released once.
            drop(Box::from_raw(resp));
        }
    })
}

/// Takes over the socket `fd` on which the host's server read a WebSocket upgrade
/// request to /_live/websocket (`upgrade`; its body is ignored). `pending` holds any
/// bytes the server read past the request head (usually none; NULL with 0). The
/// library answers the upgrade on the socket (`101`, or the refusal: 403 for a
/// foreign Origin, 503 past `max_connections`) and serves the WebSocket on it.
///
/// The socket is the library's from this call on, on every path: it closes `fd` on
/// failure too, so the host must not use or close it again (in Go, pass a `dup`).
/// `LV_ERR_REQUEST` when `fd` is not a connected TCP socket or the request is
/// malformed; `LV_ERR_STATE` once the app is shut down.
#[cfg(unix)]
#[no_mangle]
pub unsafe extern "C" fn lv_ws_adopt(
    app: *mut lv_app,
    upgrade: *const lv_http_request,
    fd: c_int,
    pending: *const u8,
    pending_len: usize,
) -> c_int {
    use std::os::fd::FromRawFd;
    boundary(LV_ERR_PANIC, || {
        if fd < 0 {
            set_last_error(format!("fd {fd} is not a file descriptor"));
            return super::LV_ERR_REQUEST;
        }
        // SAFETY: the caller hands the descriptor over; it is closed when this drops.
        let socket = std::net::TcpStream::from_raw_fd(fd);
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(code) => return code,
        };
        let req = match request_arg(upgrade, false) {
            Ok(r) => r.map(|_| ()),
            Err(code) => return code,
        };
        let pending = match bytes_arg(pending, pending_len, "pending") {
            Ok(p) => p.to_vec(),
            Err(code) => return code,
        };
        status(app.adopt_websocket(req, socket, pending))
    })
}

/// Opens a WebSocket whose frames the host's server carries (a server that cannot
/// hand over its socket: TLS it terminates itself, ASGI), for the upgrade request
/// `upgrade` to /_live/websocket. The library checks it as its own listener would.
/// On `LV_OK` exactly one of `*ws` and `*refusal` is set:
///  - `*ws`: accept the upgrade, hand every frame the client sends to
///    `lv_ws_receive`, send the frames `lv_ws_next` returns with this `tag`, and call
///    `lv_ws_close` once the connection is closed (by either side);
///  - `*refusal`: do not accept; answer this response (403 for a foreign Origin, 503
///    past `max_connections`) and release it with `lv_response_free`.
///
/// Frames for `tag` can come from `lv_ws_next` as soon as the library has the socket,
/// before this call returns (a shutdown's goodbye, say): route `tag` to its
/// connection before the call, and hold its frames until the upgrade is answered.
#[no_mangle]
pub unsafe extern "C" fn lv_ws_open(
    app: *mut lv_app,
    upgrade: *const lv_http_request,
    tag: u64,
    ws: *mut *mut lv_ws,
    refusal: *mut *mut lv_response,
) -> c_int {
    boundary(LV_ERR_PANIC, || {
        if ws.is_null() || refusal.is_null() {
            set_last_error("ws and refusal must not be NULL");
            return LV_ERR_NULL;
        }
        // SAFETY: both checked non-NULL; the caller passes writable pointers.
        *ws = std::ptr::null_mut();
        *refusal = std::ptr::null_mut();
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(code) => return code,
        };
        let req = match request_arg(upgrade, false) {
            Ok(r) => r.map(|_| ()),
            Err(code) => return code,
        };
        match app.open_websocket(&req, tag) {
            Ok(Ok(socket)) => {
                *ws = Box::into_raw(Box::new(lv_ws { socket }));
                LV_OK
            }
            Ok(Err(resp)) => {
                *refusal = response(*resp);
                LV_OK
            }
            Err(e) => fail(e),
        }
    })
}

/// Hands in a frame the client sent on a socket from `lv_ws_open`: `binary` 0 for a
/// text frame (UTF-8), non-zero for a binary one (which the protocol refuses, with an
/// error frame). Never blocks. A frame over `max_frame_bytes` closes the socket (a
/// close frame 1009 comes from `lv_ws_next`). `LV_ERR_BUSY` when the client sends
/// faster than its page is handled: the socket is then closed (a close frame follows).
/// `LV_ERR_STATE` once the socket is closed.
#[no_mangle]
pub unsafe extern "C" fn lv_ws_receive(ws: *mut lv_ws, data: *const u8, len: usize, binary: c_int) -> c_int {
    boundary(LV_ERR_PANIC, || {
        // SAFETY: NULL or a socket from `lv_ws_open` that was not closed.
        let Some(ws) = ws.as_ref() else {
            set_last_error("ws is NULL");
            return LV_ERR_NULL;
        };
        let data = match bytes_arg(data, len, "data") {
            Ok(d) => d,
            Err(code) => return code,
        };
        status(ws.socket.receive(data, binary != 0))
    })
}

/// Tells the library that a socket from `lv_ws_open` is closed (by the client, the
/// host, or after a close frame from `lv_ws_next`) and releases it: its session waits
/// for the browser to reconnect, as after any dropped socket. NULL is a no-op.
#[no_mangle]
pub unsafe extern "C" fn lv_ws_close(ws: *mut lv_ws) {
    boundary((), || {
        if !ws.is_null() {
            // SAFETY: from `Box::into_raw` in `lv_ws_open`, released once.
            drop(Box::from_raw(ws));
        }
    })
}

/// Waits at most `timeout_ms` for the next frame to send on any socket opened with
/// `lv_ws_open`, and fills `*out` with it: `LV_OK`, or `LV_ERR_TIMEOUT` when none
/// came. One thread should take the frames (a loop that hands each to the socket its
/// tag names), so each socket's frames go out in the order they are returned.
/// `LV_ERR_STATE` once the app is shut down: the loop ends there.
#[no_mangle]
pub unsafe extern "C" fn lv_ws_next(app: *mut lv_app, timeout_ms: u32, out: *mut lv_ws_frame) -> c_int {
    boundary(LV_ERR_PANIC, || {
        // SAFETY: NULL or the caller's writable frame.
        let Some(out) = out.as_mut() else {
            set_last_error("out is NULL");
            return LV_ERR_NULL;
        };
        *out = lv_ws_frame { tag: 0, close_code: 0, data: c"".as_ptr(), len: 0 };
        if crate::host::on_host_thread() {
            set_last_error("lv_ws_next cannot be called from a callback");
            return LV_ERR_REENTRANT;
        }
        let app = match app_ref(app) {
            Ok(a) => a,
            Err(code) => return code,
        };
        match app.next_frame(Duration::from_millis(timeout_ms.into())) {
            Ok(Some(frame)) => {
                out.tag = frame.tag;
                out.close_code = frame.close.unwrap_or(0);
                out.data = frame.data.as_str().as_ptr().cast();
                out.len = frame.data.len();
                LAST_FRAME.with(|f| *f.borrow_mut() = Some(frame));
                LV_OK
            }
            Ok(None) => fail(Error::Timeout(format!("no WebSocket frame within {timeout_ms} ms"))),
            Err(e) => fail(e),
        }
    })
}
