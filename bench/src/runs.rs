//! The three measurements, each written once and run against both targets.

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::time::sleep_until;

use crate::client::{ClickError, Client, Target};
use crate::procs::{self, Server};
use crate::stats::{Percentiles, Samples};

/// Clients opened at once: enough to keep both cores busy, few enough not to overrun
/// accept backlogs or the 15 s open timeout.
const OPEN_CONCURRENCY: usize = 200;

/// The RTT run stops at twice its paced duration plus this, whatever happens.
const RTT_SLACK: Duration = Duration::from_secs(10);

/// Sessions opened (and kept) before the idle RSS baseline is read, so allocator
/// arenas, thread caches and template caches are already warm.
pub const IDLE_WARMUP: usize = 200;

/// Time for the server to finish whatever the last joins started before RSS is read.
const SETTLE: Duration = Duration::from_secs(1);

/// Failures seen by the bench client.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub open_failed: u64,
    pub rate_limited: u64,
    pub rejected: u64,
    pub missing_patch: u64,
    pub socket: u64,
    pub timeouts: u64,
    /// The first failure's message, to show what went wrong.
    pub first: Option<String>,
}

impl Tally {
    fn open_failed(&mut self, why: String) {
        self.open_failed += 1;
        self.first.get_or_insert(format!("open: {why}"));
    }

    pub fn record(&mut self, e: &ClickError) {
        match e {
            ClickError::RateLimited => self.rate_limited += 1,
            ClickError::Rejected(_) => self.rejected += 1,
            ClickError::MissingPatch => self.missing_patch += 1,
            ClickError::Socket(_) => self.socket += 1,
            ClickError::Timeout => self.timeouts += 1,
        }
        self.first.get_or_insert_with(|| e.to_string());
    }

    pub fn add(&mut self, other: &Tally) {
        self.open_failed += other.open_failed;
        self.rate_limited += other.rate_limited;
        self.rejected += other.rejected;
        self.missing_patch += other.missing_patch;
        self.socket += other.socket;
        self.timeouts += other.timeouts;
        if self.first.is_none() {
            self.first.clone_from(&other.first);
        }
    }

    pub fn total(&self) -> u64 {
        self.open_failed
            + self.rate_limited
            + self.rejected
            + self.missing_patch
            + self.socket
            + self.timeouts
    }
}

/// Round-trip times of one run: to the patch (or echo) and to the reply.
#[derive(Debug, Default)]
pub struct Latency {
    pub first: Percentiles,
    pub done: Percentiles,
}

#[derive(Debug, Default)]
struct Recorded {
    first: Samples,
    done: Samples,
    tally: Tally,
}

impl Recorded {
    fn merge(&mut self, other: Recorded) {
        self.first.extend(other.first);
        self.done.extend(other.done);
        self.tally.add(&other.tally);
    }

    fn latency(self) -> (Latency, Tally, usize) {
        let count = self.done.len();
        (Latency { first: self.first.percentiles(), done: self.done.percentiles() }, self.tally, count)
    }
}

/// Opens `n` clients, at most `OPEN_CONCURRENCY` at a time, each in its own task so the
/// client work spreads over the runtime's threads. Failures are counted, not fatal.
pub async fn open_many(target: Target, n: usize, tally: &mut Tally) -> Vec<Client> {
    open_each(n, tally, move || target.open()).await
}

/// [`open_many`] with any way of opening a client (another page, another protocol).
pub async fn open_each<T, F, Fut>(n: usize, tally: &mut Tally, open: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, String>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(OPEN_CONCURRENCY));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let permit = permits.clone().acquire_owned().await.expect("the semaphore is never closed");
        let opening = open();
        tasks.push(tokio::spawn(async move {
            let opened = opening.await;
            drop(permit);
            opened
        }));
    }
    let mut clients = Vec::with_capacity(n);
    for task in tasks {
        match task.await {
            Ok(Ok(client)) => clients.push(client),
            Ok(Err(why)) => tally.open_failed(why),
            Err(e) => tally.open_failed(format!("open task failed: {e}")),
        }
    }
    clients
}

