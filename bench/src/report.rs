//! Everything the bench prints: one line per measurement as it finishes, then a
//! summary with the C counter/echo ratios, one with the Python and Go counters against
//! the C counter, then the error counts.

use crate::runs::{Idle, Latency, Load, Tally, IDLE_WARMUP};
use crate::stats::Percentiles;
use crate::{Errors, HostResult, LoadResults, Pair, Plan};

/// A paced run that reached this share of its cap could have gone faster.
const AT_CAP: f64 = 0.97;

pub fn header(cpus: usize, nofile: libc::rlim_t) {
    // Other work on the machine shows up in every number; say how busy it was.
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "mizulive bench: {cpus} CPUs, load average {} at start, RLIMIT_NOFILE {nofile}, all traffic on 127.0.0.1",
        load.join(" ")
    );
    println!("servers: examples-c/counter (default options) and a tokio-tungstenite echo server");
    println!("         (2 worker threads, mizulive's WebSocket buffers); for tests 1-2 also the Python");
    println!("         and Go counters (examples-python/counter.py, bindings/go/examples/counter) on the");
    println!("         same library build and views; each server in its own process");
}

pub fn rtt_title(plan: &Plan, rate: f64) {
    let sessions = match plan.rtt_sessions {
        1 => format!("one session at <= {rate}/s"),
        n => format!("rotated over {n} sessions at <= {rate}/s each"),
    };
    println!(
        "\n[1] round trip, one event in flight: {} events after {} warm-up, {sessions}",
        num(plan.rtt_events as f64),
        num(plan.rtt_warmup as f64),
    );
}

/// The other hosts run fewer events; say so before their lines.
pub fn host_rtt_title(plan: &Plan) {
    println!(
        "    python and go counters: {} events after {} warm-up",
        num(plan.host_rtt_events as f64),
        num(plan.host_rtt_warmup as f64)
    );
}

pub fn rtt_live(name: &str, l: &Latency) {
    println!("    {name:<8}  click->patch  {}", percentiles(&l.first));
    println!("              click->reply  {}", percentiles(&l.done));
}

pub fn rtt_echo(l: &Latency) {
    println!("    echo      send->echo    {}", percentiles(&l.done));
}

pub fn load_title(plan: &Plan, rate: f64) {
    println!(
        "\n[2] {} concurrent sessions, each clicking sequentially (send, await reply, repeat), paced at \
         <= {rate}/s\n    per session unless marked unpaced; {} s measured after {:?} warm-up",
        num(plan.load_sessions as f64),
        plan.load_secs,
        plan.load_warmup
    );
}

pub fn load_line(name: &str, l: &Load) {
    let pacing = match l.cap {
        Some(cap) if at_cap(l) => format!("paced, AT its cap of {}/s", num(cap)),
        Some(cap) => format!("paced, cap {}/s", num(cap)),
        None => "unpaced".to_string(),
    };
    println!("    {name:<8}  {} events/s ({pacing}, {} sessions)", num(l.per_sec), l.sessions);
    println!("              click->reply  {}", percentiles(&l.latency.done));
    let cores = |used| l.cores(used).map_or("?".to_string(), |c| format!("{c:.2}"));
    let per_event = l.cpu_per_event_us().map_or("?".to_string(), |us| format!("{us:.1}"));
    println!(
        "              CPU (cores)   server {} ({per_event} µs per event), bench client {}, whole machine {}",
        cores(l.cpu.server),
        cores(l.cpu.client),
        cores(l.cpu.machine)
    );
}

/// A host that did not run: the whole reason with `detail` (for a failed start or
/// build it includes the end of the stderr), else its first line.
pub fn skipped(name: &str, why: &str, detail: bool) {
    if !detail {
        println!("    {name:<8}  skipped: {}", brief(why));
        return;
    }
    let mut lines = why.lines();
    println!("    {name:<8}  skipped: {}", lines.next().unwrap_or_default());
    for line in lines {
        println!("              | {line}");
    }
}

/// The first line of a skip reason, pointing at test 1's lines for the rest.
fn brief(why: &str) -> String {
    let mut lines = why.lines();
    let first = lines.next().unwrap_or_default().trim_end_matches(':');
    match lines.next() {
        Some(_) => format!("{first} (details under [1])"),
        None => first.to_string(),
    }
}

pub fn idle_title(plan: &Plan) {
    println!(
        "\n[3] server RSS per idle session: {} joined idle sessions, opened after {IDLE_WARMUP} warm-up ones",
        num(plan.idle_sessions as f64)
    );
}

pub fn idle_line(name: &str, i: &Idle) {
    println!(
        "    {name:<8}  VmRSS {} KB -> {} KB with {} more: {:.1} KB per session",
        num(i.before_kb as f64),
        num(i.after_kb as f64),
        num(i.opened as f64),
        i.per_session_kb()
    );
}

