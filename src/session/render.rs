//! One job on the host pool: run a callback against the session's data, then render
//! what it marked. Runs on a host thread, never on an IO thread.

use minijinja::value::{Enumerator, Object};
use minijinja::{context, Value as TplValue};

use crate::views::CONTEXT_KEYS;
use serde_json::Value;
use std::collections::BTreeMap;
use std::hash::BuildHasher;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use super::parts::{diff, RegionParts, Sent};
use super::{Outbound, Outlet, SessionData, SessionEnv, TrySend};
use crate::metrics::CallbackKind;
use crate::page::{check_state_size, Ctx, Event, Info, Route};
use crate::protocol::{self, Frame};
use crate::views::html::keyed_children;

/// What the job should do.
pub(crate) enum Call {
    Mount,
    Event(Box<Event>),
    Info(Info),
    /// Render the page body for a client that needs all of it.
    Root,
    /// Render the whole document for a GET; the argument is the current patch seq.
    Document {
        seq: u64,
        eid: u64,
    },
    /// The session is ending, for this reason.
    Close(&'static str),
}

/// The parts of one patch frame.
pub(crate) struct PatchParts {
    pub regions: BTreeMap<String, String>,
    /// Regions changed child by child (see `super::parts`).
    pub parts: BTreeMap<String, RegionParts>,
    pub root: Option<String>,
    pub title: Option<String>,
}

impl PatchParts {
    /// The patch frame, answering event `reply` when given.
    pub fn frame(&self, reply: Option<u64>) -> Frame {
        Frame::from(protocol::patch(
            &self.regions,
            &self.parts,
            self.root.as_deref(),
            self.title.as_deref(),
            reply,
        ))
    }
}

#[derive(Default)]
pub(crate) struct CallOutcome {
    /// Error code (`host_error`, `render_error`) and detail.
    pub error: Option<(&'static str, String)>,
    pub patch: Option<PatchParts>,
    /// The patch frame the job sent itself (see [`SendAhead`]), and how that went.
    pub sent: Option<(Frame, Result<(), Unsent>)>,
    pub commands: Vec<Value>,
    pub redirect: Option<String>,
    pub navigate: Option<(String, bool)>,
    /// The HTTP status a mount asked for (`Ctx::set_status`), failed or not.
    pub status: Option<u16>,
    pub root: Option<String>,
    pub document: Option<String>,
    /// The browser session writes of a callback that succeeded, for the store.
    pub browser_writes: Vec<crate::browser::Write>,
}

impl CallOutcome {
    /// A patch and nothing else to send: no commands, redirect or navigation.
    pub fn only_patch(&self) -> bool {
        (self.patch.is_some() || self.sent.is_some())
            && self.commands.is_empty()
            && self.redirect.is_none()
            && self.navigate.is_none()
    }
}

/// A patch the job may send itself, from the host thread that rendered it, when it
/// is all the callback produced: no error, command, navigation or browser-session
/// write to go first or after. Not waking an IO thread to send it saves that wake,
/// and its cold caches, on every event of an idle server.
pub(crate) struct SendAhead {
    pub outlet: Outlet,
    /// The event the patch answers (folded into it), if any.
    pub reply: Option<u64>,
}

/// Why a patch the job sent did not reach its socket's queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Unsent {
    /// The client is not reading.
    Full,
    /// The socket is gone.
    Closed,
}

/// Logs a failed callback with its message, dev mode or not: the browser sees the
/// message in dev mode only, so without this line it would be lost. A mount that
/// failed on purpose with a status (`lv_not_found`) is an answer, logged at info.
fn log_failure(page: &crate::page::PageData, call: &Call, status: Option<u16>, msg: &str) {
    let (session, route) = (&*page.id, page.route.pattern.as_str());
    match call {
        Call::Event(e) => tracing::warn!(session, route, "event {:?} failed: {msg}", e.name),
        Call::Info(i) => match &i.topic {
            Some(topic) => tracing::warn!(session, route, "info on topic {topic:?} failed: {msg}"),
            None => tracing::warn!(session, route, "info (a timer) failed: {msg}"),
        },
        _ => match status {
            Some(status) => tracing::info!(session, route, "mount answered {status}: {msg}"),
            None => tracing::warn!(session, route, "mount failed: {msg}"),
        },
    }
}

pub(crate) fn run(
    data: Box<SessionData>,
    env: &SessionEnv,
    call: Call,
    deliver: bool,
    ahead: Option<SendAhead>,
) -> (Box<SessionData>, Box<CallOutcome>) {
    let (data, mut outcome) = run_call(data, env, call, deliver);
    if let Some(ahead) = ahead.filter(|_| crate::host::quiet()) {
        if outcome.error.is_none() && outcome.only_patch() && outcome.browser_writes.is_empty() {
            if let Some(patch) = outcome.patch.take() {
                let text = patch.frame(ahead.reply);
                let result = match ahead.outlet.try_send(Outbound::Text(text.clone())) {
                    Ok(()) => Ok(()),
                    Err(TrySend::Full(_)) => Err(Unsent::Full),
                    Err(TrySend::Closed(_)) => Err(Unsent::Closed),
                };
                outcome.sent = Some((text, result));
            }
        }
    }
    (data, Box::new(outcome))
}

fn run_call(
    mut data: Box<SessionData>,
    env: &SessionEnv,
    call: Call,
    deliver: bool,
) -> (Box<SessionData>, CallOutcome) {
    let mut out = CallOutcome::default();
    match call {
        Call::Root => {
            match render_root(&mut data, env) {
                Ok(root) => out.root = Some(root),
                Err(e) => out.error = Some(("render_error", e)),
            }
            return (data, out);
        }
        Call::Document { seq, eid } => {
            match render_document(&mut data, env, seq, eid) {
                Ok(html) => out.document = Some(html),
                Err(e) => out.error = Some(("render_error", e)),
            }
            return (data, out);
        }
        Call::Close(reason) => {
            let handler = data.page.route.spec.handler.clone();
            let mut ctx = Ctx::new(&mut data.page, env, None, None);
            let started = std::time::Instant::now();
            let closed = catch_unwind(AssertUnwindSafe(|| handler.close(&mut ctx, reason)));
            env.core.metrics.callback_took(CallbackKind::Close, started.elapsed());
            if let Err(panic) = closed {
                let (session, route) = (ctx.session_id(), ctx.data.route.pattern.as_str());
                tracing::warn!(session, route, "close callback panicked: {}", panic_message(&panic));
            }
            drop(ctx);
            return (data, out);
        }
        _ => {}
    }

    // A failed callback leaves the session as it was before the call. The state is
    // not copied for that: the callback's changes are undone (`StateUndo`).
    let page = &mut data.page;
    let saved = (page.state_bytes, page.flash.clone(), page.title.clone());
    let saved_browser = page.browser_session.clone();
    let handler = page.route.spec.handler.clone();
    let (result, fx, state_undo) = {
        let (event, info) = match &call {
            Call::Event(e) => (Some(&**e), None),
            Call::Info(i) => (None, Some(i)),
            _ => (None, None),
        };
        let mut ctx = Ctx::new(page, env, event, info);
        let kind = match &call {
            Call::Event(_) => CallbackKind::Event,
            Call::Info(_) => CallbackKind::Info,
            _ => CallbackKind::Mount,
        };
        let started = std::time::Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| match &call {
            Call::Event(e) => handler.event(&mut ctx, e),
            Call::Info(i) => handler.info(&mut ctx, i),
            _ => handler.mount(&mut ctx),
        }));
        env.core.metrics.callback_took(kind, started.elapsed());
        (result, std::mem::take(&mut ctx.fx), std::mem::take(&mut ctx.state_undo))
    };
    let failure = match result {
        Ok(Ok(())) => fx.refused.clone().or_else(|| {
            // Measured only when the state's size is unknown or may be over the limit.
            let limit = env.core.opts.max_state_bytes;
            if !fx.state_changed && page.state_bytes <= limit {
                return None;
            }
            match check_state_size(&page.state, limit) {
                Ok(bytes) => {
                    page.state_bytes = bytes;
                    None
                }
                Err(e) => Some(e.to_string()),
            }
        }),
        Ok(Err(e)) => Some(e.0),
        Err(panic) => Some(format!("callback panicked: {}", panic_message(&panic))),
    };
    if matches!(call, Call::Mount) {
        out.status = fx.status;
    }
    if let Some(msg) = &failure {
        log_failure(page, &call, fx.status, msg);
    }
    if let Some(msg) = failure {
        state_undo.restore(&mut page.state);
        page.state_cache.stale();
        (page.state_bytes, page.flash, page.title) = saved;
        page.browser_session = saved_browser;
        page.undo(env, fx.undo);
        out.error = Some(("host_error", msg));
        return (data, out);
    }
    out.browser_writes = page.browser_session.take_writes();
    out.commands = fx.commands;
    out.redirect = fx.redirect;
    out.navigate = fx.navigate;
    if matches!(call, Call::Mount) || (fx.dirty.is_empty() && fx.title.is_none()) {
        return (data, out);
    }

    let ctx = context(&data);
    let views = &env.core.views;
    let spec = &data.page.route.spec;
    let mut regions = BTreeMap::new();
    let mut parts = BTreeMap::new();
    let mut sent = Vec::new();
    let mut root = None;
    let rendered: Result<(), String> = (|| {
        if fx.dirty.root {
            let html = views.render_body(spec, &ctx).map_err(|e| e.to_string())?;
            let hash = html_hash(&html);
            if data.rendered_root != Some(hash) {
                root = Some(html);
            }
            data.rendered_root = Some(hash);
            remember_regions(&mut data.rendered, &data.page.route, env, &ctx);
            return Ok(());
        }
        // Each dirty region with its place in the spec (a mark of an id the page does
        // not declare was refused by `lv_mark`).
        let files = &data.page.route.region_files;
        let dirty = spec
            .regions
            .keys()
            .zip(files.iter())
            .enumerate()
            .filter(|(at, _)| fx.dirty.all_regions || fx.dirty.regions.contains(*at))
            .map(|(at, (id, file))| (at, id, &**file));
        for (at, id, file) in dirty {
            let html = views.render_partial_file(file, &ctx).map_err(|e| e.to_string())?;
            let before = data.rendered.get(at).and_then(Option::as_ref);
            let (children, mut now) = Sent::split(&html, before);
            if before.is_some_and(|b| b.hash == now.hash) {
                continue;
            }
            let old_children = before.and_then(|b| b.children.as_deref());
            let new_children = children.as_deref().zip(now.children.as_deref_mut());
            let parts_of = old_children
                .zip(new_children)
                .and_then(|(old, (new, now))| diff(old, new, now, &html))
                .filter(|p| !names_a_child_elsewhere(p, at, &data.rendered, &sent));
            match parts_of {
                Some(p) => {
                    if !p.is_empty() {
                        parts.insert(id.clone(), p);
                    }
                }
                None => {
                    now = now.with_texts(children.as_deref());
                    regions.insert(id.clone(), html);
                }
            }
            sent.push((at, now));
        }
        Ok(())
    })();
    if let Err(e) = rendered {
        out.error = Some(("render_error", e));
        return (data, out);
    }
    // Recorded as sent only now: after a failed render none of them is sent.
    data.rendered.resize_with(spec.regions.len(), || None);
    for (at, now) in sent {
        data.rendered[at] = Some(now);
    }
    if root.is_some() || !regions.is_empty() || !parts.is_empty() || fx.title.is_some() {
        out.patch = Some(PatchParts { regions, parts, root, title: fx.title });
        // A flash is shown once: by the first render that reaches a browser.
        if deliver {
            data.page.flash.clear();
        }
    }
    (data, out)
}

