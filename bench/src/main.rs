//! mizulive benchmark: drives the C counter example over its wire protocol and a bare
//! tokio-tungstenite echo server the same way, then prints both and their ratios.
//!
//!   cargo run --release -p mizulive-bench [-- --quick]
//!
//! See bench/README.md for what each number means.

mod client;
mod echo;
mod procs;
mod report;
mod runs;
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
usage: mizulive-bench [--quick] [--rtt-sessions N] [--rtt-events N] [--load-sessions N]
                      [--load-secs S] [--idle-sessions N]

  --quick              smoke run (~25 s): 200 RTT events, 200 sessions for 2 s, 1,000 idle sessions
  --rtt-sessions N     test 1: sessions the one-at-a-time events rotate over (default 1, which
                       takes (events + warm-up) / 45 s per server; more sessions are faster but
                       shorten the idle gap between events, which lowers the measured latency)
  --rtt-events N       test 1: recorded round trips (default 2000, plus 10% warm-up)
  --load-sessions N    test 2: concurrent sessions (default 1000)
  --load-secs S        test 2: measured seconds (default 10, after 1 s of warm-up)
  --idle-sessions N    test 3: idle sessions opened for the RSS measurement (default 10000)";

/// How much of each test to run.
#[derive(Debug, Clone)]
struct Plan {
    rtt_sessions: usize,
    rtt_warmup: usize,
    rtt_events: usize,
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

/// The repository root: the bench crate lives in `<root>/bench`.
fn root_dir() -> PathBuf {
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

/// Everything that went wrong, counted across tests.
#[derive(Default)]
struct Errors {
    live: Tally,
    echo: Tally,
    stops: Vec<String>,
}

impl Errors {
    /// Stops a server; the counter must exit 0, the echo server dies of the signal.
    fn stop(&mut self, server: Server) {
        use std::os::unix::process::ExitStatusExt;
        let name = server.name;
        match server.stop() {
            Ok(status) if status.success() || status.signal() == Some(libc::SIGINT) => {}
            Ok(status) => self.stops.push(format!("{name} exited with {status}")),
            Err(e) => self.stops.push(e),
        }
    }

    fn total(&self) -> u64 {
        self.live.total() + self.echo.total() + self.stops.len() as u64
    }
}

/// Runs everything; returns the number of errors seen (0 for a clean run).
async fn run(plan: Plan) -> Result<u64, String> {
    let root = root_dir();
    let nofile = procs::raise_nofile_limit()?;
    procs::build_counter(&root)?;
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    report::header(cpus, nofile);
    let mut errors = Errors::default();

    // Tests 1 and 2 share one counter and one echo server.
    let servers = Pair { live: Server::counter(&root)?, echo: Server::echo()? };
    let targets = Pair { live: Target::Live(servers.live.addr), echo: Target::Echo(servers.echo.addr) };
    let rtt = test_rtt(&plan, &targets, &mut errors).await;
    let load = test_load(&plan, &servers, &mut errors).await;
    errors.stop(servers.live);
    errors.stop(servers.echo);

    let idle = test_idle(&plan, &root, &mut errors).await?;

    report::summary(&plan, &rtt, &load, &idle);
    report::errors(&errors);
    Ok(errors.total())
}

async fn test_rtt(plan: &Plan, targets: &Pair<Target>, errors: &mut Errors) -> Pair<Latency> {
    report::rtt_title(plan, SESSION_RATE);
    let run =
        |target| runs::rtt(target, plan.rtt_sessions, plan.rtt_warmup, plan.rtt_events, session_period());
    let (live, tally) = run(targets.live).await;
    errors.live.add(&tally);
    report::rtt_live(&live);
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
    report::load_line("mizulive", &live);
    let echo = runs::load(&servers.echo, echo_target, paced).await;
    errors.echo.add(&echo.tally);
    report::load_line("echo", &echo);
    let echo_unpaced = runs::load(&servers.echo, echo_target, unpaced).await;
    errors.echo.add(&echo_unpaced.tally);
    report::load_line("echo", &echo_unpaced);
    LoadResults { paced: Pair { live, echo }, echo_unpaced }
}

/// Test 3 starts fresh servers: the sessions of tests 1-2 linger for the 60 s grace
/// period, and memory freed by closed sockets would hide new allocations.
async fn test_idle(plan: &Plan, root: &Path, errors: &mut Errors) -> Result<Pair<Idle>, String> {
    report::idle_title(plan);
    let counter = Server::counter(root)?;
    let live = runs::idle_rss(&counter, Target::Live(counter.addr), plan.idle_sessions).await?;
    errors.live.add(&live.tally);
    report::idle_line("mizulive", &live);
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
        let args: Vec<String> = ["--load-secs", "5", "--quick"].iter().map(|s| s.to_string()).collect();
        let plan = Plan::from_args(&args).expect("valid flags");
        assert_eq!((plan.load_secs, plan.load_sessions), (5, 200));
        assert!(Plan::from_args(&["--bogus".to_string()]).is_err());
    }
}
