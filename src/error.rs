//! The crate's error type. Every variant carries enough context to act on; the FFI
//! layer maps each to a stable status code (see `ffi::status`).

use std::io;

/// Anything that can go wrong in mizulive.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The options JSON or a value in it is unusable.
    #[error("invalid options: {0}")]
    Config(String),
    /// A page route, template name or region map is unusable.
    #[error("invalid page: {0}")]
    Page(String),
    /// JSON from a host (state, payload, options) did not parse.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// A JSON pointer into the state is malformed (`count` without its leading
    /// `/`) or leads through a value that is not an object or array. The JSON itself
    /// is fine: the message names the pointer and how to write it.
    #[error("bad state pointer {0}")]
    Pointer(String),
    /// A template failed to load or render.
    #[error("template error: {0}")]
    Template(String),
    /// Binding, accepting or serving failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A page's mount failed and asked for this HTTP status (a `/boards/{name}` whose
    /// board does not exist: 404). The page GET answers with it instead of a 500.
    #[error("callback failed: mount: {message} (answered {status})")]
    Answered { status: u16, message: String },
    /// A host callback reported failure or did not complete.
    #[error("callback failed: {0}")]
    Callback(String),
    /// The call does not fit the app's or session's current state.
    #[error("{0}")]
    State(String),
    /// The named thing (region, timer, session) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A bounded wait ended first (shutdown with callbacks still running).
    #[error("timed out: {0}")]
    Timeout(String),
    /// A request the host's server handed in is malformed (a bad method, path or
    /// header line).
    #[error("invalid request: {0}")]
    Request(String),
    /// A limit (such as `max_sessions`) is reached; retrying later may succeed.
    #[error("server busy: {0}")]
    Busy(String),
    /// Redis refused a command, or did not answer in time (unreachable, restarting).
    #[error("redis: {0}")]
    Redis(String),
}

impl Error {
    pub(crate) fn json(err: serde_json::Error) -> Self {
        Error::Json(err.to_string())
    }
}

impl From<minijinja::Error> for Error {
    fn from(err: minijinja::Error) -> Self {
        // The template, its line and that line of it, as every template error reads.
        Error::Template(crate::views::errors::describe(&err, None, None))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
