//! The seam between the core and a host: the [`Page`] trait, what a callback sees
//! ([`Ctx`], [`Event`], [`Info`]) and what it may ask for.
//!
//! The C ABI implements `Page` with function pointers; Rust tests and benchmarks
//! implement it directly. The core never knows which host it talks to.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use crate::browser::{BrowserMap, BrowserSession};
use crate::error::{Error, Result};
pub use crate::protocol::{Event, KeyMeta};
pub use crate::pubsub::{Info, LAGGED_TOPIC};
use crate::state_diff::{self, Change};

/// A live page's behaviour. Callbacks of one session never overlap; callbacks of
/// different sessions may run at the same time on different host threads.
pub trait Page: Send + Sync + 'static {
    /// Called once per session, before its first render.
    fn mount(&self, ctx: &mut Ctx<'_>) -> Result<(), HostError>;
    /// A browser event (click, submit, change, key, focus, blur) or a no-JS POST.
    fn event(&self, ctx: &mut Ctx<'_>, event: &Event) -> Result<(), HostError>;
    /// A published message on a subscribed topic, or a timer set with `send_after`.
    fn info(&self, ctx: &mut Ctx<'_>, info: &Info) -> Result<(), HostError> {
        let _ = (ctx, info);
        Ok(())
    }
    /// The session is ending (`reason`: `expired` when its browser did not come
    /// back within the grace period, `shutdown`; with the `redis` option a stopping
    /// node hands its sessions to the other nodes instead). Nothing it changes is rendered;
    /// it is the place to publish a departure or release per-session resources.
    fn close(&self, ctx: &mut Ctx<'_>, reason: &str) {
        let _ = (ctx, reason);
    }
}

/// A failed callback. The message reaches the browser only in dev mode.
#[derive(Debug, Clone, PartialEq)]
pub struct HostError(pub String);

impl<E: std::fmt::Display> From<E> for HostError {
    fn from(e: E) -> Self {
        HostError(e.to_string())
    }
}

/// How a page is rendered and who handles its callbacks.
#[derive(Clone)]
pub struct PageSpec {
    /// Page template name, e.g. `counter/index` for `views/pages/counter/index.html`.
    pub template: String,
    /// Region DOM id → partial name, e.g. `stats` → `counter/stats`.
    pub regions: BTreeMap<String, String>,
    /// Layout name; `None` uses the app's default layout.
    pub layout: Option<String>,
    pub handler: Arc<dyn Page>,
}

/// A registered page: its route pattern and how to render and drive it.
pub struct Route {
    pub pattern: String,
    pub spec: PageSpec,
    /// The template file of each region, in the order of `spec.regions`: named once
    /// here rather than on every render.
    pub(crate) region_files: Box<[Box<str>]>,
}

impl Route {
    pub(crate) fn new(pattern: String, spec: PageSpec) -> Self {
        let region_files = spec.regions.values().map(|p| crate::views::partial_file(p).into()).collect();
        Route { pattern, spec, region_files }
    }
}

/// What a callback may ask of the session it runs in, beyond its own data. The
/// session implements it; a callback reaches nothing else of the server.
pub(crate) trait Services: Send + Sync {
    /// The DOM id of the live root (marking it re-renders the body).
    fn root_id(&self) -> &str;
    fn max_state_bytes(&self) -> usize;
    /// Hosts a redirect or navigate may lead to, besides this app's paths.
    fn redirect_hosts(&self) -> &[String];
    fn subscribe(&self, topic: &str);
    fn unsubscribe(&self, topic: &str);
    /// Delivers `data` to the session's `info` after `delay`, as timer `id`.
    fn start_timer(&self, id: u64, delay: Duration, data: Arc<str>) -> tokio::task::AbortHandle;
}

/// Which parts of the page a callback marked for re-rendering.
#[derive(Debug, Default, Clone)]
pub(crate) struct Dirty {
    pub root: bool,
    pub all_regions: bool,
    pub regions: RegionSet,
}

impl Dirty {
    pub fn is_empty(&self) -> bool {
        !self.root && !self.all_regions && self.regions.is_empty()
    }
}

/// Regions by their place in the page's spec (`spec.regions` in key order): a bit
/// each for the first 64, which is every page's in practice, so that marking a region
/// allocates nothing; a list for any beyond.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct RegionSet {
    low: u64,
    high: Vec<usize>,
}

impl RegionSet {
    pub fn insert(&mut self, at: usize) {
        if at < 64 {
            self.low |= 1 << at;
        } else if !self.high.contains(&at) {
            self.high.push(at);
        }
    }

    pub fn contains(&self, at: usize) -> bool {
        if at < 64 {
            self.low & (1 << at) != 0
        } else {
            self.high.contains(&at)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.low == 0 && self.high.is_empty()
    }
}

/// What a callback asked for besides state changes.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub dirty: Dirty,
    pub commands: Vec<Value>,
    pub redirect: Option<String>,
    pub navigate: Option<(String, bool)>,
    pub title: Option<String>,
    /// Subscriptions and timers this callback changed, in order, so a failed
    /// callback can be undone.
    pub undo: Vec<Undo>,
    /// The state was replaced or changed in place: its size is unknown until
    /// measured (changes through [`Ctx::set`] are counted in `state_bytes` instead).
    pub state_changed: bool,
    /// A request the core refused (an unsafe redirect). It fails the callback even
    /// when the host ignored the error status, so nothing half-done is committed.
    pub refused: Option<String>,
    /// The HTTP status a mount asked its page GET to answer with.
    pub status: Option<u16>,
}

