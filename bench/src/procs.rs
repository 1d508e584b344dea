//! The servers under test run as child processes (the C, Python and Go counters, and
//! this binary in `--echo-server` mode), so their RSS and CPU time can be read from
//! /proc without the client's mixed in. This module builds them, starts them, reads
//! their address, and stops them.
//! Starting and stopping block the calling thread (the runtime's `block_on` thread);
//! that is fine because no measurement runs at those moments.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How long a server may take to print its address, and to exit after SIGINT.
const START_TIMEOUT: Duration = Duration::from_secs(15);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Lines of the child's stderr kept to explain a failure.
const STDERR_TAIL: usize = 20;
/// A first `go build` compiles the cgo package and its dependencies (a minute or so on
/// 2 cores); later ones are cached and take a few seconds.
const GO_BUILD_TIMEOUT: Duration = Duration::from_secs(240);

/// The first stdout line of every counter (C, Python, Go), followed by `ADDR/counter`.
const COUNTER_BANNER: &str = "counter listening on http://";
/// The first stdout line of every server of the peer benchmark, followed by `ADDR`.
pub const PEER_BANNER: &str = "peer listening on http://";
/// The CPU the peer benchmark's servers are pinned to; the bench client takes the others.
pub const PEER_CPU: usize = 0;
/// Where `go` is looked for when it is not on PATH (the official tarball's place).
const GO_FALLBACK: &str = "/usr/local/go/bin/go";

/// Raises this process's soft RLIMIT_NOFILE to the hard limit. Children inherit it, so
/// the counter can hold 10,000 sockets as well. Returns the new soft limit.
pub fn raise_nofile_limit() -> Result<libc::rlim_t, String> {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(format!("getrlimit: {}", std::io::Error::last_os_error()));
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(lim.rlim_cur)
}

/// Builds the C counter (a no-op when it is up to date). The Makefile also builds
/// libmizulive when the .so is missing.
pub fn build_counter(root: &Path) -> Result<(), String> {
    make_in(&root.join("examples-c/counter"))
}

/// Builds the C conformance app (`e2e/apps/c`), whose `/rooms/{room}` page publishes
/// each `send` to every session in the room: the fan-out test's app.
pub fn build_conformance(root: &Path) -> Result<(), String> {
    make_in(&root.join("e2e/apps/c"))
}

/// `make -s -C dir`, quietly; an error names the folder.
pub fn make_in(dir: &Path) -> Result<(), String> {
    let status = Command::new("make")
        .args(["-s", "--no-print-directory", "-C"])
        .arg(dir)
        .status()
        .map_err(|e| format!("running make -C {}: {e}", dir.display()))?;
    if !status.success() {
        return Err(format!("make -C {} failed: {status}", dir.display()));
    }
    Ok(())
}

/// Builds the Go counter into `target/go-counter`; returns its path, or why it cannot
/// be built (then the Go counter is skipped, not the bench). The binary links
/// `target/release/libmizulive.a`, which `cargo build --release` makes with the .so.
pub fn build_go_counter(root: &Path) -> Result<PathBuf, String> {
    let exe = root.join("target/go-counter");
    build_go(root, &root.join("bindings/go"), "./examples/counter", &exe)?;
    Ok(exe)
}

