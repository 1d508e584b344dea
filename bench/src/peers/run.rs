//! `mizulive-bench --peers [--quick] [--only NAME,...]` (`make bench-peers`): installs,
//! starts and measures every registered server in turn, prints the tables, and writes
//! them into `bench/RESULTS.md` (a full run of every server only).
//!
//! Each server is an [`Entry`] in [`registry`]: a name, an install step, a start, and
//! the [`Protocol`] whose [`Conn`] drives it. A new peer is one `Protocol` variant, one
//! arm in [`measure_entry`], and its entries.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use super::floor;
use super::live::{EchoConn, LiveConn};
use super::measure::{self, Fanout, IdleMemory, Paced, PacedResult};
use super::report;
use super::{dioxus, jfyne, phoenix};
use super::{Conn, Page};
use crate::procs::{self, Server, PEER_CPU};
use crate::runs::Tally;
use crate::stats::Percentiles;

/// How a server is spoken to: one variant per protocol, each a [`Conn`] type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// The echo floor (`EchoConn`): every action is one frame sent back verbatim.
    Echo,
    /// mizulive's own protocol (`LiveConn`).
    Live,
    /// The Phoenix LiveView protocol, of liveviewjs and pyview (`super::phoenix`).
    Phoenix,
    /// jfyne/live's own protocol (`super::jfyne`).
    Jfyne,
    /// dioxus-liveview's edits protocol (`super::dioxus`).
    Dioxus,
}

impl Protocol {}

/// One server of the benchmark.
pub struct Entry {
    pub name: &'static str,
    pub protocol: Protocol,
    /// Installs or builds it (idempotent, quick when done); an error skips the server.
    pub install: fn(&Path) -> Result<(), String>,
    /// Starts one fresh instance (`procs::Server::peer`, pinned to `PEER_CPU`).
    pub start: fn(&Path) -> Result<Server, String>,
}

/// Every server, in the order they run. The repository root is passed to each fn.
pub fn registry() -> Vec<Entry> {
    vec![
        Entry { name: "echo", protocol: Protocol::Echo, install: |_| Ok(()), start: |_| Server::peer_echo() },
        Entry { name: "mizulive-c", protocol: Protocol::Live, install: install_c, start: start_c },
        Entry {
            name: "mizulive-python",
            protocol: Protocol::Live,
            install: install_python,
            start: start_python,
        },
        Entry { name: "mizulive-go", protocol: Protocol::Live, install: install_go, start: start_go },
        // The opt-in mode, reported apart: the defaults above are what users run.
        Entry {
            name: "mizulive-c-inline",
            protocol: Protocol::Live,
            install: install_c,
            start: start_c_inline,
        },
        Entry {
            name: "liveviewjs",
            protocol: Protocol::Phoenix,
            install: phoenix::install_liveviewjs,
            start: phoenix::start_liveviewjs,
        },
        Entry {
            name: "pyview",
            protocol: Protocol::Phoenix,
            install: phoenix::install_pyview,
            start: phoenix::start_pyview,
        },
        Entry { name: "jfyne-live", protocol: Protocol::Jfyne, install: jfyne::install, start: jfyne::start },
        Entry {
            name: "dioxus-liveview",
            protocol: Protocol::Dioxus,
            install: dioxus::install,
            start: dioxus::start,
        },
    ]
}

/// Runs the measurements of `entry` with the `Conn` of its protocol.
async fn measure_entry(entry: &Entry, root: &Path, plan: &Plan) -> Measured {
    match entry.protocol {
        Protocol::Echo => measure::<EchoConn>(entry, root, plan).await,
        Protocol::Live => measure::<LiveConn>(entry, root, plan).await,
        Protocol::Phoenix => measure::<phoenix::Conn>(entry, root, plan).await,
        Protocol::Jfyne => measure::<jfyne::Conn>(entry, root, plan).await,
        Protocol::Dioxus => measure::<dioxus::Conn>(entry, root, plan).await,
    }
}

// ---- mizulive's own servers: bench/peers/mizulive, one app per host, one set of views ----

