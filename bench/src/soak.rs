//! The soak test: many sessions sending events for a long time while the server's RSS
//! is sampled. It passes when memory levels off (the last tenth of the run within 5 %
//! of the second tenth) and no session lost a patch (each click's patch shows the
//! count one higher than the last).
//!
//!   make soak          1,000 sessions for 10 minutes, RSS every 10 s
//!   make soak-smoke    the same for one minute (part of `make test`)

use std::time::{Duration, Instant};
use tokio::time::sleep_until;

use crate::client::{ClickError, Client, Target};
use crate::procs::Server;
use crate::runs::{open_many, Tally};

/// How the soak runs.
#[derive(Debug, Clone, Copy)]
pub struct SoakSpec {
    pub sessions: usize,
    /// Events per second each session sends.
    pub rate: f64,
    /// Unmeasured time first, long enough for every session to fill its resume buffer
    /// (64 patches) and reach their steady size, so the buffers' growth is not mistaken for a leak.
    pub warmup: Duration,
    /// Measured time; RSS is sampled 60 times over it.
    pub duration: Duration,
}

impl SoakSpec {
    pub fn full() -> SoakSpec {
        SoakSpec {
            sessions: 1000,
            rate: 5.0,
            warmup: Duration::from_secs(30),
            duration: Duration::from_secs(600),
        }
    }
}

/// RSS may grow by this much from the second tenth of the run to the last.
const ALLOWED_GROWTH: f64 = 0.05;

/// What each session task saw.
#[derive(Default)]
struct Driven {
    events: u64,
    count_gaps: u64,
    tally: Tally,
}

/// Runs the soak against `server`; prints the samples and the verdict. Returns the
/// number of failures (0 means pass).
pub async fn run(server: &Server, spec: SoakSpec) -> Result<u64, String> {
    println!(
        "soak: {} sessions, {} events/s each, {:?} warm-up, then {:?} measured",
        spec.sessions, spec.rate, spec.warmup, spec.duration
    );
    let mut tally = Tally::default();
    let clients = open_many(Target::Live(server.addr), spec.sessions, &mut tally).await;
    let opened = clients.len();
    let period = Duration::from_secs_f64(1.0 / spec.rate);
    let start = Instant::now();
    let measured = start + spec.warmup;
    let end = measured + spec.duration;
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, client)| {
            let first_at = start + period.mul_f64(i as f64 / opened.max(1) as f64);
            tokio::spawn(drive(client, first_at, period, end))
        })
        .collect();

    let interval = (spec.duration / 60).max(Duration::from_secs(1));
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    let mut next = measured;
    while next <= end {
        sleep_until(next.into()).await;
        let rss = server.rss_kb()?;
        let at = next.duration_since(measured);
        println!("  {:>6.0} s  RSS {:>8} KB", at.as_secs_f64(), rss);
        samples.push((at, rss));
        next += interval;
    }

    let mut driven = Driven { tally, ..Driven::default() };
    for task in tasks {
        match task.await {
            Ok(d) => {
                driven.events += d.events;
                driven.count_gaps += d.count_gaps;
                driven.tally.add(&d.tally);
            }
            Err(e) => driven.tally.record(&ClickError::Socket(format!("session task failed: {e}"))),
        }
    }
    Ok(verdict(&spec, opened, &samples, &driven))
}

/// One session: clicks every `period` until `end`, counting completed events and gaps.
async fn drive(mut client: Client, first_at: Instant, period: Duration, end: Instant) -> Driven {
    let mut d = Driven::default();
    let mut next = first_at;
    loop {
        sleep_until(next.into()).await;
        if Instant::now() >= end {
            break;
        }
        match client.roundtrip().await {
            Ok(_) => d.events += 1,
            Err(e) => {
                d.tally.record(&e);
                if e.is_fatal() {
                    break;
                }
            }
        }
        next = (next + period).max(Instant::now());
    }
    d.count_gaps = client.count_gaps();
    d
}

/// Mean RSS of the samples taken in `[from, to)` of the measured time, as fractions.
fn window_mean(samples: &[(Duration, u64)], total: Duration, from: f64, to: f64) -> Option<f64> {
    let (lo, hi) = (total.mul_f64(from), total.mul_f64(to));
    let picked: Vec<u64> = samples.iter().filter(|(at, _)| *at >= lo && *at < hi).map(|s| s.1).collect();
    (!picked.is_empty()).then(|| picked.iter().sum::<u64>() as f64 / picked.len() as f64)
}

