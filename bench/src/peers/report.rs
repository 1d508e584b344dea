//! The peer benchmark's tables: Markdown, printed and written into `bench/RESULTS.md`
//! between two marker comments, so each full run replaces the previous one.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use super::floor::{self, SendFloor};
use super::measure::{Fanout, PacedResult};
use super::run::{ms, us, Measured, Plan, Row};
use crate::report::{num, num_dp};

pub const BEGIN: &str = "<!-- peers:begin (written by `make bench-peers`; edits here are overwritten) -->";
pub const END: &str = "<!-- peers:end -->";

/// What the numbers were measured on.
pub struct Machine {
    pub cpu: String,
    pub cores: i64,
    pub kernel: String,
    pub date: String,
    pub commit: String,
    /// The load average when the run started: other work on the machine is noise in
    /// every number.
    pub load: String,
}

impl Machine {
    pub fn read(root: &Path) -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or("unknown CPU".to_string(), |(_, model)| model.trim().to_string());
        // SAFETY: sysconf only reads a system constant.
        let cores = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) } as i64;
        let kernel =
            std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        let date = output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
        let mut commit =
            output(Command::new("git").arg("-C").arg(root).args(["rev-parse", "--short", "HEAD"]))
                .unwrap_or_else(|| "unknown".into());
        let dirty = output(Command::new("git").arg("-C").arg(root).args([
            "status",
            "--porcelain",
            "--untracked-files=no",
        ]));
        if dirty.is_some_and(|d| !d.is_empty()) {
            commit.push_str(" with uncommitted changes");
        }
        let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        Machine { cpu, cores, kernel, date, commit, load }
    }

    pub fn line(&self) -> String {
        format!(
            "Machine: {}, {} cores, Linux {}; {}; commit {}; load average {} at start",
            self.cpu, self.cores, self.kernel, self.date, self.commit, self.load
        )
    }
}

