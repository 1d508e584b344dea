//! A real `redis-server` for the `--redis` mode, on a free port of 127.0.0.1 with its
//! own temporary directory and no persistence, and a minimal RESP client that reads its
//! counters (`INFO`), so what the nodes cost Redis is measured by Redis itself.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long redis-server may take to answer its first PING, and one command to answer.
const START_TIMEOUT: Duration = Duration::from_secs(10);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);
/// INFO answers are a few KB; a longer bulk reply means something else is talking.
const MAX_REPLY: usize = 1 << 20;

/// The server's directory is `<temp>/<DIR_PREFIX><bench pid>-<nanos>`.
const DIR_PREFIX: &str = "mizulive-bench-redis-";

/// Removes the directories of earlier benches that were killed before they could
/// (their pid is gone); a live bench's directory is left alone.
fn remove_stale_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(DIR_PREFIX)) else { continue };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A running redis-server child. Dropping it kills the server and removes its
/// directory, so a bench that fails (an error returned, or a panic) leaves nothing
/// behind; PDEATHSIG covers a bench that is killed.
pub struct Redis {
    pub addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Redis {
    /// Starts redis-server (from PATH) and waits until it answers PING.
    pub async fn start() -> Result<Redis, String> {
        remove_stale_dirs();
        let dir = std::env::temp_dir().join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        // A free port: bind port 0, read it, release it. Another process could take it
        // in between; then redis-server fails to start and the error says so.
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let log = std::fs::File::create(dir.join("redis.log")).map_err(|e| format!("redis log: {e}"))?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent; the
        // kernel stops redis-server if the bench dies without running destructors.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(format!("starting redis-server (Debian package redis-server): {e}"));
            }
        };
        let mut redis = Redis { addr: ([127, 0, 0, 1], port).into(), child, dir };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let outcome = command(redis.addr, &["PING"]).await;
            if matches!(&outcome, Ok(pong) if pong == "PONG") {
                return Ok(redis);
            }
            if let Ok(Some(status)) = redis.child.try_wait() {
                return Err(format!(
                    "redis-server exited at startup ({status}); its log ends with:\n{}",
                    redis.log_tail()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "redis-server on port {port} did not answer PING within {START_TIMEOUT:?} ({outcome:?}); \
                     its log ends with:\n{}",
                    redis.log_tail()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The last lines of redis-server's log, to explain a failed start.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("redis.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Redis's counters and CPU time now.
    pub async fn sample(&self) -> Result<RedisSample, String> {
        let stats = parse_info(&command(self.addr, &["INFO", "stats"]).await?);
        let commandstats = parse_info(&command(self.addr, &["INFO", "commandstats"]).await?);
        let field = |name: &str| {
            stats
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .ok_or_else(|| format!("INFO stats has no {name}"))
        };
        // cmdstat_set:calls=12,usec=34,... -> ("set", 12)
        let calls = commandstats
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("cmdstat_")?;
                let calls = v.split(',').find_map(|kv| kv.strip_prefix("calls="))?.parse().ok()?;
                Some((name.to_string(), calls))
            })
            .collect();
        Ok(RedisSample {
            input_bytes: field("total_net_input_bytes")?,
            output_bytes: field("total_net_output_bytes")?,
            commands: field("total_commands_processed")?,
            calls,
            cpu: crate::procs::cpu_time(self.pid())?,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Redis's own counters at one moment.
#[derive(Debug, Clone, Default)]
pub struct RedisSample {
    /// Bytes Redis read from its clients: what the nodes wrote to it.
    pub input_bytes: u64,
    /// Bytes Redis wrote to its clients (replies and pub/sub deliveries).
    pub output_bytes: u64,
    pub commands: u64,
    /// Calls per command name (`INFO commandstats`).
    pub calls: BTreeMap<String, u64>,
    /// redis-server's user + system CPU time (all its threads).
    pub cpu: Duration,
}

/// What Redis did between two samples.
#[derive(Debug, Clone, Default)]
pub struct RedisUse {
    pub input_bytes: u64,
    pub output_bytes: u64,
    pub commands: u64,
    pub calls: BTreeMap<String, u64>,
    pub cpu: Duration,
}

impl RedisSample {
    pub fn since(&self, before: &RedisSample) -> RedisUse {
        let calls = self
            .calls
            .iter()
            .map(|(name, n)| (name.clone(), n.saturating_sub(before.calls.get(name).copied().unwrap_or(0))))
            .filter(|(_, n)| *n > 0)
            .collect();
        RedisUse {
            input_bytes: self.input_bytes.saturating_sub(before.input_bytes),
            output_bytes: self.output_bytes.saturating_sub(before.output_bytes),
            commands: self.commands.saturating_sub(before.commands),
            calls,
            cpu: self.cpu.saturating_sub(before.cpu),
        }
    }
}

/// `key:value` lines of an INFO reply.
fn parse_info(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Sends one command on a fresh connection and returns a simple-string or bulk reply.
/// (A connection per call keeps this trivial; the bench sends a handful.)
pub async fn command(addr: SocketAddr, args: &[&str]) -> Result<String, String> {
    timeout(COMMAND_TIMEOUT, command_inner(addr, args))
        .await
        .map_err(|_| format!("redis {}: no answer within {COMMAND_TIMEOUT:?}", args[0]))?
}

async fn command_inner(addr: SocketAddr, args: &[&str]) -> Result<String, String> {
    let what = args.first().copied().unwrap_or_default();
    let mut request = format!("*{}\r\n", args.len());
    for arg in args {
        request.push_str(&format!("${}\r\n{arg}\r\n", arg.len()));
    }
    let stream = TcpStream::connect(addr).await.map_err(|e| format!("redis {what}: connect: {e}"))?;
    let mut stream = BufReader::new(stream);
    stream.get_mut().write_all(request.as_bytes()).await.map_err(|e| format!("redis {what}: write: {e}"))?;
    let mut line = String::new();
    stream.read_line(&mut line).await.map_err(|e| format!("redis {what}: read: {e}"))?;
    let line = line.trim_end();
    if let Some(simple) = line.strip_prefix('+') {
        return Ok(simple.to_string());
    }
    if let Some(error) = line.strip_prefix('-') {
        return Err(format!("redis {what}: {error}"));
    }
    let len: usize = line
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .filter(|n| *n <= MAX_REPLY)
        .ok_or_else(|| format!("redis {what}: unexpected reply {line:?}"))?;
    let mut body = vec![0; len + 2];
    stream.read_exact(&mut body).await.map_err(|e| format!("redis {what}: read: {e}"))?;
    body.truncate(len);
    String::from_utf8(body).map_err(|_| format!("redis {what}: reply is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_and_commandstats() {
        let info =
            "# Stats\r\ntotal_net_input_bytes:1234\r\ncmdstat_set:calls=12,usec=34,usec_per_call=2.8\r\n";
        let map = parse_info(info);
        assert_eq!(map.get("total_net_input_bytes").map(String::as_str), Some("1234"));
        assert_eq!(map.get("cmdstat_set").map(String::as_str), Some("calls=12,usec=34,usec_per_call=2.8"));
    }

    #[test]
    fn use_between_samples() {
        let sample = |bytes, set| RedisSample {
            input_bytes: bytes,
            calls: [("set".to_string(), set), ("get".to_string(), 5)].into_iter().collect(),
            ..RedisSample::default()
        };
        let used = sample(1500, 12).since(&sample(1000, 2));
        assert_eq!(used.input_bytes, 500);
        // Commands that did not run in between are left out.
        assert_eq!(used.calls.into_iter().collect::<Vec<_>>(), vec![("set".to_string(), 10)]);
    }
}
