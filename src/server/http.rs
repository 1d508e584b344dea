//! HTTP requests: page GET (mount and render), page POST (the no-JS path), the
//! client runtime, and the WebSocket upgrade.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::oneshot;

use crate::app::{AuthDecision, RequestInfo, Route, Shared};
use crate::host::{Lane, Refused};
use crate::page::Event;
use crate::session::{self, Origin, PostOutcome, SessionHandle, SessionMsg};
use crate::token::TokenError;

pub(crate) type Body = Full<Bytes>;

/// Cookie that carries a no-JS session from a POST to the GET it redirects to.
const RESUME_COOKIE: &str = "lv_resume";

pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let path = req.uri().path().to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/_live/runtime.js") => runtime_js(&shared, &req),
        (&Method::POST, "/_live/dev/drop-sockets") if shared.opts.dev => drop_sockets(&shared).await,
        (&Method::GET, "/_live/metrics") if shared.opts.metrics => Response::builder()
            .header(header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(Full::new(Bytes::from(shared.metrics.render(shared.sessions.len()))))
            .unwrap_or_default(),
        (_, "/_live/websocket") => super::ws::upgrade(shared.clone(), req),
        (m, _) => match shared.route(&path) {
            None => text(StatusCode::NOT_FOUND, "not found"),
            Some((route, params)) => match *m {
                Method::GET | Method::HEAD => page_get(&shared, req, route, params).await,
                Method::POST => page_post(&shared, req, route).await,
                _ => {
                    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
                    r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
                    r
                }
            },
        },
    };
    Ok(security_headers(&shared.opts, resp))
}

/// Headers every response gets: no MIME sniffing (a text error or a JSON boot block
/// is never run as script), no full URLs leaked to other sites, and on anything a
/// browser may show as a document, the Content-Security-Policy (which also keeps
/// other sites from framing it).
fn security_headers(opts: &crate::options::Options, mut resp: Response<Body>) -> Response<Body> {
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        return resp;
    }
    let document = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html") || v.starts_with("text/plain"));
    let headers = resp.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    if document {
        // Checked by `Options::validate` to be printable ASCII, so this cannot fail.
        if let Some(csp) = opts.content_security_policy().and_then(|p| HeaderValue::from_str(&p).ok()) {
            headers.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    resp
}

/// Dev mode only: every socket is dropped as if the network failed; sessions stay
/// and wait for their browsers to reconnect. For testing resume.
async fn drop_sockets(shared: &Shared) -> Response<Body> {
    let sessions = shared.sessions.all();
    for session in &sessions {
        let _ = session.tx.send(SessionMsg::DropSocket).await;
    }
    text(StatusCode::OK, &format!("dropped the sockets of {} sessions", sessions.len()))
}

fn runtime_js(shared: &Shared, req: &Request<Incoming>) -> Response<Body> {
    let asset = &shared.runtime_js;
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    let mut builder = Response::builder()
        .header(header::ETAG, etag.clone())
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(header::VARY, "Accept-Encoding");
    if req.headers().get(header::IF_NONE_MATCH) == Some(&etag) {
        return builder.status(StatusCode::NOT_MODIFIED).body(Body::default()).unwrap_or_default();
    }
    let gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    builder = builder.header(header::CONTENT_TYPE, "text/javascript; charset=utf-8");
    let body = if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        asset.gzip.clone()
    } else {
        asset.plain.clone()
    };
    builder.body(Full::new(body)).unwrap_or_default()
}

async fn page_get(
    shared: &Arc<Shared>,
    req: Request<Incoming>,
    route: Arc<Route>,
    params: Map<String, Value>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let head = req.method() == Method::HEAD;
    let user_id = match authenticate(shared, &req).await {
        Ok(AuthDecision::Allow(uid)) => uid,
        Ok(AuthDecision::Deny) => return text(StatusCode::FORBIDDEN, "forbidden"),
        Ok(AuthDecision::Redirect(to)) => return see_other(&to, None),
        Err(resp) => return resp,
    };

    // After a no-JS POST the browser comes back for the same session.
    let mut clear_cookie = false;
    if let Some(token) = cookie(&req, RESUME_COOKIE) {
        clear_cookie = true;
        if let Ok(claims) = shared.signer.verify(&token) {
            if claims.route == route.pattern && claims.path == path {
                if let Some(handle) = shared.sessions.get(&claims.sid) {
                    if let Ok(html) = render_document(&handle).await {
                        return html_response(html, head, clear_cookie.then(|| expire_cookie(&path)));
                    }
                }
            }
        }
    }

    // A HEAD asks whether the page is there, not for a session: nothing is mounted.
    if head {
        return html_response(String::new(), true, clear_cookie.then(|| expire_cookie(&path)));
    }
    let origin = Origin { route, path: path.clone(), params, user_id };
    let result = match session::spawn(shared, origin).await {
        Ok((_, handle)) => render_document(&handle).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(html) => html_response(html, head, clear_cookie.then(|| expire_cookie(&path))),
        Err(e) => {
            tracing::error!(%path, "page failed: {e}");
            server_error(shared, &e)
        }
    }
}

