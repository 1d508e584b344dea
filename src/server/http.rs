//! HTTP requests: page GET (mount and render), page POST (the no-JS path), the
//! client runtime, and the WebSocket upgrade.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{Map, Value};
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::oneshot;

use super::guard;
use crate::app::{AuthDecision, Shared};
use crate::host::Refused;
use crate::options::Options;
use crate::page::Route;
use crate::protocol::Event;
use crate::session::{self, Answer, Origin, PostOutcome, SessionHandle, SessionMsg};
use crate::token::TokenError;

pub(crate) type Body = Full<Bytes>;

/// Cookie that carries a no-JS session from a POST to the GET it redirects to.
const RESUME_COOKIE: &str = "lv_resume";

/// What a request body must be for [`respond`]: hyper's own, or a host's whole body.
pub(crate) trait RequestBody:
    hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static
{
}
impl<B: hyper::body::Body<Data = Bytes, Error: Into<BoxError>> + Send + 'static> RequestBody for B {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The WebSocket endpoint (fixed by the protocol).
pub(crate) const WEBSOCKET_PATH: &str = "/_live/websocket";

/// A request on the library's own listener: the WebSocket upgrade, or [`respond`].
pub(crate) async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    if req.uri().path() == WEBSOCKET_PATH {
        let resp = super::ws::upgrade(shared.clone(), req).await;
        return Ok(security_headers(&shared, resp));
    }
    Ok(respond(shared, req).await)
}

/// Every request but a WebSocket upgrade, whichever server received it: pages, the
/// no-JS form posts, the client runtime, metrics and the dev endpoints.
pub(crate) async fn respond<B: RequestBody>(shared: Arc<Shared>, req: Request<B>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let resp = match (req.method(), path.as_str()) {
        (&Method::GET | &Method::HEAD, "/_live/runtime.js") => runtime_js(&shared, &req),
        (&Method::POST, "/_live/dev/drop-sockets") if shared.opts.dev => drop_sockets(&shared).await,
        (&Method::POST, "/_live/dev/end-sessions") if shared.opts.dev => end_sessions(&shared).await,
        (&Method::GET, "/_live/metrics") if shared.opts.metrics => finish(
            Response::builder().header(header::CONTENT_TYPE, "text/plain; version=0.0.4"),
            Full::new(Bytes::from(shared.metrics.render(shared.sessions.len()))),
        ),
        (_, WEBSOCKET_PATH) => text(StatusCode::BAD_REQUEST, "expected a WebSocket upgrade"),
        (m, _) if is_static(&shared.opts, &path) => {
            let rest = &path[shared.opts.static_prefix.len()..];
            let dir = shared.opts.static_dir.as_deref().unwrap_or(std::path::Path::new("."));
            super::files::serve(&shared.opts, dir, rest, m, req.headers()).await
        }
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
    security_headers(&shared, resp)
}

/// Whether `path` is under `static_prefix` with a `static_dir` to serve.
fn is_static(opts: &Options, path: &str) -> bool {
    opts.static_dir.is_some() && path.starts_with(&opts.static_prefix)
}

/// Headers every response gets: no MIME sniffing (a text error or a JSON boot block
/// is never run as script), no full URLs leaked to other sites, and on anything a
/// browser may show as a document, the Content-Security-Policy (which also keeps
/// other sites from framing it).
pub(crate) fn security_headers(shared: &Shared, mut resp: Response<Body>) -> Response<Body> {
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
    if let (true, Some(csp)) = (document, &shared.csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp.clone());
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

/// Dev mode: ends every session, as an expired grace period would; their sockets
/// are told to reconnect and mount afresh (so form recovery can be exercised).
async fn end_sessions(shared: &Shared) -> Response<Body> {
    let sessions = shared.sessions.all();
    for session in &sessions {
        let _ = session.tx.send(SessionMsg::End).await;
    }
    text(StatusCode::OK, &format!("ended {} sessions", sessions.len()))
}

fn runtime_js<B>(shared: &Shared, req: &Request<B>) -> Response<Body> {
    let asset = &shared.runtime_js;
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"0\""));
    // The URL pages name (`?v=` this runtime's version) always serves this text: kept
    // for a year. Any other (no version, an older one) is checked again after 5 min.
    let current = req.uri().query().and_then(|q| q.strip_prefix("v=")) == Some(super::asset::version());
    let cache = if current { "public, max-age=31536000, immutable" } else { "public, max-age=300" };
    let mut builder = Response::builder()
        .header(header::ETAG, etag.clone())
        .header(header::CACHE_CONTROL, cache)
        .header(header::VARY, "Accept-Encoding");
    if req.headers().get(header::IF_NONE_MATCH) == Some(&etag) {
        return finish(builder.status(StatusCode::NOT_MODIFIED), Body::default());
    }
    let gzip =
        req.headers().get_all(header::ACCEPT_ENCODING).iter().any(|v| v.to_str().is_ok_and(accepts_gzip));
    builder = builder.header(header::CONTENT_TYPE, "text/javascript; charset=utf-8");
    let body = if gzip {
        builder = builder.header(header::CONTENT_ENCODING, "gzip");
        asset.gzip.clone()
    } else {
        asset.plain.clone()
    };
    finish(builder, Full::new(body))
}

