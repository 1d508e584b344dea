//! The measurements of the peer benchmark, written once, generic over the protocol
//! ([`Conn`]): one session's latency, paced load (CPU, context switches, latency and
//! bytes per event), idle memory per session, and the fan-out of one broadcast.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::time::{sleep_until, timeout};

use super::{Action, Answer, ClickError, Conn, Page};
use crate::procs::{self, Server};
use crate::runs::{self, Tally};
use crate::stats::{Percentiles, Samples};

/// A phase that opens many sessions stops opening new ones after this long: a server
/// that cannot take 10,000 sessions gets a failed cell, not a hang.
const OPEN_PHASE: Duration = Duration::from_secs(120);
/// The RSS reading is taken once it stops moving, but after this long at the latest.
const SETTLE_LIMIT: Duration = Duration::from_secs(10);
const SETTLE_STEP: Duration = Duration::from_millis(250);
/// A paced run's sessions stop at the end of their window plus this, whatever happens.
const PACED_SLACK: Duration = Duration::from_secs(15);
/// A fan-out round (every subscriber's wait, each bounded by the protocol's timeout)
/// ends after this long.
const ROUND_LIMIT: Duration = Duration::from_secs(30);

/// A small seeded PRNG (xorshift64*): the table page's rows, reproducible per session.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // xorshift never leaves 0; mix the seed so nearby seeds differ at once.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (((x >> 32) * n as u64) >> 32) as u32
    }
}

/// The action a session of `page` takes next.
fn next_action(page: Page, rng: &mut Rng) -> Action {
    match page {
        Page::Counter => Action::Inc,
        Page::Table => Action::Bump { row: rng.below(100) },
        Page::List => Action::Add,
    }
}

/// Opens `n` sessions of `page`, at most `runs::open_each`'s number at a time; stops
/// opening after `limit`. Failures are counted in `tally`.
pub async fn open_n<C: Conn>(
    addr: SocketAddr,
    page: Page,
    n: usize,
    limit: Duration,
    tally: &mut Tally,
) -> Vec<C> {
    let deadline = Instant::now() + limit;
    runs::open_each(n, tally, move || async move {
        match deadline.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => {
                timeout(left, C::open(addr, page)).await.map_err(|_| format!("not open within {limit:?}"))?
            }
            _ => Err(format!("not opened: the phase ran out of its {limit:?}")),
        }
    })
    .await
}

/// One session, one event in flight: `warmup` unrecorded Incs then `events` recorded
/// ones, at most one per `period`. Returns click→answer (first frame) percentiles.
pub async fn one_session<C: Conn>(
    addr: SocketAddr,
    warmup: usize,
    events: usize,
    period: Duration,
    tally: &mut Tally,
) -> Percentiles {
    let mut samples = Samples::default();
    let mut conns = open_n::<C>(addr, Page::Counter, 1, OPEN_PHASE, tally).await;
    let Some(conn) = conns.first_mut() else { return samples.percentiles() };
    let deadline = Instant::now() + period * (warmup + events) as u32 * 2 + PACED_SLACK;
    let mut next = Instant::now();
    for k in 0..warmup + events {
        if Instant::now() > deadline {
            break;
        }
        sleep_until(next.into()).await;
        next = Instant::now() + period;
        match conn.act(Action::Inc).await {
            Ok(a) if k >= warmup => samples.push(a.first),
            Ok(_) => {}
            Err(e) => {
                tally.record(&e);
                if e.is_fatal() {
                    break;
                }
            }
        }
    }
    samples.percentiles()
}

/// A paced run: `sessions` sessions of `page`, each acting at most once per `period`
/// (sequentially: send, await the answer, wait for the next slot; a session that fell
/// behind sends at once, never in a catch-up burst). Recorded: the acts sent in the
/// window that starts `warmup` after the start and lasts `duration`, or with `acts`,
/// each session's first `acts` acts (then `warmup` should be zero and `duration` is only
/// a bound).
#[derive(Debug, Clone, Copy)]
pub struct Paced {
    pub page: Page,
    pub sessions: usize,
    pub period: Duration,
    pub warmup: Duration,
    pub duration: Duration,
    pub acts: Option<usize>,
    /// The last this many acts of each session are also summed on their own.
    pub tail: usize,
}

