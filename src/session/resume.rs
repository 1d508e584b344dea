//! The patches a session sent recently, so a client that reconnects behind gets
//! exactly what it missed instead of the whole body (DESIGN contract "resume").
//!
//! Each patch is copied into one buffer per session rather than kept as the frame that
//! was sent. Kept as frames, every session's last 64 patches were 64 allocations, each
//! freed 64 patches later: a working set of tens of megabytes that glibc malloc put in
//! whichever thread's arena a frame's first bytes happened to come from (a frame grows
//! by realloc, inside the arena of its first chunk, and an IO thread's cache of freed
//! chunks holds host threads' chunks too). When that changed, the patches of every
//! session moved to another arena within one turnover of the buffers while the old
//! arena kept their memory, free but resident: RSS rose by a whole set of resume
//! buffers at a random moment (20 MB in the soak test, bench/src/soak.rs). A buffer per
//! session grows while its first patches come in and is then reused.

use crate::protocol::Frame;
use std::collections::VecDeque;

/// Recent patch frames by `seq`, bounded in count and in bytes.
#[derive(Default)]
pub(super) struct ResumeBuffer {
    /// `(seq, length)` of each kept patch, oldest first.
    kept: VecDeque<(u64, usize)>,
    /// Their text, back to back in the same order.
    text: VecDeque<u8>,
}

impl ResumeBuffer {
    /// Keeps a copy of `frame` (patch number `seq`), dropping the oldest beyond
    /// `max_frames` or `max_bytes`. A patch alone over the byte limit is not kept
    /// either: a client that missed it gets the whole body, as one too far behind does.
    #[cfg(test)]
    pub fn push(&mut self, seq: u64, frame: &str, max_frames: usize, max_bytes: usize) {
        self.push_parts(seq, &[frame], max_frames, max_bytes);
    }

    /// [`push`](Self::push) of a frame given in pieces (a patch without the reply it
    /// was sent with, see [`crate::protocol::without_reply`]).
    pub fn push_parts(&mut self, seq: u64, parts: &[&str], max_frames: usize, max_bytes: usize) {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if max_frames == 0 || len > max_bytes {
            self.kept.clear();
            self.text.clear();
            return;
        }
        // Room is made before the patch goes in, so a full buffer never grows.
        while self.kept.len() >= max_frames || self.text.len() + len > max_bytes {
            match self.kept.pop_front() {
                Some((_, old)) => drop(self.text.drain(..old)),
                None => break,
            }
        }
        let needed = self.text.len() + len;
        if needed > self.text.capacity() {
            // Room for a full buffer of patches the size of this one (or of the mean
            // kept, when larger), and an eighth more for patches that grow a little
            // (numbers gaining digits): it grows while the first patches come in, then
            // no more. Never past the byte limit (which `needed` is within by now).
            let per_patch = len.max(needed / (self.kept.len() + 1));
            let full = per_patch.saturating_mul(max_frames);
            let target = full.saturating_add(full / 8).clamp(needed, max_bytes.max(needed));
            self.text.reserve_exact(target - self.text.len());
        }
        for part in parts {
            self.text.extend(part.as_bytes());
        }
        self.kept.push_back((seq, len));
    }

    /// The frames a client that saw patches up to `last_seq` missed, when all of them
    /// are still kept; `None` when it is too far behind (or claims to be ahead of
    /// `seq`, the last patch sent) and needs the whole body.
    pub fn missed(&self, last_seq: u64, seq: u64) -> Option<Vec<Frame>> {
        let oldest = self.kept.front().map_or(seq + 1, |(s, _)| *s);
        if last_seq > seq || last_seq + 1 < oldest {
            return None;
        }
        let mut frames = Vec::new();
        let mut at = 0;
        for &(s, len) in &self.kept {
            if s > last_seq {
                let bytes: Vec<u8> = self.text.range(at..at + len).copied().collect();
                // Whole frames went in, so each is UTF-8; if not, the whole body is safe.
                frames.push(Frame::from(String::from_utf8(bytes).ok()?));
            }
            at += len;
        }
        Some(frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol;

    #[test]
    fn a_replay_answers_no_event() {
        let regions = std::collections::BTreeMap::from([("n".to_string(), "1".to_string())]);
        let mut buf = ResumeBuffer::default();
        for (seq, reply) in [(1, Some(9)), (2, None)] {
            let sent = protocol::patch(&regions, &(), None, None, reply);
            buf.push_parts(seq, &protocol::without_reply(&sent), 8, 1 << 20);
        }
        let replayed: Vec<String> = buf.missed(0, 2).unwrap().iter().map(|f| f.to_string()).collect();
        assert_eq!(
            replayed,
            [
                protocol::patch(&regions, &(), None, None, None),
                protocol::patch(&regions, &(), None, None, None)
            ]
        );
    }

    #[test]
    fn replays_only_what_is_kept() {
        let mut buf = ResumeBuffer::default();
        for seq in 1..=5 {
            buf.push(seq, &format!("p{seq}"), 3, 1 << 20);
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
        small.push(1, &"x".repeat(10), 8, 5);
        assert!(small.missed(0, 1).is_none(), "a patch over the byte limit is not kept");
        assert_eq!(ResumeBuffer::default().missed(0, 0).unwrap().len(), 0);
    }

    #[test]
    fn the_byte_limit_drops_the_oldest_and_survives_wrapping() {
        let mut buf = ResumeBuffer::default();
        // Frames of 4 to 6 bytes (the arrow is three), at most 16 bytes kept: the text
        // wraps around its buffer many times.
        for seq in 1..=200u64 {
            buf.push(seq, &format!("→{seq}"), 100, 16);
        }
        let kept = buf.missed(198, 200).expect("the last two fit in 16 bytes");
        assert_eq!(kept.iter().map(|f| f.to_string()).collect::<Vec<_>>(), ["→199", "→200"]);
        assert!(buf.text.len() <= 16 && buf.text.capacity() <= 16);
        assert!(buf.missed(197, 200).is_none(), "older patches went for the byte limit");
    }

    #[test]
    fn a_full_buffer_stops_growing() {
        // The counter example's patches: its log grows to ten entries, then each
        // patch is a little longer as the numbers gain digits (at 100 and 1000).
        let patch = |seq: u64| {
            let log: String =
                (seq.saturating_sub(9).max(1)..=seq).map(|n| format!("<li>inc 1 → {n}</li>")).collect();
            format!(
                r#"{{"regions":{{"log":"<ol>{log}</ol>","stats":"<p>Count: <strong id=\"count\">{seq}</strong></p>"}}}}"#
            )
        };
        let mut buf = ResumeBuffer::default();
        for seq in 1..=64 {
            buf.push(seq, &patch(seq), 64, 256 * 1024);
        }
        let full = (buf.kept.capacity(), buf.text.capacity());
        for seq in 65..=2000 {
            buf.push(seq, &patch(seq), 64, 256 * 1024);
            assert_eq!((buf.kept.capacity(), buf.text.capacity()), full, "grew at patch {seq}");
        }
        assert_eq!(buf.missed(1990, 2000).unwrap().last().map(|f| f.to_string()), Some(patch(2000)));
        // Large patches: the buffer stops at the byte limit, not at twice it.
        let mut big = ResumeBuffer::default();
        for seq in 1..=64 {
            big.push(seq, &"y".repeat(5000), 64, 64 * 1024);
        }
        assert!(big.text.capacity() <= 64 * 1024, "capacity {}", big.text.capacity());
    }
}