fn render_root(data: &mut SessionData, env: &SessionEnv) -> Result<String, String> {
    let ctx = context(data);
    let html = env.core.views.render_body(&data.page.route.spec, &ctx).map_err(|e| e.to_string())?;
    data.rendered_root = Some(html_hash(&html));
    remember_regions(&mut data.rendered, &data.page.route, env, &ctx);
    data.page.flash.clear();
    Ok(html)
}

fn render_document(data: &mut SessionData, env: &SessionEnv, seq: u64, eid: u64) -> Result<String, String> {
    let ctx = context(data);
    let boot = serde_json::json!({
        "token": data.token, "seq": seq, "csrf": data.csrf, "dev": env.core.opts.dev, "eid": eid,
    });
    let (html, body) = env
        .core
        .views
        .render_document(&data.page.route.spec, &ctx, &boot.to_string())
        .map_err(|e| e.to_string())?;
    data.rendered_root = Some(html_hash(&body));
    remember_regions(&mut data.rendered, &data.page.route, env, &ctx);
    data.page.flash.clear();
    Ok(html)
}

/// After a full render of the body, records each region's HTML as that body shows
/// it. Without this the first mark of a region after a GET, a join with `root` or a
/// root patch would resend it even when unchanged (the protocol sends only regions
/// whose HTML changed). A region that fails to render alone is left unrecorded: its
/// next mark then sends it, which is safe.
fn remember_regions(rendered: &mut Vec<Option<Sent>>, route: &Route, env: &SessionEnv, ctx: &TplValue) {
    rendered.clear();
    rendered.extend(route.region_files.iter().map(|file| {
        let html = env.core.views.render_partial_file(file, ctx).ok()?;
        let children = keyed_children(&html);
        Some(Sent::of(&html, children.as_deref()).with_texts(children.as_deref()))
    }));
}

