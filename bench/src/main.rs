//! mizulive benchmark: drives the C counter example over its wire protocol and a bare
//! tokio-tungstenite echo server the same way, then prints both and their ratios. The
//! Python and Go counters (same core, same views) get tests 1 and 2 as well, compared
//! with the C counter, to show what each host language's callbacks cost.
//!
//!   cargo run --release -p mizulive-bench [-- --quick]
//!   cargo run --release -p mizulive-bench -- --flood    (the page-request flood, `make bench-flood`)
//!   cargo run --release -p mizulive-bench -- --soak     (the soak test, `make soak`)
//!   cargo run --release -p mizulive-bench -- --redis    (cost of Redis, fan-out on two nodes, `make bench-redis`)
//!   cargo run --release -p mizulive-bench -- --peers    (mizulive against its peers, `make bench-peers`)
//!   cargo run --release -p mizulive-bench -- --instructions (instructions per event, `make bench-instructions`)
//!
//! See bench/README.md for what each number means.

mod client;
mod echo;
mod flood;
mod peers;
mod procs;
mod redis;
mod report;
mod runs;
mod scaleout;
mod soak;
mod stats;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use client::Target;
use procs::Server;
use runs::{Idle, Latency, Load, LoadSpec, Tally};

/// Events per second per session. The server allows 50 sustained (bursts of 100);
/// staying a little under means no reply is ever rate-limited.
const SESSION_RATE: f64 = 45.0;

const USAGE: &str = "\
usage: mizulive-bench [--quick] [--rtt-sessions N] [--rtt-events N] [--host-rtt-events N]
                      [--load-sessions N] [--load-secs S] [--idle-sessions N]

  --quick              smoke run (~40 s): 200 RTT events (100 for Python and Go), 200 sessions
                       for 2 s, 1,000 idle sessions
  --rtt-sessions N     test 1: sessions the one-at-a-time events rotate over (default 1, which
                       takes (events + warm-up) / 45 s per server; more sessions are faster but
                       shorten the idle gap between events, which lowers the measured latency)
  --rtt-events N       test 1: recorded round trips (default 2000, plus 10% warm-up)
  --host-rtt-events N  test 1 on the Python and Go counters: recorded round trips (default 500,
                       plus 10% warm-up; fewer than for C and echo to keep the run short)
  --load-sessions N    test 2: concurrent sessions (default 1000)
  --load-secs S        test 2: measured seconds (default 10, after 1 s of warm-up)
  --idle-sessions N    test 3: idle sessions opened for the RSS measurement (default 10000)

mizulive-bench --soak [--soak-sessions N] [--soak-secs S] [--soak-rate R]

  --soak               soak test instead of the benchmark: sessions click for a long time while
                       the counter's RSS is sampled; exits 1 unless RSS levels off (last tenth
                       within 5 % of the second tenth) and no patch was lost
  --soak-sessions N    sessions (default 1000)
  --soak-secs S        measured seconds after a 30 s warm-up (default 600)
  --soak-rate R        events per second per session (default 5)

mizulive-bench --flood [--flood-secs S] [--flood-conns N]

  --flood              instead of the tests above: N keep-alive connections (default 4) GET the
                       C counter's page as fast as they can for S seconds (default 10); prints the
                       server's RSS growth, whether a new visitor is then served and whether
                       sessions joined before the flood still answer; fails past 128 MB growth

mizulive-bench --redis [--rtt-events N] [--load-sessions N] [--load-secs S] [--repeats K]
                       [--fanout-subscribers N] [--fanout-rounds R]

  --redis              starts redis-server (from PATH) on a free port of 127.0.0.1, then runs the
                       C counter without and with Redis (--rtt-events one at a time, default 500;
                       then K times, alternately, default 3, --load-sessions sessions, default
                       1000, for --load-secs, default 5) and prints the cost per event side by
                       side, with Redis's own counters; then the fan-out of one publish to N
                       subscribers (default 1000, at most 10000) on one node, and split over
                       two nodes on Redis, R times (default 20, at most 1000)

mizulive-bench --peers [--quick] [--only NAME,...]

  --peers              the peer benchmark (`make bench-peers`): echo, mizulive's C, Python and Go
                       hosts and the peer frameworks serve the pages of bench/peers/PAGES.md; see
                       bench/README.md

mizulive-bench --instructions [--only NAME,...]

  --instructions       instructions per event of mizulive's C, Python and Go hosts on those pages,
                       counted by valgrind's callgrind (`make bench-instructions`): a measure that
                       does not move with the machine's load, to weigh a change before a peer run";

