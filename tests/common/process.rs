//! Programs run the way a user runs them: scratch folders outside the checkout,
//! commands with a time limit, servers started on a free port of 127.0.0.1 and
//! stopped with SIGINT. Every wait is bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a server may take to print its address, and to stop after SIGINT.
pub const WAIT: Duration = Duration::from_secs(30);

/// A fresh directory under the system's temporary directory, outside the checkout;
/// removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("mizulive-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        Scratch(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cmd` to completion within `limit`, killing it (and failing the test) past it.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for a child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    Output { status, stdout: stdout.join().expect("stdout"), stderr: stderr.join().expect("stderr") }
}

/// Like [`run`], and fails the test with the output unless the command succeeded.
pub fn run_ok(cmd: Command, limit: Duration) -> Output {
    let what = format!("{cmd:?}");
    let out = run(cmd, limit);
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A shell command line in `dir`, as a user would type it, with no compiler or linker
/// paths from this process's environment: only what `env` sets.
pub fn sh(dir: &Path, line: &str, env: &[(&str, &Path)]) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(line).current_dir(dir);
    for var in [
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "LD_LIBRARY_PATH",
        "LIBRARY_PATH",
        "CPATH",
        "C_INCLUDE_PATH",
        "CFLAGS",
        "LDFLAGS",
        "CGO_CFLAGS",
        "CGO_LDFLAGS",
        "GOFLAGS",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// A running server; killed if the test fails before stopping it.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `exe` in `dir` on a free port of 127.0.0.1 and reads the address from its
/// first line ("counter listening on http://ADDR/counter").
pub fn start(exe: &Path, dir: &Path, env: &[(&str, &Path)]) -> Server {
    let mut cmd = Command::new(exe);
    cmd.current_dir(dir).env("MIZULIVE_ADDR", "127.0.0.1:0").env_remove("LD_LIBRARY_PATH");
    cmd.env_remove("MIZULIVE_VIEWS").env_remove("MIZULIVE_DEV");
    for (k, v) in env {
        cmd.env(k, v);
    }
    start_command(cmd, WAIT)
}

/// Starts `cmd` as it is (an interpreter and its script, `go run`) and reads the
/// address from the first line of its output with `http://ADDR/` in it, waiting up to
/// `limit` for it.
pub fn start_command(mut cmd: Command, limit: Duration) -> Server {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {what}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // Made before the wait, so a server that prints nothing is killed too.
    let mut server = Server { child, addr: String::new() };
    let deadline = Instant::now() + limit;
    let line = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("http://") => break line,
            Ok(_) => continue,
            Err(_) => panic!("{what} printed no address within {limit:?}"),
        }
    };
    server.addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    server
}

/// SIGINT, then a clean exit within [`WAIT`].
pub fn stop(mut server: Server) {
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGINT) }, 0);
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            assert!(status.success(), "the server exits cleanly on SIGINT: {status}");
            return;
        }
        assert!(Instant::now() < deadline, "the server did not stop within {WAIT:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A response read whole from a fresh connection.
pub struct Response {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The value of a hidden form field of the page (`_csrf`, `_lv_token`).
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!(r#"name="{name}" value=""#);
        let from = self.body.find(&marker).unwrap_or_else(|| panic!("no {name} in the page:\n{}", self.body));
        let rest = &self.body[from + marker.len()..];
        rest[..rest.find('"').expect("closing quote")].to_string()
    }
}

/// One HTTP/1.1 request on a fresh connection, `Connection: close`, read to the end.
pub fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Response {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(WAIT)).expect("read timeout");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(req.as_bytes()).expect("send the request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {raw:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    Response { status, head: head.to_string(), body: body.to_string() }
}