/// Whether an `Accept-Encoding` value accepts gzip (RFC 9110 12.5.3): `gzip` (or its
/// alias `x-gzip`) or else `*`, with a q-value above 0. Hand-written: the http crates
/// in use parse no `Accept-*` header, and this is the one place that needs it.
fn accepts_gzip(value: &str) -> bool {
    let mut wildcard = None;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(Some(1.0), |(_, v)| v.trim().parse::<f32>().ok());
        // An unreadable q-value accepts nothing rather than guessing.
        let accepted = q.is_some_and(|q| q > 0.0);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            return accepted;
        }
        if coding == "*" {
            wildcard = Some(accepted);
        }
    }
    wildcard.unwrap_or(false)
}

async fn page_get<B>(
    shared: &Arc<Shared>,
    req: Request<B>,
    route: Arc<Route>,
    params: Map<String, Value>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    let head = req.method() == Method::HEAD;
    let (browser, browser_cookie) = guard::browser_for_page(&shared.opts, &shared.signer, req.headers());
    let info = guard::request_info(req.method(), &path, req.uri().query().unwrap_or(""), req.headers());
    let user_id = match guard::authenticate(shared, info, None, &browser).await {
        Ok(AuthDecision::Allow(uid)) => uid,
        Ok(AuthDecision::Deny) => return text(StatusCode::FORBIDDEN, "forbidden"),
        Ok(AuthDecision::Redirect(to)) => return see_other(&to, None),
        Err(refused) => return auth_refused(shared, refused),
    };
    let mut cookies: Vec<String> = browser_cookie.into_iter().collect();

    // A HEAD asks whether the page is there, not for a session: nothing is mounted
    // (or moved here from another node).
    if head {
        return with_cookies(html_response(String::new(), true, None), cookies);
    }

    // After a no-JS POST the browser comes back for the same session: the one its
    // cookie names, if it was made for this page, this browser and this user (a
    // resume cookie planted from elsewhere, or left by a user who logged out, is not).
    if let Some(token) = guard::cookie(req.headers(), RESUME_COOKIE) {
        cookies.push(expire_resume_cookie(&shared.opts, req.headers(), &path));
        if let Ok(claims) = shared.signer.verify(&token) {
            if claims.route == route.pattern
                && claims.path == path
                && claims.br == browser
                && claims.uid == user_id
            {
                match super::find_session(shared, &claims.sid, &route, false).await {
                    Ok(Some(handle)) => {
                        if let Ok(html) = render_document(&handle).await {
                            return with_cookies(html_response(html, head, None), cookies);
                        }
                    }
                    Ok(None) => {}
                    // It lives on another node that cannot hand it over now: a fresh
                    // page would hide what was just posted.
                    Err(e) => return server_error(shared, &e),
                }
            }
        }
    }

    let origin = Origin { route, path: path.clone(), params, user_id, browser };
    let result = match session::spawn(&shared.core, origin).await {
        Ok((_, _, Answer { status, redirect: Some(to) })) => {
            return with_cookies(redirect_to(&to, status), cookies);
        }
        Ok((_, handle, answer)) => render_document(&handle).await.map(|html| (html, answer.status)),
        Err(e) => Err(e),
    };
    match result {
        Ok((html, status)) => with_cookies(with_status(html_response(html, head, None), status), cookies),
        Err(crate::error::Error::Answered { status, message }) => {
            tracing::info!(%path, status, "the page's mount answered {status}: {message}");
            with_cookies(answered(shared, status, &message), cookies)
        }
        Err(e) => {
            tracing::error!(%path, "page failed: {e}");
            page_error(shared, &e)
        }
    }
}