/// A 64-bit hash of some rendered HTML, to tell whether it changed since it was
/// last sent. Keyed with random keys drawn once per process, so nobody can make two
/// different renders collide on purpose; by chance that happens once in 2^64.
pub(crate) fn html_hash(html: &str) -> u64 {
    hash_keys().hash_one(html)
}

/// The keys of [`html_hash`], drawn once per process.
pub(crate) fn hash_keys() -> &'static std::hash::RandomState {
    static KEYS: std::sync::OnceLock<std::hash::RandomState> = std::sync::OnceLock::new();
    KEYS.get_or_init(std::hash::RandomState::new)
}

/// The one context shape every template of a session sees ([`CONTEXT_KEYS`]).
pub(crate) fn context(data: &SessionData) -> TplValue {
    let page = &data.page;
    TplValue::from_object(RenderContext {
        state: Arc::clone(&page.state),
        flash: page.flash.clone(),
        params: page.params.clone(),
        id: Arc::clone(&page.id),
        user_id: page.user_id.clone(),
        title: page.title.clone(),
        path: Arc::clone(&page.path),
        route: Arc::clone(&page.route),
        csrf: Arc::clone(&data.csrf),
        token: Arc::clone(&data.token),
        browser: page.browser_session.shared(),
    })
}

/// A render's context: each variable becomes a template value only when a template
/// reads it, so a region that reads `state` alone does not pay for the rest.
struct RenderContext {
    state: Arc<Value>,
    flash: serde_json::Map<String, Value>,
    params: serde_json::Map<String, Value>,
    id: Arc<str>,
    user_id: Option<String>,
    title: Option<String>,
    path: Arc<str>,
    route: Arc<crate::page::Route>,
    csrf: Arc<str>,
    token: Arc<str>,
    browser: Arc<crate::browser::BrowserMap>,
}