/// A command's trimmed stdout, if it ran and succeeded.
fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The whole section: heading, machine, how it ran, both tables.
pub fn section(
    machine: &Machine,
    plan: &Plan,
    rows: &[Row],
    floor: Option<&Result<SendFloor, String>>,
    took: Duration,
) -> String {
    let mut s = String::new();
    s.push_str(BEGIN);
    s.push_str(&format!("\n## Peer benchmark (`make bench-peers`{}), {}\n\n", quick(plan), machine.date));
    s.push_str(&format!(
        "Machine: {}, {} cores, Linux {}; commit {}; load average {} at start. ",
        machine.cpu, machine.cores, machine.kernel, machine.commit, machine.load
    ));
    s.push_str(&format!(
        "Each server pinned to CPU 0, the bench client on the others; loopback only. The run took {:.0} s. \
         What each column means: `bench/README.md`.\n\n",
        took.as_secs_f64()
    ));
    s.push_str(&format!(
        "Counter page: load = {} sessions clicking +1 at {:.0}/s each, {:.1} s measured after {:.1} s; \
         one session = {} events at {:.0}/s; idle memory over {} sessions; fan-out = median (max) of {} \
         broadcasts, ms to the last subscriber.\n\n",
        plan.load.sessions,
        1.0 / plan.load.period.as_secs_f64(),
        plan.load.duration.as_secs_f64(),
        plan.load.warmup.as_secs_f64(),
        num(plan.one_events as f64),
        1.0 / plan.one_period.as_secs_f64(),
        num(plan.idle_sessions as f64),
        plan.fanout_rounds,
    ));
    // What ran in rounds: none of an --idle or --fanout run.
    let rounds = rows
        .iter()
        .filter_map(|r| r.outcome.as_ref().ok())
        .map(|m| m.one_rounds.len().max(m.load_rounds.len()))
        .max()
        .unwrap_or(0);
    if rounds > 1 {
        s.push_str(&format!(
            "One session's latency and the counter load (as far as this run measured them) ran {rounds} \
             rounds, each on a fresh server, the servers taking turns: the table shows the round of median \
             p50 one (p50 and p99 one) and the round of median CPU/event (every other load column); each \
             round's figures follow it.\n\n"
        ));
    }
    s.push_str(&counter_table(plan, rows));
    if rounds > 1 {
        s.push('\n');
        s.push_str(&rounds_table(rows));
    }
    if rows.iter().any(|r| r.outcome.as_ref().is_ok_and(|m| !m.fanout.is_empty())) {
        s.push_str(
            "\nFan-out, the server's side: its CPU time (every thread) from the broadcast's send until the \
             last subscriber had its push, divided by the subscribers; median of the rounds.\n\n",
        );
        s.push_str(&fanout_cpu_table(plan, rows));
    }
    match floor {
        Some(Ok(f)) => s.push_str(&format!(
            "\nThe send floor (`bench/src/peers/floor.rs`): one thread on CPU 0 writing a {}-byte frame to each \
             of {} loopback sockets, nothing else, their readers on the bench client's runtime, took {:.1} µs \
             of CPU per socket ({:.0} ms for 10,000), the last frame arriving after {:.1} ms; median of {} \
             rounds. No server pushes to that many sockets in less.\n",
            floor::FRAME.len(),
            num(f.sockets as f64),
            us(f.cpu) / f.sockets as f64,
            ms(f.cpu_for(10_000)),
            ms(f.last),
            f.rounds
        )),
        Some(Err(e)) => s.push_str(&format!("\nThe send floor failed: {e}\n")),
        None => {}
    }
    s.push_str(&format!(
        "\nTable page: {} sessions bumping random rows at {:.0}/s each, {:.1} s measured. List page: {} \
         sessions adding {} items each at {:.0}/s; bytes/event over all adds and over each session's last {}.\n\n",
        plan.table.sessions,
        1.0 / plan.table.period.as_secs_f64(),
        plan.table.duration.as_secs_f64(),
        plan.list.sessions,
        plan.list.acts.unwrap_or(0),
        1.0 / plan.list.period.as_secs_f64(),
        plan.list.tail,
    ));
    s.push_str(&pages_table(plan, rows));
    let figures: Vec<(&str, Figures)> =
        rows.iter().filter_map(|r| Some((r.name, Figures::of(r.outcome.as_ref().ok()?)))).collect();
    let floor_10k = floor.and_then(|f| f.as_ref().ok()).map(|f| ms(f.cpu_for(10_000)));
    if let Some(table) = targets_table(&figures, floor_10k) {
        s.push_str(
            "
The targets (`bench/README.md`, \"The targets\"), read from the tables above:\n\n",
        );
        s.push_str(&table);
    }
    s.push_str(END);
    s.push('\n');
    s
}

fn quick(plan: &Plan) -> &'static str {
    if plan.quick {
        ", --quick"
    } else {
        ""
    }
}

fn counter_table(plan: &Plan, rows: &[Row]) -> String {
    let mut headers: Vec<String> = [
        "server",
        "CPU/event (µs)",
        "events/s",
        "p50 load (µs)",
        "p99 load (µs)",
        "p50 one (µs)",
        "p99 one (µs)",
        "ctx sw/event",
        "frames/event",
        "bytes/event",
        "RSS/session (KB)",
        "Pss/session (KB)",
    ]
    .map(String::from)
    .to_vec();
    headers.extend(plan.fanout_sizes.iter().map(|k| format!("fan-out {} (ms)", num(*k as f64))));
    table(&headers, rows, |m, cells| {
        match &m.load {
            Ok(l) => cells.extend([
                opt(l.cpu_us_per_event(), 1),
                num(l.per_sec()),
                num(l.first.p50 as f64),
                num(l.first.p99 as f64),
            ]),
            Err(e) => cells.extend([failed(e), String::new(), String::new(), String::new()]),
        }
        match &m.one {
            Ok(p) => cells.extend([num(p.p50 as f64), num(p.p99 as f64)]),
            Err(e) => cells.extend([failed(e), String::new()]),
        }
        match &m.load {
            Ok(l) => cells.extend([
                opt(l.switches_per_event(), 2),
                opt(l.frames_per_event(), 2),
                opt(l.bytes_per_event(), 0),
            ]),
            Err(_) => cells.extend([String::new(), String::new(), String::new()]),
        }
        match &m.idle {
            Ok(i) => cells.extend([num_dp(i.rss_kb, 1), num_dp(i.pss_kb, 1)]),
            Err(e) => cells.extend([failed(e), String::new()]),
        }
        cells.extend(fanout_cells(plan, m, |f| format!("{:.1} ({:.1})", ms(f.median), ms(f.max)), failed));
    })
}

