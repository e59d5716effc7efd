//! The editor as seen from inside baton: where events are notified and approvals are asked.
//!
//! Wraps the editor's JSON-RPC [`Peer`] with the settings the editor chose in `initialize`
//! (raw messages, approval timeout), so session actors never deal with JSON-RPC details.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use baton_protocol::{
    ApprovalDecision, ApprovalRequestParams, ApprovalResponse, Event, InputRequestParams,
    InputResponse, ProviderChangedParams, ProviderInfo,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

mod frame;

pub use frame::EventFrame;

use crate::follow::Follows;
use crate::rpc::{Deferred, Peer};
use crate::store::{EncodedEvent, Stamp, StampSlot};

/// A streamed event's notification waiting in the writer's queue for the event's commit.
struct PendingEvent {
    slot: Arc<StampSlot>,
    frame: Option<EventFrame>,
    thread_id: Arc<str>,
    follows: Follows,
}

impl Deferred for PendingEvent {
    fn poll_bytes(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        let Poll::Ready(stamp) = self.slot.poll_stamp(cx) else {
            return Poll::Pending;
        };
        // Not persisted (the error is logged), or a followed thread's event the poller sends.
        let Some(stamp) = stamp.filter(|s| self.follows.claim_live_seq(&self.thread_id, s.seq))
        else {
            return Poll::Ready(None);
        };
        Poll::Ready(self.frame.take().map(|f| f.stamped(stamp)))
    }
}

/// Settings the editor may change in `initialize`.
#[derive(Debug, Default)]
pub struct EditorSettings {
    pub include_raw: Arc<AtomicBool>,
    /// Seconds; 0 = wait forever.
    pub approval_timeout_secs: AtomicU64,
}

#[derive(Clone)]
pub struct Editor {
    peer: Peer,
    settings: Arc<EditorSettings>,
    /// The threads this editor follows with `thread/subscribe`.
    follows: Follows,
}

impl Editor {
    pub fn new(peer: Peer, settings: Arc<EditorSettings>) -> Self {
        Editor {
            peer,
            settings,
            follows: Follows::default(),
        }
    }

    pub fn follows(&self) -> &Follows {
        &self.follows
    }

    /// Notifies one persisted event (`thread/event`), with the raw provider message when asked
    /// for; an event of a followed thread goes out here only when the poller has not notified it
    /// (see [`crate::follow`]).
    pub async fn event(&self, event: &Event, raw: Option<Value>) {
        if self.follows.claim_live(event) {
            self.notify_event(event, raw).await;
        }
    }

    /// Notifies an event without consulting the follows (the poller's path). Framed like a
    /// streamed event, so every `thread/event` is built one way.
    pub async fn notify_event(&self, event: &Event, raw: Option<Value>) {
        let encoded = EncodedEvent::new(
            event.provider.clone(),
            event.turn_id.clone(),
            event.item_id.clone(),
            &event.body,
        );
        let frame = match encoded {
            Ok(encoded) => self.frame(&event.thread_id, &encoded, raw.as_ref()),
            Err(e) => Err(std::io::Error::other(e)),
        };
        let bytes = match frame {
            Ok(frame) => frame.stamped(Stamp {
                seq: event.seq,
                at: event.at,
            }),
            Err(e) => {
                tracing::error!(thread = %event.thread_id, seq = event.seq, "event not notified: {e}");
                return;
            }
        };
        if let Err(e) = self.peer.send(bytes).await {
            tracing::debug!("editor gone, event not notified: {e}");
        }
    }

    /// The `thread/event` notification of an event about to be appended (the streaming path,
    /// see `Store::append_streamed`), with the raw provider message when the editor asked for
    /// it; [`Editor::send_streamed`] queues it.
    pub fn frame(
        &self,
        thread_id: &str,
        event: &EncodedEvent,
        raw: Option<&Value>,
    ) -> std::io::Result<EventFrame> {
        let raw = raw.filter(|_| self.settings.include_raw.load(Ordering::Relaxed));
        EventFrame::new(thread_id, event, raw)
    }

    /// Queues a streamed event's notification, which the writer sends once the store filled
    /// `slot` (the event is committed); everything queued after it waits for it. Waits for room
    /// in the writer's queue (backpressure).
    pub async fn send_streamed(
        &self,
        thread_id: Arc<str>,
        frame: EventFrame,
        slot: Arc<StampSlot>,
    ) {
        let pending = Box::new(PendingEvent {
            slot,
            frame: Some(frame),
            thread_id,
            follows: self.follows.clone(),
        });
        if let Err(e) = self.peer.send_deferred(pending).await {
            tracing::debug!("editor gone, event not notified: {e}");
        }
    }

    /// Tells the editor the provider list changed (`provider/changed`).
    pub async fn providers_changed(&self, providers: Vec<ProviderInfo>) {
        let params = ProviderChangedParams { providers };
        if let Err(e) = self.peer.notify_typed("provider/changed", &params).await {
            tracing::debug!("editor gone, provider change not notified: {e}");
        }
    }

    /// Asks the editor to approve; returns the decision and, when the editor did not decide
    /// itself, who did (`timeout`, `disconnect`, `error`, `withdrawn`). Anything but an answer
    /// is a decline. Cancelling `withdraw` takes the request back (`$/cancelRequest`).
    pub async fn ask_approval(
        &self,
        params: ApprovalRequestParams,
        withdraw: CancellationToken,
    ) -> (ApprovalDecision, Option<String>) {
        match self
            .ask::<_, ApprovalResponse>("approval/request", params, withdraw)
            .await
        {
            Ok(r) => (r.decision, None),
            Err(by) => (ApprovalDecision::Decline, Some(by.into())),
        }
    }

    /// Asks the editor the agent's questions; returns the answer and, when the editor did not
    /// answer itself, who cancelled (`timeout`, `disconnect`, `error`, `withdrawn`). Anything
    /// but an answer is a cancel. The approval timeout applies.
    pub async fn ask_input(
        &self,
        params: InputRequestParams,
        withdraw: CancellationToken,
    ) -> (InputResponse, Option<String>) {
        match self
            .ask::<_, InputResponse>("input/request", params, withdraw)
            .await
        {
            Ok(r) => (r, None),
            Err(by) => (InputResponse::cancel(), Some(by.into())),
        }
    }

    /// A server->client request the user answers, bounded by the approval timeout; `Err` says
    /// why there is no usable answer: `timeout`, `withdrawn` (both also withdraw the request
    /// from the editor with `$/cancelRequest`, so its dialog can close), `disconnect` or
    /// `error` (an error reply or a result of the wrong shape).
    async fn ask<P: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        params: P,
        withdraw: CancellationToken,
    ) -> Result<R, &'static str> {
        let secs = self.settings.approval_timeout_secs.load(Ordering::Relaxed);
        let until = async {
            let timer = async {
                if secs == 0 {
                    std::future::pending::<()>().await
                } else {
                    tokio::time::sleep(Duration::from_secs(secs)).await
                }
            };
            tokio::select! {
                _ = withdraw.cancelled() => "withdrawn",
                _ = timer => "timeout",
            }
        };
        match self.peer.request_until(method, params, until).await {
            Err(by) => Err(by),
            Ok(Err(e)) if e.code == crate::rpc::DISCONNECTED => Err("disconnect"),
            Ok(Err(_)) => Err("error"),
            Ok(Ok(v)) => serde_json::from_value(v).map_err(|_| "error"),
        }
    }
}
