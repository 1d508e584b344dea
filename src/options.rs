//! App options, parsed from the JSON the host passes to `lv_app_new`.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{Error, Result};
pub use crate::views::source::ViewsSource;

/// Everything configurable about an app. Every field has a documented default, so
/// `{}` is a valid options document.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Options {
    /// Where the templates come from: a folder holding `layouts/`, `pages/` and
    /// `partials/` (a JSON string), or the templates themselves (a JSON object of
    /// name, such as `pages/counter/index.html`, to source). Default the folder `views`.
    pub views: ViewsSource,
    /// Dev mode, for a developer's machine: detailed errors reach the browser (the
    /// overlay, also as the HTML of a failing page GET); an undefined template value
    /// is an error naming it and its line (without dev mode it prints as nothing, so a
    /// page that renders in dev mode renders the same without); a views folder is
    /// watched and an edited template re-renders the open pages. Default false.
    pub dev: bool,
    /// Secret that signs tokens. At least 32 bytes. When left out, the environment
    /// variable `MIZULIVE_SECRET` is used (see [`Options::with_env`]); without either a
    /// random per-process secret is used (tokens then do not survive a restart) and a
    /// warning is logged.
    pub secret: Option<String>,
    /// Redis shared by the nodes of a cluster: a `redis://[:password@]host[:port][/db]`
    /// URL. When left out, the environment variable `MIZULIVE_REDIS` is used (see
    /// [`Options::with_env`]). Default none: a single node.
    pub redis: Option<String>,
    /// Threads that run host callbacks. Default 4. Only as many run at once as the
    /// process has cores; one whose callback runs past 2 ms lets another take the
    /// queued work (docs/deployment.md).
    pub host_threads: usize,
    /// Run session callbacks (mount, events, infos, timers) and their renders inline,
    /// on the IO thread that handles the session, instead of handing each one to a
    /// host thread and back: no thread hop per event. Only for hosts whose callbacks
    /// are short and never block (no I/O, no locks held long, no GIL: meant for C):
    /// while one runs, every socket on that IO thread waits. Default false (callbacks
    /// run on the host threads, and a slow one delays its own session only).
    pub inline_callbacks: bool,
    /// Tokio worker threads for sockets and timers. Default 2, or 1 where the process
    /// may use one core only (its CPU affinity and cgroup quota count): two IO threads
    /// on one core only take turns.
    pub io_threads: usize,
    /// How long a session without a socket waits for its browser. Default 60 000 ms.
    pub grace_ms: u64,
    /// How long a session token stays valid. Default 12 h.
    pub token_ttl_s: u64,
    /// Secrets used before `secret` (each at least 32 bytes): tokens they signed still
    /// verify for `previous_secrets_ttl_s` after start, so rotating the secret logs
    /// nobody out. New tokens are always signed with `secret`. Default none.
    pub previous_secrets: Vec<String>,
    /// How long after start `previous_secrets` still verify. Default `token_ttl_s`
    /// (by then every token they signed has expired anyway).
    pub previous_secrets_ttl_s: Option<u64>,
    /// The site is served over HTTPS (a TLS-terminating proxy in front): the browser
    /// cookie is `__Host-lv_bid` with `Secure`, the resume cookie gets `Secure`, and a
    /// same-origin `Origin` must be `https://<Host>`. Default false (plain HTTP:
    /// `lv_bid`, origins `http://<Host>`).
    pub secure_cookies: bool,
    /// Take the scheme from the `X-Forwarded-Proto` header (`https` or `http`), per
    /// request, instead of from `secure_cookies`. Only for a proxy that sets or
    /// overwrites that header: otherwise a client could choose its scheme. Default false.
    pub trust_forwarded_proto: bool,
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
    /// Bytes of patches kept per session for a reconnecting client, on top of the
    /// count limit: a client further behind gets the whole body, as one past the
    /// count limit does. Default 256 KiB.
    pub resume_buffer_bytes: usize,
    /// Largest session state, measured as compact JSON. A callback that leaves a
    /// bigger state fails (its error names the size and the limit) and the state
    /// stays as it was before the callback. Default 1 MiB.
    pub max_state_bytes: usize,
    /// Largest browser session map (compact JSON): a write that would make it bigger
    /// is refused and changes nothing. Default 4096.
    pub max_browser_session_bytes: usize,
    /// How long a browser session map is kept after its browser last used it (a page
    /// load, an event, the auth hook). Default 604 800 (7 days).
    pub browser_session_ttl_s: u64,
    /// Sessions alive at once (mounted, with or without a socket). A page request
    /// beyond it gets `503 Service Unavailable` with `Retry-After`, a fresh mount over
    /// the WebSocket an `overloaded` error and close code 1013. Default 100 000.
    pub max_sessions: usize,
    /// Extra origins allowed to open the WebSocket besides the page's own,
    /// e.g. `["https://app.example.com"]`.
    pub allowed_origins: Vec<String>,
    /// Hosts (`pay.example.com`, or `host:port` to pin the port) that `redirect` and
    /// `navigate` may send the browser to with an absolute `http(s)://` URL. Paths of
    /// this app (`/next`) are always allowed; anything else fails the callback.
    /// Default none.
    pub redirect_hosts: Vec<String>,
    /// Replaces the Content-Security-Policy sent with every page; `""` sends none.
    /// Default (when unset): `default-src 'self'; script-src 'self'; style-src 'self'
    /// 'unsafe-inline'; img-src 'self' data:; object-src 'none'; base-uri 'self';
    /// form-action 'self'; frame-ancestors 'self'`, plus the `redirect_hosts` in
    /// `form-action`.
    pub csp: Option<String>,
    /// Directives merged into the policy, e.g. `"img-src https://cdn.example.com;
    /// connect-src wss://push.example.com"`: each source is added to its directive
    /// (a directive the policy lacks starts from `default-src`'s sources). Default none.
    pub csp_extra: Option<String>,
    /// Layout used when a page names none. Default `default`.
    pub layout: String,
    /// How the library writes its logs to stderr: `"text"` (one readable line each) or
    /// `"json"` (one JSON object per line: `time`, `level`, `target`, `message`, and
    /// `session` and `route` on lines about a session). When left out,
    /// `MIZULIVE_LOG_FORMAT` is used, else text. Logging is process-wide: the last app
    /// created sets it. A host's log callback (`lv_set_log_callback`) gets the records
    /// themselves either way.
    pub log_format: Option<String>,
    /// Serve counters at `/_live/metrics` (Prometheus text). Default false: they
    /// describe the server, so expose them only where the network is trusted.
    pub metrics: bool,
    /// A folder of static files (CSS, images, scripts) served under `static_prefix`,
    /// so an app needs no second server for them. Default none.
    pub static_dir: Option<PathBuf>,
    /// The URL path the `static_dir` files are served under: starts and ends with `/`.
    /// Pages cannot be registered below it. Default `/static/`.
    pub static_prefix: String,
    /// DOM id of the live root; marking it re-renders the page body. Default `lv-root`.
    pub root_id: String,
    /// How long a client may take to send a request head, from its first byte.
    /// Slower, the connection is closed. Default 30 000 ms.
    pub header_timeout_ms: u64,
    /// How long a form POST may take to send its body; slower gets `408`.
    /// Default 30 000 ms.
    pub body_timeout_ms: u64,
    /// How long a keep-alive connection may sit idle between requests before it is
    /// closed. Default 75 000 ms.
    pub keep_alive_timeout_ms: u64,
    /// How long a new WebSocket may take to send its `join`; after it the socket is
    /// closed with 1008. Default 10 000 ms.
    pub join_timeout_ms: u64,
    /// How long a joined WebSocket may stay silent (no frame at all, heartbeats
    /// included) before it is closed with 1001; its session then waits for the
    /// browser to reconnect. The runtime sends a heartbeat every 30 s, so keep it
    /// above twice that. Default 75 000 ms.
    pub socket_idle_timeout_ms: u64,
    /// TCP connections open at once (HTTP and WebSocket alike). One beyond it gets a
    /// `503` with `Retry-After` and is closed at once. Default 25 000.
    pub max_connections: usize,
    /// Frames per second a socket may send that do no work for its page: heartbeats,
    /// pings and refused frames (malformed, binary, out of order). Sustained rate;
    /// beyond it plus the burst the socket is closed with 1008. Default 2.
    pub control_frames_per_second: u32,
    /// Burst of such frames allowed above the sustained rate. Default 20.
    pub control_frame_burst: u32,
    /// Sessions mounted by a page request (a GET, or a form POST that found no
    /// session) whose browser has not joined over the WebSocket yet. Beyond
    /// it the oldest of them ends (its browser, joining later, mounts afresh from its
    /// token); joined sessions never give way to them. Default 10 000.
    pub max_unjoined_sessions: usize,
    /// Jobs for new visitors (auth hook, mounts) waiting for a host thread. Beyond it
    /// a page request gets `503` with `Retry-After`, a join an `overloaded` error.
    /// Callbacks of mounted sessions are not counted (each session waits on at most
    /// one) and run before them. Default 1024.
    pub host_queue: usize,
    /// How long shutdown waits for sessions and the callbacks in flight. Past it,
    /// shutdown returns anyway (`LV_ERR_TIMEOUT`, with a log line naming how many
    /// host threads still run callbacks) and leaves them to finish on their own.
    /// Default 20 000 ms.
    pub shutdown_timeout_ms: u64,
}