/// `go build -o exe package` in `module` (a Go module that uses the cgo package and so
/// links `target/release/libmizulive.a`, found through the pkg-config files that
/// `cargo build --release` writes to `target/release/pkgconfig`), relinking when the
/// library is newer.
pub fn build_go(root: &Path, module: &Path, package: &str, exe: &Path) -> Result<(), String> {
    let go = find_executable("go")
        .or_else(|| is_executable(Path::new(GO_FALLBACK)).then(|| GO_FALLBACK.into()))
        .ok_or_else(|| format!("go not found on PATH nor at {GO_FALLBACK}"))?;
    let lib = root.join("target/release/libmizulive.a");
    if !lib.is_file() {
        return Err(format!("{} is missing (cargo build --release makes it)", lib.display()));
    }
    // Go's build cache does not notice a changed C library (`go help cache`), so it
    // would keep a binary linked against an older libmizulive.a; removing that binary
    // makes `go build` link it again.
    if modified(exe).is_some_and(|built| modified(&lib).is_some_and(|lib| built < lib)) {
        let _ = std::fs::remove_file(exe);
    }
    let pkg_config = root.join("target/release/pkgconfig");
    if !pkg_config.join("mizulive-static.pc").is_file() {
        return Err(format!("{} is missing (cargo build --release writes it)", pkg_config.display()));
    }
    let mut search = vec![pkg_config];
    search.extend(std::env::var_os("PKG_CONFIG_PATH").iter().flat_map(std::env::split_paths));
    let search = std::env::join_paths(search).map_err(|e| format!("PKG_CONFIG_PATH: {e}"))?;
    let mut cmd = Command::new(go);
    cmd.args(["build", "-buildvcs=false", "-o"]).arg(exe).arg(package);
    // GOTOOLCHAIN=local: use the Go that is installed, never download another one.
    cmd.current_dir(module).env("GOTOOLCHAIN", "local").env("PKG_CONFIG_PATH", search);
    run_bounded(cmd, GO_BUILD_TIMEOUT).map_err(|e| format!("go build failed: {e}"))
}

/// The interpreter for the Python counter: the project's virtualenv (`make python`)
/// when there is one, else the interpreter `python3` on PATH runs.
pub fn python(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join(".venv/bin/python");
    if is_executable(&venv) {
        return Ok(venv);
    }
    let found =
        find_executable("python3").ok_or_else(|| "python3 not found on PATH (and no .venv)".to_string())?;
    // A version manager's `python3` (pyenv's shim) is a shell script that execs the
    // interpreter: valgrind would count the script and lose the server.
    let asked = Command::new(&found).args(["-c", "import sys; sys.stdout.write(sys.executable)"]).output();
    match asked {
        Ok(out) if out.status.success() && !out.stdout.is_empty() => {
            Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).into_owned()))
        }
        Ok(out) => Err(format!("{} cannot name its interpreter: {}", found.display(), out.status)),
        Err(e) => Err(format!("starting {}: {e}", found.display())),
    }
}

/// Points `cmd` (run by [`python`]) at the mizulive package: the one installed in the
/// project's virtualenv (`make python`), with its compiled per-event path, as users run
/// it; without a virtualenv, the source tree's by PYTHONPATH, which runs that path in
/// Python (ctypes). The library is the release build either way.
pub fn python_package(cmd: &mut Command, root: &Path) {
    if !is_executable(&root.join(".venv/bin/python")) {
        cmd.env("PYTHONPATH", root.join("bindings/python"));
    }
    cmd.env("MIZULIVE_LIB", root.join("target/release/libmizulive.so"));
}

/// The C counter's views, which every counter is pointed at so all of them render
/// the same markup (the Python examples' own views carry more CSS).
fn counter_views(root: &Path) -> PathBuf {
    root.join("examples-c/counter/views")
}

/// A running server child. Dropping it kills the child, so a panicking bench leaves
/// nothing behind; `stop` is the orderly path.
pub struct Server {
    pub name: &'static str,
    pub addr: SocketAddr,
    child: Child,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
}

impl Server {
    /// The C counter on a free port of 127.0.0.1.
    pub fn counter(root: &Path) -> Result<Server, String> {
        let dir = root.join("examples-c/counter");
        let mut cmd = Command::new(dir.join("counter"));
        cmd.env("MIZULIVE_ADDR", "127.0.0.1:0").env("MIZULIVE_VIEWS", counter_views(root)).current_dir(&dir);
        Server::spawn("counter", cmd, COUNTER_BANNER)
    }