/// Every round's CPU per event, context switches per event and one session's p50,
/// in the order they ran.
fn rounds_table(rows: &[Row]) -> String {
    let headers = ["server", "CPU/event by round (µs)", "ctx sw/event by round", "p50 one by round (µs)"]
        .map(String::from)
        .to_vec();
    table(&headers, rows, |m, cells| {
        let each = |figures: Vec<String>| figures.join(" / ");
        let load = |f: fn(&PacedResult) -> Option<f64>, dp| {
            each(m.load_rounds.iter().map(|r| opt(f(r), dp)).collect())
        };
        cells.extend([
            load(PacedResult::cpu_us_per_event, 1),
            load(PacedResult::switches_per_event, 2),
            each(m.one_rounds.iter().map(|p| num(f64::from(p.p50))).collect()),
        ]);
    })
}

/// One cell per fan-out size of the plan: `cell` of what it measured, `failed_cell` of
/// why it failed, or "-" where it did not run.
fn fanout_cells(
    plan: &Plan,
    m: &Measured,
    cell: impl Fn(&Fanout) -> String,
    failed_cell: impl Fn(&str) -> String,
) -> Vec<String> {
    let of = |k: &usize| match m.fanout.iter().find(|(n, _)| n == k) {
        Some((_, Ok(f))) => cell(f),
        Some((_, Err(e))) => failed_cell(e),
        None => "-".into(),
    };
    plan.fanout_sizes.iter().map(of).collect()
}

fn fanout_cpu_table(plan: &Plan, rows: &[Row]) -> String {
    let mut headers = vec!["server".to_string()];
    headers
        .extend(plan.fanout_sizes.iter().map(|k| format!("fan-out {}, CPU/subscriber (µs)", num(*k as f64))));
    table(&headers, rows, |m, cells| {
        let cpu = |f: &Fanout| f.cpu_per_subscriber.map_or("?".into(), |c| format!("{:.1}", us(c)));
        cells.extend(fanout_cells(plan, m, cpu, |_| "failed".into()));
    })
}

fn pages_table(plan: &Plan, rows: &[Row]) -> String {
    let headers = [
        "server".to_string(),
        "table CPU/event (µs)".into(),
        "table bytes/event".into(),
        "list CPU/event (µs)".into(),
        "list bytes/event".into(),
        format!("list bytes/event, last {} adds", plan.list.tail),
    ]
    .to_vec();
    table(&headers, rows, |m, cells| {
        let paced = |r: &Result<PacedResult, String>, cells: &mut Vec<String>| match r {
            Ok(r) => cells.extend([opt(r.cpu_us_per_event(), 1), opt(r.bytes_per_event(), 0)]),
            Err(e) => cells.extend([failed(e), String::new()]),
        };
        paced(&m.table, cells);
        paced(&m.list, cells);
        cells.push(m.list.as_ref().ok().map_or(String::new(), |l| opt(l.tail_bytes_per_event(), 0)));
    })
}

