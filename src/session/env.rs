//! What a session's actor and its callbacks share: the node's [`Core`] and the
//! session's own mailbox. It is also all a callback may reach, through
//! [`Services`].

use std::sync::Arc;
use std::time::Duration;

use super::{Core, Mailbox, SessionMsg};
use crate::page::Services;

pub(crate) struct SessionEnv {
    pub core: Arc<Core>,
    pub mailbox: Arc<Mailbox>,
}

impl Services for SessionEnv {
    fn root_id(&self) -> &str {
        &self.core.opts.root_id
    }

    fn max_state_bytes(&self) -> usize {
        self.core.opts.max_state_bytes
    }

    fn redirect_hosts(&self) -> &[String] {
        &self.core.opts.redirect_hosts
    }

    fn subscribe(&self, topic: &str) {
        self.core.pubsub.subscribe(topic, self.mailbox.clone());
    }

    fn unsubscribe(&self, topic: &str) {
        self.core.pubsub.unsubscribe(topic, self.mailbox.key);
    }

    fn start_timer(&self, id: u64, delay: Duration, data: Arc<str>) -> tokio::task::AbortHandle {
        let tx = self.mailbox.tx.clone();
        self.core
            .rt
            .spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = tx.send(SessionMsg::Timer { id, data }).await;
            })
            .abort_handle()
    }
}
