//! The patches a session sent recently, so a client that reconnects behind gets
//! exactly what it missed instead of the whole body (DESIGN contract "resume").

use crate::protocol::Frame;
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
    /// `seq`, the last patch sent) and needs the whole body.
    pub fn missed(&self, last_seq: u64, seq: u64) -> Option<Vec<Frame>> {
        let oldest = self.sent.front().map_or(seq + 1, |(s, _)| *s);
        if last_seq > seq || last_seq + 1 < oldest {
            return None;
        }
        Some(self.sent.iter().filter(|(s, _)| *s > last_seq).map(|(_, f)| f.clone()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