/// One change to undo when a callback fails.
#[derive(Debug)]
pub(crate) enum Undo {
    Subscribed(String),
    Unsubscribed(String),
    Timer(u64),
}

impl PageData {
    /// Undoes a failed callback's subscriptions and timers (latest first). A timer it
    /// cancelled stays cancelled.
    pub(crate) fn undo(&mut self, env: &dyn Services, undo: Vec<Undo>) {
        for change in undo.into_iter().rev() {
            match change {
                Undo::Subscribed(topic) => {
                    if self.topics.remove(&topic) {
                        env.unsubscribe(&topic);
                    }
                }
                Undo::Unsubscribed(topic) => {
                    if !self.topics.contains(&topic) {
                        env.subscribe(&topic);
                        self.topics.insert(topic);
                    }
                }
                Undo::Timer(id) => {
                    if let Some(timer) = self.timers.remove(&id) {
                        timer.handle.abort();
                    }
                }
            }
        }
    }
}

/// A session's own data: what a callback reads and changes.
pub(crate) struct PageData {
    /// The session's id and the page's path: fixed for the session's life, shared
    /// with every render's context rather than copied into it.
    pub id: Arc<str>,
    pub route: Arc<Route>,
    pub path: Arc<str>,
    pub params: Map<String, Value>,
    pub user_id: Option<String>,
    /// Shared with the rollback copy taken before each callback: a callback that
    /// does not change the state copies nothing, the first change copies it once.
    pub state: Arc<Value>,
    /// At least the length of `state` as compact JSON, exact after each measurement.
    /// [`Ctx::set`] adds what it may have grown by, so a callback that sets a small
    /// value does not measure the whole state to enforce `max_state_bytes`.
    pub state_bytes: usize,
    pub flash: Map<String, Value>,
    pub title: Option<String>,
    pub timers: HashMap<u64, Timer>,
    pub next_timer: u64,
    pub topics: HashSet<String>,
    /// The browser the session belongs to (`token::browser_hash`), which keys its
    /// browser session.
    pub browser: String,
    /// The browser session as the current callback sees it (loaded before each
    /// callback), with the callback's writes.
    pub browser_session: BrowserSession,
    /// The host's own copy of the state, if it keeps one ([`Ctx::set_state_cache`]).
    pub state_cache: StateCache,
}

/// A value a host keeps with a session for itself, typically the state decoded into
/// its own types, so that the next callback need not read and decode the state again.
/// It stays until the host replaces it or the session leaves this node; `fresh` says
/// whether the state is still the one the host last vouched for. Any change to the
/// state (a write, a failed callback's rollback) clears `fresh`; a snapshot restored
/// on another node starts without a copy.
#[derive(Default)]
pub(crate) struct StateCache {
    value: Option<Box<dyn std::any::Any + Send>>,
    fresh: bool,
    /// The JSON text the state was last set from ([`Ctx::set_state_json`]), while
    /// nothing else has changed it: the next text is compared with it, and only what
    /// differs is parsed.
    text: Option<Box<str>>,
}

impl StateCache {
    /// The state changed: the host's copies no longer show it.
    pub(crate) fn stale(&mut self) {
        self.fresh = false;
        self.text = None;
    }
}

/// How to take back what a callback did to the state when it fails, without copying
/// the state before each callback: a write through a pointer records what it
/// replaced (moved out, not copied), or the key or item it added; taking the whole
/// state to change it in place, or replacing it, keeps the state as it was then,
/// which covers everything after.
///
/// The steps' pointers are kept one after another in one string, and both buffers go
/// back to their thread when the undo is dropped, for the next callback there: a
/// callback that writes through pointers allocates nothing for its undo.
#[derive(Debug, Default)]
pub(crate) struct StateUndo {
    steps: Vec<StateStep>,
    /// The steps' pointers, one after another.
    pointers: String,
    /// The state when the callback first took it whole or replaced it.
    whole: Option<Arc<Value>>,
}

/// One step of a [`StateUndo`]: what to do at the pointer `pointers[at]`.
#[derive(Debug)]
struct StateStep {
    at: std::ops::Range<usize>,
    undo: StepUndo,
}

#[derive(Debug)]
enum StepUndo {
    /// Put the value back at the pointer, or remove the key there when `None`.
    Put(Option<Value>),
    /// Remove the last item of the array at the pointer (it was appended).
    Pop,
    /// Put a removed item back into the array at the pointer, at its index.
    Insert(usize, Value),
}

thread_local! {
    /// A thread's spare buffers for its next callback's [`StateUndo`].
    static SPARE_UNDO: std::cell::Cell<(Vec<StateStep>, String)> =
        const { std::cell::Cell::new((Vec::new(), String::new())) };
}

impl StateUndo {
    /// Records how to undo a change at `pointer`.
    fn record(&mut self, pointer: &str, undo: StepUndo) {
        if self.steps.capacity() == 0 {
            (self.steps, self.pointers) = SPARE_UNDO.try_with(|spare| spare.take()).unwrap_or_default();
        }
        let start = self.pointers.len();
        self.pointers.push_str(pointer);
        self.steps.push(StateStep { at: start..self.pointers.len(), undo });
    }

