//! `--redis`: what scale-out on Redis costs. A real redis-server is started on a free
//! port of 127.0.0.1, then
//!
//! 1. the C counter runs the one-event-in-flight and the 1,000-session load test twice,
//!    on its own and as a node on that Redis (each committed callback then writes the
//!    session's snapshot, and the event's reply waits for it), and the two are printed
//!    side by side, with what Redis itself counted per event (bytes it read, commands,
//!    its CPU time);
//! 2. the conformance app's chat room (`/rooms/{room}`: `send` publishes, every session
//!    in the room shows it) measures fan-out: N subscribers split over two nodes on the
//!    same Redis, one publish on node A, the time until the last subscriber of each node
//!    has its patch; the same N on one node without Redis, and on one node with Redis,
//!    from the same run, for comparison.
//!
//!   make bench-redis
//!   cargo run --release -p mizulive-bench -- --redis [--load-secs S] [--fanout-subscribers N]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{self, Client, Target};
use crate::procs::{self, Server};
use crate::redis::{Redis, RedisUse};
use crate::report::{num, num_dp};
use crate::runs::{self, Latency, Load, LoadSpec, Tally};
use crate::stats::Samples;
use crate::{session_period, Errors, SESSION_RATE};

/// Every node of the cluster signs and verifies tokens with this secret; a bench-only
/// value (any string of 32 bytes or more will do).
const SECRET: &str = "mizulive-bench-cluster-secret-0123456789";
/// Upper bounds of the flags, so a typo cannot start an unbounded run.
const MAX_SUBSCRIBERS: usize = 10_000;
const MAX_ROUNDS: usize = 1_000;
const MAX_REPEATS: usize = 20;
/// Pause between two publishes of the fan-out test, so the snapshot writes the last
/// one caused (one per subscriber) are done before the next is timed.
const ROUND_GAP: Duration = Duration::from_millis(300);

/// How the `--redis` mode runs.
#[derive(Debug, Clone)]
pub struct RedisSpec {
    pub rtt_events: usize,
    pub load_sessions: usize,
    pub load_warmup: Duration,
    pub load_secs: u64,
    /// Load runs per counter, alternating between the two.
    pub repeats: usize,
    pub subscribers: usize,
    pub rounds: usize,
}

impl RedisSpec {
    pub fn full() -> RedisSpec {
        RedisSpec {
            rtt_events: 500,
            load_sessions: 1000,
            load_warmup: Duration::from_secs(1),
            load_secs: 5,
            repeats: 3,
            subscribers: 1000,
            rounds: 20,
        }
    }

    pub fn from_args(args: &[String]) -> Result<RedisSpec, String> {
        let mut spec = RedisSpec::full();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            if flag == "--redis" {
                continue;
            }
            let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let n = match v.parse::<usize>() {
                Ok(n) if n > 0 => n,
                _ => return Err(format!("{flag}: expected a positive integer, got {v:?}")),
            };
            match flag.as_str() {
                "--rtt-events" => spec.rtt_events = n,
                "--load-sessions" => spec.load_sessions = n,
                "--load-secs" => spec.load_secs = n as u64,
                "--repeats" if n <= MAX_REPEATS => spec.repeats = n,
                "--repeats" => return Err(format!("{flag}: at most {MAX_REPEATS}")),
                "--fanout-subscribers" if (2..=MAX_SUBSCRIBERS).contains(&n) => spec.subscribers = n,
                "--fanout-subscribers" => return Err(format!("{flag}: 2 to {MAX_SUBSCRIBERS}")),
                "--fanout-rounds" if n <= MAX_ROUNDS => spec.rounds = n,
                "--fanout-rounds" => return Err(format!("{flag}: at most {MAX_ROUNDS}")),
                other => return Err(format!("unknown argument {other:?}")),
            }
        }
        Ok(spec)
    }
}