    /// The C counter as a node of a cluster on `redis` (a `redis://` URL), or on its own
    /// with `None`. Either way `MIZULIVE_REDIS` from the bench's environment is not
    /// passed on, so the run without Redis really is without it.
    pub fn counter_node(root: &Path, redis: Option<&str>, secret: &str) -> Result<Server, String> {
        let dir = root.join("examples-c/counter");
        let mut cmd = Command::new(dir.join("counter"));
        cmd.env("MIZULIVE_ADDR", "127.0.0.1:0").env("MIZULIVE_VIEWS", counter_views(root)).current_dir(&dir);
        node_env(&mut cmd, redis, secret);
        Server::spawn("counter", cmd, COUNTER_BANNER)
    }

    /// The C conformance app (`build_conformance`) on a free port, a node of a cluster
    /// on `redis` or on its own, like `counter_node`.
    pub fn conformance_node(
        root: &Path,
        name: &'static str,
        redis: Option<&str>,
        secret: &str,
    ) -> Result<Server, String> {
        let mut cmd = Command::new(root.join("e2e/apps/c/conformance"));
        cmd.env("MIZULIVE_ADDR", "127.0.0.1:0").env("MIZULIVE_VIEWS", root.join("e2e/views"));
        node_env(&mut cmd, redis, secret);
        Server::spawn(name, cmd, "conformance listening on http://")
    }

    /// `examples-python/counter.py` on a free port, run from the source tree (no
    /// install needed) against the same library build the C counter uses.
    pub fn python_counter(root: &Path) -> Result<Server, String> {
        let mut cmd = Command::new(python(root)?);
        python_package(&mut cmd, root);
        cmd.arg(root.join("examples-python/counter.py"))
            .env("MIZULIVE_ADDR", "127.0.0.1:0")
            .env("MIZULIVE_VIEWS", counter_views(root));
        Server::spawn("python counter", cmd, COUNTER_BANNER)
    }

    /// The Go counter built by `build_go_counter`, on a free port.
    pub fn go_counter(exe: &Path, root: &Path) -> Result<Server, String> {
        let mut cmd = Command::new(exe);
        cmd.env("MIZULIVE_ADDR", "127.0.0.1:0").env("MIZULIVE_VIEWS", counter_views(root));
        Server::spawn("go counter", cmd, COUNTER_BANNER)
    }