/// Test 1: one event in flight at a time, rotated over `sessions` sessions; `warmup`
/// unrecorded events, then `events` recorded ones. Each session waits `period` between
/// its own sends, so with one session the run lasts `(warmup + events) * period`.
pub async fn rtt(
    target: Target,
    sessions: usize,
    warmup: usize,
    events: usize,
    period: Duration,
) -> (Latency, Tally) {
    let mut rec = Recorded::default();
    let mut clients = open_many(target, sessions, &mut rec.tally).await;
    let mut next_at = vec![Instant::now(); clients.len()];
    let rounds = (warmup + events).div_ceil(sessions.max(1)) as u32;
    let deadline = Instant::now() + period * rounds * 2 + RTT_SLACK;
    for k in 0..warmup + events {
        if clients.is_empty() || Instant::now() > deadline {
            break;
        }
        let i = k % clients.len();
        sleep_until(next_at[i].into()).await;
        next_at[i] = Instant::now() + period;
        match clients[i].roundtrip().await {
            Ok(t) if k >= warmup => {
                rec.first.push(t.first);
                rec.done.push(t.done);
            }
            Ok(_) => {}
            Err(e) => {
                rec.tally.record(&e);
                if e.is_fatal() {
                    clients.swap_remove(i);
                    next_at.swap_remove(i);
                }
            }
        }
    }
    let (latency, tally, _) = rec.latency();
    (latency, tally)
}

/// Test 2's result.
#[derive(Debug, Default)]
pub struct Load {
    pub sessions: usize,
    /// Events completed among those sent in the measured window, per second.
    pub per_sec: f64,
    /// What the pacing allows at most, sessions / period; `None` when unpaced.
    pub cap: Option<f64>,
    pub latency: Latency,
    /// CPU time used during the measured window.
    pub cpu: CpuUse,
    pub window: Duration,
    pub completed: usize,
    pub tally: Tally,
}

impl Load {
    /// Server CPU per completed event, in µs: what an event costs the server, whether
    /// or not it was the bottleneck (the client shares the cores).
    pub fn cpu_per_event_us(&self) -> Option<f64> {
        let cpu = self.cpu.server?;
        (self.completed > 0).then(|| cpu.as_secs_f64() * 1e6 / self.completed as f64)
    }

    /// Cores kept busy on average during the window, given a CPU time from `cpu`.
    pub fn cores(&self, used: Option<Duration>) -> Option<f64> {
        Some(used?.as_secs_f64() / self.window.as_secs_f64())
    }
}

/// CPU time used by the server, by the bench process (the clients) and by the whole
/// machine: server + bench close to the machine's total means the rest was quiet;
/// the machine near its core count means the run was CPU-bound.
#[derive(Debug, Default, Clone, Copy)]
pub struct CpuUse {
    pub server: Option<Duration>,
    pub client: Option<Duration>,
    pub machine: Option<Duration>,
}

impl CpuUse {
    /// Totals so far; `None` where /proc could not be read (nothing depends on it).
    fn sample(server: &Server) -> CpuUse {
        CpuUse {
            server: server.cpu_time().ok(),
            client: procs::cpu_time(std::process::id()).ok(),
            machine: procs::machine_busy().ok(),
        }
    }

    fn since(self, before: CpuUse) -> CpuUse {
        let used = |after: Option<Duration>, before: Option<Duration>| Some(after?.saturating_sub(before?));
        CpuUse {
            server: used(self.server, before.server),
            client: used(self.client, before.client),
            machine: used(self.machine, before.machine),
        }
    }
}

/// How test 2 runs; see `load`.
#[derive(Debug, Clone, Copy)]
pub struct LoadSpec {
    pub sessions: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub period: Duration,
}

