//! The patches a session sent recently, so a client that reconnects behind gets
//! exactly what it missed instead of the whole body (DESIGN contract "resume").

use crate::protocol::{self, Frame};
use std::collections::VecDeque;

/// Recent patch frames by `seq`, bounded in count and in bytes.
#[derive(Default)]
pub(super) struct ResumeBuffer {
    sent: VecDeque<(u64, Frame)>,
    bytes: usize,
}

impl ResumeBuffer {
    /// Keeps `frame` (patch number `seq`), dropping the oldest beyond `max_frames` or
    /// `max_bytes`. A patch alone over the byte limit is not kept either: a client
    /// that missed it gets the whole body, as one too far behind does.
    pub fn push(&mut self, seq: u64, frame: Frame, max_frames: usize, max_bytes: usize) {
        self.bytes += frame.len();
        self.sent.push_back((seq, frame));
        while self.sent.len() > max_frames || self.bytes > max_bytes {
            match self.sent.pop_front() {
                Some((_, old)) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    /// The frames a client that saw patches up to `last_seq` missed, when all of them
    /// are still kept; `None` when it is too far behind (or claims to be ahead of
    /// `seq`, the last patch sent) and needs the whole body. Patches are kept as sent,
    /// and replayed without the reply to an event that some of them carry.
    pub fn missed(&self, last_seq: u64, seq: u64) -> Option<Vec<Frame>> {
        let oldest = self.sent.front().map_or(seq + 1, |(s, _)| *s);
        if last_seq > seq || last_seq + 1 < oldest {
            return None;
        }
        Some(
            self.sent
                .iter()
                .filter(|(s, _)| *s > last_seq)
                .map(|(_, f)| protocol::without_reply(f))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_answers_no_event() {
        let regions = std::collections::BTreeMap::from([("n".to_string(), "1".to_string())]);
        let parts = std::collections::BTreeMap::<String, ()>::new();
        let mut buf = ResumeBuffer::default();
        buf.push(1, Frame::from(protocol::patch(1, &regions, &parts, None, None, Some(9))), 8, 1 << 20);
        buf.push(2, Frame::from(protocol::patch(2, &regions, &parts, None, None, None)), 8, 1 << 20);
        let replayed: Vec<String> = buf.missed(0, 2).unwrap().iter().map(|f| f.to_string()).collect();
        assert_eq!(
            replayed,
            [
                protocol::patch(1, &regions, &parts, None, None, None),
                protocol::patch(2, &regions, &parts, None, None, None)
            ]
        );
        assert!(!replayed[0].contains("\"ref\""), "{}", replayed[0]);
    }

    #[test]
    fn replays_only_what_is_kept() {
        let mut buf = ResumeBuffer::default();
        for seq in 1..=5 {
            buf.push(seq, Frame::from(format!("p{seq}")), 3, 1 << 20);
        }
        // Kept: 3, 4, 5.
        assert_eq!(buf.missed(5, 5).unwrap().len(), 0);
        assert_eq!(
            buf.missed(2, 5).unwrap().iter().map(|f| f.to_string()).collect::<Vec<_>>(),
            ["p3", "p4", "p5"]
        );
        assert!(buf.missed(1, 5).is_none(), "patch 2 is gone");
        assert!(buf.missed(6, 5).is_none(), "ahead of the server");
        let mut small = ResumeBuffer::default();
        small.push(1, Frame::from("x".repeat(10)), 8, 5);
        assert!(small.missed(0, 1).is_none(), "a patch over the byte limit is not kept");
        assert_eq!(ResumeBuffer::default().missed(0, 0).unwrap().len(), 0);
    }
}
