//! mizulive: a LiveView-style runtime with a C ABI.
//!
//! A host program registers pages, keeps page state as JSON and answers callbacks;
//! this crate serves the pages, keeps sessions, renders templates, pushes patches and
//! does the security work. The architecture reads from the module names:
//!
//! - [`app`]: options, page registration, start and shutdown
//! - `server`: HTTP routes, the client runtime, the WebSocket
//! - `session`: one actor per session, sequential callbacks, patches, resume
//! - `views`: minijinja templates and the `lv.*` helpers
//! - [`protocol`]: the wire frames (docs/protocol.md)
//! - [`pubsub`]: topics, brokers
//! - `host`: the host-thread pool callbacks run on
//! - `ffi`: the C ABI (the only `extern "C"` code)

pub mod app;
pub mod error;
mod metrics;
mod ffi;
mod host;
pub mod options;
pub mod page;
pub mod protocol;
pub mod pubsub;
mod server;
mod session;
pub mod token;
mod views;

pub use app::{App, Auth, AuthDecision, RequestInfo};
pub use error::{Error, Result};
pub use options::Options;
pub use page::{Ctx, Event, HostError, Info, KeyMeta, Page, PageSpec, LAGGED_TOPIC};

/// Installs a stderr log subscriber once (filter from `MIZULIVE_LOG`, default
/// `info`), unless the process already has one.
pub fn init_logging() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let filter = tracing_subscriber::EnvFilter::try_from_env("MIZULIVE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        use std::io::IsTerminal;
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .try_init();
    });
}