/// Runs both parts; returns the number of errors (0 for a clean run). Redis and every
/// node are child processes dropped (killed) on every early return.
pub async fn run(root: &Path, spec: RedisSpec) -> Result<u64, String> {
    procs::raise_nofile_limit()?;
    procs::build_counter(root)?;
    procs::build_conformance(root)?;
    let redis = Redis::start().await?;
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "mizulive bench --redis: {} CPUs, load average {} at start, redis-server {} (--save \"\" --appendonly no)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load.join(" "),
        redis.url(),
    );
    let mut errors = Errors::default();
    let cost = cost_per_event(root, &spec, &redis, &mut errors).await?;
    let fan = fan_out(root, &spec, &redis, &mut errors).await?;
    drop(redis);

    print_cost(&spec, &cost);
    print_fan_out(&spec, &fan);
    println!();
    tally_line("cost", &errors.live);
    tally_line("fan-out", &errors.echo);
    if errors.stops.is_empty() {
        println!("servers stopped cleanly on SIGINT");
    }
    for problem in &errors.stops {
        println!("server stop: {problem}");
    }
    Ok(errors.total())
}

// ---- 1. cost per event -------------------------------------------------------------

/// The C counter on its own or as a node: one event in flight once, then the load
/// test `repeats` times.
struct CounterRuns {
    rtt: Latency,
    loads: Vec<Load>,
    /// What Redis counted over each load test's measured window (Redis runs only).
    redis: Vec<RedisUse>,
}

struct Cost {
    plain: CounterRuns,
    clustered: CounterRuns,
}

/// Both counters run side by side (the one not measured idles), and their load tests
/// alternate, so a neighbour that starts or stops mid-run hits both about equally.
async fn cost_per_event(
    root: &Path,
    spec: &RedisSpec,
    redis: &Redis,
    errors: &mut Errors,
) -> Result<Cost, String> {
    let load_spec = LoadSpec {
        sessions: spec.load_sessions,
        warmup: spec.load_warmup,
        duration: Duration::from_secs(spec.load_secs),
        period: session_period(),
    };
    let warmup = (spec.rtt_events / 10).max(10);
    println!(
        "\n[1] C counter without and with Redis: {} events one at a time (after {warmup} warm-up), then \
         {} times,\n    alternately, {} sessions paced at <= {SESSION_RATE}/s each, {} s measured after {:?} warm-up",
        num(spec.rtt_events as f64),
        spec.repeats,
        num(spec.load_sessions as f64),
        spec.load_secs,
        spec.load_warmup
    );
    let url = redis.url();
    let servers =
        [Server::counter_node(root, None, SECRET)?, Server::counter_node(root, Some(&url), SECRET)?];
    let names = ["alone", "redis"];
    let mut runs = Vec::new();
    for (server, name) in servers.iter().zip(names) {
        let (rtt, tally) =
            runs::rtt(Target::Live(server.addr), 1, warmup, spec.rtt_events, session_period()).await;
        errors.live.add(&tally);
        crate::report::rtt_live(name, &rtt);
        runs.push(CounterRuns { rtt, loads: Vec::new(), redis: Vec::new() });
    }
    for _ in 0..spec.repeats {
        for ((server, name), run) in servers.iter().zip(names).zip(runs.iter_mut()) {
            let target = Target::Live(server.addr);
            let clustered = name == "redis";
            let (load, before, after) = runs::load_probed(server, target, load_spec, || async {
                if clustered {
                    Some(redis.sample().await)
                } else {
                    None
                }
            })
            .await;
            errors.live.add(&load.tally);
            crate::report::load_line(name, &load);
            match (before, after) {
                (Some(Ok(before)), Some(Ok(after))) => run.redis.push(after.since(&before)),
                (Some(Err(e)), _) | (_, Some(Err(e))) => {
                    return Err(format!("reading Redis's counters: {e}"))
                }
                _ => {}
            }
            run.loads.push(load);
        }
    }
    for server in servers {
        errors.stop(server);
    }
    let clustered = runs.pop().expect("two runs");
    let plain = runs.pop().expect("two runs");
    Ok(Cost { plain, clustered })
}

/// The median of some values (the lower middle one of an even count); 0 when empty.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len().saturating_sub(1) / 2).copied().unwrap_or(0.0)
}