    /// Puts `state` back as it was before the callback.
    pub(crate) fn restore(mut self, state: &mut Arc<Value>) {
        if let Some(whole) = self.whole.take() {
            *state = whole;
        }
        if self.steps.is_empty() {
            return;
        }
        let root = Arc::make_mut(state);
        for StateStep { at, undo } in self.steps.drain(..).rev() {
            let pointer = &self.pointers[at];
            match undo {
                StepUndo::Put(old) => put_back(root, pointer, old),
                StepUndo::Pop => {
                    if let Some(Value::Array(items)) = json_get_mut(root, pointer) {
                        items.pop();
                    }
                }
                StepUndo::Insert(i, value) => {
                    if let Some(Value::Array(items)) = json_get_mut(root, pointer) {
                        items.insert(i.min(items.len()), value);
                    }
                }
            }
        }
    }
}

impl Drop for StateUndo {
    /// Gives the buffers back to the thread, emptied, unless a callback grew them
    /// far past what callbacks usually need.
    fn drop(&mut self) {
        if self.steps.capacity() == 0 || self.steps.capacity() > 256 || self.pointers.capacity() > 16 << 10 {
            return;
        }
        let mut steps = std::mem::take(&mut self.steps);
        let mut pointers = std::mem::take(&mut self.pointers);
        steps.clear();
        pointers.clear();
        let _ = SPARE_UNDO.try_with(|spare| spare.set((steps, pointers)));
    }
}

/// Puts `old` at `pointer` (whose parent exists), or removes the key there.
fn put_back(root: &mut Value, pointer: &str, old: Option<Value>) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        if let Some(old) = old {
            *root = old;
        }
        return;
    };
    let last = unescape(last);
    match (json_get_mut(root, parent), old) {
        (Some(Value::Object(map)), Some(old)) => {
            map.insert(last.into_owned(), old);
        }
        (Some(Value::Object(map)), None) => {
            map.remove(&*last);
        }
        (Some(Value::Array(items)), Some(old)) => {
            if let Some(slot) = array_index(&last).and_then(|i| items.get_mut(i)) {
                *slot = old;
            }
        }
        _ => {}
    }
}

/// What [`json_set`] will do at `pointer`, as far as undoing it goes.
enum SetPlan {
    /// The value there is replaced: move the old one out.
    Replace,
    /// It adds something (a key, an item, an object where null was): undone by
    /// this at the pointer's first `len` bytes.
    Adds(usize, StepUndo),
    /// It fails, changing nothing.
    Fails,
}

fn plan_set(root: &Value, pointer: &str) -> SetPlan {
    let Some(rest) = pointer.strip_prefix('/') else {
        return if pointer.is_empty() { SetPlan::Replace } else { SetPlan::Fails };
    };
    let mut cur = root;
    // `pointer[..at]` points at `cur`.
    let mut at = 0;
    let mut tokens = rest.split('/').peekable();
    while let Some(raw) = tokens.next() {
        let last = tokens.peek().is_none();
        let next = at + 1 + raw.len();
        match cur {
            // Made an object from here down.
            Value::Null => return SetPlan::Adds(at, StepUndo::Put(Some(Value::Null))),
            Value::Object(map) => match map.get(&*unescape(raw)) {
                None => return SetPlan::Adds(next, StepUndo::Put(None)),
                Some(_) if last => return SetPlan::Replace,
                Some(v) => cur = v,
            },
            Value::Array(items) => {
                let index = if raw == "-" { Some(items.len()) } else { array_index(raw) };
                match index {
                    Some(i) if i == items.len() => {
                        return SetPlan::Adds(at, StepUndo::Pop);
                    }
                    Some(_) if last => return SetPlan::Replace,
                    Some(i) if i < items.len() => cur = &items[i],
                    _ => return SetPlan::Fails,
                }
            }
            _ => return SetPlan::Fails,
        }
        at = next;
    }
    SetPlan::Replace
}

/// A pending timer: what cancels it, and what a snapshot needs to re-arm it.
pub(crate) struct Timer {
    pub handle: tokio::task::AbortHandle,
    /// When it fires, in milliseconds since the Unix epoch.
    pub due_ms: u64,
    pub data: Arc<str>,
}