/// A table of one row per server: its name, then what `fill` adds of what it measured,
/// or why it was skipped.
fn table(headers: &[String], rows: &[Row], fill: impl Fn(&Measured, &mut Vec<String>)) -> String {
    let body = rows
        .iter()
        .map(|row| {
            let mut cells = vec![row.name.to_string()];
            match &row.outcome {
                Ok(m) => fill(m, &mut cells),
                Err(why) => return skipped(cells, why, headers.len()),
            }
            cells
        })
        .collect::<Vec<_>>();
    markdown(headers, &body)
}

/// What the targets read of one server's row; `None` where it was not measured.
#[derive(Debug, Clone, Default)]
struct Figures {
    cpu: Option<f64>,
    p50_one: Option<f64>,
    switches: Option<f64>,
    frames: Option<f64>,
    bytes: Option<f64>,
    rss: Option<f64>,
    /// Fan-out medians in ms, by subscriber count.
    fanout: Vec<(usize, f64)>,
    /// The server's CPU per broadcast in ms, by subscriber count.
    fanout_cpu: Vec<(usize, f64)>,
    table_bytes: Option<f64>,
    list_bytes: Option<f64>,
}

impl Figures {
    fn of(m: &Measured) -> Figures {
        let load = m.load.as_ref().ok();
        Figures {
            cpu: load.and_then(PacedResult::cpu_us_per_event),
            p50_one: m.one.as_ref().ok().map(|p| p.p50 as f64),
            switches: load.and_then(PacedResult::switches_per_event),
            frames: load.and_then(PacedResult::frames_per_event),
            bytes: load.and_then(PacedResult::bytes_per_event),
            rss: m.idle.as_ref().ok().map(|i| i.rss_kb),
            fanout: m.fanout.iter().filter_map(|(k, f)| Some((*k, ms(f.as_ref().ok()?.median)))).collect(),
            fanout_cpu: m
                .fanout
                .iter()
                .filter_map(|(k, f)| Some((*k, ms(f.as_ref().ok()?.cpu_per_subscriber?) * *k as f64)))
                .collect(),
            table_bytes: m.table.as_ref().ok().and_then(PacedResult::bytes_per_event),
            list_bytes: m.list.as_ref().ok().and_then(PacedResult::bytes_per_event),
        }
    }

    fn fanout(&self, k: usize) -> Option<f64> {
        self.fanout.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }

    fn fanout_cpu(&self, k: usize) -> Option<f64> {
        self.fanout_cpu.iter().find(|(n, _)| *n == k).map(|(_, v)| *v)
    }
}

/// One figure of a row.
type Figure = dyn Fn(&Figures) -> Option<f64>;