/// What a paced run measured.
#[derive(Debug, Default, Clone)]
pub struct PacedResult {
    pub opened: usize,
    pub completed: u64,
    /// How long the recorded window lasted.
    pub window: Duration,
    /// Server CPU time and context switches (all its threads) in the window.
    pub cpu: Option<Duration>,
    pub switches: Option<u64>,
    pub first: Percentiles,
    pub frames: u64,
    pub bytes_in: u64,
    /// Bytes received for the last `tail` acts of each session, and how many acts that was.
    pub tail_bytes: u64,
    pub tail_acts: u64,
    pub tally: Tally,
}

impl PacedResult {
    pub fn per_sec(&self) -> f64 {
        self.completed as f64 / self.window.as_secs_f64().max(1e-9)
    }

    pub fn cpu_us_per_event(&self) -> Option<f64> {
        Some(self.cpu?.as_secs_f64() * 1e6 / self.some_events()?)
    }

    pub fn switches_per_event(&self) -> Option<f64> {
        Some(self.switches? as f64 / self.some_events()?)
    }

    pub fn frames_per_event(&self) -> Option<f64> {
        Some(self.frames as f64 / self.some_events()?)
    }

    pub fn bytes_per_event(&self) -> Option<f64> {
        Some(self.bytes_in as f64 / self.some_events()?)
    }

    pub fn tail_bytes_per_event(&self) -> Option<f64> {
        (self.tail_acts > 0).then(|| self.tail_bytes as f64 / self.tail_acts as f64)
    }

    fn some_events(&self) -> Option<f64> {
        (self.completed > 0).then_some(self.completed as f64)
    }
}

/// What one session of a paced run recorded.
#[derive(Default)]
struct SessionRecord {
    first: Samples,
    completed: u64,
    frames: u64,
    bytes_in: u64,
    /// Bytes of each answered act, in order, for the tail sum.
    per_act: Vec<u64>,
    tally: Tally,
}

/// Server CPU time and context switches so far; `None` where /proc could not be read.
fn server_sample(server: &Server) -> (Option<Duration>, Option<u64>) {
    (server.cpu_time().ok(), context_switches(server.pid()).ok())
}

pub async fn paced<C: Conn>(server: &Server, spec: Paced) -> PacedResult {
    let mut tally = Tally::default();
    let conns = open_n::<C>(server.addr, spec.page, spec.sessions, OPEN_PHASE, &mut tally).await;
    let opened = conns.len();
    let start = Instant::now() + Duration::from_millis(50);
    let window = (start + spec.warmup, start + spec.warmup + spec.duration);
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, conn)| {
            // Spread the first acts over one period so the sessions are not in lockstep.
            let first_at = start + spec.period.mul_f64(i as f64 / opened.max(1) as f64);
            tokio::spawn(drive(conn, spec, Rng::new(i as u64 + 1), first_at, window))
        })
        .collect();
    sleep_until(window.0.into()).await;
    let before = server_sample(server);
    if spec.acts.is_none() {
        sleep_until(window.1.into()).await;
    }
    // Count-limited, the window ends when the last session is done.
    let mut after = server_sample(server);
    let mut ended = window.1;
    let mut records = Vec::with_capacity(tasks.len());
    for task in tasks {
        records.push(task.await);
    }
    if spec.acts.is_some() {
        after = server_sample(server);
        ended = Instant::now();
    }
    let mut first = Samples::default();
    let mut result =
        PacedResult { opened, window: ended.saturating_duration_since(window.0), ..Default::default() };
    for record in records {
        match record {
            Ok(r) => {
                first.extend(r.first);
                result.completed += r.completed;
                result.frames += r.frames;
                result.bytes_in += r.bytes_in;
                let tail = &r.per_act[r.per_act.len().saturating_sub(spec.tail)..];
                if spec.tail > 0 && r.per_act.len() >= spec.tail {
                    result.tail_bytes += tail.iter().sum::<u64>();
                    result.tail_acts += tail.len() as u64;
                }
                tally.add(&r.tally);
            }
            Err(e) => tally.record(&ClickError::Socket(format!("session task failed: {e}"))),
        }
    }
    result.cpu = after.0.zip(before.0).map(|(a, b)| a.saturating_sub(b));
    result.switches = after.1.zip(before.1).map(|(a, b)| a.saturating_sub(b));
    result.first = first.percentiles();
    result.tally = tally;
    result
}