/// The default of [`Options::io_threads`].
fn default_io_threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().min(2))
}

impl Default for Options {
    fn default() -> Self {
        Options {
            views: ViewsSource::default(),
            dev: false,
            secret: None,
            redis: None,
            host_threads: 4,
            inline_callbacks: false,
            io_threads: default_io_threads(),
            grace_ms: 60_000,
            token_ttl_s: 12 * 3600,
            previous_secrets: Vec::new(),
            previous_secrets_ttl_s: None,
            secure_cookies: false,
            trust_forwarded_proto: false,
            max_frame_bytes: 64 * 1024,
            max_form_bytes: 1024 * 1024,
            events_per_second: 50,
            event_burst: 100,
            outbound_queue: 256,
            mailbox: 1024,
            resume_buffer: 64,
            resume_buffer_bytes: 256 * 1024,
            max_state_bytes: 1024 * 1024,
            max_browser_session_bytes: 4096,
            browser_session_ttl_s: 7 * 24 * 3600,
            max_sessions: 100_000,
            allowed_origins: Vec::new(),
            redirect_hosts: Vec::new(),
            csp: None,
            csp_extra: None,
            layout: "default".into(),
            root_id: "lv-root".into(),
            metrics: false,
            log_format: None,
            static_dir: None,
            static_prefix: "/static/".into(),
            header_timeout_ms: 30_000,
            body_timeout_ms: 30_000,
            keep_alive_timeout_ms: 75_000,
            join_timeout_ms: 10_000,
            socket_idle_timeout_ms: 75_000,
            max_connections: 25_000,
            control_frames_per_second: 2,
            control_frame_burst: 20,
            max_unjoined_sessions: 10_000,
            host_queue: 1024,
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
            ("max_state_bytes", self.max_state_bytes),
            ("max_browser_session_bytes", self.max_browser_session_bytes),
            ("browser_session_ttl_s", self.browser_session_ttl_s as usize),
            ("events_per_second", self.events_per_second as usize),
            ("event_burst", self.event_burst as usize),
            ("max_connections", self.max_connections),
            ("control_frames_per_second", self.control_frames_per_second as usize),
            ("control_frame_burst", self.control_frame_burst as usize),
            ("max_unjoined_sessions", self.max_unjoined_sessions),
            ("host_queue", self.host_queue),
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
        let prefix = &self.static_prefix;
        if !prefix.starts_with('/')
            || !prefix.ends_with('/')
            || prefix == "/"
            || prefix.starts_with("/_live/")
        {
            return Err(Error::Config(format!(
                "static_prefix {prefix:?} must start and end with '/', name a folder (\"/static/\") and not be under /_live/"
            )));
        }
        if let Some(format) = &self.log_format {
            check_log_format(format).map_err(|why| Error::Config(format!("log_format: {why}")))?;
        }
        if let Some(url) = &self.redis {
            check_redis_url(url).map_err(|why| Error::Config(format!("redis: {why}")))?;
        }
        if self.previous_secrets.iter().any(|s| s.len() < 32) {
            return Err(Error::Config("every previous_secrets entry must be at least 32 bytes".into()));
        }
        if self.token_ttl_s == 0 {
            return Err(Error::Config("token_ttl_s must be at least 1".into()));
        }
        let timeouts = [
            ("header_timeout_ms", self.header_timeout_ms),
            ("body_timeout_ms", self.body_timeout_ms),
            ("keep_alive_timeout_ms", self.keep_alive_timeout_ms),
            ("join_timeout_ms", self.join_timeout_ms),
            ("socket_idle_timeout_ms", self.socket_idle_timeout_ms),
        ];
        for (name, value) in timeouts {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        // tokio's semaphore (the connection cap) holds at most this many permits.
        if self.max_connections > tokio::sync::Semaphore::MAX_PERMITS {
            return Err(Error::Config(format!(
                "max_connections must be at most {}",
                tokio::sync::Semaphore::MAX_PERMITS
            )));
        }
        for host in &self.redirect_hosts {
            let ok =
                !host.is_empty() && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
            if !ok {
                return Err(Error::Config(format!(
                    "redirect_hosts: {host:?} is not a host name (write `pay.example.com` or `pay.example.com:8443`, \
                     without scheme or path)"
                )));
            }
        }
        for (name, policy) in [("csp", &self.csp), ("csp_extra", &self.csp_extra)] {
            // Sent as a header value: visible ASCII and spaces only, so no header splitting.
            if policy.as_deref().is_some_and(|p| !p.bytes().all(|b| b == b' ' || b.is_ascii_graphic())) {
                return Err(Error::Config(format!("{name} may hold only printable ASCII")));
            }
        }
        Ok(())
    }

    /// Fills `secret`, `redis` and `log_format` from `MIZULIVE_SECRET`, `MIZULIVE_REDIS`
    /// and `MIZULIVE_LOG_FORMAT` when
    /// the options leave them out, so one program runs as one node or as several by
    /// its environment alone. Options win over the environment; an empty variable
    /// counts as unset. A bad value is an error naming the variable.
    pub fn with_env(mut self) -> Result<Self> {
        if self.secret.is_none() {
            if let Some(secret) = env_var("MIZULIVE_SECRET")? {
                if secret.len() < 32 {
                    return Err(Error::Config("MIZULIVE_SECRET must be at least 32 bytes".into()));
                }
                self.secret = Some(secret);
            }
        }
        if self.log_format.is_none() {
            if let Some(format) = env_var("MIZULIVE_LOG_FORMAT")? {
                check_log_format(&format)
                    .map_err(|why| Error::Config(format!("MIZULIVE_LOG_FORMAT: {why}")))?;
                self.log_format = Some(format);
            }
        }
        if self.redis.is_none() {
            if let Some(url) = env_var("MIZULIVE_REDIS")? {
                check_redis_url(&url).map_err(|why| Error::Config(format!("MIZULIVE_REDIS: {why}")))?;
                self.redis = Some(url);
            }
        }
        Ok(self)
    }

    pub fn grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms)
    }

    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// The Content-Security-Policy pages are sent with (`None`: no header), from
    /// `csp`, `csp_extra` and `redirect_hosts`.
    ///
    /// The default lets the client runtime work (it is one same-origin script; the
    /// boot data is a JSON block, which CSP does not treat as script) and layouts keep
    /// their `<style>` blocks and `style` attributes. Scripts of any other origin,
    /// inline scripts and event-handler attributes are refused, and only this
    /// origin may frame the page.
    pub fn content_security_policy(&self) -> Option<String> {
        let mut directives: Vec<(String, Vec<String>)> = match &self.csp {
            Some(policy) => parse_policy(policy),
            None => {
                let mut d = parse_policy(DEFAULT_CSP);
                if let Some((_, sources)) = d.iter_mut().find(|(name, _)| name == "form-action") {
                    // A no-JS POST whose callback redirects is a form submission
                    // that ends on that host.
                    sources.extend(self.redirect_hosts.iter().cloned());
                }
                d
            }
        };
        for (name, extra) in self.csp_extra.as_deref().map(parse_policy).unwrap_or_default() {
            match directives.iter_mut().find(|(n, _)| *n == name) {
                Some((_, sources)) => {
                    // `'none'` means nothing is allowed; once something is, it goes.
                    sources.retain(|s| s != "'none'");
                    sources.extend(extra.into_iter().filter(|s| !sources.contains(s)).collect::<Vec<_>>());
                }
                None => {
                    // A fetch directive the policy lacks falls back to default-src in
                    // the browser; start from it, so extending one keeps 'self'.
                    let mut sources = match directives.iter().find(|(n, _)| n == "default-src") {
                        Some((_, base)) if name.ends_with("-src") => {
                            base.iter().filter(|s| *s != "'none'").cloned().collect()
                        }
                        _ => Vec::new(),
                    };
                    sources.extend(extra.into_iter().filter(|s| !sources.contains(s)).collect::<Vec<_>>());
                    directives.push((name, sources));
                }
            }
        }
        if directives.is_empty() {
            return None;
        }
        let parts: Vec<String> = directives
            .into_iter()
            .map(
                |(name, sources)| {
                    if sources.is_empty() {
                        name
                    } else {
                        format!("{name} {}", sources.join(" "))
                    }
                },
            )
            .collect();
        Some(parts.join("; "))
    }
}

