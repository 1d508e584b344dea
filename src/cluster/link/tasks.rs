//! The link's two long-lived tasks: the subscriber, which keeps one connection
//! subscribed to every wanted channel and hands its messages on, and the publisher,
//! which sends queued publishes in pipelined batches. Each reconnects on its own.

use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::{interval, sleep, timeout, MissedTickBehavior};

use super::{
    Backoff, Conn, OnMessage, Shared, CONNECT_TIMEOUT, PUBLISHER_PING, PUBLISH_BATCH, RESPONSE_TIMEOUT,
    SUBSCRIBER_PING, SUBSCRIBE_CHUNK,
};

/// Keeps one subscriber connection up, subscribed to every wanted channel, and feeds
/// its messages to `on_message`.
pub(super) async fn run_subscriber(shared: Arc<Shared>, client: redis::Client, on_message: OnMessage) {
    let mut backoff = Backoff::default();
    let mut again = false;
    loop {
        let err = match subscribe_session(&shared, &client, &on_message, &mut backoff, &mut again).await {
            Ok(()) => return,
            Err(err) => err,
        };
        shared.failed(Conn::Subscriber, &err);
        again = true;
        sleep(backoff.next()).await;
    }
}

/// One subscriber connection, from connecting to losing it (the error). Returns Ok
/// only when the link is gone.
async fn subscribe_session(
    shared: &Shared,
    client: &redis::Client,
    on_message: &OnMessage,
    backoff: &mut Backoff,
    again: &mut bool,
) -> std::result::Result<(), String> {
    let pubsub = match timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
        Ok(Ok(pubsub)) => pubsub,
        Ok(Err(e)) => return Err(e.to_string()),
        Err(_) => return Err(format!("no connection within {} s", CONNECT_TIMEOUT.as_secs())),
    };
    let (mut sink, mut stream) = pubsub.split();
    apply(&mut sink, shared.take_changes(true)).await?;
    shared.connected(Conn::Subscriber, *again);
    *again = false;
    backoff.reset();
    let mut ping = interval(SUBSCRIBER_PING);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    ping.tick().await;
    loop {
        tokio::select! {
            msg = stream.next() => match msg {
                Some(msg) => deliver(on_message, &msg),
                None => return Err("connection closed".into()),
            },
            () = shared.subscriptions_changed.notified() => apply(&mut sink, shared.take_changes(false)).await?,
            _ = ping.tick() => match timeout(RESPONSE_TIMEOUT, sink.ping::<redis::Value>()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err(format!("no answer to PING within {} s", RESPONSE_TIMEOUT.as_secs())),
            },
        }
        if shared.closed.load(Ordering::Acquire) {
            return Ok(());
        }
    }
}

/// Hands one message to `on_message`. A panic there is logged and the message lost;
/// the link, and every later message, goes on.
fn deliver(on_message: &OnMessage, msg: &redis::Msg) {
    let channel = msg.get_channel_name();
    let payload = Bytes::copy_from_slice(msg.get_payload_bytes());
    let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_message(channel, payload)));
    if delivered.is_err() {
        tracing::error!("the handler of Redis messages panicked on channel {channel:?}; the message is lost");
    }
}

/// Sends the SUBSCRIBE and UNSUBSCRIBE commands for `(add, remove)`. Never sends an
/// UNSUBSCRIBE without channels: Redis reads that as "all of them".
async fn apply(
    sink: &mut redis::aio::PubSubSink,
    (add, remove): (Vec<String>, Vec<String>),
) -> std::result::Result<(), String> {
    for chunk in add.chunks(SUBSCRIBE_CHUNK) {
        answered(sink.subscribe(chunk)).await?;
    }
    for chunk in remove.chunks(SUBSCRIBE_CHUNK) {
        answered(sink.unsubscribe(chunk)).await?;
    }
    Ok(())
}

async fn answered(
    reply: impl std::future::Future<Output = redis::RedisResult<()>>,
) -> std::result::Result<(), String> {
    match timeout(RESPONSE_TIMEOUT, reply).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {} s", RESPONSE_TIMEOUT.as_secs())),
    }
}

/// Keeps one publishing connection up and sends the queued publishes over it, as many
/// as are queued (up to [`PUBLISH_BATCH`]) per round trip.
pub(super) async fn run_publisher(
    shared: Arc<Shared>,
    client: redis::Client,
    mut queue: mpsc::Receiver<(String, Bytes)>,
) {
    let config = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(CONNECT_TIMEOUT))
        .set_response_timeout(Some(RESPONSE_TIMEOUT));
    let mut backoff = Backoff::default();
    let mut again = false;
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    loop {
        let mut conn = match client.get_multiplexed_async_connection_with_config(&config).await {
            Ok(conn) => conn,
            Err(e) => {
                shared.failed(Conn::Publisher, &e);
                again = true;
                // Queued before the outage was known: dropped now, not sent late.
                discard(&shared, &mut queue);
                sleep(backoff.next()).await;
                continue;
            }
        };
        if again {
            // Raced past the down check while the outage was being recorded.
            discard(&shared, &mut queue);
        }
        shared.connected(Conn::Publisher, again);
        again = true;
        backoff.reset();
        let mut ping = interval(PUBLISHER_PING);
        ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ping.tick().await;
        let err = loop {
            let n = tokio::select! {
                n = queue.recv_many(&mut batch, PUBLISH_BATCH) => n,
                _ = ping.tick() => match redis::cmd("PING").exec_async(&mut conn).await {
                    Ok(()) => continue,
                    Err(e) => break e,
                },
            };
            if n == 0 {
                // Every sender is gone: the link was dropped.
                return;
            }
            let mut pipe = redis::pipe();
            for (channel, payload) in batch.drain(..) {
                pipe.cmd("PUBLISH").arg(channel).arg(&payload[..]).ignore();
            }
            if let Err(e) = pipe.exec_async(&mut conn).await {
                // Some of the batch may have gone out; counted as dropped all the same.
                shared.dropped(n, false);
                break e;
            }
            // The connection just answered: PING only after a quiet interval.
            ping.reset();
        };
        shared.failed(Conn::Publisher, &err);
        discard(&shared, &mut queue);
        sleep(backoff.next()).await;
    }
}

/// Drops (and counts) every publish queued now.
fn discard(shared: &Shared, queue: &mut mpsc::Receiver<(String, Bytes)>) {
    let mut n = 0;
    while queue.try_recv().is_ok() {
        n += 1;
    }
    if n > 0 {
        shared.dropped(n, false);
    }
}