/// A page GET that failed: 503 when a limit is reached (as [`server_error`]), else a
/// 500 HTML page, with the error in dev mode (see `error_page`).
fn page_error(shared: &Shared, err: &crate::error::Error) -> Response<Body> {
    if let crate::error::Error::Busy(_) = err {
        return server_error(shared, err);
    }
    let mut resp = html_response(super::error_page::page(err, shared.opts.dev), false, None);
    *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    resp
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
async fn page_post<B: RequestBody>(
    shared: &Arc<Shared>,
    req: Request<B>,
    route: Arc<Route>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    // A browser says where a form comes from; one from another site is refused before
    // anything else, so it cannot even learn whether its token would have worked.
    if !guard::post_origin_allowed(&shared.opts, req.headers()) {
        return text(StatusCode::FORBIDDEN, "cross-site form post refused");
    }
    let (parts, body) = req.into_parts();
    let limit = shared.opts.max_form_bytes;
    let body_timeout = std::time::Duration::from_millis(shared.opts.body_timeout_ms);
    let body = match tokio::time::timeout(body_timeout, Limited::new(body, limit).collect()).await {
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
    if guard::browser_of(&shared.opts, &shared.signer, &parts.headers).as_deref() != Some(claims.br.as_str())
    {
        return text(StatusCode::FORBIDDEN, "session token belongs to another browser; reload the page");
    }
    if !shared.signer.check_csrf(&claims.sid, &claims.br, &csrf) {
        return text(StatusCode::FORBIDDEN, "missing or invalid CSRF token");
    }
    // The hook decides now, not when the page was loaded: a logout or a ban counts
    // at once, and a session belongs to the user it was mounted for.
    let info = guard::request_info(&parts.method, &path, parts.uri.query().unwrap_or(""), &parts.headers);
    match guard::authenticate(shared, info, Some(&claims.sid), &claims.br).await {
        Ok(AuthDecision::Allow(uid)) if uid == claims.uid => {}
        Ok(AuthDecision::Allow(_)) => {
            return text(StatusCode::FORBIDDEN, "the session belongs to another user; reload the page")
        }
        Ok(AuthDecision::Deny) => return text(StatusCode::FORBIDDEN, "forbidden"),
        Ok(AuthDecision::Redirect(to)) => return see_other(&to, None),
        Err(refused) => return auth_refused(shared, refused),
    }
    let event = match form_event(fields) {
        Ok(event) => event,
        Err(why) => return text(StatusCode::BAD_REQUEST, why),
    };

    // Twice at most: a session that left this node (for another, or ended) before
    // the event ran is looked up once more, so the post is not lost.
    let mut attempt = 0;
    let (outcome, session_token) = loop {
        attempt += 1;
        let found = match super::find_session(shared, &claims.sid, &route, false).await {
            Ok(found) => found,
            Err(e) => return server_error(shared, &e),
        };
        let (handle, session_token) = match found {
            Some(h) => (h, token.clone()),
            None => {
                let origin = Origin {
                    route: route.clone(),
                    path: path.clone(),
                    params: claims.params.clone(),
                    user_id: claims.uid.clone(),
                    browser: claims.br.clone(),
                };
                match session::spawn(&shared.core, origin).await {
                    // The page is not there for it any more: the browser follows the mount.
                    Ok((_, _, Answer { status, redirect: Some(to) })) => return redirect_to(&to, status),
                    Err(crate::error::Error::Answered { status, message }) => {
                        return answered(shared, status, &message)
                    }
                    Ok((_, h, _)) => {
                        let token = h.token.to_string();
                        (h, token)
                    }
                    Err(e) => return server_error(shared, &e),
                }
            }
        };
        let (tx, rx) = oneshot::channel();
        let post = SessionMsg::Post { event: Box::new(event.clone()), reply: tx };
        let outcome = match handle.tx.send(post).await {
            Ok(()) => rx.await.unwrap_or_else(|_| PostOutcome::retry("session ended")),
            Err(_) => PostOutcome::retry("session ended"),
        };
        if !outcome.retry || attempt == 2 {
            break (outcome, session_token);
        }
    };
    if outcome.retry {
        return see_other(&path, None);
    }
    if outcome.rate_limited {
        let mut r = text(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down");
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }
    if let Some(err) = &outcome.error {
        // A failed callback was logged at warn where it ran.
        tracing::debug!(%path, "no-JS event not applied: {err}");
    }
    let cookie = resume_cookie(&shared.opts, &parts.headers, &path, session_token, 120);
    see_other(outcome.redirect.as_deref().unwrap_or(&path), Some(cookie))
}

/// The auth hook could not run: the host is busy (503 with Retry-After) or the server
/// is shutting down.
fn auth_refused(shared: &Shared, refused: Refused) -> Response<Body> {
    match refused {
        Refused::Full => server_error(shared, &crate::error::Error::Busy("host queue full".into())),
        Refused::Closed => text(StatusCode::SERVICE_UNAVAILABLE, "shutting down"),
    }
}

/// The cookie that carries a no-JS session from a POST to the GET its 303 leads to:
/// short-lived, for this page's path only. `max_age` 0 removes it.
fn resume_cookie(opts: &Options, headers: &HeaderMap, path: &str, token: String, max_age: i64) -> String {
    cookie::Cookie::build((RESUME_COOKIE, token))
        .path(cookie_path(path))
        .max_age(cookie::time::Duration::seconds(max_age))
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(guard::is_secure(opts, headers))
        .build()
        .to_string()
}

fn expire_resume_cookie(opts: &Options, headers: &HeaderMap, path: &str) -> String {
    resume_cookie(opts, headers, path, String::new(), 0)
}

/// A path safe to put in a cookie attribute (the cookie crate writes it as given).
fn cookie_path(path: &str) -> String {
    path.chars().filter(|c| !matches!(c, ';' | ',' | ' ') && !c.is_control()).collect()
}

/// Adds `Set-Cookie` headers to a response (a cookie that is no header value is
/// left out rather than failing the page).
fn with_cookies(mut resp: Response<Body>, cookies: Vec<String>) -> Response<Body> {
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// The event a no-JS form post stands for, from its fields once the token and CSRF
/// fields are taken out: the button's `_lv_click` (`name?urlencoded values`) or the
/// form's `_lv_event`; every other field not starting with `_lv_` is form data.
pub(crate) fn form_event(mut fields: Vec<(String, String)>) -> Result<Event, &'static str> {
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
        (None, None) => return Err("the form names no event"),
    }
    if event.name.is_empty() {
        return Err("the form names no event");
    }
    for (k, v) in fields {
        let entry = event.form.entry(k).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            items.push(Value::String(v));
        }
    }
    Ok(event)
}

pub(crate) fn take_field(fields: &mut Vec<(String, String)>, name: &str) -> Option<String> {
    let i = fields.iter().position(|(k, _)| k == name)?;
    Some(fields.remove(i).1)
}

/// Decodes `application/x-www-form-urlencoded` (the WHATWG rules: `+` is a space,
/// bad percent escapes stay as written, invalid UTF-8 becomes U+FFFD).
pub(crate) fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
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
    finish(
        Response::builder().status(status).header(header::CONTENT_TYPE, "text/plain; charset=utf-8"),
        Full::new(Bytes::from(format!("{msg}\n"))),
    )
}

