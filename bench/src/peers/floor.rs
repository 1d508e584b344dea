//! The fan-out's floor on this machine: what writing one small frame to each of K
//! loopback TCP sockets costs one thread on the servers' CPU with nothing else to do,
//! its readers waiting on the bench client's runtime as the subscribers' sockets do.
//! No server can push to K subscribers, one socket each, faster than this; the echo
//! server's fan-out adds its runtime to it, mizulive's the sessions' work.

use std::io::Write;
use std::net::TcpStream as StdStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

use crate::procs::PEER_CPU;

/// About the size of a counter patch, or of the echo's push, framed.
pub const FRAME: [u8; 40] = [b'x'; 40];
/// How long a round's frames may take to arrive, and the sockets to open.
const LIMIT: Duration = Duration::from_secs(30);

/// The median over the rounds of one thread writing [`FRAME`] to each of `sockets`
/// sockets: the time until the last reader had it, and the writer's CPU time.
#[derive(Debug, Clone, Copy)]
pub struct SendFloor {
    pub sockets: usize,
    pub rounds: usize,
    pub last: Duration,
    pub cpu: Duration,
}

impl SendFloor {
    /// The writer's CPU time for `k` sockets at this floor's cost per socket.
    pub fn cpu_for(&self, k: usize) -> Duration {
        self.cpu.mul_f64(k as f64 / self.sockets as f64)
    }
}

/// Measures the floor over `sockets` socket pairs, `rounds` rounds after one warm-up.
pub async fn send_floor(sockets: usize, rounds: usize) -> Result<SendFloor, String> {
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let mut readers = Vec::with_capacity(sockets);
    let mut writers = Vec::with_capacity(sockets);
    let open = async {
        for _ in 0..sockets {
            let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
            readers.push(client.map_err(|e| format!("connect: {e}"))?);
            let (server, _) = accepted.map_err(|e| format!("accept: {e}"))?;
            let server = server.into_std().map_err(|e| e.to_string())?;
            server.set_nonblocking(false).map_err(|e| e.to_string())?;
            server.set_nodelay(true).map_err(|e| e.to_string())?;
            writers.push(server);
        }
        Ok::<_, String>(())
    };
    timeout(LIMIT, open).await.map_err(|_| format!("opening {sockets} sockets took over {LIMIT:?}"))??;
    let writers = Arc::new(writers);
    let (mut lasts, mut cpus) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let waiting: Vec<_> = readers
            .drain(..)
            .map(|mut r| {
                tokio::spawn(async move {
                    let mut frame = [0u8; FRAME.len()];
                    let read = r.read_exact(&mut frame).await.map(|_| Instant::now());
                    (r, read)
                })
            })
            .collect();
        tokio::task::yield_now().await;
        let all = Arc::clone(&writers);
        let (started, cpu) = tokio::task::spawn_blocking(move || write_all_pinned(&all))
            .await
            .map_err(|e| format!("writer: {e}"))??;
        let mut last = started;
        let collect = async {
            for task in waiting {
                let (r, read) = task.await.map_err(|e| format!("reader: {e}"))?;
                last = last.max(read.map_err(|e| format!("read: {e}"))?);
                readers.push(r);
            }
            Ok::<_, String>(())
        };
        timeout(LIMIT, collect).await.map_err(|_| format!("round {round} took over {LIMIT:?}"))??;
        if round > 0 {
            lasts.push(last - started);
            cpus.push(cpu);
        }
    }
    lasts.sort_unstable();
    cpus.sort_unstable();
    Ok(SendFloor { sockets, rounds, last: lasts[lasts.len() / 2], cpu: cpus[cpus.len() / 2] })
}

/// On a thread of its own pinned to the servers' CPU: writes the frame to every
/// socket; returns when it began and the CPU time the writes took.
fn write_all_pinned(writers: &[StdStream]) -> Result<(Instant, Duration), String> {
    std::thread::scope(|s| {
        s.spawn(|| {
            pin_this_thread(PEER_CPU)?;
            let cpu_before = thread_cpu()?;
            let started = Instant::now();
            for mut w in writers {
                w.write_all(&FRAME).map_err(|e| format!("write: {e}"))?;
            }
            Ok((started, thread_cpu()?.saturating_sub(cpu_before)))
        })
        .join()
        .map_err(|_| "the writer panicked".to_string())?
    })
}

fn pin_this_thread(cpu: usize) -> Result<(), String> {
    // SAFETY: sched_setaffinity(0, ..) only reads the set we pass and applies to the
    // calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(format!("pinning the writer to CPU {cpu}: {}", std::io::Error::last_os_error()));
        }
    }
    Ok(())
}

/// The calling thread's CPU time so far.
fn thread_cpu() -> Result<Duration, String> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes only the timespec we pass.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Err(format!("clock_gettime: {}", std::io::Error::last_os_error()));
    }
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every reader gets its frame, and the writes cost CPU time: a floor made of
    /// real sends, not of an empty loop.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_socket_gets_its_frame_and_the_writes_cost_cpu() {
        let floor = send_floor(200, 3).await.expect("the floor runs");
        assert_eq!(floor.sockets, 200);
        assert!(floor.cpu > Duration::ZERO, "{floor:?}");
        assert!(floor.last >= Duration::from_micros(1), "{floor:?}");
    }
}