pub fn summary(plan: &Plan, rtt: &Pair<Latency>, load: &LoadResults, idle: &Pair<Idle>) {
    println!();
    columns("summary", "C counter", "echo", "C/echo");
    let p50 = |p: &Percentiles| p.p50 as f64;
    let p99 = |p: &Percentiles| p.p99 as f64;
    row("[1] click->patch p50 (µs)", p50(&rtt.live.first), p50(&rtt.echo.first), 0);
    row("[1] click->patch p99 (µs)", p99(&rtt.live.first), p99(&rtt.echo.first), 0);
    row("[1] click->reply p50 (µs)", p50(&rtt.live.done), p50(&rtt.echo.done), 0);
    row("[1] click->reply p99 (µs)", p99(&rtt.live.done), p99(&rtt.echo.done), 0);
    let (live, echo) = (&load.paced.live, &load.paced.echo);
    let sessions = num(plan.load_sessions as f64);
    row(&format!("[2] events/s, {sessions} sessions"), live.per_sec, echo.per_sec, 0);
    row("[2]   vs. echo unpaced", live.per_sec, load.echo_unpaced.per_sec, 0);
    let cpu = |l: &Load| l.cpu_per_event_us().unwrap_or(0.0);
    row("[2] server CPU per event (µs)", cpu(live), cpu(echo), 1);
    row("[2] click->reply p50 under load (µs)", p50(&live.latency.done), p50(&echo.latency.done), 0);
    row("[2] click->reply p99 under load (µs)", p99(&live.latency.done), p99(&echo.latency.done), 0);
    row("[3] RSS per idle session (KB)", idle.live.per_session_kb(), idle.echo.per_session_kb(), 1);
    if at_cap(live) {
        println!(
            "note: the C counter reached its pacing cap, so [2] measured the per-session limit, not the server"
        );
    } else if at_cap(echo) {
        println!("note: echo reached its pacing cap; the unpaced row shows how far past it echo goes");
    }
}

/// The Python and Go counters against the C counter: the same core and views, so the
/// difference is the host language's callbacks (mount, event, render state).
pub fn host_summary(c_rtt: &Latency, c_load: &Load, hosts: &[HostResult]) {
    println!();
    columns("host counters vs. the C counter", "host", "C counter", "host/C");
    let p50 = |p: &Percentiles| p.p50 as f64;
    let p99 = |p: &Percentiles| p.p99 as f64;
    let cpu = |l: &Load| l.cpu_per_event_us().unwrap_or(0.0);
    for host in hosts {
        let name = host.name;
        let (rtt, load) = match &host.measured {
            Ok((rtt, load)) => (rtt, load),
            Err(why) => {
                println!("{:<43} skipped: {}", format!("[2] events/s ({name} counter)"), brief(why));
                continue;
            }
        };
        row(&format!("[1] {name} click->patch p50 (µs)"), p50(&rtt.first), p50(&c_rtt.first), 0);
        row(&format!("[1] {name} click->patch p99 (µs)"), p99(&rtt.first), p99(&c_rtt.first), 0);
        row(&format!("[2] events/s ({name} counter)"), load.per_sec, c_load.per_sec, 0);
        row(&format!("[2] {name} server CPU per event (µs)"), cpu(load), cpu(c_load), 1);
        let (done, c_done) = (&load.latency.done, &c_load.latency.done);
        row(&format!("[2] {name} click->reply p50 under load (µs)"), p50(done), p50(c_done), 0);
        row(&format!("[2] {name} click->reply p99 under load (µs)"), p99(done), p99(c_done), 0);
        if at_cap(load) {
            println!("note: the {name} counter reached its pacing cap in [2]; compare CPU per event instead");
        }
    }
    if at_cap(c_load) && hosts.iter().any(|h| h.measured.as_ref().is_ok_and(|(_, l)| !at_cap(l))) {
        println!(
            "note: the C counter's events/s is its pacing cap, not its limit: host/C events/s \
             overstates the hosts; CPU per event compares them fairly"
        );
    }
}

pub fn errors(errors: &Errors) {
    println!();
    tally("C", &errors.live);
    tally("echo", &errors.echo);
    for (name, t) in &errors.hosts {
        tally(name, t);
    }
    if errors.stops.is_empty() {
        println!("servers stopped cleanly on SIGINT");
    }
    for problem in &errors.stops {
        println!("server stop: {problem}");
    }
}

fn tally(name: &str, t: &Tally) {
    println!(
        "{name:<8} client errors: rate_limited {}, rejected {}, missing patch {}, open failed {}, \
         socket {}, timeouts {}",
        t.rate_limited, t.rejected, t.missing_patch, t.open_failed, t.socket, t.timeouts
    );
    if let Some(first) = &t.first {
        println!("         first error: {first}");
    }
}

/// A table's heading, aligned with `row`.
fn columns(title: &str, first: &str, second: &str, ratio: &str) {
    println!("{title:<43} {first:>12} {second:>11} {ratio:>15}");
}

fn row(label: &str, live: f64, echo: f64, decimals: usize) {
    let ratio = if echo > 0.0 { format!("{:.2}x", live / echo) } else { "-".into() };
    println!("{label:<43} {:>12} {:>11} {ratio:>15}", num_dp(live, decimals), num_dp(echo, decimals));
}

/// True when a paced run reached what its pacing allows, so it could have done more.
fn at_cap(load: &Load) -> bool {
    load.cap.is_some_and(|cap| load.per_sec >= AT_CAP * cap)
}

fn percentiles(p: &Percentiles) -> String {
    format!(
        "p50 {:>6} µs  p99 {:>7} µs  max {:>7} µs  ({} samples)",
        num(p.p50 as f64),
        num(p.p99 as f64),
        num(p.max as f64),
        num(p.count as f64)
    )
}

pub fn num(x: f64) -> String {
    num_dp(x, 0)
}

/// A number with thousands separators: 12345.6 -> "12,346" with 0 decimals.
pub fn num_dp(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if let Some(f) = frac {
        out.push('.');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(num(1234567.0), "1,234,567");
        assert_eq!(num(999.0), "999");
        assert_eq!(num_dp(12345.67, 1), "12,345.7");
    }

    #[test]
    fn skip_reasons_fit_one_line() {
        assert_eq!(brief("go not found"), "go not found");
        assert_eq!(
            brief("go build failed: exit status: 1: go: oops:\n\tdetail"),
            "go build failed: exit status: 1: go: oops (details under [1])"
        );
    }
}