/// Builds a response; a builder that failed (a header value it refused) answers 500
/// instead of an empty 200 that would pass for success.
pub(crate) fn finish(builder: hyper::http::response::Builder, body: Body) -> Response<Body> {
    builder.body(body).unwrap_or_else(|e| {
        tracing::error!("building a response failed: {e}");
        let mut resp = Response::new(Full::new(Bytes::from_static(b"500 internal server error\n")));
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        resp
    })
}

/// A redirect target as a header value: bytes outside visible ASCII (`/café`, a
/// space) percent-encoded, so the `Location` is never dropped; CR and LF cannot pass.
fn encode_location(location: &str) -> String {
    /// Everything but visible ASCII: `%`, `?` and the like stay, so an already
    /// encoded target is not encoded twice.
    const NOT_VISIBLE: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS.add(b' ');
    percent_encoding::utf8_percent_encode(location, NOT_VISIBLE).to_string()
}

fn see_other(location: &str, cookie: Option<String>) -> Response<Body> {
    let mut builder = Response::builder().status(StatusCode::SEE_OTHER);
    if let Ok(loc) = HeaderValue::from_str(&encode_location(location)) {
        builder = builder.header(header::LOCATION, loc);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        builder = builder.header(header::SET_COOKIE, c);
    }
    finish(builder, Body::default())
}