/// Test 2: `sessions` clients, each clicking sequentially no more often than once per
/// `period` (a zero period sends the next event as soon as the reply is in); the first
/// `warmup` is not recorded, then `duration` is.
pub async fn load(server: &Server, target: Target, spec: LoadSpec) -> Load {
    load_probed(server, target, spec, || async {}).await.0
}

/// `load`, and `probe` called at the start and at the end of the measured window, right
/// after the server's CPU time is read (the Redis mode reads Redis's counters with it).
pub async fn load_probed<P, F, T>(
    server: &Server,
    target: Target,
    spec: LoadSpec,
    mut probe: P,
) -> (Load, T, T)
where
    P: FnMut() -> F,
    F: std::future::Future<Output = T>,
{
    let LoadSpec { sessions, warmup, duration, period } = spec;
    let mut rec = Recorded::default();
    let clients = open_many(target, sessions, &mut rec.tally).await;
    let opened = clients.len();
    let start = Instant::now() + Duration::from_millis(50);
    let window = (start + warmup, start + warmup + duration);
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            // Spread the first clicks over one period so the sessions are not in lockstep.
            let first_at = start + period.mul_f64(i as f64 / opened.max(1) as f64);
            tokio::spawn(drive(client, first_at, period, window))
        })
        .collect();
    sleep_until(window.0.into()).await;
    let cpu_before = CpuUse::sample(server);
    let probed_before = probe().await;
    sleep_until(window.1.into()).await;
    let cpu = CpuUse::sample(server).since(cpu_before);
    let probed_after = probe().await;
    for task in tasks {
        match task.await {
            Ok(r) => rec.merge(r),
            Err(e) => rec.tally.record(&ClickError::Socket(format!("session task failed: {e}"))),
        }
    }
    let (latency, tally, count) = rec.latency();
    let load = Load {
        sessions: opened,
        per_sec: count as f64 / duration.as_secs_f64(),
        cap: (!period.is_zero()).then(|| opened as f64 / period.as_secs_f64()),
        latency,
        cpu,
        window: duration,
        completed: count,
        tally,
    };
    (load, probed_before, probed_after)
}

/// One session of test 2. Stops sending at the end of the window; the last round trip
/// is bounded by the client's timeout.
async fn drive(
    mut client: Client,
    first_at: Instant,
    period: Duration,
    window: (Instant, Instant),
) -> Recorded {
    let mut rec = Recorded::default();
    let mut next = first_at;
    loop {
        sleep_until(next.into()).await;
        let sent = Instant::now();
        if sent >= window.1 {
            break;
        }
        match client.roundtrip().await {
            Ok(t) if sent >= window.0 => {
                rec.first.push(t.first);
                rec.done.push(t.done);
            }
            Ok(_) => {}
            Err(e) => {
                rec.tally.record(&e);
                if e.is_fatal() {
                    break;
                }
            }
        }
        // One period after the previous slot, but a session that fell behind sends at
        // once instead of catching up in a burst: its rate never exceeds 1/period.
        next = (next + period).max(Instant::now());
    }
    rec
}

/// Test 3's result.
#[derive(Debug, Default)]
pub struct Idle {
    pub opened: usize,
    pub before_kb: u64,
    pub after_kb: u64,
    pub tally: Tally,
}

impl Idle {
    pub fn per_session_kb(&self) -> f64 {
        self.after_kb.saturating_sub(self.before_kb) as f64 / self.opened.max(1) as f64
    }
}

/// Test 3: the server's RSS before and after `n` more idle clients.
pub async fn idle_rss(server: &Server, target: Target, n: usize) -> Result<Idle, String> {
    let mut tally = Tally::default();
    let warm = open_many(target, IDLE_WARMUP, &mut tally).await;
    tokio::time::sleep(SETTLE).await;
    let before_kb = server.rss_kb()?;
    let idle = open_many(target, n, &mut tally).await;
    tokio::time::sleep(SETTLE).await;
    let after_kb = server.rss_kb()?;
    let opened = idle.len();
    drop(idle);
    drop(warm);
    Ok(Idle { opened, before_kb, after_kb, tally })
}