async fn drive<C: Conn>(
    mut conn: C,
    spec: Paced,
    mut rng: Rng,
    first_at: Instant,
    window: (Instant, Instant),
) -> SessionRecord {
    let mut rec = SessionRecord::default();
    let stop = window.1 + if spec.acts.is_some() { PACED_SLACK } else { Duration::ZERO };
    let mut next = first_at;
    for k in 0.. {
        if spec.acts.is_some_and(|n| k >= n) {
            break;
        }
        sleep_until(next.into()).await;
        let sent = Instant::now();
        if sent >= stop || (spec.acts.is_none() && sent >= window.1) {
            break;
        }
        match conn.act(next_action(spec.page, &mut rng)).await {
            Ok(Answer { first, frames, bytes_in, .. }) => {
                if sent >= window.0 {
                    rec.first.push(first);
                    rec.completed += 1;
                    rec.frames += frames as u64;
                    rec.bytes_in += bytes_in;
                }
                rec.per_act.push(bytes_in);
            }
            Err(e) => {
                rec.tally.record(&e);
                if e.is_fatal() {
                    break;
                }
            }
        }
        next = (next + spec.period).max(Instant::now());
    }
    rec
}

/// Idle memory per session, in KB: RSS and Pss growth over `n` idle `/counter` sessions,
/// after `warm` sessions and a settled first reading, divided by `n`.
#[derive(Debug, Clone, Copy)]
pub struct IdleMemory {
    pub rss_kb: f64,
    pub pss_kb: f64,
}

pub async fn idle_memory<C: Conn>(
    server: &Server,
    warm: usize,
    n: usize,
    tally: &mut Tally,
) -> Result<IdleMemory, String> {
    let warm_conns = open_n::<C>(server.addr, Page::Counter, warm, OPEN_PHASE, tally).await;
    settle(server).await?;
    let (rss0, pss0) = (server.rss_kb()?, pss_kb(server.pid())?);
    let idle = open_n::<C>(server.addr, Page::Counter, n, OPEN_PHASE, tally).await;
    if idle.len() < n {
        return Err(format!(
            "opened {} of {n} sessions ({})",
            idle.len(),
            tally.first.as_deref().unwrap_or_default()
        ));
    }
    settle(server).await?;
    let (rss1, pss1) = (server.rss_kb()?, pss_kb(server.pid())?);
    drop((warm_conns, idle));
    let per = |after: u64, before: u64| after.saturating_sub(before) as f64 / n as f64;
    Ok(IdleMemory { rss_kb: per(rss1, rss0), pss_kb: per(pss1, pss0) })
}

/// Waits until the server's RSS stops moving (three readings in a row within 0.2 % or
/// 16 KB of each other), for at most `SETTLE_LIMIT`.
async fn settle(server: &Server) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    let mut last = server.rss_kb()?;
    let mut steady = 0;
    while steady < 3 && Instant::now() < deadline {
        tokio::time::sleep(SETTLE_STEP).await;
        let now = server.rss_kb()?;
        steady = if now.abs_diff(last) <= (last / 500).max(16) { steady + 1 } else { 0 };
        last = now;
    }
    Ok(())
}