/// The performance targets, each with what this run measured and whether it holds;
/// `None` unless the run has the echo and the C host (a run of a few servers).
/// `floor_10k`: the send floor's CPU for 10,000 sockets, in ms.
fn targets_table(rows: &[(&str, Figures)], floor_10k: Option<f64>) -> Option<String> {
    let get = |name: &str| rows.iter().find(|(n, _)| *n == name).map(|(_, f)| f);
    let (echo, c) = (get("echo")?, get("mizulive-c")?);
    let (python, go) = (get("mizulive-python"), get("mizulive-go"));
    let peers: Vec<(&str, &Figures)> = rows
        .iter()
        .filter(|(n, _)| *n != "echo" && !n.starts_with("mizulive"))
        .map(|(n, f)| (*n, f))
        .collect();
    // The peer with the least of a figure, and that figure.
    let best =
        |of: &Figure| peers.iter().filter_map(|(n, f)| Some((*n, of(f)?))).min_by(|a, b| a.1.total_cmp(&b.1));
    let verdict = |met: Option<bool>| match met {
        Some(true) => "yes",
        Some(false) => "no",
        None => "not measured",
    };
    let ratio = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut row = |target: &str, measured: String, met: Option<bool>| {
        out.push(vec![target.to_string(), measured, verdict(met).to_string()]);
    };

    let best_cpu = best(&|f| f.cpu);
    let r = ratio(c.cpu, best_cpu.map(|b| b.1));
    row(
        "C CPU/event ≤ half the best peer's",
        match best_cpu {
            Some((n, b)) => format!("{} vs {n} {} µs ({})", opt(c.cpu, 1), num_dp(b, 1), times(r)),
            None => "no peer measured".into(),
        },
        r.map(|r| r <= 0.5),
    );
    let r = ratio(c.cpu, echo.cpu);
    row("C CPU/event ≤ 2× echo", format!("{} ({} µs)", times(r), opt(echo.cpu, 1)), r.map(|r| r <= 2.0));
    let (rp, rg) = (ratio(python.and_then(|p| p.cpu), c.cpu), ratio(go.and_then(|g| g.cpu), c.cpu));
    row(
        "Python CPU/event ≤ 1.3× C, Go ≤ 1.15×",
        format!("{}, {}", times(rp), times(rg)),
        rp.zip(rg).map(|(p, g)| p <= 1.3 && g <= 1.15),
    );
    let best_p50 = best(&|f| f.p50_one);
    let r = ratio(c.p50_one, echo.p50_one);
    row(
        "p50 one session ≤ 1.5× echo, below every peer",
        format!(
            "{} µs ({} echo; {})",
            opt(c.p50_one, 0),
            times(r),
            best_p50.map_or("no peer".into(), |(n, b)| format!("best peer {n} {}", num_dp(b, 0)))
        ),
        r.zip(best_p50).map(|(r, (_, b))| r <= 1.5 && c.p50_one.is_some_and(|p| p < b)),
    );
    // A figure of each of our hosts, as "C, Python, Go" reads them, and whether every
    // one holds.
    let ours: Vec<&Figures> = [Some(c), python, go].into_iter().flatten().collect();
    let mut each = |target: &str, of: &Figure, decimals: usize, holds: &dyn Fn(f64) -> bool| {
        let values: Option<Vec<f64>> = ours.iter().map(|f| of(f)).collect();
        let measured = values
            .as_ref()
            .map_or("?".into(), |v| v.iter().map(|v| num_dp(*v, decimals)).collect::<Vec<_>>().join(", "));
        row(target, measured, values.map(|v| v.iter().all(|v| holds(*v))));
    };
    each("context switches/event < 0.5 (C, Python, Go)", &|f| f.switches, 2, &|v| v < 0.5);
    each("one frame per event (C, Python, Go)", &|f| f.frames, 2, &|v| (v - 1.0).abs() < 0.005);
    each("idle memory ≤ 10 KB/session (C, Python, Go)", &|f| f.rss, 1, &|v| v <= 10.0);
    let best_fan = best(&|f| f.fanout(1000));
    let r = ratio(c.fanout(1000), best_fan.map(|b| b.1));
    row(
        "fan-out to 1,000 ≤ half the best peer's",
        match best_fan {
            Some((n, b)) => format!("{} vs {n} {} ms ({})", opt(c.fanout(1000), 1), num_dp(b, 1), times(r)),
            None => "no peer measured".into(),
        },
        r.map(|r| r <= 0.5),
    );
    row(
        "fan-out to 10,000 < 50 ms",
        format!(
            "{} ms (echo {}; server CPU {} ms, echo's {}, send floor {})",
            opt(c.fanout(10000), 1),
            opt(echo.fanout(10000), 1),
            opt(c.fanout_cpu(10000), 0),
            opt(echo.fanout_cpu(10000), 0),
            opt(floor_10k, 0)
        ),
        c.fanout(10000).map(|v| v < 50.0),
    );
    let pages: [(&str, &Figure); 3] =
        [("counter", &|f| f.bytes), ("table", &|f| f.table_bytes), ("list", &|f| f.list_bytes)];
    for (page, of) in pages {
        let best = best(of);
        row(
            &format!("{page} bytes/event ≤ the best peer's"),
            format!(
                "{} ({})",
                opt(of(c), 0),
                best.map_or("no peer".into(), |(n, b)| format!("{n} {}", num_dp(b, 0)))
            ),
            of(c).zip(best).map(|(ours, (_, theirs))| ours <= theirs),
        );
    }
    let headers = ["target", "this run", "met"].map(String::from).to_vec();
    Some(markdown(&headers, &out))
}

