//! `mizulive-bench --instructions [--only NAME,...] [--keep DIR]` (`make bench-instructions`):
//! instructions per event of mizulive's servers, counted by valgrind's callgrind.
//! With `--keep DIR` the profiles are kept in DIR (`NAME-PAGE-EVENTS.callgrind.N`, one
//! per dump) for `callgrind_annotate`; what differs between the two runs of a page is
//! what its events cost.
//!
//! CPU time per event moves by 15 to 25 % between runs of one build on a shared VM;
//! an instruction count does not (two runs of one build agree within a fraction of a
//! percent), so this is how a change to the core is weighed before a full peer run.
//! It counts the whole process in user space: the library, the host (C, Python, Go)
//! and libc; not the kernel's side of the sockets, nor cache misses.
//!
//! Each server runs twice per page under callgrind, with [`WARMUP`] events and with
//! [`WARMUP`] + [`EVENTS`] events, one session acting alone, one event at a time; the
//! difference, divided by [`EVENTS`], is what one event costs, start-up aside.

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use super::live::LiveConn;
use super::run::{mizulive_command, registry};
use super::{Action, Conn, Page};
use crate::procs::{self, Server};

/// Events before the counted ones: the first renders and allocations of a session.
const WARMUP: usize = 20;
/// Events counted.
const EVENTS: usize = 200;
/// One event per this long: under the session's rate limit (50/s by default).
const PERIOD: Duration = Duration::from_millis(25);
/// What one run may take, start-up under valgrind included.
const RUN_LIMIT: Duration = Duration::from_secs(120);

const SERVERS: &[&str] = &["mizulive-c", "mizulive-c-inline", "mizulive-python", "mizulive-go"];
const PAGES: &[Page] = &[Page::Counter, Page::Table, Page::List];