/// How much of each test to run.
#[derive(Debug, Clone)]
struct Plan {
    rtt_sessions: usize,
    rtt_warmup: usize,
    rtt_events: usize,
    host_rtt_warmup: usize,
    host_rtt_events: usize,
    load_sessions: usize,
    load_warmup: Duration,
    load_secs: u64,
    idle_sessions: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            rtt_sessions: 1,
            rtt_warmup: 200,
            rtt_events: 2000,
            host_rtt_warmup: 50,
            host_rtt_events: 500,
            load_sessions: 1000,
            load_warmup: Duration::from_secs(1),
            load_secs: 10,
            idle_sessions: 10_000,
        }
    }

    fn quick() -> Plan {
        Plan {
            rtt_sessions: 1,
            rtt_warmup: 20,
            rtt_events: 200,
            host_rtt_warmup: 10,
            host_rtt_events: 100,
            load_sessions: 200,
            load_warmup: Duration::from_millis(500),
            load_secs: 2,
            idle_sessions: 1000,
        }
    }

    /// `--quick` picks the base plan wherever it appears; the other flags override it.
    fn from_args(args: &[String]) -> Result<Plan, String> {
        let mut plan = if args.iter().any(|a| a == "--quick") { Plan::quick() } else { Plan::full() };
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || -> Result<usize, String> {
                let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
                match v.parse::<usize>() {
                    Ok(n) if n > 0 => Ok(n),
                    _ => Err(format!("{flag}: expected a positive integer, got {v:?}")),
                }
            };
            match flag.as_str() {
                "--quick" => {}
                "--rtt-events" => {
                    plan.rtt_events = value()?;
                    plan.rtt_warmup = (plan.rtt_events / 10).max(10);
                }
                "--host-rtt-events" => {
                    plan.host_rtt_events = value()?;
                    plan.host_rtt_warmup = (plan.host_rtt_events / 10).max(10);
                }
                "--rtt-sessions" => plan.rtt_sessions = value()?,
                "--load-sessions" => plan.load_sessions = value()?,
                "--load-secs" => plan.load_secs = value()? as u64,
                "--idle-sessions" => plan.idle_sessions = value()?,
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(plan)
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    if args.first().map(String::as_str) == Some("--echo-server") {
        return match echo::serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("echo server: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if args.first().map(String::as_str) == Some("--soak") {
        return soak_main(&args[1..]);
    }
    if args.iter().any(|a| a == "--flood") {
        return flood_main(&args);
    }
    if args.iter().any(|a| a == "--redis") {
        return redis_main(&args);
    }
    if args.iter().any(|a| a == "--instructions") {
        return peers::instructions::main(&args);
    }
    if args.iter().any(|a| a == "--peers") {
        return peers::run::main(&args);
    }
    let plan = match Plan::from_args(&args) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("building the tokio runtime");
    match rt.block_on(run(plan)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            println!("\nFAILED: {failures} error(s) above; the numbers are not trustworthy");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--flood`: the flood scenario alone (see `flood.rs`).
fn flood_main(args: &[String]) -> ExitCode {
    let mut spec = flood::FloodSpec { secs: 10, conns: 4 };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().and_then(|v| v.parse::<usize>().ok()).filter(|n| *n > 0);
        let ok = match flag.as_str() {
            "--flood" => true,
            "--flood-secs" => value().map(|n| spec.secs = n as u64).is_some(),
            "--flood-conns" => value().map(|n| spec.conns = n).is_some(),
            _ => false,
        };
        if !ok {
            eprintln!("bad flood argument {flag:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    if let Err(e) = procs::raise_nofile_limit() {
        eprintln!("{e}");
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("building the tokio runtime");
    match rt.block_on(flood::run(&root_dir(), spec)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("flood bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--redis`: the cost of scale-out on Redis (see `scaleout.rs`).
fn redis_main(args: &[String]) -> ExitCode {
    let spec = match scaleout::RedisSpec::from_args(args) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("building the tokio runtime");
    match rt.block_on(scaleout::run(&root_dir(), spec)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failures) => {
            println!("\nFAILED: {failures} error(s) above; the numbers are not trustworthy");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("redis bench failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `--soak`: builds and starts the C counter, soaks it, stops it.
fn soak_main(args: &[String]) -> ExitCode {
    let spec = match soak_spec(args) {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("{e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("building the tokio runtime");
    let outcome = rt.block_on(async {
        let root = root_dir();
        procs::raise_nofile_limit()?;
        procs::build_counter(&root)?;
        let server = Server::counter(&root)?;
        let failures = soak::run(&server, spec).await?;
        let mut errors = Errors::default();
        errors.stop(server);
        for stop in &errors.stops {
            println!("  {stop}");
        }
        Ok::<u64, String>(failures + errors.stops.len() as u64)
    });
    match outcome {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("soak failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn soak_spec(args: &[String]) -> Result<soak::SoakSpec, String> {
    let mut spec = soak::SoakSpec::full();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = match value.parse::<f64>() {
            Ok(n) if n > 0.0 && n.is_finite() => n,
            _ => return Err(format!("{flag}: expected a positive number, got {value:?}")),
        };
        match flag.as_str() {
            "--soak-sessions" => spec.sessions = number as usize,
            "--soak-secs" => spec.duration = Duration::from_secs_f64(number),
            "--soak-rate" => spec.rate = number,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(spec)
}

/// The repository root: the bench crate lives in `<root>/bench`.
pub fn root_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("bench/ has a parent").to_path_buf()
}

/// Results of both targets for one test.
struct Pair<T> {
    live: T,
    echo: T,
}

/// Test 2 runs the echo server twice: paced like mizulive, and unpaced, because the
/// paced run may only reach the pacing cap.
struct LoadResults {
    paced: Pair<Load>,
    echo_unpaced: Load,
}

/// A counter in another host language, over the same core and views as the C one.
/// When its tools are missing, or it fails to build or start, it is skipped (with the
/// reason in the report) rather than failing the bench.
struct Host {
    name: &'static str,
    /// The running counter, or why this host is skipped.
    server: Result<Server, String>,
    rtt: Latency,
    load: Load,
}

impl Host {
    fn new(name: &'static str, server: Result<Server, String>) -> Host {
        Host { name, server, rtt: Latency::default(), load: Load::default() }
    }

    /// Stops the counter and keeps its numbers, or the reason it was skipped.
    fn finish(self, errors: &mut Errors) -> HostResult {
        let measured = self.server.map(|server| {
            errors.stop(server);
            (self.rtt, self.load)
        });
        HostResult { name: self.name, measured }
    }
}

/// What a host measured in tests 1 and 2, for the summary.
pub struct HostResult {
    pub name: &'static str,
    pub measured: Result<(Latency, Load), String>,
}

/// Everything that went wrong, counted across tests.
#[derive(Default)]
struct Errors {
    live: Tally,
    echo: Tally,
    /// Per host counter that ran, in the order they ran.
    hosts: Vec<(&'static str, Tally)>,
    stops: Vec<String>,
}

impl Errors {
    /// Stops a server; the counter must exit 0, the echo server dies of the signal.
    fn stop(&mut self, server: Server) {
        if let Err(e) = procs::stop_cleanly(server) {
            self.stops.push(e);
        }
    }

    fn host(&mut self, name: &'static str) -> &mut Tally {
        let i = match self.hosts.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                self.hosts.push((name, Tally::default()));
                self.hosts.len() - 1
            }
        };
        &mut self.hosts[i].1
    }

    fn total(&self) -> u64 {
        let hosts: u64 = self.hosts.iter().map(|(_, t)| t.total()).sum();
        self.live.total() + self.echo.total() + hosts + self.stops.len() as u64
    }
}

/// Runs everything; returns the number of errors seen (0 for a clean run).
async fn run(plan: Plan) -> Result<u64, String> {
    let root = root_dir();
    let nofile = procs::raise_nofile_limit()?;
    procs::build_counter(&root)?;
    let go_counter = procs::build_go_counter(&root);
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    report::header(cpus, nofile);
    let mut errors = Errors::default();

    // Tests 1 and 2 share one server of each kind. The ones not being measured idle
    // meanwhile, which costs next to nothing.
    let servers = Pair { live: Server::counter(&root)?, echo: Server::echo()? };
    let mut hosts = vec![
        Host::new("python", Server::python_counter(&root)),
        Host::new("go", go_counter.and_then(|exe| Server::go_counter(&exe, &root))),
    ];
    let targets = Pair { live: Target::Live(servers.live.addr), echo: Target::Echo(servers.echo.addr) };
    let rtt = test_rtt(&plan, &targets, &mut errors).await;
    test_host_rtt(&plan, &mut hosts, &mut errors).await;
    let load = test_load(&plan, &servers, &mut errors).await;
    test_host_load(&plan, &mut hosts, &mut errors).await;
    errors.stop(servers.live);
    errors.stop(servers.echo);
    let hosts: Vec<HostResult> = hosts.into_iter().map(|h| h.finish(&mut errors)).collect();

    let idle = test_idle(&plan, &root, &mut errors).await?;

    report::summary(&plan, &rtt, &load, &idle);
    report::host_summary(&rtt.live, &load.paced.live, &hosts);
    report::errors(&errors);
    Ok(errors.total())
}

async fn test_rtt(plan: &Plan, targets: &Pair<Target>, errors: &mut Errors) -> Pair<Latency> {
    report::rtt_title(plan, SESSION_RATE);
    let run =
        |target| runs::rtt(target, plan.rtt_sessions, plan.rtt_warmup, plan.rtt_events, session_period());
    let (live, tally) = run(targets.live).await;
    errors.live.add(&tally);
    report::rtt_live("C", &live);
    let (echo, tally) = run(targets.echo).await;
    errors.echo.add(&tally);
    report::rtt_echo(&echo);
    Pair { live, echo }
}

async fn test_load(plan: &Plan, servers: &Pair<Server>, errors: &mut Errors) -> LoadResults {
    report::load_title(plan, SESSION_RATE);
    let paced = LoadSpec {
        sessions: plan.load_sessions,
        warmup: plan.load_warmup,
        duration: Duration::from_secs(plan.load_secs),
        period: session_period(),
    };
    let unpaced = LoadSpec { period: Duration::ZERO, ..paced };
    let echo_target = Target::Echo(servers.echo.addr);
    let live = runs::load(&servers.live, Target::Live(servers.live.addr), paced).await;
    errors.live.add(&live.tally);
    report::load_line("C", &live);
    let echo = runs::load(&servers.echo, echo_target, paced).await;
    errors.echo.add(&echo.tally);
    report::load_line("echo", &echo);
    let echo_unpaced = runs::load(&servers.echo, echo_target, unpaced).await;
    errors.echo.add(&echo_unpaced.tally);
    report::load_line("echo", &echo_unpaced);
    LoadResults { paced: Pair { live, echo }, echo_unpaced }
}

/// Test 1 on the other hosts' counters, with fewer events than for C and echo: the
/// paced test is the longest of the run, and p50 settles within a few hundred events.
async fn test_host_rtt(plan: &Plan, hosts: &mut [Host], errors: &mut Errors) {
    report::host_rtt_title(plan);
    for host in hosts {
        let server = match &host.server {
            Ok(server) => server,
            Err(why) => {
                report::skipped(host.name, why, true);
                continue;
            }
        };
        let target = Target::Live(server.addr);
        let (latency, tally) = runs::rtt(
            target,
            plan.rtt_sessions,
            plan.host_rtt_warmup,
            plan.host_rtt_events,
            session_period(),
        )
        .await;
        errors.host(host.name).add(&tally);
        report::rtt_live(host.name, &latency);
        host.rtt = latency;
    }
}

/// Test 2 on the other hosts' counters, paced exactly like the C counter's run.
async fn test_host_load(plan: &Plan, hosts: &mut [Host], errors: &mut Errors) {
    let spec = LoadSpec {
        sessions: plan.load_sessions,
        warmup: plan.load_warmup,
        duration: Duration::from_secs(plan.load_secs),
        period: session_period(),
    };
    for host in hosts {
        let server = match &host.server {
            Ok(server) => server,
            Err(why) => {
                report::skipped(host.name, why, false);
                continue;
            }
        };
        let load = runs::load(server, Target::Live(server.addr), spec).await;
        errors.host(host.name).add(&load.tally);
        report::load_line(host.name, &load);
        host.load = load;
    }
}

/// Test 3 starts fresh servers: the sessions of tests 1-2 linger for the 60 s grace
/// period, and memory freed by closed sockets would hide new allocations.
async fn test_idle(plan: &Plan, root: &Path, errors: &mut Errors) -> Result<Pair<Idle>, String> {
    report::idle_title(plan);
    let counter = Server::counter(root)?;
    let live = runs::idle_rss(&counter, Target::Live(counter.addr), plan.idle_sessions).await?;
    errors.live.add(&live.tally);
    report::idle_line("C", &live);
    errors.stop(counter);

    let echo = Server::echo()?;
    let echo_idle = runs::idle_rss(&echo, Target::Echo(echo.addr), plan.idle_sessions).await?;
    errors.echo.add(&echo_idle.tally);
    report::idle_line("echo", &echo_idle);
    errors.stop(echo);
    Ok(Pair { live, echo: echo_idle })
}

fn session_period() -> Duration {
    Duration::from_secs_f64(1.0 / SESSION_RATE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_plan() {
        let args: Vec<String> = ["--load-secs", "5", "--quick", "--host-rtt-events", "300"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let plan = Plan::from_args(&args).expect("valid flags");
        assert_eq!((plan.load_secs, plan.load_sessions), (5, 200));
        assert_eq!((plan.host_rtt_events, plan.host_rtt_warmup), (300, 30));
        assert!(Plan::from_args(&["--bogus".to_string()]).is_err());
    }
}