/// Fan-out to `k` subscribers: the median and the max, over the rounds, of the time from
/// the broadcast's send to the last subscriber's push; and the median over the rounds of
/// the server's CPU time from that send until the last push arrived, per subscriber
/// (`None` where /proc could not be read).
#[derive(Debug, Clone, Copy)]
pub struct Fanout {
    pub median: Duration,
    pub max: Duration,
    pub cpu_per_subscriber: Option<Duration>,
}

/// Runs the fan-out for each size in `sizes` (growing) on one server: the subscribers of
/// one size stay open for the next. `rounds` measured broadcasts per size after one
/// warm-up. A size the server cannot reach fails, and so do the larger ones.
/// The server's broadcast value must be 0 at the start (a fresh server).
pub async fn fanout<C: Conn>(
    server: &Server,
    sizes: &[usize],
    rounds: usize,
) -> Vec<(usize, Result<Fanout, String>)> {
    let mut results = Vec::new();
    let mut tally = Tally::default();
    let mut actor = open_n::<C>(server.addr, Page::Counter, 1, OPEN_PHASE, &mut tally).await;
    let Some(mut actor) = actor.pop() else {
        let why = tally.first.unwrap_or_default();
        return sizes
            .iter()
            .map(|&k| (k, Err(format!("the broadcasting session did not open: {why}"))))
            .collect();
    };
    let mut subscribers: Vec<C> = Vec::new();
    let mut broadcasts = 0u64;
    for (i, &k) in sizes.iter().enumerate() {
        let result = fanout_size(server, k, rounds, &mut actor, &mut subscribers, &mut broadcasts).await;
        let failed = result.is_err();
        results.push((k, result));
        if failed {
            for &larger in &sizes[i + 1..] {
                results.push((larger, Err(format!("not tried: {k} failed"))));
            }
            break;
        }
    }
    results
}

async fn fanout_size<C: Conn>(
    server: &Server,
    k: usize,
    rounds: usize,
    actor: &mut C,
    subscribers: &mut Vec<C>,
    broadcasts: &mut u64,
) -> Result<Fanout, String> {
    let opening = Instant::now();
    let mut tally = Tally::default();
    let more = k.saturating_sub(subscribers.len());
    subscribers.extend(open_n::<C>(server.addr, Page::Counter, more, OPEN_PHASE, &mut tally).await);
    if subscribers.len() < k {
        return Err(format!(
            "opened {} of {k} sessions in {:.0} s ({})",
            subscribers.len(),
            opening.elapsed().as_secs_f64(),
            tally.first.unwrap_or_default()
        ));
    }
    let mut lasts = Vec::with_capacity(rounds);
    let mut cpus = Vec::with_capacity(rounds);
    for round in 0..=rounds {
        *broadcasts += 1;
        let needle = format!("bc-{broadcasts}");
        let waiting: Vec<_> = subscribers
            .drain(..)
            .map(|mut conn| {
                let needle = needle.clone();
                tokio::spawn(async move {
                    let arrived = conn.await_push(&needle).await;
                    (conn, arrived)
                })
            })
            .collect();
        // Let every waiting task start reading before the broadcast goes out.
        tokio::task::yield_now().await;
        let cpu_before = procs::thread_cpu_time(server.pid()).ok();
        let sent = Instant::now();
        let acted = actor.act(Action::Broadcast).await;
        let mut last = sent;
        let mut missed = 0usize;
        let mut first_error = None;
        let collect = async {
            for task in waiting {
                match task.await {
                    Ok((conn, Ok(at))) => {
                        last = last.max(at);
                        subscribers.push(conn);
                    }
                    Ok((conn, Err(e))) => {
                        missed += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                        if !e.is_fatal() {
                            subscribers.push(conn);
                        }
                    }
                    Err(e) => {
                        missed += 1;
                        first_error.get_or_insert_with(|| format!("task failed: {e}"));
                    }
                }
            }
        };
        if timeout(ROUND_LIMIT, collect).await.is_err() {
            return Err(format!("round {round} took over {ROUND_LIMIT:?}"));
        }
        let cpu = procs::thread_cpu_time(server.pid()).ok().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
        if let Err(e) = acted {
            return Err(format!("broadcast {broadcasts} failed: {e}"));
        }
        if missed > 0 {
            return Err(format!(
                "{missed} of {k} never showed {needle}: {}",
                first_error.unwrap_or_default()
            ));
        }
        if round > 0 {
            lasts.push(last - sent);
            cpus.extend(cpu);
        }
    }
    lasts.sort_unstable();
    cpus.sort_unstable();
    // Every round's reading or none: a median of some rounds would be another measure.
    let cpu_per_subscriber = (cpus.len() == lasts.len()).then(|| cpus[cpus.len() / 2] / k as u32);
    Ok(Fanout { median: lasts[lasts.len() / 2], max: lasts[lasts.len() - 1], cpu_per_subscriber })
}