/// A ratio as `0.59×`, `?` when either side was not measured.
fn times(r: Option<f64>) -> String {
    r.map_or("?".into(), |r| format!("{r:.2}×"))
}

fn skipped(mut cells: Vec<String>, why: &str, width: usize) -> Vec<String> {
    cells.push(format!("skipped: {}", one_line(why)));
    cells.resize(width, String::new());
    cells
}

fn failed(why: &str) -> String {
    format!("failed: {}", one_line(why))
}

/// A reason as one table cell: its first line, without pipes that would split the cell.
fn one_line(why: &str) -> String {
    let line = why.lines().next().unwrap_or_default().replace('|', "/");
    match line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map_or("?".to_string(), |v| num_dp(v, decimals))
}

/// A Markdown table with its columns padded to one width, so it reads as well in a
/// terminal as rendered. Numbers are right-aligned, the first column left.
pub fn markdown(headers: &[String], rows: &[Vec<String>]) -> String {
    let width = |s: &str| s.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h).max(3)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(widths.len()) {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let cell = cells.get(i).map(String::as_str).unwrap_or("");
                let pad = " ".repeat(w - width(cell));
                if i == 0 {
                    format!("{cell}{pad}")
                } else {
                    format!("{pad}{cell}")
                }
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(headers);
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, &w)| if i == 0 { "-".repeat(w) } else { format!("{}:", "-".repeat(w - 1)) })
        .collect();
    out.push_str(&format!("| {} |\n", rule.join(" | ")));
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// `doc` with the section between the markers replaced by `section` (which carries the
/// markers); without markers, the section goes before the first `## ` heading, or at
/// the end.
pub fn replace_section(doc: &str, section: &str) -> String {
    if let (Some(begin), Some(end)) = (doc.find("<!-- peers:begin"), doc.find(END)) {
        if begin < end {
            let after = &doc[end + END.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            return format!("{}{section}{after}", &doc[..begin]);
        }
    }
    match doc.find("\n## ") {
        Some(i) => format!("{}\n{section}\n{}", &doc[..i], &doc[i + 1..]),
        None => format!("{doc}\n{section}"),
    }
}

pub fn write_results(path: &Path, section: &str) -> Result<(), String> {
    let doc = std::fs::read_to_string(path).unwrap_or_else(|_| "# Bench results\n".to_string());
    std::fs::write(path, replace_section(&doc, section)).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_pads_columns() {
        let headers = vec!["server".to_string(), "µs".to_string()];
        let rows =
            vec![vec!["echo".to_string(), "9.5".to_string()], vec!["mizulive-c".into(), "34.0".into()]];
        assert_eq!(
            markdown(&headers, &rows),
            "| server     |   µs |\n\
             | ---------- | ---: |\n\
             | echo       |  9.5 |\n\
             | mizulive-c | 34.0 |\n"
        );
    }

    #[test]
    fn the_section_replaces_the_previous_one() {
        let first = format!("{BEGIN}\nold\n{END}\n");
        let doc = "# Bench results\n\nintro\n\n## Other\ntext\n";
        let once = replace_section(doc, &first);
        assert_eq!(once, format!("# Bench results\n\nintro\n\n{first}\n## Other\ntext\n"));
        let second = format!("{BEGIN}\nnew\n{END}\n");
        let twice = replace_section(&once, &second);
        assert_eq!(twice, format!("# Bench results\n\nintro\n\n{second}\n## Other\ntext\n"));
        assert_eq!(replace_section("# x\n", &first), format!("# x\n\n{first}"));
    }

    fn figures(cpu: f64, p50: f64, switches: f64, rss: f64, fanout: &[(usize, f64)], bytes: f64) -> Figures {
        Figures {
            cpu: Some(cpu),
            p50_one: Some(p50),
            switches: Some(switches),
            frames: Some(1.0),
            bytes: Some(bytes),
            rss: Some(rss),
            fanout: fanout.to_vec(),
            fanout_cpu: Vec::new(),
            table_bytes: Some(bytes),
            list_bytes: Some(bytes),
        }
    }

    /// Each target against the best peer of its own figure, and only the targets met
    /// say so.
    #[test]
    fn the_targets_read_the_rows() {
        let fanned = |mut f: Figures, cpu_ms: f64| {
            f.fanout_cpu = vec![(10000, cpu_ms)];
            f
        };
        let rows = vec![
            ("echo", fanned(figures(10.0, 200.0, 0.4, 7.0, &[(1000, 5.0), (10000, 70.0)], 150.0), 60.0)),
            (
                "mizulive-c",
                fanned(figures(19.0, 250.0, 0.3, 9.0, &[(1000, 12.0), (10000, 180.0)], 37.0), 150.0),
            ),
            ("mizulive-python", figures(30.0, 300.0, 0.3, 9.5, &[], 37.0)),
            ("mizulive-go", figures(21.0, 300.0, 0.8, 10.5, &[], 37.0)),
            ("slow", figures(100.0, 240.0, 0.0, 30.0, &[(1000, 20.0)], 20.0)),
            ("fast", figures(40.0, 900.0, 0.1, 12.0, &[(1000, 30.0)], 120.0)),
        ];
        let table = targets_table(&rows, Some(85.0)).expect("echo and C ran");
        let verdict = |target: &str| {
            let line = table.lines().find(|l| l.starts_with(&format!("| {target}"))).unwrap();
            line.rsplit('|').nth(1).unwrap().trim().to_string()
        };
        assert_eq!(verdict("C CPU/event ≤ half"), "yes", "19 against fast's 40\n{table}");
        assert!(table.contains("19.0 vs fast 40.0 µs (0.47×)"), "{table}");
        assert_eq!(verdict("C CPU/event ≤ 2× echo"), "yes");
        assert_eq!(verdict("Python"), "no", "Python 1.58× C");
        assert_eq!(verdict("p50 one"), "no", "slow's 240 is below 250");
        assert_eq!(verdict("context switches"), "no", "Go's 0.8");
        assert!(table.contains(" 0.30, 0.30, 0.80 |"), "{table}");
        assert_eq!(verdict("one frame"), "yes");
        assert_eq!(verdict("idle memory"), "no", "Go's 10.5");
        assert_eq!(verdict("fan-out to 1,000"), "no", "12 against slow's 20");
        assert_eq!(verdict("fan-out to 10,000"), "no");
        assert!(
            table.contains("180.0 ms (echo 70.0; server CPU 150 ms, echo's 60, send floor 85)"),
            "{table}"
        );
        assert_eq!(verdict("counter bytes"), "no", "37 against slow's 20");
        let without_peers = targets_table(&rows[..4], None).unwrap();
        assert!(without_peers.contains("no peer measured"), "{without_peers}");
        assert!(
            without_peers.lines().any(|l| l.starts_with("| p50 one") && l.contains("not measured")),
            "below every peer cannot be read without peers\n{without_peers}"
        );
        assert!(targets_table(&rows[1..], None).is_none(), "no echo, no targets");
    }

    /// A load round of `cpu_us` µs and `switches` context switches per event, over
    /// 1,000 events.
    fn load_round(cpu_us: u64, switches: u64) -> PacedResult {
        PacedResult {
            completed: 1000,
            window: Duration::from_secs(1),
            cpu: Some(Duration::from_micros(cpu_us * 1000)),
            switches: Some(switches * 1000),
            frames: 1000,
            ..PacedResult::default()
        }
    }

    fn measured(one_p50s: &[u32], loads: &[(u64, u64)]) -> Measured {
        let one_rounds: Vec<_> = one_p50s
            .iter()
            .map(|&p50| crate::stats::Percentiles { p50, p99: p50 * 2, max: p50 * 3, count: 500 })
            .collect();
        let load_rounds: Vec<_> = loads.iter().map(|&(cpu, sw)| load_round(cpu, sw)).collect();
        let mut m = Measured::not_run();
        m.one = one_rounds.first().copied().ok_or_else(|| "not run".to_string());
        m.load = load_rounds.first().cloned().ok_or_else(|| "not run".to_string());
        m.one_rounds = one_rounds;
        m.load_rounds = load_rounds;
        m
    }

    fn machine() -> Machine {
        Machine {
            cpu: "cpu".into(),
            cores: 2,
            kernel: "6".into(),
            date: "today".into(),
            commit: "abc".into(),
            load: "0".into(),
        }
    }

    /// The counter table shows the round of median CPU with that round's own other
    /// figures (never one round's CPU beside another's switches), the round of median
    /// p50 one, and every round after it; a run with one round has no rounds table.
    #[test]
    fn a_row_reports_its_median_round_and_every_round() {
        let mut m = measured(&[400, 200, 300], &[(30, 5), (10, 1), (20, 3)]);
        m.settle();
        assert_eq!(m.load.as_ref().unwrap().cpu_us_per_event(), Some(20.0));
        assert_eq!(
            m.load.as_ref().unwrap().switches_per_event(),
            Some(3.0),
            "the median round's own switches"
        );
        assert_eq!(m.one.as_ref().unwrap().p50, 300);
        assert_eq!(m.one.as_ref().unwrap().p99, 600, "the median round's own p99");
        let rows = [Row { name: "mizulive-c", outcome: Ok(m) }];
        let text = section(&machine(), &Plan::new(false), &rows, None, Duration::from_secs(1));
        let line =
            text.lines().find(|l| l.starts_with("| mizulive-c") && l.contains("20.0")).expect("counter row");
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!((cells[2], cells[6], cells[7], cells[8]), ("20.0", "300", "600", "3.00"), "{line}");
        assert!(text.contains("ran 3 rounds"), "{text}");
        let by_round = text.lines().find(|l| l.contains("30.0 / 10.0 / 20.0")).expect("rounds in order");
        assert!(
            by_round.contains("5.00 / 1.00 / 3.00") && by_round.contains("400 / 200 / 300"),
            "{by_round}"
        );

        let mut once = measured(&[250], &[(15, 2)]);
        once.settle();
        let rows = [Row { name: "mizulive-c", outcome: Ok(once) }];
        let text = section(&machine(), &Plan::new(true), &rows, None, Duration::from_secs(1));
        assert!(!text.contains("by round") && !text.contains("rounds,"), "{text}");
        assert!(!text.contains("send floor"), "{text}");
        let floor = Ok(SendFloor {
            sockets: 5000,
            rounds: 7,
            last: Duration::from_millis(60),
            cpu: Duration::from_millis(42),
        });
        let text = section(&machine(), &Plan::new(true), &rows, Some(&floor), Duration::from_secs(1));
        assert!(
            text.contains("each of 5,000 loopback sockets")
                && text.contains("median of 7 rounds")
                && text.contains("took 8.4 µs of CPU per socket (84 ms for 10,000)"),
            "{text}"
        );
        let idle = [Row { name: "mizulive-c", outcome: Ok(measured(&[], &[])) }];
        let text = section(&machine(), &Plan::new(false), &idle, None, Duration::from_secs(1));
        assert!(
            !text.contains("by round") && !text.contains("rounds,"),
            "an --idle run has no rounds\n{text}"
        );
    }

    #[test]
    fn reasons_fit_a_cell() {
        assert_eq!(one_line("a | b\nmore"), "a / b");
        assert_eq!(one_line(&"x".repeat(200)).chars().count(), 121);
    }
}