impl std::fmt::Debug for RenderContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderContext")
            .field("session", &self.id)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Object for RenderContext {
    fn get_value(self: &Arc<Self>, key: &TplValue) -> Option<TplValue> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<TplValue> {
        let text = |s: &str| TplValue::from(s);
        Some(match key {
            "state" => crate::views::json::value(&self.state),
            "flash" => TplValue::from_serialize(&self.flash),
            "params" => TplValue::from_serialize(&self.params),
            "session" => context! { id => text(&self.id), user_id => self.user_id.as_deref().map(text) },
            "user_id" => TplValue::from(self.user_id.as_deref().map(text)),
            "title" => TplValue::from(self.title.as_deref().map(text)),
            "page" => context! { path => text(&self.path), route => text(&self.route.pattern) },
            "csrf" => text(&self.csrf),
            "browser" => TplValue::from_serialize(&*self.browser),
            "_lv" => {
                context! { token => text(&self.token), csrf => text(&self.csrf), action => text(&self.path) }
            }
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(CONTEXT_KEYS)
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".into()
    }
}

/// Whether a child that `parts` of the region at `region` (its place in the spec)
/// name (to remove, set or change the text of) shares its id with a child of another
/// region, as last sent or as this patch sends it (`sent`). The client finds those
/// children by id in the whole page, so it could change the other one: the region
/// then goes whole.
fn names_a_child_elsewhere(
    parts: &RegionParts,
    region: usize,
    rendered: &[Option<Sent>],
    sent: &[(usize, Sent)],
) -> bool {
    let named = |id: &str| {
        parts.remove.iter().any(|r| r == id) || parts.set.contains_key(id) || parts.text.contains_key(id)
    };
    rendered
        .iter()
        .enumerate()
        .filter_map(|(at, s)| Some((at, s.as_ref()?)))
        .chain(sent.iter().map(|(at, s)| (*at, s)))
        .filter(|(at, _)| *at != region)
        .filter_map(|(_, s)| s.children.as_deref())
        .flatten()
        .any(|c| named(&c.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::{HostError, Page, PageSpec, Route};

    struct Nothing;
    impl Page for Nothing {
        fn mount(&self, _: &mut Ctx<'_>) -> Result<(), HostError> {
            Ok(())
        }
        fn event(&self, _: &mut Ctx<'_>, _: &Event) -> Result<(), HostError> {
            Ok(())
        }
    }

    #[test]
    fn every_context_variable_reads_as_it_did_as_a_map() {
        let route = Arc::new(Route::new(
            "/boards/{id}".into(),
            PageSpec {
                template: "t".into(),
                regions: Default::default(),
                layout: None,
                handler: Arc::new(Nothing),
            },
        ));
        let map = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let ctx = TplValue::from_object(RenderContext {
            state: Arc::new(serde_json::json!({"n": 3})),
            flash: map(serde_json::json!({"info": "Saved"})),
            params: map(serde_json::json!({"id": "b7"})),
            id: "sid".into(),
            user_id: Some("u1".into()),
            title: None,
            path: "/boards/b7".into(),
            route,
            csrf: "c".into(),
            token: "tok".into(),
            browser: Arc::new(map(serde_json::json!({"voter": "v1"}))),
        });
        let env = minijinja::Environment::new();
        let template =
            "{{ state.n }}|{{ flash.info }}|{{ params.id }}|{{ session.id }}|{{ session.user_id }}|\
            {{ user_id }}|{{ title is none }}|{{ page.path }}|{{ page.route }}|{{ csrf }}|\
            {{ _lv.token }}|{{ _lv.csrf }}|{{ _lv.action }}|{{ nope is undefined }}|{{ browser.voter }}";
        assert_eq!(
            env.render_str(template, &ctx).unwrap(),
            "3|Saved|b7|sid|u1|u1|True|/boards/b7|/boards/{id}|c|tok|c|/boards/b7|True|v1"
        );
        // `partial()` and the layout's `content` spread walk the keys.
        let keys: Vec<String> = ctx.try_iter().unwrap().map(|k| k.to_string()).collect();
        assert_eq!(keys, CONTEXT_KEYS);
    }
}