fn verdict(spec: &SoakSpec, opened: usize, samples: &[(Duration, u64)], d: &Driven) -> u64 {
    let mut failures = 0;
    // The second tenth against the last tenth (minute two and minute ten of a
    // ten-minute run); the end point is included in the last window.
    let second = window_mean(samples, spec.duration, 0.1, 0.2);
    let last = window_mean(samples, spec.duration, 0.9, 1.01);
    println!("  sessions opened {opened} of {}, events completed {}", spec.sessions, d.events);
    match (second, last) {
        (Some(second), Some(last)) => {
            let growth = last / second - 1.0;
            let ok = growth <= ALLOWED_GROWTH;
            println!(
                "  RSS second tenth {:.0} KB, last tenth {:.0} KB: {:+.1} % (limit +{:.0} %) {}",
                second,
                last,
                growth * 100.0,
                ALLOWED_GROWTH * 100.0,
                if ok { "ok" } else { "FAIL" }
            );
            failures += u64::from(!ok);
        }
        _ => {
            println!("  too few RSS samples to compare: FAIL");
            failures += 1;
        }
    }
    println!(
        "  patches lost (count gaps): {} {}",
        d.count_gaps,
        if d.count_gaps == 0 { "ok" } else { "FAIL" }
    );
    failures += d.count_gaps;
    let errors = d.tally.total();
    if errors > 0 {
        println!("  client errors: {errors} (first: {}) FAIL", d.tally.first.as_deref().unwrap_or("?"));
    }
    failures += errors;
    if opened < spec.sessions || d.events == 0 {
        println!("  not every session opened, or no event completed: FAIL");
        failures += 1;
    }
    println!("soak: {}", if failures == 0 { "PASS" } else { "FAIL" });
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_pick_their_tenth() {
        let total = Duration::from_secs(100);
        let samples: Vec<(Duration, u64)> =
            (0..=10).map(|i| (Duration::from_secs(i * 10), i * 100)).collect();
        assert_eq!(window_mean(&samples, total, 0.1, 0.2), Some(100.0));
        assert_eq!(window_mean(&samples, total, 0.9, 1.01), Some(950.0));
        assert_eq!(window_mean(&[], total, 0.1, 0.2), None);
    }

    /// A smoke run's samples, one a second, RSS in KB from the second of the run.
    fn smoke_series(rss: impl Fn(u64) -> u64) -> Vec<(Duration, u64)> {
        (0..=60).map(|s| (Duration::from_secs(s), rss(s))).collect()
    }

    fn smoke() -> SoakSpec {
        SoakSpec { duration: Duration::from_secs(60), ..SoakSpec::full() }
    }

    fn ran() -> Driven {
        Driven { events: 300_000, ..Driven::default() }
    }

    #[test]
    fn flat_memory_passes_and_steady_growth_fails() {
        // Levelled off, a few KB of noise: what the counter does once its resume
        // buffers are full.
        assert_eq!(verdict(&smoke(), 1000, &smoke_series(|s| 46_000 + s % 3 * 8), &ran()), 0);
        // 300 bytes leaked per event, 5,000 events a second.
        assert_eq!(verdict(&smoke(), 1000, &smoke_series(|s| 92_000 + s * 1_500), &ran()), 1);
        // 32 bytes per event.
        assert_eq!(verdict(&smoke(), 1000, &smoke_series(|s| 46_000 + s * 160), &ran()), 1);
        // A one-time step of 20 MB between the two tenths fails too: memory that has
        // not levelled off by the end of the warm-up is what the soak is there to
        // catch (src/session/resume.rs says how the resume buffers once did it).
        let step = smoke_series(|s| if s < 30 { 46_000 } else { 66_000 });
        assert_eq!(verdict(&smoke(), 1000, &step, &ran()), 1);
    }

    #[test]
    fn lost_patches_and_missing_sessions_fail_with_flat_memory() {
        let flat = smoke_series(|_| 46_000);
        assert_eq!(verdict(&smoke(), 1000, &flat, &Driven { count_gaps: 2, ..ran() }), 2);
        assert_eq!(verdict(&smoke(), 999, &flat, &ran()), 1);
        assert_eq!(verdict(&smoke(), 1000, &flat[..5], &ran()), 1, "no sample in the last tenth");
    }
}