fn print_cost(spec: &RedisSpec, cost: &Cost) {
    let (a, b) = (&cost.plain, &cost.clustered);
    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>9}",
        format!("[1] C counter, cost per event ({} runs: median)", spec.repeats),
        "no Redis",
        "Redis",
        "Redis/no"
    );
    let row = |label: &str, x: f64, y: f64, dp: usize| {
        let ratio = if x > 0.0 { format!("{:.2}x", y / x) } else { "-".into() };
        println!("{label:<44} {:>12} {:>12} {ratio:>9}", num_dp(x, dp), num_dp(y, dp));
    };
    // The median over the load runs of one number of each run.
    let of = |runs: &CounterRuns, f: &dyn Fn(&Load) -> f64| median(runs.loads.iter().map(f).collect());
    let both = |label: &str, f: &dyn Fn(&Load) -> f64, dp: usize| row(label, of(a, f), of(b, f), dp);
    let sessions = num(spec.load_sessions as f64);
    row("one in flight: click->reply p50 (µs)", a.rtt.done.p50 as f64, b.rtt.done.p50 as f64, 0);
    row("one in flight: click->reply p99 (µs)", a.rtt.done.p99 as f64, b.rtt.done.p99 as f64, 0);
    both(&format!("{sessions} sessions: events/s"), &|l| l.per_sec, 0);
    both("  server CPU per event (µs)", &|l| l.cpu_per_event_us().unwrap_or(0.0), 1);
    // Cores each process kept busy: with the whole machine near its core count and the
    // measured ones well below it, neighbours were competing and events/s says little.
    both("  server CPU (cores)", &|l| l.cores(l.cpu.server).unwrap_or(0.0), 2);
    both("  whole machine CPU (cores)", &|l| l.cores(l.cpu.machine).unwrap_or(0.0), 2);
    both("  click->reply p50 (µs)", &|l| l.latency.done.p50 as f64, 0);
    both("  click->reply p99 (µs)", &|l| l.latency.done.p99 as f64, 0);
    let each = |runs: &CounterRuns| {
        let v: Vec<String> =
            runs.loads.iter().map(|l| num_dp(l.cpu_per_event_us().unwrap_or(0.0), 1)).collect();
        v.join(", ")
    };
    println!("  server CPU per event, each run (µs): no Redis {}; Redis {}", each(a), each(b));
    // Redis's counters over each window, per event completed in it.
    let per_event = |f: &dyn Fn(&RedisUse) -> f64| {
        median(b.redis.iter().zip(&b.loads).map(|(u, l)| f(u) / l.completed.max(1) as f64).collect())
    };
    let only = |label: &str, v: f64, dp: usize| println!("{label:<44} {:>12} {:>12}", "-", num_dp(v, dp));
    if b.redis.is_empty() {
        return;
    }
    only("  bytes written to Redis per event", per_event(&|u| u.input_bytes as f64), 0);
    only("  bytes Redis sent back per event", per_event(&|u| u.output_bytes as f64), 0);
    only("  Redis commands per event", per_event(&|u| u.commands as f64), 2);
    let mut names: Vec<&String> = b.redis.iter().flat_map(|u| u.calls.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        let calls = per_event(&|u| u.calls.get(name).copied().unwrap_or(0) as f64);
        if calls >= 0.005 {
            only(&format!("    {name}"), calls, 2);
        }
    }
    let redis_us = per_event(&|u| u.cpu.as_secs_f64() * 1e6);
    only("  redis-server CPU per event (µs)", redis_us, 1);
    let redis_cores =
        median(b.redis.iter().zip(&b.loads).map(|(u, l)| l.cores(Some(u.cpu)).unwrap_or(0.0)).collect());
    only("  redis-server CPU (cores)", redis_cores, 2);
    let node_us = of(b, &|l| l.cpu_per_event_us().unwrap_or(0.0));
    only("  node + redis-server CPU per event (µs)", node_us + redis_us, 1);
    if [a, b].iter().any(|r| r.loads.iter().any(|l| l.cap.is_some_and(|cap| l.per_sec >= 0.97 * cap))) {
        println!("note: a run reached its pacing cap: compare CPU per event, not events/s");
    }
}

// ---- 2. fan-out --------------------------------------------------------------------