fn mizulive_dir(root: &Path) -> std::path::PathBuf {
    root.join("bench/peers/mizulive")
}

/// What every mizulive host gets: any free port, the shared views, and nothing from the
/// bench's own environment that would change what is measured.
fn mizulive_env(cmd: &mut Command, root: &Path) {
    cmd.env("PORT", "0")
        .env("MIZULIVE_VIEWS", mizulive_dir(root).join("views"))
        .env_remove("MIZULIVE_ADDR")
        .env_remove("MIZULIVE_REDIS")
        .env_remove("MIZULIVE_DEV")
        .env_remove("BENCH_INLINE");
}

fn lib_so(root: &Path) -> Result<std::path::PathBuf, String> {
    let lib = root.join("target/release/libmizulive.so");
    if !lib.is_file() {
        return Err(format!("{} is missing (cargo build --release makes it)", lib.display()));
    }
    Ok(lib)
}

fn install_c(root: &Path) -> Result<(), String> {
    lib_so(root)?;
    procs::make_in(&mizulive_dir(root).join("c"))
}

fn start_c(root: &Path) -> Result<Server, String> {
    Server::peer("mizulive-c", c_cmd(root, false))
}

/// The C app with `inline_callbacks` on.
fn start_c_inline(root: &Path) -> Result<Server, String> {
    Server::peer("mizulive-c-inline", c_cmd(root, true))
}

fn c_cmd(root: &Path, inline: bool) -> Command {
    let mut cmd = Command::new(mizulive_dir(root).join("c/bench-pages"));
    mizulive_env(&mut cmd, root);
    if inline {
        cmd.env("BENCH_INLINE", "1");
    }
    cmd
}

/// The app runs the package `make python` installed (see [`procs::python_package`])
/// on the release library.
fn python_cmd(root: &Path) -> Result<Command, String> {
    lib_so(root)?;
    let mut cmd = Command::new(procs::python(root)?);
    procs::python_package(&mut cmd, root);
    Ok(cmd)
}

fn install_python(root: &Path) -> Result<(), String> {
    let mut cmd = python_cmd(root)?;
    cmd.args(["-c", "import mizulive"]);
    procs::run_bounded(cmd, Duration::from_secs(30)).map_err(|e| format!("import mizulive failed: {e}"))
}

fn python_app_cmd(root: &Path) -> Result<Command, String> {
    let mut cmd = python_cmd(root)?;
    cmd.arg(mizulive_dir(root).join("app.py"));
    mizulive_env(&mut cmd, root);
    Ok(cmd)
}

fn start_python(root: &Path) -> Result<Server, String> {
    Server::peer("mizulive-python", python_app_cmd(root)?)
}

fn go_exe(root: &Path) -> std::path::PathBuf {
    root.join("target/peers/mizulive-go")
}

fn install_go(root: &Path) -> Result<(), String> {
    procs::build_go(root, &mizulive_dir(root).join("go"), ".", &go_exe(root))
}

fn go_cmd(root: &Path) -> Command {
    let mut cmd = Command::new(go_exe(root));
    mizulive_env(&mut cmd, root);
    cmd
}

fn start_go(root: &Path) -> Result<Server, String> {
    Server::peer("mizulive-go", go_cmd(root))
}

/// The command that runs mizulive's server `name` (an entry of [`registry`]), for
/// measurements that run it under a tool; `None` for the other servers.
pub fn mizulive_command(name: &str, root: &Path) -> Option<Result<Command, String>> {
    match name {
        "mizulive-c" => Some(Ok(c_cmd(root, false))),
        "mizulive-c-inline" => Some(Ok(c_cmd(root, true))),
        "mizulive-python" => Some(python_app_cmd(root)),
        "mizulive-go" => Some(Ok(go_cmd(root))),
        _ => None,
    }
}

// ---- the plan ----

/// The measurements a run is limited to (the load runs are left out).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// One session's latency, alone on a fresh server.
    pub one: bool,
    pub idle: bool,
    pub fanout: bool,
}