    /// This binary in `--echo-server` mode.
    pub fn echo() -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("--echo-server");
        Server::spawn("echo", cmd, crate::echo::READY_PREFIX)
    }

    /// A server of the peer benchmark (`bench/peers/PAGES.md`): `cmd` prints
    /// `peer listening on http://ADDR` once it accepts connections. It runs on CPU
    /// [`PEER_CPU`] only (every thread it starts inherits that), so on a machine with two
    /// or more CPUs the server and the bench client never compete for one.
    pub fn peer(name: &'static str, mut cmd: Command) -> Result<Server, String> {
        pin_to_peer_cpu(&mut cmd);
        Server::spawn(name, cmd, PEER_BANNER)
    }

    /// [`Server::echo`] on CPU [`PEER_CPU`], like every server of the peer benchmark.
    pub fn peer_echo() -> Result<Server, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut cmd = Command::new(exe);
        cmd.arg("--echo-server");
        pin_to_peer_cpu(&mut cmd);
        Server::spawn("echo", cmd, crate::echo::READY_PREFIX)
    }

    /// Starts `cmd` and waits for the stdout line `<prefix>ADDR[/path]`.
    fn spawn(name: &'static str, mut cmd: Command, prefix: &'static str) -> Result<Server, String> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent. It makes
        // the kernel stop the child if the bench dies without running its destructors
        // (e.g. SIGKILL). The signal fires when the spawning thread exits; servers are
        // spawned from the main thread, which lives as long as the bench.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| format!("starting {name}: {e}"))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        drain_stderr(stderr, stderr_tail.clone());
        let first_line = first_line_then_drain(stdout);
        let mut server = Server { name, addr: ([127, 0, 0, 1], 0).into(), child, stderr_tail };

        let line = match first_line.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(server.failure(&format!("printed no address within {START_TIMEOUT:?}")))
            }
            // Stdout closed first: the child died at startup (say, a missing module).
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let exited = server.exit_status(Duration::from_secs(1));
                let how = exited.map_or("closed its stdout".to_string(), |s| format!("exited ({s})"));
                return Err(server.failure(&format!("{how} before printing its address")));
            }
        };
        let addr = line.trim().strip_prefix(prefix).map(|rest| rest.split('/').next().unwrap_or(rest));
        server.addr = match addr.and_then(|a| a.parse().ok()) {
            Some(addr) => addr,
            None => return Err(server.failure(&format!("unexpected first line {line:?}"))),
        };
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size from /proc/PID/status, in KiB.
    pub fn rss_kb(&self) -> Result<u64, String> {
        let path = format!("/proc/{}/status", self.pid());
        let status = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| format!("no VmRSS line in {path}"))
    }

    /// User plus system CPU time the server has used so far.
    pub fn cpu_time(&self) -> Result<Duration, String> {
        cpu_time(self.pid())
    }

    /// SIGINT (the counters shut down cleanly on it), then waits. Returns how the child
    /// ended, or an error when it had to be killed.
    pub fn stop(mut self) -> Result<ExitStatus, String> {
        signal(self.pid(), libc::SIGINT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    return Err(
                        self.failure(&format!("did not exit within {STOP_TIMEOUT:?} of SIGINT; killed"))
                    )
                }
                Err(e) => return Err(format!("{}: waiting: {e}", self.name)),
            }
        }
    }

    /// How the child ended, if it does within `limit`.
    fn exit_status(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(status) => return status,
                Err(_) => return None,
            }
        }
    }

    /// Kills the child and describes the failure with its last stderr lines.
    fn failure(&mut self, what: &str) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Give the drain thread a moment to collect what the child wrote last.
        thread::sleep(Duration::from_millis(50));
        let tail = self.stderr_tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"));
        format!("{} {what}; its stderr ends with:\n{}", self.name, tail.unwrap_or_default())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Makes the child run on CPU [`PEER_CPU`] only (every thread it starts inherits that).
fn pin_to_peer_cpu(cmd: &mut Command) {
    // SAFETY: sched_setaffinity is async-signal-safe and only reads the set we pass.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(PEER_CPU, &mut set);
            // On a one-CPU machine this fails and the server runs unpinned.
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        });
    }
}

/// Stops `server` with SIGINT and checks how it ended: a clean exit, or death by the
/// signal itself (the echo server keeps the default action).
pub fn stop_cleanly(server: Server) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    let name = server.name;
    match server.stop()? {
        status if status.success() || status.signal() == Some(libc::SIGINT) => Ok(()),
        status => Err(format!("{name} exited with {status}")),
    }
}

/// A node's cluster settings: the shared secret (every node must sign and verify with
/// the same one) and Redis, or no Redis at all.
fn node_env(cmd: &mut Command, redis: Option<&str>, secret: &str) {
    cmd.env("MIZULIVE_SECRET", secret);
    match redis {
        Some(url) => cmd.env("MIZULIVE_REDIS", url),
        None => cmd.env_remove("MIZULIVE_REDIS"),
    };
}