/// What a callback works with: its session's state and the operations it may
/// request. Valid only for the duration of the callback.
pub struct Ctx<'a> {
    pub(crate) data: &'a mut PageData,
    pub(crate) env: &'a dyn Services,
    pub(crate) fx: Effects,
    pub(crate) event: Option<&'a Event>,
    pub(crate) info: Option<&'a Info>,
    /// Strings lent to C callers; they live until the callback returns.
    pub(crate) lent: Vec<std::ffi::CString>,
    /// Why the callback failed, as the host said (`lv_error`).
    pub(crate) failure: Option<String>,
    /// How to take back its state changes if it fails.
    pub(crate) state_undo: StateUndo,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        data: &'a mut PageData,
        env: &'a dyn Services,
        event: Option<&'a Event>,
        info: Option<&'a Info>,
    ) -> Self {
        Ctx {
            data,
            env,
            fx: Effects::default(),
            event,
            info,
            lent: Vec::new(),
            failure: None,
            state_undo: StateUndo::default(),
        }
    }

    pub fn session_id(&self) -> &str {
        &self.data.id
    }

    pub fn user_id(&self) -> Option<&str> {
        self.data.user_id.as_deref()
    }

    /// Route params, e.g. `{"room": "lobby"}` for `/rooms/{room}` at `/rooms/lobby`.
    pub fn params(&self) -> &Map<String, Value> {
        &self.data.params
    }

    pub fn path(&self) -> &str {
        &self.data.path
    }

    pub fn state(&self) -> &Value {
        &self.data.state
    }

    /// At least the state's length as compact JSON, as last measured plus what
    /// [`Ctx::set`] may have added since (a change through [`Ctx::state_mut`] is
    /// measured only when the callback returns).
    pub fn state_bytes(&self) -> usize {
        self.data.state_bytes
    }

    /// The state, for changing in place. Its size is checked when the callback
    /// returns (`max_state_bytes`).
    pub fn state_mut(&mut self) -> &mut Value {
        self.fx.state_changed = true;
        self.data.state_cache.stale();
        // Kept as it is now, so the first change copies it (once per callback).
        if self.state_undo.whole.is_none() {
            self.state_undo.whole = Some(Arc::clone(&self.data.state));
        }
        Arc::make_mut(&mut self.data.state)
    }

    /// Replaces the state, keeping the one it replaces for a rollback.
    fn replace_state(&mut self, state: Value) {
        self.data.state_cache.stale();
        let old = std::mem::replace(&mut self.data.state, Arc::new(state));
        if self.state_undo.whole.is_none() {
            self.state_undo.whole = Some(old);
        }
    }

    /// Replaces the state. Its size is checked when the callback returns
    /// (`max_state_bytes`).
    pub fn set_state(&mut self, state: Value) {
        self.fx.state_changed = true;
        self.replace_state(state);
    }

    /// Replaces the state with parsed JSON. On bad JSON, or JSON bigger than
    /// `max_state_bytes`, the state is unchanged.
    ///
    /// When the state was last set from a text and nothing changed it since, the
    /// text is compared with that one and only what differs is parsed and set (a
    /// host that writes its whole state after each callback mostly changes a field
    /// or appends an item); the result is the state the whole text holds.
    pub fn set_state_json(&mut self, json: &str) -> Result<()> {
        if let Some(old) = self.data.state_cache.text.take() {
            if json.len() >= state_diff::COMPARED_FROM && self.set_changes(&old, json) {
                self.data.state_cache.text = Some(json.into());
                return Ok(());
            }
        }
        let state: Value = serde_json::from_str(json).map_err(Error::json)?;
        check_object(&state)?;
        self.data.state_bytes = check_state_size(&state, self.env.max_state_bytes())?;
        self.replace_state(state);
        // Measured just now: unless something changes it again, the check at the end
        // of the callback has nothing to do.
        self.fx.state_changed = false;
        if json.len() >= state_diff::COMPARED_FROM {
            self.data.state_cache.text = Some(json.into());
        }
        Ok(())
    }

    /// Sets what differs between `old`, the text the state holds, and `json`: true
    /// when done, false (nothing changed) when the texts are not compared
    /// ([`state_diff::changes`]), a changed value does not parse, or the state might
    /// then be over `max_state_bytes`: the whole text is then parsed and checked.
    fn set_changes(&mut self, old: &str, json: &str) -> bool {
        let Some(changes) = state_diff::changes(old, json) else {
            return false;
        };
        // Everything parsed and measured before anything is set. The size is an upper
        // bound, as `state_bytes` is: exact but for a comma per change.
        let mut bytes = self.data.state_bytes;
        let mut writes = Vec::with_capacity(changes.len());
        for change in changes {
            match change {
                Change::Set(pointer, text) => {
                    let Ok(value) = serde_json::from_str::<Value>(text) else {
                        return false;
                    };
                    let replaced = json_get(&self.data.state, &pointer).map_or(0, json_len::<Value>);
                    // A new key: its text, a colon and a comma.
                    let key = pointer.rsplit_once('/').map_or(0, |(_, key)| json_len(&*unescape(key)) + 2);
                    let added = if replaced == 0 { key } else { 0 };
                    bytes = (bytes + json_len(&value) + added).saturating_sub(replaced);
                    writes.push((pointer, Some(value)));
                }
                Change::Remove(pointer) => {
                    let removed = json_get(&self.data.state, &pointer).map_or(0, json_len::<Value>);
                    bytes = bytes.saturating_sub(removed);
                    writes.push((pointer, None));
                }
            }
        }
        if bytes > self.env.max_state_bytes() {
            return false;
        }
        for (pointer, value) in writes {
            match value {
                Some(value) => {
                    let set = self.set(&pointer, value);
                    debug_assert!(set.is_ok(), "{pointer}: {set:?}");
                }
                None => {
                    self.remove(&pointer);
                }
            }
        }
        self.data.state_bytes = bytes;
        true
    }

    /// The value at a JSON pointer (`/count`, `/items/0/title`).
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        json_get(&self.data.state, pointer)
    }

    /// Sets the value at a JSON pointer, creating objects along the way. A last
    /// token `-` appends to an array (`/log/-`).
    pub fn set(&mut self, pointer: &str, value: Value) -> Result<()> {
        // The most this can add: the value, and per token a key, its quotes, colon and
        // comma and an object created for it.
        let tokens = pointer.bytes().filter(|&b| b == b'/').count();
        let grow = json_len(&value) + json_len(pointer) + 6 * tokens;
        check_pointer(pointer)?;
        if pointer.is_empty() {
            check_object(&value)?;
        }
        self.data.state_bytes = self.data.state_bytes.saturating_add(grow);
        self.data.state_cache.stale();
        let root = Arc::make_mut(&mut self.data.state);
        if self.state_undo.whole.is_some() {
            return json_set(root, pointer, value);
        }
        match plan_set(root, pointer) {
            SetPlan::Replace => match json_get_mut(root, pointer) {
                Some(slot) => {
                    let old = std::mem::replace(slot, value);
                    self.state_undo.record(pointer, StepUndo::Put(Some(old)));
                    Ok(())
                }
                None => json_set(root, pointer, value),
            },
            SetPlan::Adds(len, undo) => {
                json_set(root, pointer, value)?;
                self.state_undo.record(&pointer[..len], undo);
                Ok(())
            }
            SetPlan::Fails => json_set(root, pointer, value),
        }
    }

    /// Removes the value at a JSON pointer; returns it, or `None` when absent.
    pub fn remove(&mut self, pointer: &str) -> Option<Value> {
        let (parent, last) = pointer.rsplit_once('/')?;
        let last = unescape(last);
        // Nothing to remove: no copy of a shared state for nothing.
        json_get(&self.data.state, parent)?;
        self.data.state_cache.stale();
        let recording = self.state_undo.whole.is_none();
        let (removed, step) = match json_get_mut(Arc::make_mut(&mut self.data.state), parent)? {
            Value::Object(map) => {
                let removed = map.remove(&*last)?;
                let step = recording.then(|| (pointer, StepUndo::Put(Some(removed.clone()))));
                (removed, step)
            }
            Value::Array(items) => {
                let i: usize = last.parse().ok().filter(|&i| i < items.len())?;
                let removed = items.remove(i);
                let step = recording.then(|| (parent, StepUndo::Insert(i, removed.clone())));
                (removed, step)
            }
            _ => return None,
        };
        if let Some((at, undo)) = step {
            self.state_undo.record(at, undo);
        }
        Some(removed)
    }

    /// This browser's stable id: the same for every page session of the browser (its
    /// signed cookie), on every node; another browser's differs. A pseudonym (a hash
    /// of the cookie's secret id, 22 URL-safe characters), fit to key "one vote per
    /// browser" and the like.
    pub fn browser_id(&self) -> &str {
        &self.data.browser
    }

    /// The host's copy of the state ([`Ctx::set_state_cache`]), and whether the state
    /// is still the one it was set for.
    pub fn state_cache(&self) -> (Option<&(dyn std::any::Any + Send)>, bool) {
        let copy = &self.data.state_cache;
        (copy.value.as_deref(), copy.fresh)
    }

    /// Keeps `value` with the session as the host's copy of the state as it is now
    /// (fresh until the state changes); `None` keeps the current value and only
    /// vouches for it again. The value replaced is dropped. If this callback fails,
    /// the copy is stale for the next one.
    pub fn set_state_cache(&mut self, value: Option<Box<dyn std::any::Any + Send>>) {
        let copy = &mut self.data.state_cache;
        if let Some(value) = value {
            copy.value = Some(value);
        }
        copy.fresh = copy.value.is_some();
    }

    /// The browser session: a JSON object shared by every page session of this
    /// browser (its cookie), on every node. It is as it was when the callback
    /// started, with the callback's own writes.
    pub fn browser_session(&self) -> &BrowserMap {
        self.data.browser_session.map()
    }

    /// Sets `key` in the browser session. Applied when the callback succeeds, and
    /// seen by the next callback of any page session of this browser. Refused (and
    /// nothing changes) when the map would be over `max_browser_session_bytes`.
    pub fn browser_set(&mut self, key: &str, value: Value) -> Result<()> {
        self.data.browser_session.set(key, value)
    }

    /// [`Ctx::browser_set`] with the value as JSON text.
    pub fn browser_set_json(&mut self, key: &str, json: &str) -> Result<()> {
        let value: Value = serde_json::from_str(json).map_err(Error::json)?;
        self.browser_set(key, value)
    }

    /// Removes `key` from the browser session (when the callback succeeds); its
    /// value, or `None` when there was none.
    pub fn browser_remove(&mut self, key: &str) -> Option<Value> {
        self.data.browser_session.remove(key)
    }

    /// Marks a region for re-rendering. The root id re-renders the page body.
    pub fn mark(&mut self, id: &str) -> Result<()> {
        let route = &self.data.route;
        if id == self.env.root_id() || (route.spec.regions.is_empty() && !id.is_empty()) {
            // A page without regions has only its body to update.
            self.fx.dirty.root = true;
        } else if let Some(at) = route.spec.regions.keys().position(|r| r == id) {
            self.fx.dirty.regions.insert(at);
        } else {
            return Err(Error::NotFound(format!(
                "no region {id:?} on page {} (regions: {})",
                route.pattern,
                route.spec.regions.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }

    /// Marks every region (the body, when the page has none).
    pub fn mark_all(&mut self) {
        if self.data.route.spec.regions.is_empty() {
            self.fx.dirty.root = true;
        } else {
            self.fx.dirty.all_regions = true;
        }
    }

    /// A flash message of `kind` (`info`, `error`, ...), shown by the next render.
    pub fn flash(&mut self, kind: &str, message: &str) {
        self.data.flash.insert(kind.to_string(), Value::String(message.to_string()));
    }

    pub fn subscribe(&mut self, topic: &str) {
        if self.data.topics.insert(topic.to_string()) {
            self.env.subscribe(topic);
            self.fx.undo.push(Undo::Subscribed(topic.to_string()));
        }
    }

    pub fn unsubscribe(&mut self, topic: &str) {
        if self.data.topics.remove(topic) {
            self.env.unsubscribe(topic);
            self.fx.undo.push(Undo::Unsubscribed(topic.to_string()));
        }
    }

    /// Delivers `json` to this session's `info` after `delay`. Returns a timer id
    /// for [`Ctx::cancel_timer`].
    pub fn send_after(&mut self, delay: Duration, json: &str) -> Result<u64> {
        serde_json::from_str::<serde::de::IgnoredAny>(json).map_err(Error::json)?;
        self.data.next_timer += 1;
        let id = self.data.next_timer;
        let data: Arc<str> = Arc::from(json);
        let handle = self.env.start_timer(id, delay, data.clone());
        let due_ms = crate::token::now_millis().saturating_add(delay.as_millis() as u64);
        self.data.timers.insert(id, Timer { handle, due_ms, data });
        self.fx.undo.push(Undo::Timer(id));
        Ok(id)
    }

    /// Cancels a pending timer; false when it already fired or never existed.
    pub fn cancel_timer(&mut self, id: u64) -> bool {
        match self.data.timers.remove(&id) {
            Some(timer) => {
                timer.handle.abort();
                true
            }
            None => false,
        }
    }

    /// A full page load of `url` in the browser (after a no-JS POST: the 303 target).
    ///
    /// `url` is a path of this app (`/next`), or an `http(s)://` URL on a host listed
    /// in the `redirect_hosts` option. Anything else (`javascript:`, `//evil.example`)
    /// is refused with an error naming the URL, and fails the callback.
    pub fn redirect(&mut self, url: &str) -> Result<()> {
        self.check_target("redirect", url)?;
        self.fx.redirect = Some(url.to_string());
        Ok(())
    }

    /// Changes the URL to another route of the app without a full load. `url` is
    /// checked as for [`Ctx::redirect`].
    pub fn navigate(&mut self, url: &str, replace: bool) -> Result<()> {
        self.check_target("navigate", url)?;
        self.fx.navigate = Some((url.to_string(), replace));
        Ok(())
    }

    fn check_target(&mut self, what: &str, url: &str) -> Result<()> {
        if let Err(why) = check_target(url, self.env.redirect_hosts()) {
            let msg = format!("{what} to {url:?} refused: {why}");
            self.fx.refused.get_or_insert_with(|| msg.clone());
            return Err(Error::State(msg));
        }
        Ok(())
    }

    /// Inside `mount`: the HTTP status the page GET answers with (the page is rendered
    /// as usual: a "no such board" page with 404). When the mount then fails, the GET
    /// answers this status with a short text instead of a 500; with a redirect, a 3xx
    /// status replaces the default 303. 200 to 599; refused outside a mount.
    pub fn set_status(&mut self, status: u16) -> Result<()> {
        if self.event.is_some() || self.info.is_some() {
            return Err(Error::State(
                "the HTTP status can only be set in mount (an event or info has no HTTP answer)".into(),
            ));
        }
        if !(200..=599).contains(&status) {
            return Err(Error::State(format!(
                "{status} is not an HTTP status a page can answer (200 to 599)"
            )));
        }
        self.fx.status = Some(status);
        Ok(())
    }

    pub fn set_title(&mut self, title: &str) {
        self.data.title = Some(title.to_string());
        self.fx.title = Some(title.to_string());
    }

    pub fn focus(&mut self, selector: &str) {
        self.fx.commands.push(serde_json::json!({"op": "focus", "selector": selector}));
    }

    pub fn scroll(&mut self, selector: Option<&str>, end: bool) {
        let block = if end { "end" } else { "start" };
        self.fx.commands.push(serde_json::json!({"op": "scroll", "selector": selector, "block": block}));
    }

    /// The event being handled, inside `event`.
    pub fn event(&self) -> Option<&Event> {
        self.event
    }

    /// The info being handled, inside `info`.
    pub fn info(&self) -> Option<&Info> {
        self.info
    }
}

/// Whether `url` may be a redirect or navigate target: a path of this app, or an
/// `http(s)` URL on one of `hosts`. The error says why not.
///
/// Strict on purpose: browsers read `//host` and `/\host` as other sites, strip tabs
/// and newlines anywhere in a URL (so `/\t/host` is `//host`), and run `javascript:`.
pub(crate) fn check_target(url: &str, hosts: &[String]) -> Result<(), &'static str> {
    const ALLOWED: &str = "only paths of this app (\"/next\") and http(s) URLs on a host \
                           listed in the redirect_hosts option are allowed";
    if url.bytes().any(|b| b.is_ascii_control()) {
        return Err("control characters are not allowed in a URL");
    }
    if let Some(rest) = url.strip_prefix('/') {
        return match rest.bytes().next() {
            Some(b'/' | b'\\') => Err("a URL starting with // or /\\ leads to another site; \
                                        use a path of this app (\"/next\")"),
            _ => Ok(()),
        };
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return Err(ALLOWED);
    };
    // Browsers end the authority at any of these (a backslash counts as a slash).
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err("URLs with user info (user@host) are not allowed");
    }
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':') => host,
        _ => authority,
    };
    let listed = |h: &String| h.eq_ignore_ascii_case(authority) || h.eq_ignore_ascii_case(host);
    if host.is_empty() || !hosts.iter().any(listed) {
        return Err(ALLOWED);
    }
    Ok(())
}