/// How much of each measurement to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub quick: bool,
    /// Measured only one session's latency (`--one`), the idle memory (`--idle`), the
    /// fan-out (`--fanout`), or some of them.
    pub only: Option<Phases>,
    pub one_warmup: usize,
    pub one_events: usize,
    pub one_period: Duration,
    pub load: Paced,
    pub idle_warm: usize,
    pub idle_sessions: usize,
    pub fanout_sizes: Vec<usize>,
    pub fanout_rounds: usize,
    pub table: Paced,
    pub list: Paced,
    /// How many times one session's latency and the counter load are measured, each
    /// time on a fresh server, the servers taking turns (see [`Measured::settle`]).
    pub rounds: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Plan {
        let at = |rate: f64| Duration::from_secs_f64(1.0 / rate);
        let secs = |s: f64| Duration::from_secs_f64(s);
        let pick = |full: f64, q: f64| if quick { q } else { full };
        Plan {
            quick,
            only: None,
            one_warmup: if quick { 10 } else { 50 },
            one_events: if quick { 100 } else { 500 },
            // Under mizulive's default event rate limit (50/s per session).
            one_period: at(45.0),
            load: Paced {
                page: Page::Counter,
                sessions: 200,
                period: at(40.0),
                warmup: secs(pick(1.0, 0.5)),
                duration: secs(pick(10.0, 3.0)),
                acts: None,
                tail: 0,
            },
            idle_warm: 50,
            idle_sessions: if quick { 1000 } else { 2000 },
            fanout_sizes: if quick { vec![1000] } else { vec![1000, 10_000] },
            fanout_rounds: 5,
            table: Paced {
                page: Page::Table,
                sessions: 100,
                period: at(20.0),
                warmup: secs(0.5),
                duration: secs(pick(5.0, 2.0)),
                acts: None,
                tail: 0,
            },
            list: Paced {
                page: Page::List,
                sessions: 50,
                period: at(20.0),
                warmup: Duration::ZERO,
                // Only a bound: each session stops after its adds.
                duration: secs(pick(200.0, 100.0) / 20.0),
                acts: Some(if quick { 100 } else { 200 }),
                tail: 50,
            },
            rounds: if quick { 1 } else { 3 },
        }
    }
}

// ---- what one server measured ----

/// Everything measured on one server; each part is its numbers or why it failed.
pub struct Measured {
    /// After [`Measured::settle`]: the round of median p50 among `one_rounds`.
    pub one: Result<Percentiles, String>,
    /// After [`Measured::settle`]: the round of median CPU per event among `load_rounds`.
    pub load: Result<PacedResult, String>,
    /// Every round of one session's latency and of the counter load, in order.
    pub one_rounds: Vec<Percentiles>,
    pub load_rounds: Vec<PacedResult>,
    pub idle: Result<IdleMemory, String>,
    /// Per subscriber count.
    pub fanout: Vec<(usize, Result<Fanout, String>)>,
    pub table: Result<PacedResult, String>,
    pub list: Result<PacedResult, String>,
    /// Client errors against this server (fan-out failures are in their cells only).
    pub tally: Tally,
    /// Starts after the first that failed, and unclean stops.
    pub problems: Vec<String>,
}

/// A server's row: its measurements, or why it was skipped.
pub struct Row {
    pub name: &'static str,
    pub outcome: Result<Measured, String>,
}

impl Row {
    /// Client errors and problems of a server that ran: any of them fails the run.
    pub fn errors(&self) -> u64 {
        match &self.outcome {
            Ok(m) => m.tally.total() + m.problems.len() as u64,
            Err(_) => 0,
        }
    }
}

impl Measured {
    /// Nothing measured yet: every phase "not run".
    pub fn not_run() -> Measured {
        Measured {
            one: Err("not run".into()),
            load: Err("not run".into()),
            one_rounds: Vec::new(),
            load_rounds: Vec::new(),
            idle: Err("not run".into()),
            fanout: Vec::new(),
            table: Err("not run".into()),
            list: Err("not run".into()),
            tally: Tally::default(),
            problems: Vec::new(),
        }
    }

