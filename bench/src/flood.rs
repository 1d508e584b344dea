//! The flood scenario (issue 9): keep-alive connections GET the C counter's page as
//! fast as they can for a while. Before and after, it checks what a flood must not
//! break: memory stays bounded, a new visitor is served (200, then live), and
//! sessions joined before the flood still answer their events.
//!
//!   cargo run --release -p mizulive-bench -- --flood [--flood-secs S] [--flood-conns N]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::client::{Client, Target};
use crate::procs::Server;

/// The acceptance figure for memory growth over the flood.
const MAX_GROWTH_MB: f64 = 128.0;
/// Sessions joined before the flood, each sent one event after it.
const LIVE_SESSIONS: usize = 10;
/// One flood request may take this long before its connection is counted as stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

pub struct FloodSpec {
    pub secs: u64,
    pub conns: usize,
}

/// Responses the flood got, by kind.
#[derive(Default)]
struct Counts {
    ok: AtomicU64,
    busy: AtomicU64,
    other: AtomicU64,
    errors: AtomicU64,
}

/// Runs the scenario against a fresh C counter; true when it meets the acceptance
/// figures.
pub async fn run(root: &Path, spec: FloodSpec) -> Result<bool, String> {
    crate::procs::build_counter(root)?;
    let server = Server::counter(root)?;
    let addr = server.addr;
    println!("flood: {} keep-alive connections GET /counter for {} s", spec.conns, spec.secs);

    let mut live = Vec::with_capacity(LIVE_SESSIONS);
    for _ in 0..LIVE_SESSIONS {
        live.push(Target::Live(addr).open().await.map_err(|e| format!("a pre-flood session: {e}"))?);
    }
    let rss_before = server.rss_kb()?;

    let counts = Arc::new(Counts::default());
    let deadline = Instant::now() + Duration::from_secs(spec.secs);
    let flooders: Vec<_> =
        (0..spec.conns).map(|_| tokio::spawn(flood_one(addr, deadline, counts.clone()))).collect();
    let mut rss_peak = rss_before;
    while Instant::now() < deadline {
        rss_peak = rss_peak.max(server.rss_kb()?);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for f in flooders {
        let _ = f.await;
    }
    let rss_after = server.rss_kb()?;
    rss_peak = rss_peak.max(rss_after);

    // Right after the flood: a new visitor, then the sessions joined before it.
    let visitor = match Target::Live(addr).open().await {
        Ok(mut client) => click(&mut client).await.map(|()| "served: 200, joined, event patched".to_string()),
        Err(e) => Err(e),
    };
    let mut live_ok = 0;
    let mut live_errors = Vec::new();
    for client in &mut live {
        match click(client).await {
            Ok(()) => live_ok += 1,
            Err(e) => live_errors.push(e),
        }
    }
    let stopped = server.stop();

    let mb = |kb: u64| kb as f64 / 1024.0;
    let growth = mb(rss_peak.saturating_sub(rss_before));
    let secs = spec.secs as f64;
    let (ok, busy) = (counts.ok.load(Ordering::Relaxed), counts.busy.load(Ordering::Relaxed));
    println!(
        "  page GETs     {} ({:.0}/s): {ok} × 200, {busy} × 503, {} other statuses, {} connection errors",
        ok + busy + counts.other.load(Ordering::Relaxed),
        (ok + busy) as f64 / secs,
        counts.other.load(Ordering::Relaxed),
        counts.errors.load(Ordering::Relaxed),
    );
    println!(
        "  server RSS    {:.1} MB before, {:.1} MB peak, {:.1} MB after: grew {growth:.1} MB (limit {MAX_GROWTH_MB} MB)",
        mb(rss_before),
        mb(rss_peak),
        mb(rss_after)
    );
    match &visitor {
        Ok(what) => println!("  new visitor   {what}"),
        Err(e) => println!("  new visitor   NOT served: {e}"),
    }
    println!("  pre-flood     {live_ok} of {LIVE_SESSIONS} joined sessions answered an event");
    for e in &live_errors {
        println!("    {e}");
    }
    if let Err(e) = &stopped {
        println!("  stopping the counter: {e}");
    }
    let pass = growth <= MAX_GROWTH_MB && visitor.is_ok() && live_ok == LIVE_SESSIONS && ok > 0;
    println!("{}", if pass { "PASS" } else { "FAIL" });
    Ok(pass)
}

/// One event on a live session, answered by its patch and ok reply.
async fn click(client: &mut Client) -> Result<(), String> {
    client.roundtrip().await.map(|_| ()).map_err(|e| format!("event: {e}"))
}

/// One flooding connection: GETs back to back until `deadline`, reconnecting when
/// the server closes the connection.
async fn flood_one(addr: SocketAddr, deadline: Instant, counts: Arc<Counts>) {
    let request = format!("GET /counter HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let mut conn: Option<(TcpStream, Vec<u8>)> = None;
    while Instant::now() < deadline {
        let (stream, buf) = match &mut conn {
            Some(c) => c,
            None => match TcpStream::connect(addr).await {
                Ok(s) => conn.insert((s, Vec::with_capacity(16 * 1024))),
                Err(_) => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let exchange = async {
            stream.write_all(request.as_bytes()).await?;
            read_status(stream, buf).await
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(Ok(200)) => counts.ok.fetch_add(1, Ordering::Relaxed),
            Ok(Ok(503)) => counts.busy.fetch_add(1, Ordering::Relaxed),
            Ok(Ok(_)) => counts.other.fetch_add(1, Ordering::Relaxed),
            Ok(Err(_)) | Err(_) => {
                conn = None;
                counts.errors.fetch_add(1, Ordering::Relaxed)
            }
        };
    }
}

/// Reads one response (Content-Length framed) off a keep-alive connection; returns
/// its status. `buf` keeps bytes read past it.
async fn read_status(stream: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("status line"))?;
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| bad("content-length"))?;
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..head_end + len);
    Ok(status)
}
