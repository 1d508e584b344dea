//! [`Conn`] over mizulive's protocol (`docs/protocol.md`), and over the echo server, the
//! floor every other server is compared with.
//!
//! mizulive: GET the page (it mounts the session), open the socket with the browser's
//! Origin and cookie, `join` with the token of the page's `lv-boot` data. An event is
//! answered by a `patch` (when something changed) and then its `reply`.

use futures_util::SinkExt;
use std::net::SocketAddr;
use std::time::Instant;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::{Action, Answer, ClickError, Conn, Page};
use crate::client::{self, Ws, OPEN_TIMEOUT, ROUNDTRIP_TIMEOUT};

/// Rows of the table page (`bench/peers/PAGES.md`).
const ROWS: usize = 100;

/// One page of a mizulive server, joined.
pub struct LiveConn {
    ws: Ws,
    next_ref: u64,
    /// What the page shows, as far as this session changed it: each answer must bring
    /// the next value, which is how a wrong or empty answer is noticed.
    count: u64,
    rows: Vec<u64>,
    items: u64,
}

/// The event frame a browser sends for a click on `name` with `values` (already JSON
/// object members, such as `"row":"3"`).
pub fn event_frame(reference: u64, name: &str, values: &str) -> String {
    format!(
        r#"{{"t":"event","ref":{reference},"type":"click","name":"{name}","target":null,"values":{{{values}}},"form":{{}},"key":null,"meta":{{"shift":false,"ctrl":false,"alt":false,"meta":false}}}}"#
    )
}

impl LiveConn {
    async fn open_unbounded(addr: SocketAddr, page: Page) -> Result<LiveConn, String> {
        let path = page.path();
        let (mut ws, token) = client::upgrade(addr, path).await?;
        let join = client::join_frame(addr, path, &token);
        ws.send(Message::text(join)).await.map_err(|e| format!("sending join: {e}"))?;
        loop {
            let text = client::next_text(&mut ws).await.map_err(|e| format!("waiting for joined: {e}"))?;
            let frame = client::parse(&text).map_err(|e| format!("waiting for joined: {e}"))?;
            match frame.t {
                "joined" => break,
                "error" => return Err(format!("join refused: {}", frame.code.unwrap_or_default())),
                // Nothing else is expected before joined; tolerate it rather than guess.
                _ => continue,
            }
        }
        Ok(LiveConn { ws, next_ref: 0, count: 0, rows: vec![0; ROWS], items: 0 })
    }