/// The size of `state` as compact JSON, or an error naming it and `limit` when it
/// is over.
pub(crate) fn check_state_size(state: &Value, limit: usize) -> Result<usize> {
    let bytes = json_len(state);
    if bytes > limit {
        return Err(Error::State(format!(
            "the state is {bytes} bytes of JSON, over the limit of {limit} (max_state_bytes); \
             the previous state is kept"
        )));
    }
    Ok(bytes)
}

/// The length of `value` as compact JSON, counted without building the text.
fn json_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // A `Value` always serializes (its keys are strings) and this writer never fails.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// One token of a JSON pointer unescaped (`~1` is `/`, `~0` is `~`), borrowed when it
/// has no escape, which is nearly always.
fn unescape(token: &str) -> Cow<'_, str> {
    // Bytes, not chars: a `char` search costs more to set up than these short keys.
    if token.as_bytes().contains(&b'~') {
        Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
    } else {
        Cow::Borrowed(token)
    }
}

/// An array index token as RFC 6901 spells it: digits, no leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.starts_with('+') || (token.starts_with('0') && token.len() > 1) {
        return None;
    }
    token.parse().ok()
}

/// Checks a JSON pointer's spelling (RFC 6901): empty (the whole state) or `/` then
/// tokens, with `~` only in `~0` (a `~`) and `~1` (a `/`). The error says how to write
/// it, so a C host that wrote `"count"` reads `write "/count"`.
pub(crate) fn check_pointer(pointer: &str) -> Result<()> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return Err(Error::Pointer(format!(
            "{pointer:?}: a pointer starts with \"/\" (write \"/{pointer}\")"
        )));
    }
    let mut rest = pointer;
    while let Some(i) = rest.bytes().position(|b| b == b'~') {
        if !matches!(rest.as_bytes().get(i + 1), Some(b'0' | b'1')) {
            return Err(Error::Pointer(format!(
                "{pointer:?}: \"~\" must be followed by 0 or 1 (\"~0\" is a \"~\", \"~1\" a \"/\" inside a key)"
            )));
        }
        rest = &rest[i + 2..];
    }
    Ok(())
}

