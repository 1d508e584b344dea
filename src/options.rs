//! App options, parsed from the JSON the host passes to `lv_app_new`.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};

/// Everything configurable about an app. Every field has a documented default, so
/// `{}` is a valid options document.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Folder holding `layouts/`, `pages/` and `partials/`. Default `views`.
    pub views: PathBuf,
    /// Dev mode: detailed errors reach the browser, templates reload on change.
    pub dev: bool,
    /// Secret that signs tokens. At least 32 bytes. Without one a random per-process
    /// secret is used (tokens then do not survive a restart) and a warning is logged.
    pub secret: Option<String>,
    /// Threads that run host callbacks. Default 4.
    pub host_threads: usize,
    /// Tokio worker threads for sockets and timers. Default 2.
    pub io_threads: usize,
    /// How long a session without a socket waits for its browser. Default 60 000 ms.
    pub grace_ms: u64,
    /// How long a session token stays valid. Default 12 h.
    pub token_ttl_s: u64,
    /// Largest WebSocket frame accepted; larger closes with 1009. Default 64 KiB.
    pub max_frame_bytes: usize,
    /// Largest no-JS form POST body. Default 1 MiB.
    pub max_form_bytes: usize,
    /// Sustained client events per second per session. Default 50.
    pub events_per_second: u32,
    /// Burst of client events allowed above the sustained rate. Default 100.
    pub event_burst: u32,
    /// Frames queued for one socket before the client counts as not reading and is
    /// disconnected. Default 256.
    pub outbound_queue: usize,
    /// Messages (events, infos, timers) queued for one session. A publish that finds
    /// the mailbox full is not queued; the session's next `on_info` reports how many
    /// it missed (topic `mizulive:lagged`). Default 1024.
    pub mailbox: usize,
    /// Patches kept per session for a reconnecting client. Default 64.
    pub resume_buffer: usize,
    /// Sessions alive at once (mounted, with or without a socket). A page request
    /// beyond it gets `503 Service Unavailable` with `Retry-After`, a fresh mount over
    /// the WebSocket an `overloaded` error and close code 1013. Default 100 000.
    pub max_sessions: usize,
    /// Extra origins allowed to open the WebSocket besides the page's own,
    /// e.g. `["https://app.example.com"]`.
    pub allowed_origins: Vec<String>,
    /// Layout used when a page names none. Default `default`.
    pub layout: String,
    /// Serve counters at `/_live/metrics` (Prometheus text). Default false: they
    /// describe the server, so expose them only where the network is trusted.
    pub metrics: bool,
    /// DOM id of the live root; marking it re-renders the page body. Default `lv-root`.
    pub root_id: String,
    /// How long shutdown waits for sessions and the callbacks in flight. Past it,
    /// shutdown returns anyway (`LV_ERR_TIMEOUT`, with a log line naming how many
    /// host threads still run callbacks) and leaves them to finish on their own.
    /// Default 20 000 ms.
    pub shutdown_timeout_ms: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            views: PathBuf::from("views"),
            dev: false,
            secret: None,
            host_threads: 4,
            io_threads: 2,
            grace_ms: 60_000,
            token_ttl_s: 12 * 3600,
            max_frame_bytes: 64 * 1024,
            max_form_bytes: 1024 * 1024,
            events_per_second: 50,
            event_burst: 100,
            outbound_queue: 256,
            mailbox: 1024,
            resume_buffer: 64,
            max_sessions: 100_000,
            allowed_origins: Vec::new(),
            layout: "default".into(),
            root_id: "lv-root".into(),
            metrics: false,
            shutdown_timeout_ms: 20_000,
        }
    }
}

impl Options {
    /// Parses and validates an options document.
    pub fn from_json(json: &str) -> Result<Self> {
        let json = if json.trim().is_empty() { "{}" } else { json };
        let opts: Options = serde_json::from_str(json).map_err(|e| Error::Config(e.to_string()))?;
        opts.validate()?;
        Ok(opts)
    }

    pub fn validate(&self) -> Result<()> {
        let positive = [
            ("host_threads", self.host_threads),
            ("io_threads", self.io_threads),
            ("max_frame_bytes", self.max_frame_bytes),
            ("outbound_queue", self.outbound_queue),
            ("mailbox", self.mailbox),
            ("max_sessions", self.max_sessions),
            ("events_per_second", self.events_per_second as usize),
            ("event_burst", self.event_burst as usize),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        if let Some(secret) = &self.secret {
            if secret.len() < 32 {
                return Err(Error::Config("secret must be at least 32 bytes".into()));
            }
        }
        if self.token_ttl_s == 0 {
            return Err(Error::Config("token_ttl_s must be at least 1".into()));
        }
        Ok(())
    }

    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}