    /// Reports the median round: one session's latency by its p50, the counter load
    /// by its CPU per event (with that round's other figures). One round of a busy VM
    /// reads every server 25 % or more slower than the next; the servers take turns
    /// round by round, so a slow stretch lands in one round of each, not in all of
    /// one server's.
    pub fn settle(&mut self) {
        if let Some(one) = median_by(&self.one_rounds, |p| Some(f64::from(p.p50))) {
            self.one = Ok(*one);
        }
        if let Some(load) = median_by(&self.load_rounds, PacedResult::cpu_us_per_event) {
            self.load = Ok(load.clone());
        }
    }
}

/// The item of median `key` (the lower of the two middle ones of an even count);
/// items without a key count as the largest.
pub fn median_by<T>(items: &[T], key: impl Fn(&T) -> Option<f64>) -> Option<&T> {
    let mut sorted: Vec<(Option<f64>, &T)> = items.iter().map(|t| (key(t), t)).collect();
    sorted.sort_by(|a, b| match (a.0, b.0) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        (x, y) => y.is_some().cmp(&x.is_some()),
    });
    sorted.get(items.len().checked_sub(1)? / 2).map(|(_, t)| *t)
}

async fn measure<C: Conn>(entry: &Entry, root: &Path, plan: &Plan) -> Measured {
    let mut m = Measured::not_run();

    // Latency and the paced runs share one server; memory and fan-out get fresh ones,
    // so sessions left from earlier phases (kept for their reconnect grace period by
    // some servers) neither count as idle memory nor receive broadcasts.
    let phases = plan.only.unwrap_or(Phases { one: false, idle: true, fanout: true });
    if plan.only.is_none() {
        measure_paced::<C>(entry, root, plan, &mut m).await;
    }
    if phases.one {
        m.one = measure_one::<C>(entry, root, plan, &mut m).await;
    }
    if phases.idle {
        m.idle = measure_idle::<C>(entry, root, plan, &mut m).await;
    }
    if phases.fanout {
        m.fanout = measure_fanout::<C>(entry, root, plan, &mut m.problems).await;
    }
    m
}

/// One session's latency, then the counter under load, the table and the list, on one
/// server.
async fn measure_paced<C: Conn>(entry: &Entry, root: &Path, plan: &Plan, m: &mut Measured) {
    let name = entry.name;
    match (entry.start)(root) {
        Ok(server) => {
            println!("  {name}: listening on {}", server.addr);
            let one = one_session::<C>(name, &server, plan, &mut m.tally).await;
            m.one_rounds.push(one);
            m.one = Ok(one);
            let load = paced::<C>(&server, plan.load, name, "counter load", &mut m.tally).await;
            m.load_rounds.push(load.clone());
            m.load = Ok(load);
            m.table = Ok(paced::<C>(&server, plan.table, name, "table", &mut m.tally).await);
            m.list = Ok(paced::<C>(&server, plan.list, name, "list", &mut m.tally).await);
            stop(server, &mut m.problems);
        }
        Err(e) => {
            let why = format!("start failed: {}", first_line(&e));
            println!("  {name}: {e}");
            m.problems.push(e);
            for part in [&mut m.load, &mut m.table, &mut m.list] {
                *part = Err(why.clone());
            }
            m.one = Err(why);
        }
    }
}

/// One session's latency on `server`, printed as measured.
async fn one_session<C: Conn>(name: &str, server: &Server, plan: &Plan, tally: &mut Tally) -> Percentiles {
    let one =
        measure::one_session::<C>(server.addr, plan.one_warmup, plan.one_events, plan.one_period, tally)
            .await;
    println!("  {name}: one session p50 {} µs, p99 {} µs ({} events)", one.p50, one.p99, one.count);
    one
}

/// Only one session's latency, on a fresh server (`--one`).
async fn measure_one<C: Conn>(
    entry: &Entry,
    root: &Path,
    plan: &Plan,
    m: &mut Measured,
) -> Result<Percentiles, String> {
    match (entry.start)(root) {
        Ok(server) => {
            let one = one_session::<C>(entry.name, &server, plan, &mut m.tally).await;
            m.one_rounds.push(one);
            stop(server, &mut m.problems);
            Ok(one)
        }
        Err(e) => {
            m.problems.push(e.clone());
            Err(format!("start failed: {}", first_line(&e)))
        }
    }
}