/// Where a scenario opens subscribers: a label, a node, how many.
type Subscribers = (&'static str, SocketAddr, usize);

/// Subscribers of one node, and when each round's publish reached them.
struct Group {
    label: String,
    addr: SocketAddr,
    clients: Vec<Client>,
    /// Per round: publish -> patch at the last subscriber of this group, in µs.
    last: Samples,
    /// Every subscriber's publish -> patch, all rounds.
    all: Samples,
}

struct Scenario {
    title: String,
    groups: Vec<Group>,
    /// Per round: publish -> patch at the last subscriber of all groups.
    last: Samples,
    rounds: usize,
    redis: Option<RedisUse>,
}

async fn fan_out(
    root: &Path,
    spec: &RedisSpec,
    redis: &Redis,
    errors: &mut Errors,
) -> Result<Vec<Scenario>, String> {
    let n = spec.subscribers;
    println!(
        "\n[2] fan-out: {} subscribers of one chat room (e2e/apps/c, /rooms/{{room}}), {} publishes one at a \
         time, {ROUND_GAP:?} apart, after 1 warm-up",
        num(n as f64),
        spec.rounds
    );
    let url = redis.url();
    let alone = Server::conformance_node(root, "conformance alone", None, SECRET)?;
    let node_a = Server::conformance_node(root, "conformance node A", Some(&url), SECRET)?;
    let node_b = Server::conformance_node(root, "conformance node B", Some(&url), SECRET)?;
    let plans: [(&str, &str, Vec<Subscribers>, bool); 3] = [
        ("one node, no Redis", "alone", vec![("all", alone.addr, n)], false),
        (
            "two nodes on Redis, publish on A",
            "split",
            vec![("node A", node_a.addr, n / 2), ("node B", node_b.addr, n - n / 2)],
            true,
        ),
        ("one node on Redis (node A)", "one", vec![("node A", node_a.addr, n)], true),
    ];
    let mut scenarios = Vec::new();
    for (title, room, groups, on_redis) in plans {
        let scenario =
            scenario(title, room, groups, spec.rounds, on_redis.then_some(redis), &mut errors.echo).await?;
        scenarios.push(scenario);
    }
    for server in [alone, node_a, node_b] {
        errors.stop(server);
    }
    Ok(scenarios)
}

/// Opens the groups' subscribers and a publisher on the first group's node, all in
/// `/rooms/<room>`, then times `rounds` publishes (after one untimed warm-up, which
/// also lets a node's new Redis subscription settle).
async fn scenario(
    title: &str,
    room: &str,
    groups: Vec<Subscribers>,
    rounds: usize,
    redis: Option<&Redis>,
    tally: &mut Tally,
) -> Result<Scenario, String> {
    let path = format!("/rooms/{room}");
    let publisher_addr = groups[0].1;
    let mut publisher =
        client::open_page(publisher_addr, &path).await.map_err(|e| format!("{title}: publisher: {e}"))?;
    let mut opened = Vec::new();
    for (label, addr, count) in groups {
        let clients = open_many(addr, &path, count, tally).await;
        opened.push(Group {
            label: format!("{label} ({} subscribers)", num(clients.len() as f64)),
            addr,
            clients,
            last: Samples::default(),
            all: Samples::default(),
        });
    }
    let mut groups = opened;
    let mut last = Samples::default();
    let mut before = None;
    let mut done = 0;
    for round in 0..=rounds {
        if round == 1 {
            if let Some(redis) = redis {
                before = Some(redis.sample().await?);
            }
        }
        // Unique per round: "fo1z" is not a substring of "fo11z" or "fo21z".
        let text = format!("fo{round}z");
        let mut waiting = Vec::new();
        for group in &mut groups {
            let tasks: Vec<_> = group
                .clients
                .drain(..)
                .map(|mut c| {
                    let needle = text.clone();
                    tokio::spawn(async move {
                        let arrived = c.await_patch_with(&needle).await;
                        (c, arrived)
                    })
                })
                .collect();
            waiting.push(tasks);
        }
        let sent = Instant::now();
        if let Err(e) = publisher.submit("send", "text", &text).await {
            tally.record(&e);
            return Err(format!("{title}: the publish failed: {e}"));
        }
        let mut round_last = Duration::ZERO;
        for (group, tasks) in groups.iter_mut().zip(waiting) {
            let mut group_last = Duration::ZERO;
            for task in tasks {
                match task.await {
                    Ok((client, Ok(at))) => {
                        let took = at.saturating_duration_since(sent);
                        group_last = group_last.max(took);
                        if round > 0 {
                            group.all.push(took);
                        }
                        group.clients.push(client);
                    }
                    // A subscriber that missed its patch is dropped: its socket is in
                    // an unknown state.
                    Ok((_, Err(e))) => tally.record(&e),
                    Err(e) => tally.record(&client::ClickError::Socket(format!("subscriber task: {e}"))),
                }
            }
            if round > 0 {
                group.last.push(group_last);
            }
            round_last = round_last.max(group_last);
        }
        if round > 0 {
            last.push(round_last);
            done += 1;
        }
        tokio::time::sleep(ROUND_GAP).await;
    }
    let used = match (redis, before) {
        (Some(redis), Some(before)) => Some(redis.sample().await?.since(&before)),
        _ => None,
    };
    let scenario = Scenario { title: title.to_string(), groups, last, rounds: done, redis: used };
    print_scenario_line(&scenario);
    Ok(scenario)
}

async fn open_many(addr: SocketAddr, path: &str, n: usize, tally: &mut Tally) -> Vec<Client> {
    let path: Arc<str> = Arc::from(path);
    runs::open_each(n, tally, move || {
        let path = path.clone();
        async move { client::open_page(addr, &path).await }
    })
    .await
}

fn ms(us: u32) -> String {
    format!("{:.1}", us as f64 / 1000.0)
}

fn print_scenario_line(s: &Scenario) {
    let p = s.last.clone().percentiles();
    println!(
        "    {:<34} last subscriber: median {} ms, max {} ms ({} publishes)",
        s.title,
        ms(p.p50),
        ms(p.max),
        s.rounds
    );
}

fn print_fan_out(spec: &RedisSpec, scenarios: &[Scenario]) {
    println!();
    println!(
        "[2] fan-out, {} subscribers, publish -> patch (ms)   last: median      max   all subs: p50     p99",
        num(spec.subscribers as f64)
    );
    for s in scenarios {
        let last = s.last.clone().percentiles();
        println!("{:<52} {:>8} {:>8}", s.title, ms(last.p50), ms(last.max));
        if s.groups.len() > 1 {
            for g in &s.groups {
                let gl = g.last.clone().percentiles();
                let all = g.all.clone().percentiles();
                println!(
                    "    {:<48} {:>8} {:>8} {:>15} {:>7}",
                    format!("{} at {}", g.label, g.addr),
                    ms(gl.p50),
                    ms(gl.max),
                    ms(all.p50),
                    ms(all.p99)
                );
            }
        } else if let Some(g) = s.groups.first() {
            let all = g.all.clone().percentiles();
            println!("    {:<48} {:>8} {:>8} {:>15} {:>7}", g.label, "", "", ms(all.p50), ms(all.p99));
        }
        if let Some(used) = &s.redis {
            let rounds = s.rounds.max(1) as f64;
            let calls: Vec<String> = used
                .calls
                .iter()
                .map(|(name, n)| format!("{name} {}", num_dp(*n as f64 / rounds, 1)))
                .collect();
            println!(
                "    per publish, Redis read {} bytes, sent {} bytes, ran {} commands ({}), used {} µs CPU",
                num(used.input_bytes as f64 / rounds),
                num(used.output_bytes as f64 / rounds),
                num_dp(used.commands as f64 / rounds, 1),
                calls.join(", "),
                num(used.cpu.as_secs_f64() * 1e6 / rounds)
            );
        }
    }
}

fn tally_line(name: &str, t: &Tally) {
    println!(
        "{name:<8} client errors: rate_limited {}, rejected {}, missing patch {}, open failed {}, socket {}, timeouts {}",
        t.rate_limited, t.rejected, t.missing_patch, t.open_failed, t.socket, t.timeouts
    );
    if let Some(first) = &t.first {
        println!("         first error: {first}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_bounded() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let spec =
            RedisSpec::from_args(&args(&["--redis", "--fanout-subscribers", "200", "--load-secs", "3"]))
                .expect("valid flags");
        assert_eq!((spec.subscribers, spec.load_secs, spec.rounds, spec.repeats), (200, 3, 20, 3));
        assert!(RedisSpec::from_args(&args(&["--repeats", "21"])).is_err());
        assert!(RedisSpec::from_args(&args(&["--fanout-subscribers", "10001"])).is_err());
        assert!(RedisSpec::from_args(&args(&["--fanout-rounds", "1001"])).is_err());
        assert!(RedisSpec::from_args(&args(&["--quick"])).is_err());
    }
}