/// User plus system CPU time process `pid` has used so far, from /proc/PID/stat.
pub fn cpu_time(pid: u32) -> Result<Duration, String> {
    let path = format!("/proc/{pid}/stat");
    let stat = std::fs::read_to_string(&path).map_err(|e| format!("reading {path}: {e}"))?;
    // Field 2, the command name in parentheses, may contain spaces; the fields after
    // it start at field 3, so utime (14) and stime (15) are at indexes 11 and 12.
    let after_name = stat.rfind(')').map(|i| &stat[i + 1..]).ok_or_else(|| format!("odd {path}"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = fields
        .get(11..13)
        .and_then(|f| f.iter().map(|v| v.parse::<u64>().ok()).sum::<Option<u64>>())
        .ok_or_else(|| format!("no utime/stime in {path}"))?;
    ticks_to_duration(ticks)
}

/// CPU time every live thread of process `pid` has run so far, to the nanosecond, from
/// the first field of each /proc/PID/task/TID/schedstat (threads that already ended are
/// not counted). Finer than [`cpu_time`]'s clock ticks, for windows of a few milliseconds.
pub fn thread_cpu_time(pid: u32) -> Result<Duration, String> {
    let dir = format!("/proc/{pid}/task");
    let tasks = std::fs::read_dir(&dir).map_err(|e| format!("reading {dir}: {e}"))?;
    let mut ns = 0u64;
    for task in tasks {
        let path = task.map_err(|e| format!("reading {dir}: {e}"))?.path().join("schedstat");
        // A thread may end between the listing and the read: it no longer counts.
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        ns += text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| format!("odd {}", path.display()))?;
    }
    Ok(Duration::from_nanos(ns))
}

/// CPU time all CPUs of the machine spent busy so far (everything but idle and
/// iowait, steal included: time the hypervisor gave to someone else), from /proc/stat.
pub fn machine_busy() -> Result<Duration, String> {
    let stat = std::fs::read_to_string("/proc/stat").map_err(|e| format!("reading /proc/stat: {e}"))?;
    let first = stat.lines().next().unwrap_or_default();
    let ticks: Vec<u64> = first.split_whitespace().skip(1).map_while(|v| v.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal; guest time is already in user.
    if ticks.len() < 8 {
        return Err(format!("odd /proc/stat line {first:?}"));
    }
    ticks_to_duration(ticks[..8].iter().sum::<u64>() - ticks[3] - ticks[4])
}

fn ticks_to_duration(ticks: u64) -> Result<Duration, String> {
    // SAFETY: sysconf only reads a system constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return Err("sysconf(_SC_CLK_TCK) failed".into());
    }
    Ok(Duration::from_secs_f64(ticks as f64 / hz as f64))
}

/// Runs `cmd` to completion, killing it (and what it started) after `limit`; on
/// failure, returns its status and the end of its stderr.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Result<(), String> {
    // Its own process group, so a timeout also stops the compilers it runs.
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0);
    let mut child = cmd.spawn().map_err(|e| format!("starting it: {e}"))?;
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let drained = drain_stderr(child.stderr.take().expect("stderr is piped"), tail.clone());
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(50)),
            Ok(None) => {
                // The group id is the child's pid (process_group(0) above).
                signal_group(child.id(), libc::SIGKILL);
                let _ = child.wait();
                break Err(format!("took over {limit:?}; killed"));
            }
            Err(e) => break Err(format!("waiting: {e}")),
        }
    };
    // Let the drain thread read the last lines, without waiting on a leftover process
    // that still holds the pipe open.
    let drain_deadline = Instant::now() + Duration::from_secs(1);
    while !drained.is_finished() && Instant::now() < drain_deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let tail = tail.lock().map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n")).unwrap_or_default();
    match status {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("{status}: {tail}")),
        Err(why) => Err(format!("{why}: {tail}")),
    }
}

/// `name` in one of the PATH directories, if it is an executable file there.
pub fn find_executable(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn signal(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a pid we own (our child, not yet reaped, so not reused).
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Signals the process group led by our child `pid` (started with `process_group(0)`).
fn signal_group(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) on the group of a child we own and have not reaped yet, so the
    // group id cannot have been reused.
    unsafe {
        libc::kill(-(pid as libc::pid_t), sig);
    }
}

/// Sends the child's first stdout line on the returned channel and keeps reading, so
/// a chatty child never blocks on a full pipe.
fn first_line_then_drain(stdout: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(line)) = lines.next() {
            let _ = tx.send(line);
        }
        for _ in lines {}
    });
    rx
}

/// Keeps the last `STDERR_TAIL` lines of a child's stderr in `tail`; the thread ends
/// at EOF.
fn drain_stderr(
    stderr: impl Read + Send + 'static,
    tail: Arc<Mutex<VecDeque<String>>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut t) = tail.lock() {
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    })
}
