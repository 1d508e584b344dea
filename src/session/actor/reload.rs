//! Dev mode: the views changed (see `session::reload`), so the open page gets its
//! body rendered anew (when it changed), or the error of the edit that does not
//! compile.

use std::sync::Arc;

use super::super::render::{Call, PatchParts};
use super::Actor;
use crate::protocol;

impl Actor {
    pub(super) async fn reload(&mut self, error: Option<Arc<str>>) {
        // A page with no socket gets the new body when its browser joins.
        if self.conn.is_none() {
            return;
        }
        if let Some(msg) = error {
            self.send(protocol::error("render_error", &msg, true).into());
            return;
        }
        let before = self.data.as_ref().and_then(|d| d.rendered_root);
        let Some(mut outcome) = self.call(Call::Root).await else { return };
        let after = self.data.as_ref().and_then(|d| d.rendered_root);
        if before.is_some() && before == after && outcome.error.is_none() {
            // A page the edit does not reach renders as it did: nothing to send.
            return;
        }
        if let Some(root) = outcome.root.take() {
            outcome.patch = Some(PatchParts {
                regions: Default::default(),
                parts: Default::default(),
                root: Some(root),
                title: None,
            });
            self.deliver(outcome, None);
        } else if let Some((code, msg)) = &outcome.error {
            let msg = self.public_message(msg);
            self.send(protocol::error(code, &msg, true).into());
        }
    }
}
