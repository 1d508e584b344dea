//! The events a session has applied, by the numbers their client gave them (`eid`),
//! so an event sent again after its reply was lost (the socket died in between) is
//! answered as the first time, not run twice (docs/protocol.md, "Exactly once").
//!
//! Kept apart and small: it is part of what a session snapshot must carry.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How many failed events before the last applied one keep their error, so that
/// re-sent copies of them get it again. Older ones are answered `ok`: a client has
/// that many events unanswered at once only if it floods.
const EARLIER_ERRORS: usize = 8;

/// The last event applied with an `eid`, and how it went.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Applied {
    /// The highest event number applied.
    pub eid: u64,
    /// Its reply's error: code and message as sent; `None` when it was ok.
    pub error: Option<(String, String)>,
    /// Failed events before it: `(eid, code, message)`, oldest first.
    pub earlier: VecDeque<(u64, String, String)>,
}

impl Applied {
    /// Records that event `eid` ran, with the error its reply carried.
    pub fn record(last: &mut Option<Applied>, eid: u64, error: Option<(String, String)>) {
        let Some(applied) = last else {
            *last = Some(Applied { eid, error, earlier: VecDeque::new() });
            return;
        };
        if let Some((code, message)) = applied.error.take() {
            if applied.earlier.len() == EARLIER_ERRORS {
                applied.earlier.pop_front();
            }
            applied.earlier.push_back((applied.eid, code, message));
        }
        applied.eid = eid;
        applied.error = error;
    }

    /// When `eid` was applied already: the reply it got (`Ok`, or its error's code
    /// and message). `None`: it is new and must run.
    pub fn replay(last: Option<&Applied>, eid: u64) -> Option<Result<(), (&str, &str)>> {
        let applied = last.filter(|a| eid <= a.eid)?;
        if eid == applied.eid {
            return Some(applied.error.as_ref().map_or(Ok(()), |(c, m)| Err((c.as_str(), m.as_str()))));
        }
        let earlier = applied.earlier.iter().find(|(e, _, _)| *e == eid);
        Some(earlier.map_or(Ok(()), |(_, c, m)| Err((c.as_str(), m.as_str()))))
    }
}

#[cfg(test)]
mod tests {
    use super::Applied;

    fn err(code: &str) -> Option<(String, String)> {
        Some((code.to_string(), format!("{code} message")))
    }

    #[test]
    fn replays_what_was_applied() {
        let mut last = None;
        assert_eq!(Applied::replay(last.as_ref(), 0), None, "nothing applied: eid 0 runs too");
        Applied::record(&mut last, 1, None);
        Applied::record(&mut last, 2, err("host_error"));
        Applied::record(&mut last, 3, None);
        assert_eq!(Applied::replay(last.as_ref(), 4), None);
        assert_eq!(Applied::replay(last.as_ref(), 3), Some(Ok(())));
        assert_eq!(Applied::replay(last.as_ref(), 2), Some(Err(("host_error", "host_error message"))));
        assert_eq!(Applied::replay(last.as_ref(), 1), Some(Ok(())));
        Applied::record(&mut last, 4, err("render_error"));
        assert_eq!(Applied::replay(last.as_ref(), 4), Some(Err(("render_error", "render_error message"))));
    }

    #[test]
    fn keeps_a_bounded_number_of_earlier_errors() {
        let mut last = None;
        for eid in 1..=20 {
            Applied::record(&mut last, eid, err("host_error"));
        }
        let applied = last.as_ref().map(|a| a.earlier.len());
        assert_eq!(applied, Some(super::EARLIER_ERRORS));
        assert!(Applied::replay(last.as_ref(), 19).is_some_and(|r| r.is_err()));
        assert_eq!(Applied::replay(last.as_ref(), 2), Some(Ok(())), "forgotten: answered ok");
    }
}