async fn render_document(handle: &SessionHandle) -> crate::error::Result<String> {
    let (tx, rx) = oneshot::channel();
    handle
        .tx
        .send(SessionMsg::RenderDocument { reply: tx })
        .await
        .map_err(|_| crate::error::Error::State("session ended".into()))?;
    rx.await.map_err(|_| crate::error::Error::State("session ended".into()))?
}

/// The no-JS path: a form POST runs the event against the session in the form's
/// token, then 303s back to the page (contract 6).
async fn page_post(shared: &Arc<Shared>, req: Request<Incoming>, route: Arc<Route>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let limit = shared.opts.max_form_bytes;
    let body_timeout = std::time::Duration::from_millis(shared.opts.body_timeout_ms);
    let body = match tokio::time::timeout(body_timeout, Limited::new(req.into_body(), limit).collect()).await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(_)) => return text(StatusCode::PAYLOAD_TOO_LARGE, "form too large"),
        Err(_) => return text(StatusCode::REQUEST_TIMEOUT, "the form body arrived too slowly"),
    };
    let mut fields = parse_form(&body);
    let token = take_field(&mut fields, "_lv_token").unwrap_or_default();
    let csrf = take_field(&mut fields, "_csrf").unwrap_or_default();
    let claims = match shared.signer.verify(&token) {
        Ok(c) => c,
        // The page was open for longer than a token lives: start over.
        Err(TokenError::Expired) => return see_other(&path, None),
        Err(TokenError::Invalid) => return text(StatusCode::FORBIDDEN, "invalid session token"),
    };
    if claims.route != route.pattern || claims.path != path {
        return text(StatusCode::FORBIDDEN, "session token belongs to another page");
    }
    if !shared.signer.check_csrf(&claims.sid, &csrf) {
        return text(StatusCode::FORBIDDEN, "missing or invalid CSRF token");
    }
    let click = take_field(&mut fields, "_lv_click");
    let submit = take_field(&mut fields, "_lv_event");
    fields.retain(|(k, _)| !k.starts_with("_lv_"));
    let mut event = Event::default();
    match (click, submit) {
        (Some(click), _) => {
            let (name, query) = click.split_once('?').unwrap_or((click.as_str(), ""));
            event.kind = "click".into();
            event.name = name.to_string();
            for (k, v) in parse_form(query.as_bytes()) {
                event.values.insert(k, Value::String(v));
            }
        }
        (None, Some(name)) => {
            event.kind = "submit".into();
            event.name = name;
        }
        (None, None) => return text(StatusCode::BAD_REQUEST, "the form names no event"),
    }
    if event.name.is_empty() {
        return text(StatusCode::BAD_REQUEST, "the form names no event");
    }
    for (k, v) in fields {
        let entry = event.form.entry(k).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(Value::String(v));
        }
    }

    let (handle, session_token) = match shared.sessions.get(&claims.sid) {
        Some(h) => (h, token),
        None => {
            let origin = Origin {
                route: route.clone(),
                path: path.clone(),
                params: claims.params.clone(),
                user_id: claims.uid.clone(),
            };
            match session::spawn(shared, origin).await {
                Ok((_, h)) => {
                    let token = h.token.clone();
                    (h, token)
                }
                Err(e) => return server_error(shared, &e),
            }
        }
    };
    let (tx, rx) = oneshot::channel();
    if handle.tx.send(SessionMsg::Post { event: Box::new(event), reply: tx }).await.is_err() {
        return see_other(&path, None);
    }
    let outcome = rx.await.unwrap_or_else(|_| PostOutcome::failed("session ended"));
    if outcome.rate_limited {
        let mut r = text(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    if let Some(err) = &outcome.error {
        tracing::warn!(%path, "no-JS event failed: {err}");
    }
    let cookie = format!(
        "{RESUME_COOKIE}={session_token}; Path={}; Max-Age=120; HttpOnly; SameSite=Lax",
        cookie_path(&path)
    );
    see_other(outcome.redirect.as_deref().unwrap_or(&path), Some(cookie))
}

/// Runs the auth hook (if any) on a host thread.
async fn authenticate(shared: &Arc<Shared>, req: &Request<Incoming>) -> Result<AuthDecision, Response<Body>> {
    let auth = shared.auth.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(auth) = auth else { return Ok(AuthDecision::Allow(None)) };
    let info = request_info(req);
    let (tx, rx) = oneshot::channel();
    // A new visitor's work: refused, not queued, when host_queue such jobs wait.
    let submitted = shared.host.submit_to(Lane::New, move || {
        let decision = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| auth.authenticate(&info)));
        let _ = tx.send(decision.unwrap_or(AuthDecision::Deny));
    });
    match submitted {
        Ok(()) => {}
        Err(Refused::Full) => {
            crate::metrics::inc(&shared.metrics.host_queue_rejections);
            return Err(server_error(shared, &crate::error::Error::Busy("host queue full".into())));
        }
        Err(Refused::Closed) => return Err(text(StatusCode::SERVICE_UNAVAILABLE, "shutting down")),
    }
    rx.await.map_err(|_| text(StatusCode::SERVICE_UNAVAILABLE, "shutting down"))
}