/// Why `format` is not a log format this library writes.
fn check_log_format(format: &str) -> Result<(), String> {
    match format {
        "text" | "json" => Ok(()),
        other => Err(format!("{other:?} is not a log format: write \"text\" or \"json\"")),
    }
}

/// Whether the options (or `MIZULIVE_LOG_FORMAT`, applied by [`Options::with_env`])
/// ask for JSON log lines.
impl Options {
    pub(crate) fn json_logs(&self) -> bool {
        self.log_format.as_deref() == Some("json")
    }
}

/// A non-empty environment variable, or `None`; one that is not UTF-8 is an error.
fn env_var(name: &str) -> Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if value.is_empty() => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(Error::Config(format!("{name} is not valid UTF-8"))),
    }
}

/// Why `url` cannot name a Redis server. Only the scheme and a host are checked here;
/// the client checks the rest when the link starts. The URL is never echoed back: it
/// may hold a password.
fn check_redis_url(url: &str) -> std::result::Result<(), String> {
    let Some(rest) = url.strip_prefix("redis://") else {
        if url.starts_with("rediss://") {
            return Err(
                "rediss:// (TLS) is not built in; use redis:// on a trusted network or a TLS tunnel".into()
            );
        }
        return Err("must be a redis:// URL, such as redis://127.0.0.1:6379".into());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err("the URL names no host".into());
    }
    Ok(())
}

