//! mizulive: a LiveView-style runtime with a C ABI.
//!
//! A host program registers pages, keeps page state as JSON and answers callbacks;
//! this crate serves the pages, keeps sessions, renders templates, pushes patches and
//! does the security work. The architecture reads from the module names:
//!
//! - [`protocol`]: the wire frames (docs/protocol.md); depends on nothing else
//! - [`pubsub`]: topics, subscribers, brokers
//! - [`page`]: what a host implements and what a callback sees; a callback asks the
//!   session for anything beyond its own data through one narrow trait
//! - `views`: minijinja templates and the `lv.*` helpers
//! - `session`: one actor per session, sequential callbacks, patches, resume; it sees
//!   the node through `session::Core`, never the server
//! - `cluster`: what several nodes share through Redis: pub/sub, session snapshots
//! - `server`: HTTP routes, the client runtime, the WebSocket; `server::embed` the
//!   same for a host's own web server
//! - `host`: the host-thread pool callbacks run on
//! - [`app`]: wiring: options, page registration, start and shutdown
//! - [`testing`]: a headless test client that drives a page in-process
//! - `ffi`: the C ABI (the only `extern "C"` code)

pub mod app;
pub mod browser;
mod cluster;
pub mod error;
mod ffi;
#[doc(hidden)]
pub mod fuzzing;
mod host;
mod logging;
mod metrics;
pub mod options;
pub mod page;
pub mod protocol;
pub mod pubsub;
pub mod scaffold;
mod server;
mod session;
mod state_diff;
pub mod testing;
pub mod token;
mod views;

pub use app::{App, Auth, AuthDecision, RequestInfo};
pub use error::{Error, Result};
pub use options::{Options, ViewsSource};
pub use page::{Ctx, Event, HostError, Info, KeyMeta, Page, PageSpec, LAGGED_TOPIC};

pub use logging::init as init_logging;

/// Serving pages from the host's own web server: see [`App::handle_request`],
/// [`App::adopt_websocket`] and [`App::open_websocket`].
pub mod embed {
    pub use crate::server::embed::{request, HostFrame, HostSocket};
}