/// Runs one more round of `entry` (see [`Plan::rounds`]): one session's latency and
/// the counter load, on a fresh server, as far as its first round measured them.
async fn repeat_entry(entry: &Entry, root: &Path, plan: &Plan, m: &mut Measured) {
    match entry.protocol {
        Protocol::Echo => repeat::<EchoConn>(entry, root, plan, m).await,
        Protocol::Live => repeat::<LiveConn>(entry, root, plan, m).await,
        Protocol::Phoenix => repeat::<phoenix::Conn>(entry, root, plan, m).await,
        Protocol::Jfyne => repeat::<jfyne::Conn>(entry, root, plan, m).await,
        Protocol::Dioxus => repeat::<dioxus::Conn>(entry, root, plan, m).await,
    }
}

async fn repeat<C: Conn>(entry: &Entry, root: &Path, plan: &Plan, m: &mut Measured) {
    let (one, load) = (!m.one_rounds.is_empty(), !m.load_rounds.is_empty());
    if !one && !load {
        return;
    }
    match (entry.start)(root) {
        Ok(server) => {
            if one {
                let one = one_session::<C>(entry.name, &server, plan, &mut m.tally).await;
                m.one_rounds.push(one);
            }
            if load {
                let load = paced::<C>(&server, plan.load, entry.name, "counter load", &mut m.tally).await;
                m.load_rounds.push(load);
            }
            stop(server, &mut m.problems);
        }
        Err(e) => {
            println!("  {}: {e}", entry.name);
            m.problems.push(e);
        }
    }
}

async fn measure_idle<C: Conn>(
    entry: &Entry,
    root: &Path,
    plan: &Plan,
    m: &mut Measured,
) -> Result<IdleMemory, String> {
    let name = entry.name;
    match (entry.start)(root) {
        Ok(server) => {
            let idle =
                measure::idle_memory::<C>(&server, plan.idle_warm, plan.idle_sessions, &mut m.tally).await;
            match &idle {
                Ok(i) => println!(
                    "  {name}: idle memory {:.1} KB RSS, {:.1} KB Pss per session",
                    i.rss_kb, i.pss_kb
                ),
                Err(e) => println!("  {name}: idle memory failed: {e}"),
            }
            stop(server, &mut m.problems);
            idle
        }
        Err(e) => {
            m.problems.push(e.clone());
            Err(format!("start failed: {}", first_line(&e)))
        }
    }
}

async fn measure_fanout<C: Conn>(
    entry: &Entry,
    root: &Path,
    plan: &Plan,
    problems: &mut Vec<String>,
) -> Vec<(usize, Result<Fanout, String>)> {
    let name = entry.name;
    match (entry.start)(root) {
        Ok(server) => {
            let fanout = measure::fanout::<C>(&server, &plan.fanout_sizes, plan.fanout_rounds).await;
            for (k, result) in &fanout {
                match result {
                    Ok(f) => println!(
                        "  {name}: fan-out to {k}: last arrival median {:.1} ms, max {:.1} ms; \
                         server CPU {} µs per subscriber",
                        ms(f.median),
                        ms(f.max),
                        f.cpu_per_subscriber.map_or("?".into(), |c| format!("{:.1}", us(c)))
                    ),
                    Err(e) => println!("  {name}: fan-out to {k} failed: {e}"),
                }
            }
            stop(server, problems);
            fanout
        }
        Err(e) => {
            problems.push(e.clone());
            plan.fanout_sizes.iter().map(|&k| (k, Err(format!("start failed: {}", first_line(&e))))).collect()
        }
    }
}

