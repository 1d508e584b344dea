//! The peer benchmark (`make bench-peers`): the same pages, built in mizulive (C, Python
//! and Go hosts) and in each peer framework, driven by one client over each server's own
//! protocol. The pages and what each event must change are in `bench/peers/PAGES.md`.
//!
//! Every protocol is a [`Conn`]: open a page as a browser would (GET, then the socket
//! and its join), act on it, and wait for pushes. The runner is generic over it, so the
//! measurements are the same code for every server.

pub mod floor;
pub mod instructions;
pub mod live;
pub mod measure;
pub mod report;
pub mod run;

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use crate::client::ClickError;
pub mod dioxus;
pub mod jfyne;
pub mod phoenix;

/// The pages every server serves (paths in `bench/peers/PAGES.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `/counter`: a count, an `inc` button, and a broadcast value shared by all sessions.
    Counter,
    /// `/table`: 100 rows; `bump` changes one cell of one row.
    Table,
    /// `/list`: a list that grows by one item per `add`.
    List,
}

impl Page {
    pub fn path(self) -> &'static str {
        match self {
            Page::Counter => "/counter",
            Page::Table => "/table",
            Page::List => "/list",
        }
    }
}

/// What a session does; each is one user event in the browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Counter page: the `inc` button (the count goes up by one).
    Inc,
    /// Counter page: the `broadcast` button. Every session of the counter page, on this
    /// server, then shows the new broadcast value `bc-<n>`; the acting session too.
    Broadcast,
    /// Table page: the `bump` button of row `row` (0..100): that row's value cell goes
    /// up by one; nothing else on the page changes.
    Bump { row: u32 },
    /// List page: the `add` button appends `item-<n>` (n = items so far + 1).
    Add,
}

/// What one action cost on the wire, as the client saw it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Answer {
    /// From the send to the first frame that answered the event (the patch or diff).
    pub first: Duration,
    /// From the send to the last frame of the answer (the reply, when it is separate).
    pub done: Duration,
    /// WebSocket frames the server sent for this event (pings excluded).
    pub frames: u32,
    /// Payload bytes of those frames (text or binary), without WebSocket framing.
    pub bytes_in: u64,
    /// Payload bytes the client sent for the event.
    pub bytes_out: u64,
}

/// One open page over one server's protocol.
///
/// Implementations live next to this file, one per protocol (`live.rs` for mizulive,
/// `phoenix.rs` for the Phoenix LiveView protocol of liveviewjs and pyview, `jfyne.rs`,
/// `dioxus.rs`). Each must:
/// - check that the answer is the one expected (for example that `Inc` brought the new
///   count), so a server that answers with nothing useful cannot look fast;
/// - bound every wait with a timeout (`ClickError::Timeout`);
/// - count frames and payload bytes exactly as received.
pub trait Conn: Sized + Send + 'static {
    /// Opens `page` on the server at `addr` the way a browser does, and joins it: after
    /// this returns, the page is live and acts are answered.
    fn open(addr: SocketAddr, page: Page) -> impl Future<Output = Result<Self, String>> + Send;

    /// Sends one event and waits until it is fully answered.
    fn act(&mut self, action: Action) -> impl Future<Output = Result<Answer, ClickError>> + Send;

    /// Waits for a pushed update (one the session did not ask for, such as a broadcast)
    /// whose payload contains `needle`, and returns when it arrived. Earlier pushes are
    /// skipped.
    fn await_push(&mut self, needle: &str) -> impl Future<Output = Result<Instant, ClickError>> + Send;
}