/// See [`Options::content_security_policy`].
const DEFAULT_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'";

/// Splits a policy into (lowercased directive name, sources). A repeated directive
/// is dropped, as browsers ignore all but the first.
fn parse_policy(policy: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for directive in policy.split(';') {
        let mut words = directive.split_ascii_whitespace();
        let Some(name) = words.next() else { continue };
        let name = name.to_ascii_lowercase();
        if out.iter().all(|(n, _)| *n != name) {
            out.push((name, words.map(str::to_string).collect()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Options;

    /// One IO thread where the process may use one core: a second would only take
    /// turns with the first.
    #[cfg(target_os = "linux")]
    #[test]
    fn one_core_gets_one_io_thread() {
        let io_threads = std::thread::spawn(|| {
            // SAFETY: the set is zeroed, then filled and passed by pointer with its
            // size; both calls act on this new thread only (pid 0).
            unsafe {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                assert_eq!(libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set), 0);
                let first = (0..libc::CPU_SETSIZE as usize).find(|&c| libc::CPU_ISSET(c, &set)).unwrap();
                let mut one: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(first, &mut one);
                assert_eq!(libc::sched_setaffinity(0, std::mem::size_of_val(&one), &one), 0);
            }
            Options::default().io_threads
        })
        .join()
        .unwrap();
        assert_eq!(io_threads, 1);
        let cores = std::thread::available_parallelism().unwrap().get();
        assert_eq!(Options::default().io_threads, cores.min(2));
    }
}
