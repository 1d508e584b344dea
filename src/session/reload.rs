//! Dev mode with a views folder: a template edit reaches every open page.
//!
//! A thread looks at the folder every [`EVERY`] (a stat of each file: a views
//! folder is small) and, when the views were rebuilt (by it, or by a render that
//! noticed first), tells every session to render its page body anew; the socket gets
//! it as a root patch, so the page keeps its state. An edit that does not compile
//! keeps the templates as they were, and the open pages show its error (the dev
//! overlay). A layout's edit shows on the next load: the body is what a patch reaches.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Core, SessionMsg};
use crate::views::Refresh;

/// How often the folder is looked at.
pub(crate) const EVERY: Duration = Duration::from_millis(300);

/// Starts the watcher when the views reload (dev mode with a folder). It ends when
/// the node shuts down or is dropped.
pub(crate) fn watch_views(core: &Arc<Core>) {
    if !core.views.reloads() {
        return;
    }
    let weak = Arc::downgrade(core);
    let seen = core.views.generation();
    let spawned = std::thread::Builder::new().name("mizulive-views".into()).spawn(move || run(weak, seen));
    if let Err(e) = spawned {
        tracing::warn!("no thread to watch the views folder ({e}): edits show on the next render only");
    }
}

fn run(core: Weak<Core>, mut seen: u64) {
    loop {
        std::thread::sleep(EVERY);
        let Some(core) = core.upgrade() else { return };
        if *core.closing.borrow() {
            return;
        }
        let error = match core.views.refresh() {
            Refresh::Broken(msg) => Some(Arc::<str>::from(msg)),
            Refresh::Reloaded | Refresh::Unchanged => None,
        };
        let generation = core.views.generation();
        if generation == seen && error.is_none() {
            continue;
        }
        seen = generation;
        let sessions = core.sessions.all();
        tracing::info!("views changed; rendering {} open page(s) anew", sessions.len());
        for session in sessions {
            // A full mailbox is a busy page; it renders the new templates on its next change.
            let _ = session.tx.try_send(SessionMsg::Reload { error: error.clone() });
        }
    }
}