/// Voluntary plus involuntary context switches of every thread of process `pid` so far
/// (threads that already ended are not counted).
pub fn context_switches(pid: u32) -> Result<u64, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("reading {dir}: {e}"))?;
    let mut total = 0;
    for task in tasks.flatten() {
        // A thread may end between the listing and the read; it is simply not counted.
        if let Ok(status) = std::fs::read_to_string(task.path().join("status")) {
            total += switches_in_status(&status).unwrap_or(0);
        }
    }
    Ok(total)
}

/// `voluntary_ctxt_switches` + `nonvoluntary_ctxt_switches` of a /proc status file.
pub fn switches_in_status(status: &str) -> Option<u64> {
    let field = |name: &str| kb_field(status, name);
    Some(field("voluntary_ctxt_switches:")? + field("nonvoluntary_ctxt_switches:")?)
}

/// Pss of process `pid`, in KB, from /proc/PID/smaps_rollup.
pub fn pss_kb(pid: u32) -> Result<u64, String> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    kb_field(&text, "Pss:").ok_or_else(|| format!("no Pss line in {path}"))
}

/// The number after `name` on the line that starts with it (`Pss:   123 kB` → 123).
pub fn kb_field(text: &str, name: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.strip_prefix(name))?;
    rest.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_context_switches_and_pss() {
        let status = "Name:\tbench-pages\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(switches_in_status(status), Some(127));
        assert_eq!(switches_in_status("Name:\tx\n"), None);
        let rollup = "55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss:      10240 kB\nPss:       8190 kB\nPss_Anon:  6000 kB\n";
        assert_eq!(kb_field(rollup, "Pss:"), Some(8190));
        assert_eq!(kb_field(rollup, "Swap:"), None);
    }

    #[test]
    fn thread_cpu_time_counts_what_the_ticks_count() {
        let pid = std::process::id();
        let (fine, ticks) = (procs::thread_cpu_time(pid).unwrap(), procs::cpu_time(pid).unwrap());
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut spun = 0u64;
        while procs::thread_cpu_time(pid).unwrap() - fine < Duration::from_millis(300) {
            assert!(Instant::now() < deadline, "300 ms of CPU not seen in 20 s");
            spun = std::hint::black_box(spun.wrapping_mul(31).wrapping_add(7));
        }
        let fine = procs::thread_cpu_time(pid).unwrap() - fine;
        let ticks = procs::cpu_time(pid).unwrap() - ticks;
        // The ticks are 10 ms apart and other test threads may run meanwhile: the
        // ticks see at least what this thread spun, give or take two ticks.
        assert!(ticks + Duration::from_millis(20) >= fine, "schedstat {fine:?}, stat {ticks:?}");
    }

    #[test]
    fn rows_are_seeded_and_in_range() {
        let (mut a, mut b) = (Rng::new(3), Rng::new(3));
        let rows: Vec<u32> = (0..1000).map(|_| a.below(100)).collect();
        assert!(rows.iter().all(|&r| r < 100));
        assert_eq!(rows, (0..1000).map(|_| b.below(100)).collect::<Vec<_>>());
        // Spread over the table, not stuck on a few rows.
        let distinct: std::collections::HashSet<_> = rows.iter().collect();
        assert!(distinct.len() > 90, "{} distinct rows", distinct.len());
    }
}