/// Entry point of `--instructions`.
pub fn main(args: &[String]) -> ExitCode {
    let only = match args.iter().position(|a| a == "--only") {
        Some(i) => match args.get(i + 1) {
            Some(names) => names.split(',').map(str::to_string).collect::<Vec<_>>(),
            None => {
                eprintln!("--only needs a comma-separated list of names ({})", SERVERS.join(", "));
                return ExitCode::from(2);
            }
        },
        None => SERVERS.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(unknown) = only.iter().find(|n| !SERVERS.contains(&n.as_str())) {
        eprintln!("--only: no server {unknown:?}; known: {}", SERVERS.join(", "));
        return ExitCode::from(2);
    }
    let keep = match args.iter().position(|a| a == "--keep") {
        Some(i) => match args.get(i + 1) {
            Some(dir) => Some(std::path::PathBuf::from(dir)),
            None => {
                eprintln!("--keep needs a folder to keep the profiles in");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    if let Some(dir) = &keep {
        if let Err(e) = std::fs::create_dir_all(dir) {
            eprintln!("--keep: creating {}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
    }
    if Command::new("valgrind").arg("--version").output().is_err() {
        eprintln!("valgrind is not installed (Debian: apt-get install valgrind)");
        return ExitCode::FAILURE;
    }
    let rt =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("building the tokio runtime");
    let root = crate::root_dir();
    let commit = super::report::Machine::read(&root).line();
    println!("{commit}");
    println!("instructions per event (callgrind, whole server process, user space), {EVENTS} events after {WARMUP}:\n");
    println!("| server | counter | table | list |");
    println!("| --- | --: | --: | --: |");
    let mut failed = false;
    for entry in registry().iter().filter(|e| only.iter().any(|n| n == e.name)) {
        let mut cells = Vec::new();
        let installed = (entry.install)(&root);
        for &page in PAGES {
            let cell = match &installed {
                Err(why) => Err(why.clone()),
                Ok(()) => per_event(&rt, entry.name, &root, page, keep.as_deref()),
            };
            cells.push(match cell {
                Ok(n) => crate::report::num(n as f64),
                Err(why) => {
                    failed = true;
                    eprintln!("{} {page:?}: {why}", entry.name);
                    "failed".to_string()
                }
            });
        }
        println!("| {} | {} |", entry.name, cells.join(" | "));
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Instructions one event of `page` costs server `name`.
fn per_event(
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    root: &Path,
    page: Page,
    keep: Option<&Path>,
) -> Result<u64, String> {
    let kept = |events: usize| {
        keep.map(|dir| dir.join(format!("{name}-{}-{events}.callgrind", page.path().trim_start_matches('/'))))
    };
    let base = count(rt, name, root, page, WARMUP, kept(WARMUP).as_deref())?;
    let more = count(rt, name, root, page, WARMUP + EVENTS, kept(WARMUP + EVENTS).as_deref())?;
    more.checked_sub(base)
        .map(|d| d / EVENTS as u64)
        .ok_or_else(|| format!("the longer run counted fewer instructions ({more} < {base})"))
}

/// Instructions of one run of server `name` that answers `events` events of `page`.
fn count(
    rt: &tokio::runtime::Runtime,
    name: &'static str,
    root: &Path,
    page: Page,
    events: usize,
    keep: Option<&Path>,
) -> Result<u64, String> {
    let plain =
        mizulive_command(name, root).ok_or_else(|| format!("{name} is not one of mizulive's servers"))??;
    let out =
        std::env::temp_dir().join(format!("mizulive-callgrind-{}-{name}-{events}.out", std::process::id()));
    let mut cmd = Command::new("valgrind");
    cmd.args(["--tool=callgrind", "--quiet"]).arg(format!("--callgrind-out-file={}", out.display()));
    cmd.arg(plain.get_program()).args(plain.get_args());
    for (key, value) in plain.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    // Callgrind fails on the signals Go preempts goroutines with.
    cmd.env("GODEBUG", "asyncpreemptoff=1");
    // Python salts its string hashes per process, which moves how many probes its dict
    // lookups take: 2.6k instructions per event between two runs of one build. One
    // fixed salt makes runs comparable.
    cmd.env("PYTHONHASHSEED", "0");
    if let Some(dir) = plain.get_current_dir() {
        cmd.current_dir(dir);
    }
    let server = Server::peer(name, cmd)?;
    let addr = server.addr;
    let driven = rt.block_on(async {
        tokio::time::timeout(RUN_LIMIT, async {
            let mut conn = LiveConn::open(addr, page).await?;
            let mut rng = super::measure::Rng::new(1);
            for _ in 0..events {
                let next = tokio::time::Instant::now() + PERIOD;
                let action = match page {
                    Page::Counter => Action::Inc,
                    Page::Table => Action::Bump { row: rng.below(100) },
                    Page::List => Action::Add,
                };
                conn.act(action).await.map_err(|e| e.to_string())?;
                tokio::time::sleep_until(next).await;
            }
            Ok::<(), String>(())
        })
        .await
        .unwrap_or_else(|_| Err(format!("not done within {RUN_LIMIT:?}")))
    });
    // Counted up to here, written while the server still runs: callgrind does not
    // survive how a Go program takes SIGINT, so what it would write at exit is lost.
    let dumped = driven.and_then(|()| dump(server.pid()));
    let stopped = procs::stop_cleanly(server);
    let counted = dumped.and_then(|()| read_counts(&out));
    if let Some(kept) = keep {
        keep_counts(&out, kept);
    }
    remove_counts(&out);
    let counted = counted?;
    if let Err(e) = stopped {
        // Only a Go host may fail to stop under callgrind; what it counted is in.
        if name != "mizulive-go" {
            return Err(e);
        }
    }
    Ok(counted)
}

/// Asks callgrind in process `pid` to write what it counted so far.
fn dump(pid: u32) -> Result<(), String> {
    let mut cmd = Command::new("callgrind_control");
    cmd.arg("--dump").arg(pid.to_string());
    procs::run_bounded(cmd, Duration::from_secs(60)).map_err(|e| format!("callgrind_control --dump: {e}"))
}

/// The instructions in callgrind's dumps of one run (`OUT.1`, ...).
fn read_counts(out: &Path) -> Result<u64, String> {
    let dumps = dump_files(out);
    if dumps.is_empty() {
        return Err(format!("callgrind wrote no dump next to {}", out.display()));
    }
    let mut sum = 0;
    for file in dumps {
        let text = std::fs::read_to_string(&file).map_err(|e| format!("reading {}: {e}", file.display()))?;
        sum += totals(&text).ok_or_else(|| format!("no totals in {}", file.display()))?;
    }
    Ok(sum)
}

/// The dumps callgrind writes for `--callgrind-out-file=OUT`: `OUT.1`, `OUT.2`, ...
fn dump_files(out: &Path) -> Vec<std::path::PathBuf> {
    let (Some(dir), Some(name)) = (out.parent(), out.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let prefix = format!("{name}.");
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix)))
                .collect()
        })
        .unwrap_or_default()
}

/// Moves the dumps of `out` to `kept.1`, `kept.2`, ... and says where they are.
fn keep_counts(out: &Path, kept: &Path) {
    let mut dumps = dump_files(out);
    dumps.sort();
    for (i, file) in dumps.iter().enumerate() {
        let to = kept.with_extension(format!("callgrind.{}", i + 1));
        match std::fs::rename(file, &to).or_else(|_| std::fs::copy(file, &to).map(drop)) {
            Ok(()) => eprintln!("kept {}", to.display()),
            Err(e) => eprintln!("could not keep {}: {e}", file.display()),
        }
    }
}

fn remove_counts(out: &Path) {
    let _ = std::fs::remove_file(out);
    for file in dump_files(out) {
        let _ = std::fs::remove_file(file);
    }
}

/// The `totals:` (or `summary:`) line of a callgrind output file.
fn totals(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("totals:").or_else(|| l.strip_prefix("summary:")))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrind_totals() {
        let file = "version: 1\ncreator: callgrind-3.19.0\nevents: Ir\nsummary: 9962369\n\nfn=main\n0 3\ntotals: 9962369\n";
        assert_eq!(totals(file), Some(9_962_369));
        assert_eq!(totals("events: Ir\n"), None);
    }
}