async fn paced<C: Conn>(
    server: &Server,
    spec: Paced,
    name: &str,
    what: &str,
    tally: &mut Tally,
) -> PacedResult {
    let r = measure::paced::<C>(server, spec).await;
    tally.add(&r.tally);
    let opt = |v: Option<f64>, dp: usize| v.map_or("?".to_string(), |v| format!("{v:.dp$}"));
    println!(
        "  {name}: {what}: {} sessions, {:.0} events/s, {} µs CPU, {} B and {} frames per event, p50 {} µs{}",
        r.opened,
        r.per_sec(),
        opt(r.cpu_us_per_event(), 1),
        opt(r.bytes_per_event(), 0),
        opt(r.frames_per_event(), 2),
        r.first.p50,
        if r.tally.total() > 0 { format!(", {} errors", r.tally.total()) } else { String::new() }
    );
    r
}

fn stop(server: Server, problems: &mut Vec<String>) {
    if let Err(e) = procs::stop_cleanly(server) {
        problems.push(e);
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

// ---- the command ----

const USAGE: &str = "\
usage: mizulive-bench --peers [--quick] [--only NAME,...] [--rounds R] [--one N] [--idle]
                             [--fanout N,... [--fanout-rounds R]]

  --quick      smoke run: shorter load runs, 100 single-session events, 1,000 idle sessions,
               fan-out to 1,000 only
  --only       the servers to run, by name (see the table's first column)
  --rounds     how many times one session's latency and the counter load are measured,
               each on a fresh server, the servers taking turns; the median round is
               reported (1 to 9; 3 by default, 1 with --quick)
  --one        only one session's latency, over N events (10 to 100,000) at 45/s, on a fresh
               server (with --idle or --fanout: and those)
  --idle       only the idle memory (with --fanout: and the fan-out)
  --fanout     only the fan-out, to these numbers of subscribers (each 1 to 10,000)
  --fanout-rounds
               measured broadcasts per size (1 to 1,000; 5 by default), for a profiler

Only a full run of every server rewrites the peer section of bench/RESULTS.md.";

struct Args {
    quick: bool,
    only: Option<Vec<String>>,
    fanout: Option<Vec<usize>>,
    fanout_rounds: Option<usize>,
    rounds: Option<usize>,
    one: Option<usize>,
    idle: bool,
}

/// The most subscribers `--fanout` opens (the descriptor limit and the client's memory).
const MAX_FANOUT: usize = 10_000;

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        quick: false,
        only: None,
        fanout: None,
        fanout_rounds: None,
        rounds: None,
        one: None,
        idle: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--peers" => {}
            "--quick" => parsed.quick = true,
            "--idle" => parsed.idle = true,
            "--one" => match it.next().map(|n| n.parse::<usize>()) {
                Some(Ok(n)) if (10..=100_000).contains(&n) => parsed.one = Some(n),
                _ => return Err("--one needs a number of events from 10 to 100,000".into()),
            },
            "--only" => {
                let names = it.next().ok_or("--only needs a comma-separated list of names")?;
                parsed.only =
                    Some(names.split(',').map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect());
            }
            "--fanout" => {
                let sizes = it.next().ok_or("--fanout needs a comma-separated list of sizes")?;
                let sizes = sizes
                    .split(',')
                    .map(|n| match n.trim().parse::<usize>() {
                        Ok(k) if (1..=MAX_FANOUT).contains(&k) => Ok(k),
                        _ => Err(format!("--fanout: {n:?} is not a number from 1 to {MAX_FANOUT}")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                parsed.fanout = Some(sizes);
            }
            "--rounds" => match it.next().map(|n| n.parse::<usize>()) {
                Some(Ok(r)) if (1..=9).contains(&r) => parsed.rounds = Some(r),
                _ => return Err("--rounds needs a number from 1 to 9".into()),
            },
            "--fanout-rounds" => match it.next().map(|n| n.parse::<usize>()) {
                Some(Ok(r)) if (1..=1000).contains(&r) => parsed.fanout_rounds = Some(r),
                _ => return Err("--fanout-rounds needs a number from 1 to 1,000".into()),
            },
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(parsed)
}

/// Entry point of `--peers`.
pub fn main(args: &[String]) -> ExitCode {
    let args = match parse_args(args) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let entries = registry();
    if let Some(only) = &args.only {
        if let Some(unknown) = only.iter().find(|n| !entries.iter().any(|e| e.name == n.as_str())) {
            let names: Vec<_> = entries.iter().map(|e| e.name).collect();
            eprintln!("--only: no server {unknown:?}; known: {}", names.join(", "));
            return ExitCode::from(2);
        }
    }
    // Before the runtime starts its threads, so every one of them inherits the set.
    let pinned = pin_bench();
    let nofile = match procs::raise_nofile_limit() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("building the tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let root = crate::root_dir();
    let started = Instant::now();
    let mut plan = Plan::new(args.quick);
    if args.one.is_some() || args.idle || args.fanout.is_some() {
        plan.only = Some(Phases { one: args.one.is_some(), idle: args.idle, fanout: args.fanout.is_some() });
    }
    if let Some(events) = args.one {
        plan.one_events = events;
        plan.one_warmup = events.div_ceil(10);
    }
    if let Some(sizes) = &args.fanout {
        plan.fanout_sizes = sizes.clone();
    }
    if let Some(rounds) = args.fanout_rounds {
        plan.fanout_rounds = rounds;
    }
    if let Some(rounds) = args.rounds {
        plan.rounds = rounds;
    }
    let machine = report::Machine::read(&root);
    println!("{}", machine.line());
    println!("bench client: {pinned}; servers on CPU {PEER_CPU}; RLIMIT_NOFILE {nofile}");
    // The floor is the machine's, not a server's: measured once, before the servers.
    let floor = plan.only.is_none_or(|p| p.fanout).then(|| {
        let most = plan.fanout_sizes.iter().copied().max().unwrap_or(0);
        // Two descriptors per socket pair, and room for the client's own.
        let sockets = most.min((nofile as usize).saturating_sub(2000) / 2).max(1);
        // As many rounds as the fan-out, up to 9: many more only serve a profiler.
        let floor = rt.block_on(floor::send_floor(sockets, plan.fanout_rounds.min(9)));
        match &floor {
            Ok(f) => println!(
                "send floor: {} sockets, writer CPU {:.1} µs per socket, last arrival {:.1} ms",
                f.sockets,
                us(f.cpu) / f.sockets as f64,
                ms(f.last)
            ),
            Err(e) => println!("send floor failed: {e}"),
        }
        floor
    });
    let mut rows = Vec::new();
    for entry in entries.iter().filter(|e| args.only.as_ref().is_none_or(|o| o.iter().any(|n| n == e.name))) {
        println!("\n{}:", entry.name);
        let outcome = match (entry.install)(&root) {
            Ok(()) => Ok(rt.block_on(measure_entry(entry, &root, &plan))),
            Err(why) => {
                println!("  skipped: {why}");
                Err(why)
            }
        };
        rows.push(Row { name: entry.name, outcome });
    }
    for round in 2..=plan.rounds {
        for row in &mut rows {
            let (Some(entry), Ok(m)) = (entries.iter().find(|e| e.name == row.name), &mut row.outcome) else {
                continue;
            };
            if m.one_rounds.is_empty() && m.load_rounds.is_empty() {
                // An --idle or --fanout run: nothing of it runs in rounds.
                continue;
            }
            println!("\n{} (round {round} of {}):", entry.name, plan.rounds);
            rt.block_on(repeat_entry(entry, &root, &plan, m));
        }
    }
    for row in &mut rows {
        if let Ok(m) = &mut row.outcome {
            m.settle();
        }
    }
    let section = report::section(&machine, &plan, &rows, floor.as_ref(), started.elapsed());
    println!("\n{section}");
    if !args.quick && args.only.is_none() && plan.only.is_none() {
        let path = root.join("bench/RESULTS.md");
        match report::write_results(&path, &section) {
            Ok(()) => println!("wrote the tables into {}", path.display()),
            Err(e) => eprintln!("writing {}: {e}", path.display()),
        }
    } else {
        println!("(a quick, --only, --one, --idle or --fanout run: bench/RESULTS.md is left as it is)");
    }
    let errors: u64 = rows.iter().map(Row::errors).sum();
    for row in &rows {
        if let Ok(m) = &row.outcome {
            if let Some(first) = &m.tally.first {
                println!("{}: {} client error(s), the first: {first}", row.name, m.tally.total());
            }
            for p in &m.problems {
                println!("{}: {p}", row.name);
            }
        }
    }
    if errors > 0 {
        println!("\nFAILED: {errors} error(s) against servers that ran; the numbers are not trustworthy");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Pins this process to every CPU it may use except `PEER_CPU`, so the client never
/// competes with the server; says what it did.
fn pin_bench() -> String {
    // SAFETY: sched_getaffinity/sched_setaffinity only read and write the set we pass.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let size = std::mem::size_of::<libc::cpu_set_t>();
        if libc::sched_getaffinity(0, size, &mut set) != 0 {
            return format!("unpinned (sched_getaffinity: {})", std::io::Error::last_os_error());
        }
        libc::CPU_CLR(PEER_CPU, &mut set);
        let cpus: Vec<String> = (0..libc::CPU_SETSIZE as usize)
            .filter(|&c| libc::CPU_ISSET(c, &set))
            .map(|c| c.to_string())
            .collect();
        if cpus.is_empty() {
            return format!("unpinned (only CPU {PEER_CPU} is available: it shares it with the server)");
        }
        if libc::sched_setaffinity(0, size, &set) != 0 {
            return format!("unpinned (sched_setaffinity: {})", std::io::Error::last_os_error());
        }
        format!("CPU {}", cpus.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The median round is the middle one by its key, whatever order the rounds ran
    /// in; a round without the figure never is the median of rounds that have it.
    #[test]
    fn the_median_round_is_reported() {
        let key = |v: &Option<f64>| *v;
        assert_eq!(median_by(&[Some(30.0), Some(10.0), Some(20.0)], key), Some(&Some(20.0)));
        assert_eq!(median_by(&[Some(30.0), Some(10.0)], key), Some(&Some(10.0)), "the lower middle");
        assert_eq!(median_by(&[None, Some(30.0), Some(10.0)], key), Some(&Some(30.0)));
        assert_eq!(median_by(&[Some(7.0)], key), Some(&Some(7.0)));
        assert_eq!(median_by(&[] as &[Option<f64>], key), None);
    }

    #[test]
    fn args_and_registry() {
        let args: Vec<String> =
            ["--peers", "--quick", "--only", "echo,mizulive-c"].iter().map(|s| s.to_string()).collect();
        let parsed = parse_args(&args).expect("valid");
        assert!(parsed.quick);
        assert_eq!(parsed.only.as_deref(), Some(&["echo".to_string(), "mizulive-c".to_string()][..]));
        assert!(parse_args(&["--bogus".to_string()]).is_err());
        let fanout = parse_args(&["--fanout".to_string(), "1000, 10000".to_string()]).expect("valid");
        assert_eq!(fanout.fanout, Some(vec![1000, 10_000]));
        for bad in ["0", "10001", "x", ""] {
            assert!(parse_args(&["--fanout".to_string(), bad.to_string()]).is_err(), "{bad:?}");
        }
        let rounds = parse_args(&["--rounds".to_string(), "5".to_string()]).expect("valid");
        assert_eq!(rounds.rounds, Some(5));
        for bad in ["0", "10", "x"] {
            assert!(parse_args(&["--rounds".to_string(), bad.to_string()]).is_err(), "{bad:?}");
        }
        let one = parse_args(&["--one".to_string(), "2000".to_string()]).expect("valid");
        assert_eq!(one.one, Some(2000));
        for bad in ["9", "100001", "x"] {
            assert!(parse_args(&["--one".to_string(), bad.to_string()]).is_err(), "{bad:?}");
        }
        let names: Vec<_> = registry().iter().map(|e| e.name).collect();
        assert_eq!(names.len(), names.iter().collect::<std::collections::HashSet<_>>().len(), "unique names");
    }
}