/// The answer to a page GET whose mount redirected: `status` when the mount set a
/// 3xx one (301, 302, 307, 308), else 303.
fn redirect_to(location: &str, status: Option<u16>) -> Response<Body> {
    let mut resp = see_other(location, None);
    if let Some(code) = status.filter(|s| (300..400).contains(s)).and_then(|s| StatusCode::from_u16(s).ok()) {
        *resp.status_mut() = code;
    }
    resp
}

/// A rendered page with the status its mount set (200 when none).
fn with_status(mut resp: Response<Body>, status: Option<u16>) -> Response<Body> {
    if let Some(code) = status.and_then(|s| StatusCode::from_u16(s).ok()) {
        *resp.status_mut() = code;
    }
    resp
}

/// The answer to a page GET whose mount failed with a status (`lv_not_found`): that
/// status and its reason ("404 Not Found"), with the mount's message in dev mode.
fn answered(shared: &Shared, status: u16, message: &str) -> Response<Body> {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let title = format!("{} {}", code.as_u16(), code.canonical_reason().unwrap_or(""));
    let body = if shared.opts.dev { format!("{}\n\n{message}", title.trim_end()) } else { title };
    text(code, body.trim_end())
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
    fn gzip_is_accepted_by_q_value() {
        for (value, gzip) in [
            ("gzip", true),
            ("gzip, deflate, br", true),
            ("GZIP;q=0.001", true),
            ("x-gzip", true),
            ("gzip;q=0", false),
            ("gzip; q=0.000", false),
            ("gzip;q=zero", false),
            ("br, gzip;q=0, *", false),
            ("*", true),
            ("*;q=0", false),
            ("br, *;q=0.1", true),
            ("identity", false),
            ("gzipx", false),
            ("", false),
        ] {
            assert_eq!(accepts_gzip(value), gzip, "{value:?}");
        }
    }

    #[test]
    fn a_failing_builder_is_a_500() {
        let bad = Response::builder().header("x-bad", "a\nb");
        let resp = finish(bad, Body::default());
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let ok = finish(Response::builder().status(StatusCode::CREATED), Body::default());
        assert_eq!(ok.status(), StatusCode::CREATED);
    }

    #[test]
    fn resume_cookies() {
        let opts = Options::default();
        let c = resume_cookie(&opts, &HeaderMap::new(), "/a b;c", "tok.en".into(), 120);
        assert_eq!(c, "lv_resume=tok.en; HttpOnly; SameSite=Lax; Path=/abc; Max-Age=120");
        let tls = Options { secure_cookies: true, ..Options::default() };
        let gone = expire_resume_cookie(&tls, &HeaderMap::new(), "/x");
        assert!(gone.contains("Max-Age=0") && gone.contains("Secure"), "{gone}");
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