    /// The event for `action`, and texts one of which its patch must contain (none
    /// for a broadcast, whose patch comes as a push, maybe after the reply).
    fn event(&self, reference: u64, action: Action) -> Result<(String, Vec<String>), ClickError> {
        Ok(match action {
            Action::Inc => {
                (event_frame(reference, "inc", ""), vec![format!(r#""count":"{}""#, self.count + 1)])
            }
            Action::Broadcast => (event_frame(reference, "broadcast", ""), vec![]),
            Action::Bump { row } => {
                let value =
                    self.rows.get(row as usize).ok_or(ClickError::Rejected(format!("no row {row}")))?;
                let values = format!(r#""row":"{row}""#);
                // The row whole, or only its third cell's text (the third of its four
                // text nodes).
                let cells = format!("<td>row-{row}</td><td>name-{row}</td><td>{}</td>", value + 1);
                let text = format!(r#""row-{row}":[4,2,"{}"]"#, value + 1);
                (event_frame(reference, "bump", &values), vec![cells, text])
            }
            Action::Add => {
                (event_frame(reference, "add", ""), vec![format!(">item-{}</li>", self.items + 1)])
            }
        })
    }

    /// The answered action is now on the page.
    fn applied(&mut self, action: Action) {
        match action {
            Action::Inc => self.count += 1,
            Action::Bump { row } => {
                if let Some(v) = self.rows.get_mut(row as usize) {
                    *v += 1;
                }
            }
            Action::Add => self.items += 1,
            Action::Broadcast => {}
        }
    }

    async fn exchange(
        &mut self,
        event: String,
        reference: u64,
        needles: &[String],
    ) -> Result<Answer, ClickError> {
        let bytes_out = event.len() as u64;
        let sent = Instant::now();
        self.ws.send(Message::text(event)).await.map_err(|e| ClickError::Socket(e.to_string()))?;
        let mut answer = Answer { bytes_out, ..Answer::default() };
        let mut patch_at = None;
        let mut found = needles.is_empty();
        loop {
            let text = client::next_text(&mut self.ws).await?;
            answer.frames += 1;
            answer.bytes_in += text.len() as u64;
            let frame = client::parse(&text).map_err(ClickError::Socket)?;
            match frame.t {
                "patch" => {
                    patch_at.get_or_insert_with(|| sent.elapsed());
                    found |= needles.iter().any(|n| text.as_str().contains(n.as_str()));
                    // A patch that answers the event is its reply as well (a success).
                    if frame.reference == Some(reference) {
                        answer.done = sent.elapsed();
                        answer.first = patch_at.unwrap_or(answer.done);
                        return if found { Ok(answer) } else { Err(ClickError::MissingPatch) };
                    }
                }
                "reply" if frame.reference == Some(reference) => {
                    answer.done = sent.elapsed();
                    return match (frame.ok, frame.error) {
                        (Some(true), _) if found => {
                            answer.first = patch_at.unwrap_or(answer.done);
                            Ok(answer)
                        }
                        // No patch, or none with what the event must have changed.
                        (Some(true), _) => Err(ClickError::MissingPatch),
                        (_, Some(e)) if e.code == "rate_limited" => Err(ClickError::RateLimited),
                        (_, e) => Err(ClickError::Rejected(e.map(|e| e.code).unwrap_or_default())),
                    };
                }
                "close" | "error" => return Err(ClickError::Socket(format!("server sent {text}"))),
                _ => continue,
            }
        }
    }
}

impl Conn for LiveConn {
    async fn open(addr: SocketAddr, page: Page) -> Result<Self, String> {
        timeout(OPEN_TIMEOUT, LiveConn::open_unbounded(addr, page))
            .await
            .map_err(|_| format!("opening took over {OPEN_TIMEOUT:?}"))?
    }

    async fn act(&mut self, action: Action) -> Result<Answer, ClickError> {
        self.next_ref += 1;
        let reference = self.next_ref;
        let (event, needles) = self.event(reference, action)?;
        let answer = timeout(ROUNDTRIP_TIMEOUT, self.exchange(event, reference, &needles))
            .await
            .map_err(|_| ClickError::Timeout)?;
        // An ok reply means the server applied the event, even when its patch was not
        // the expected one: stay in step with it, so every later wrong answer counts too.
        if matches!(answer, Ok(_) | Err(ClickError::MissingPatch)) {
            self.applied(action);
        }
        answer
    }

    async fn await_push(&mut self, needle: &str) -> Result<Instant, ClickError> {
        let wait = async {
            loop {
                let text = client::next_text(&mut self.ws).await?;
                let frame = client::parse(&text).map_err(ClickError::Socket)?;
                match frame.t {
                    "patch" if text.as_str().contains(needle) => return Ok(Instant::now()),
                    "close" | "error" => return Err(ClickError::Socket(format!("server sent {text}"))),
                    _ => continue,
                }
            }
        };
        timeout(ROUNDTRIP_TIMEOUT, wait).await.map_err(|_| ClickError::Timeout)?
    }
}

/// A connection to the echo server: every action is one frame the size of mizulive's
/// click event, sent back verbatim. What is left is the cost of the socket, the
/// WebSocket framing and the runtime, the floor under every framework. A broadcast is
/// the frame `crate::echo::BROADCAST`, which the server also pushes to every other
/// socket (the fan-out's floor).
pub struct EchoConn {
    ws: Ws,
    frame: Utf8Bytes,
}

impl EchoConn {
    async fn open_unbounded(addr: SocketAddr) -> Result<EchoConn, String> {
        let (ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/"),
            Some(client::client_ws_config()),
            true,
        )
        .await
        .map_err(|e| format!("websocket connect: {e}"))?;
        Ok(EchoConn { ws, frame: event_frame(1, "inc", "").into() })
    }
}

impl Conn for EchoConn {
    async fn open(addr: SocketAddr, _page: Page) -> Result<Self, String> {
        timeout(OPEN_TIMEOUT, EchoConn::open_unbounded(addr))
            .await
            .map_err(|_| format!("opening took over {OPEN_TIMEOUT:?}"))?
    }

    async fn act(&mut self, action: Action) -> Result<Answer, ClickError> {
        let frame = match action {
            Action::Broadcast => Utf8Bytes::from_static(crate::echo::BROADCAST),
            _ => self.frame.clone(),
        };
        let exchange = async {
            let sent = Instant::now();
            self.ws
                .send(Message::Text(frame.clone()))
                .await
                .map_err(|e| ClickError::Socket(e.to_string()))?;
            // Pushes of broadcasts sent by others are not the answer.
            let mut text = client::next_text(&mut self.ws).await?;
            while text.as_str().starts_with(r#"{"t":"push""#) {
                text = client::next_text(&mut self.ws).await?;
            }
            if text != frame {
                return Err(ClickError::Socket(format!("echo returned {text}")));
            }
            let t = sent.elapsed();
            let len = text.len() as u64;
            Ok(Answer { first: t, done: t, frames: 1, bytes_in: len, bytes_out: len })
        };
        timeout(ROUNDTRIP_TIMEOUT, exchange).await.map_err(|_| ClickError::Timeout)?
    }

    async fn await_push(&mut self, needle: &str) -> Result<Instant, ClickError> {
        let wait = async {
            loop {
                let text = client::next_text(&mut self.ws).await?;
                if text.as_str().contains(needle) {
                    return Ok(Instant::now());
                }
            }
        };
        timeout(ROUNDTRIP_TIMEOUT, wait).await.map_err(|_| ClickError::Timeout)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_frame_is_json_of_the_browser_shape() {
        let frame = event_frame(7, "bump", r#""row":"3""#);
        let v: serde_json::Value = serde_json::from_str(&frame).expect("valid JSON");
        assert_eq!(v["t"], "event");
        assert_eq!(v["ref"], 7);
        assert_eq!(v["name"], "bump");
        assert_eq!(v["values"]["row"], "3");
    }
}