fn request_info(req: &Request<Incoming>) -> RequestInfo {
    let mut headers = Map::new();
    for (name, value) in req.headers() {
        if let Ok(v) = value.to_str() {
            headers.insert(name.as_str().to_string(), Value::String(v.to_string()));
        }
    }
    let mut cookies = Map::new();
    for value in req.headers().get_all(header::COOKIE) {
        for pair in value.to_str().unwrap_or("").split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                cookies.insert(k.to_string(), Value::String(v.to_string()));
            }
        }
    }
    RequestInfo {
        method: req.method().to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or("").to_string(),
        headers,
        cookies,
    }
}

fn cookie(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers().get_all(header::COOKIE).iter().find_map(|value| {
        value.to_str().ok()?.split(';').find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    })
}

/// A path safe to put in a cookie attribute.
fn cookie_path(path: &str) -> String {
    path.chars().filter(|c| !matches!(c, ';' | ',' | ' ' | '\r' | '\n')).collect()
}

fn expire_cookie(path: &str) -> String {
    format!("{RESUME_COOKIE}=; Path={}; Max-Age=0; HttpOnly; SameSite=Lax", cookie_path(path))
}

fn take_field(fields: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let i = fields.iter().position(|(k, _)| k == name)?;
    Some(fields.remove(i).1)
}

/// Decodes `application/x-www-form-urlencoded`.
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    body.split(|b| *b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let mut it = pair.splitn(2, |b| *b == b'=');
            let k = percent_decode(it.next().unwrap_or_default());
            let v = percent_decode(it.next().unwrap_or_default());
            (k, v)
        })
        .collect()
}

fn percent_decode(input: &[u8]) -> String {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < input.len() => {
                let hex = std::str::from_utf8(&input[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A page. Security headers are added for every response in [`handle`].
fn html_response(html: String, head: bool, cookie: Option<String>) -> Response<Body> {
    let body = if head { Body::default() } else { Full::new(Bytes::from(html)) };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Typed, so a bad cookie is left out instead of turning the page into an empty 200.
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        headers.insert(header::SET_COOKIE, c);
    }
    resp
}

pub(crate) fn text(status: StatusCode, msg: &str) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Full::new(Bytes::from(format!("{msg}\n"))))
        .unwrap_or_default()
}

/// A redirect target as a header value: bytes outside visible ASCII (`/café`, a
/// space) percent-encoded, so the `Location` is never dropped; CR and LF cannot pass.
fn encode_location(location: &str) -> String {
    let mut out = String::with_capacity(location.len());
    for b in location.bytes() {
        if b.is_ascii_graphic() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn see_other(location: &str, cookie: Option<String>) -> Response<Body> {
    let mut builder = Response::builder().status(StatusCode::SEE_OTHER);
    if let Ok(loc) = HeaderValue::from_str(&encode_location(location)) {
        builder = builder.header(header::LOCATION, loc);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        builder = builder.header(header::SET_COOKIE, c);
    }
    builder.body(Body::default()).unwrap_or_default()
}

/// 503 with `Retry-After` when a limit is reached, else 500 (with the detail in dev mode).
fn server_error(shared: &Shared, err: &crate::error::Error) -> Response<Body> {
    if let crate::error::Error::Busy(_) = err {
        let mut r = text(StatusCode::SERVICE_UNAVAILABLE, "503 server busy, try again shortly");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return r;
    }
    let detail = err.to_string();
    if shared.opts.dev {
        text(StatusCode::INTERNAL_SERVER_ERROR, &format!("500 internal server error\n\n{detail}"))
    } else {
        text(StatusCode::INTERNAL_SERVER_ERROR, "500 internal server error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_encoded_not_dropped() {
        assert_eq!(encode_location("/caf\u{e9}?q=a b"), "/caf%C3%A9?q=a%20b");
        assert_eq!(encode_location("/x\r\nSet-Cookie: y"), "/x%0D%0ASet-Cookie:%20y");
        assert_eq!(encode_location("/rooms/a%20b"), "/rooms/a%20b");
    }

    #[test]
    fn form_decoding() {
        let f = parse_form(b"a=1&b=x+y%21&c=%zz&d");
        assert_eq!(
            f,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y!".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), "".into())
            ]
        );
    }
}