/// The state is a JSON object: templates read it as `state.<key>`.
fn check_object(state: &Value) -> Result<()> {
    if state.is_object() {
        return Ok(());
    }
    Err(Error::Json(format!(
        "the state must be a JSON object ({{\"count\": 0}}), not {}: templates read it as state.<key>",
        kind_of(state)
    )))
}

/// What a JSON value is, for messages ("a number").
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
}

/// `Value::pointer` without its two string copies per token.
pub(crate) fn json_get<'v>(root: &'v Value, pointer: &str) -> Option<&'v Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    pointer.strip_prefix('/')?.split('/').try_fold(root, |cur, token| match cur {
        Value::Object(map) => map.get(&*unescape(token)),
        Value::Array(items) => array_index(token).and_then(|i| items.get(i)),
        _ => None,
    })
}

/// `Value::pointer_mut` without its two string copies per token.
fn json_get_mut<'v>(root: &'v mut Value, pointer: &str) -> Option<&'v mut Value> {
    if pointer.is_empty() {
        return Some(root);
    }
    pointer.strip_prefix('/')?.split('/').try_fold(root, |cur, token| match cur {
        Value::Object(map) => map.get_mut(&*unescape(token)),
        Value::Array(items) => array_index(token).and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

/// Sets `value` at `pointer` in `root`, creating intermediate objects; `-` appends.
/// A pointer that is misspelt, or leads through a string, number or boolean, or to an
/// array index past the end, is an [`Error::Pointer`] naming where it went wrong.
pub(crate) fn json_set(root: &mut Value, pointer: &str, value: Value) -> Result<()> {
    check_pointer(pointer)?;
    if pointer.is_empty() {
        *root = value;
        return Ok(());
    }
    let mut cur = root;
    // The pointer up to the value `cur` is, for messages.
    let mut walked = 0;
    let mut tokens = pointer[1..].split('/').peekable();
    while let Some(raw) = tokens.next() {
        let at = &pointer[..walked];
        walked += 1 + raw.len();
        let token = unescape(raw);
        let last = tokens.peek().is_none();
        if cur.is_null() {
            *cur = Value::Object(Map::new());
        }
        cur = match cur {
            Value::Object(map) => {
                if last {
                    map.insert(token.into_owned(), value);
                    return Ok(());
                }
                map.entry(token.into_owned()).or_insert(Value::Null)
            }
            Value::Array(items) => {
                let index = if token == "-" {
                    items.len()
                } else {
                    array_index(&token).ok_or_else(|| {
                        Error::Pointer(format!(
                            "{pointer:?}: {at:?} is an array and {token:?} is not an index (0, 1, ... or - to append)"
                        ))
                    })?
                };
                if index > items.len() {
                    return Err(Error::Pointer(format!(
                        "{pointer:?}: index {index} is past the end of {at:?}, which has {} items \
                         (use {} or - to append)",
                        items.len(),
                        items.len()
                    )));
                }
                if last {
                    if index == items.len() {
                        items.push(value);
                    } else {
                        items[index] = value;
                    }
                    return Ok(());
                }
                if index == items.len() {
                    items.push(Value::Null);
                }
                &mut items[index]
            }
            other => {
                return Err(Error::Pointer(format!(
                    "{pointer:?}: {at:?} is {}, not an object or array",
                    kind_of(other)
                )))
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A float in a state's JSON reads back as written, to the last binary place, and
    /// is written again as the same number (the state's text is what hosts decode).
    #[test]
    fn a_state_float_reads_back_as_the_host_wrote_it() {
        // Shortest texts of doubles (as Python's repr and Go's strconv write them)
        // that a parse without float_roundtrip reads one place off.
        for (text, want) in [
            ("2.7715077941825975e-163", 2.7715077941825975e-163_f64),
            ("2.2790121708605243e+274", 2.2790121708605243e274),
            ("4.026380313612261e+293", 4.026380313612261e293),
            ("-2.9205048131065683e-196", -2.9205048131065683e-196),
        ] {
            let state: Value = serde_json::from_str(&format!("{{\"x\":{text}}}")).unwrap();
            let got = state["x"].as_f64().unwrap();
            assert_eq!(got.to_bits(), want.to_bits(), "{text} read as {got:e}");
            let again: Value = serde_json::from_str(&state.to_string()).unwrap();
            assert_eq!(again["x"].as_f64().unwrap().to_bits(), want.to_bits(), "{text}");
        }
    }

    #[test]
    fn a_region_set_holds_each_place_once_below_and_beyond_64() {
        let mut set = RegionSet::default();
        assert!(set.is_empty());
        for at in [0, 5, 63, 64, 200, 5, 200] {
            set.insert(at);
        }
        assert!(!set.is_empty());
        for at in [0, 5, 63, 64, 200] {
            assert!(set.contains(at), "{at}");
        }
        for at in [1, 62, 65, 199] {
            assert!(!set.contains(at), "{at}");
        }
        assert_eq!(set.high, [64, 200]);
    }

    /// The pointer lookups read what serde_json's do, escapes and array indexes
    /// included.
    #[test]
    fn pointers_read_as_serde_json_reads_them() {
        let mut state = json!({
            "a": {"b/c": [10, {"d~e": true}], "": {"": 1}},
            "list": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
            "n": null,
        });
        let pointers = [
            "",
            "/",
            "/a",
            "/a/b~1c",
            "/a/b~1c/0",
            "/a/b~1c/1/d~0e",
            "/a/b~1c/2",
            "/a//",
            "/list/11",
            "/list/01",
            "/list/+1",
            "/list/-",
            "/list/ 1",
            "/list/1/x",
            "/n",
            "/n/x",
            "a",
            "/a/b/c",
            "/a/b~1c/1/d~01e",
            "/missing",
        ];
        for p in pointers {
            assert_eq!(json_get(&state, p), state.pointer(p), "{p}");
            let expected = state.clone().pointer_mut(p).map(|v| v.clone());
            assert_eq!(json_get_mut(&mut state, p).map(|v| v.clone()), expected, "{p}");
        }
    }

    #[test]
    fn pointer_set_creates_and_appends() {
        let mut v = json!({"count": 1, "log": []});
        json_set(&mut v, "/count", json!(2)).unwrap();
        json_set(&mut v, "/log/-", json!("a")).unwrap();
        json_set(&mut v, "/log/-", json!("b")).unwrap();
        json_set(&mut v, "/log/0", json!("z")).unwrap();
        json_set(&mut v, "/user/name", json!("ann")).unwrap();
        assert_eq!(v, json!({"count": 2, "log": ["z", "b"], "user": {"name": "ann"}}));
        assert!(json_set(&mut v, "/count/x", json!(1)).is_err());
        assert!(json_set(&mut v, "/log/9", json!(1)).is_err());
        assert!(json_set(&mut v, "count", json!(1)).is_err());
        let msg =
            |p: &str| json_set(&mut json!({"count": 1, "log": []}), p, json!(1)).unwrap_err().to_string();
        assert_eq!(msg("count"), r#"bad state pointer "count": a pointer starts with "/" (write "/count")"#);
        assert_eq!(
            msg("/count/x"),
            r#"bad state pointer "/count/x": "/count" is a number, not an object or array"#
        );
        assert!(msg("/log/3").contains("past the end of \"/log\", which has 0 items"), "{}", msg("/log/3"));
        assert!(msg("/a~2b").contains("must be followed by 0 or 1"), "{}", msg("/a~2b"));
    }

    #[test]
    fn redirect_targets() {
        let hosts = vec!["pay.example".to_string(), "[::1]".to_string(), "api.example:8443".to_string()];
        for ok in [
            "/",
            "/next?a=b",
            "https://pay.example",
            "HTTP://Pay.Example:80/x",
            "http://[::1]:3000/",
            "https://api.example:8443/v1",
        ] {
            assert_eq!(check_target(ok, &hosts), Ok(()), "{ok}");
        }
        for bad in [
            "//pay.example",
            "/\\x",
            "/\n/x",
            "https://api.example:9000/",
            "https://pay.example.evil/",
            "https://evil.example\\@pay.example",
            "https://x@pay.example",
            "javascript:1",
            "mailto:a@b",
            "x/y",
            "https://",
            "https://:80/",
        ] {
            assert!(check_target(bad, &hosts).is_err(), "{bad}");
        }
    }

    #[test]
    fn event_get_prefers_values() {
        let e: Event = serde_json::from_value(json!({
            "type": "click", "name": "inc",
            "values": {"by": "2"}, "form": {"by": ["9"], "title": ["x"]}
        }))
        .unwrap();
        assert_eq!(e.int("by", 1), 2);
        assert_eq!(e.get("title").as_deref(), Some("x"));
        assert_eq!(e.int("nope", 7), 7);
    }
}
