//! The actor of one thread: owns its binding, its live provider session, the session generation,
//! the active turn, pending approvals and questions, and the idle timer.
//!
//! The actor is split by concern, each file an `impl Actor` block:
//! - [`dispatch`]: the closed [`Command`] enum, the command loop, retirement;
//! - [`lifecycle`]: starting and binding a session (one path for every start), stopping it;
//! - [`turns`]: starting, interrupting and finishing turns;
//! - [`asks`]: approvals and questions put to the editor, their answers, rejecting them on stop;
//! - [`events`]: provider events mapped into persisted thread events;
//! - [`switch`]: compaction and provider switching with handoff;
//! - [`lease`]: the thread's lease (one driving process at a time), takeover, yielding.
//!
//! This file holds the state and what every concern shares: persisting and notifying events,
//! thread updates, status changes, and driving a provider call while events keep flowing.
//!
//! Invariants:
//! - every event is appended to the store before it is notified (the store assigns `seq`);
//! - an event from a session generation other than the current one is dropped before it touches
//!   thread state, the store or the editor;
//! - stopping (by the user, the reaper, shutdown) keeps the resume cursor unless `detach`;
//! - the idle reaper never stops a session with a running turn or a pending approval;
//! - an actor with no session, no turn and no pending ask retires (leaves the registry and
//!   ends); everything it knows is persisted, so the registry respawns it from the binding.

mod asks;
mod coalesce;
mod dispatch;
mod events;
mod lease;
mod lifecycle;
mod switch;
mod turns;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use baton_protocol::{EventBody, ProviderId, Thread, ThreadStatus, ThreadStatusChanged, errors};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{ActorHandle, Context, Sessions, store_error};
use crate::provider::{ProviderError, ProviderEvent, Session};
use crate::rpc::RpcError;
use crate::store::{EncodedEvent, StampSlot, ThreadUpdate};
use asks::{PendingApproval, PendingInput};
pub use dispatch::Command;

/// The provider events of one thread, stamped with the session generation that sent them.
type Events = mpsc::Receiver<(u64, ProviderEvent)>;

#[derive(Default)]
struct ActiveTurn {
    id: String,
    native: Option<String>,
    /// Set when the turn inactivity timeout fired: however the provider then ends the turn,
    /// it ends as failed with this error.
    timed_out: Option<String>,
}

struct Actor {
    ctx: Context,
    sessions: Sessions,
    self_tx: mpsc::Sender<Command>,
    thread: Thread,
    /// The thread's id, shared with each streamed append and its notification (no copy each).
    key: Arc<str>,
    session: Option<Session>,
    generation: u64,
    events_tx: mpsc::Sender<(u64, ProviderEvent)>,
    active_turn: Option<ActiveTurn>,
    approvals: HashMap<String, PendingApproval>,
    inputs: HashMap<String, PendingInput>,
    last_activity: Instant,
    /// Handoff text waiting to be prepended, once, to the next user message.
    pending_handoff: Option<String>,
    /// The outcome of the latest compaction (summary or error), once it is known.
    last_compaction: Option<Result<String, String>>,
    /// What the live-session budget was last told about this thread.
    liveness: crate::session::budget::Liveness,
    /// This process holds the thread's lease ([`lease`]).
    leased: bool,
    /// The `message` of the next `session.exited` (why the session moved away).
    exit_message: Option<String>,
    /// The item whose deltas went out last ([`coalesce`]).
    delta_run: coalesce::DeltaRun,
}

const COMMAND_CAPACITY: usize = 64;
const EVENT_CAPACITY: usize = 256;

pub fn spawn(
    ctx: Context,
    thread: Thread,
    pending_handoff: Option<String>,
    sessions: Sessions,
) -> ActorHandle {
    let (tx, rx) = mpsc::channel(COMMAND_CAPACITY);
    let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
    let actor = Actor {
        ctx,
        sessions,
        self_tx: tx.clone(),
        key: Arc::from(thread.id.as_str()),
        thread,
        session: None,
        generation: 0,
        events_tx,
        active_turn: None,
        approvals: HashMap::new(),
        inputs: HashMap::new(),
        last_activity: Instant::now(),
        delta_run: coalesce::DeltaRun::default(),
        pending_handoff,
        last_compaction: None,
        liveness: crate::session::budget::Liveness::None,
        leased: false,
        exit_message: None,
    };
    tokio::spawn(actor.run(rx, events_rx));
    ActorHandle { tx }
}

fn err(code: i64, msg: impl Into<String>) -> RpcError {
    RpcError::new(code, msg)
}

fn provider_error(e: ProviderError) -> RpcError {
    match e {
        ProviderError::Unavailable(m) => err(errors::PROVIDER_UNAVAILABLE, m),
        ProviderError::Failed(m) => err(errors::PROVIDER_ERROR, m),
        ProviderError::Gone(m) => err(
            errors::PROVIDER_ERROR,
            format!("provider process exited: {m}"),
        ),
    }
}

/// The next provider event. The actor holds a sender of its own event channel (to hand to each
/// session it starts), so the channel never closes and there is no end to report.
async fn next_event(events: &mut Events) -> (u64, ProviderEvent) {
    match events.recv().await {
        Some(ev) => ev,
        None => std::future::pending().await,
    }
}

impl Actor {
    /// Awaits a provider operation while still handling the thread's provider events, so a
    /// provider that streams while answering can never deadlock against this actor.
    async fn drive<T>(&mut self, events: &mut Events, fut: impl Future<Output = T>) -> T {
        tokio::pin!(fut);
        loop {
            let (generation, ev) = tokio::select! {
                out = &mut fut => return out,
                ev = next_event(events) => ev,
            };
            self.provider_event(generation, ev).await;
        }
    }

    async fn update(&mut self, u: ThreadUpdate) -> Result<(), RpcError> {
        let t = self
            .ctx
            .store
            .update_thread(&self.thread.id, u)
            .await
            .map_err(store_error)?;
        self.thread = t;
        Ok(())
    }

    /// Persists the status together with the active turn (so a crash can close it), and tells
    /// the editor when the status changed.
    async fn set_status(&mut self, status: ThreadStatus) {
        let changed = self.thread.status != status;
        let active_turn_id = Some(self.active_turn.as_ref().map(|t| t.id.clone()));
        if let Err(e) = self
            .update(ThreadUpdate {
                status: Some(status),
                active_turn_id,
                ..Default::default()
            })
            .await
        {
            tracing::error!(thread = %self.thread.id, "cannot persist status: {e}");
        }
        if !changed {
            return;
        }
        self.emit(
            EventBody::ThreadStatus(ThreadStatusChanged { status }),
            None,
            None,
        )
        .await;
    }

    /// Persists, then notifies. The turn id is the active turn's, if any.
    async fn emit(&mut self, body: EventBody, item_id: Option<String>, raw: Option<Value>) {
        let turn_id = self.active_turn.as_ref().map(|t| t.id.clone());
        self.emit_in(body, turn_id, item_id, raw).await;
    }

    /// Persists, then notifies, without waiting for the commit: the event's notification is
    /// queued with the editor's writer, which sends it once the store stamped the event (after
    /// the commit of its batch), and holds everything queued after it until then. This is the
    /// path of the provider's stream (deltas, items, usage), so a thread's appends are pipelined
    /// and committed in batches, and the store's thread does nothing for the notification but
    /// fill its [`StampSlot`]. Replies and other notifications queued later still follow the
    /// events before them.
    async fn stream(&mut self, body: EventBody, item_id: Option<String>, raw: Option<Value>) {
        if let EventBody::ContentDelta(_) = body {
            self.delta_run.relayed(item_id.as_deref());
        }
        let turn_id = self.active_turn.as_ref().map(|t| t.id.clone());
        let provider: ProviderId = self.thread.provider.clone();
        let event = match EncodedEvent::new(provider, turn_id, item_id, &body) {
            Ok(ev) => ev,
            Err(e) => {
                tracing::error!(thread = %self.thread.id, "event not persisted: {e}");
                return;
            }
        };
        // Serialised here; the writer puts the seq and time in once they are known.
        let frame = self
            .ctx
            .editor
            .frame(&self.thread.id, &event, raw.as_ref())
            .map_err(|e| tracing::error!(thread = %self.thread.id, "event not notified: {e}"))
            .ok();
        let (slot, filler) = StampSlot::new();
        match self
            .ctx
            .store
            .append_streamed(self.key.clone(), event, filler)
            .await
        {
            Ok(()) => {
                // The actor is its thread's only appender, so the seq the store assigns is the
                // next one; the next awaited update brings the row itself anyway.
                self.thread.last_seq += 1;
                self.thread.updated_at = crate::store::now_ms();
                if let Some(frame) = frame {
                    self.ctx
                        .editor
                        .send_streamed(self.key.clone(), frame, slot)
                        .await;
                }
            }
            Err(e) => tracing::error!(thread = %self.thread.id, "event not persisted: {e}"),
        }
    }

    async fn emit_in(
        &mut self,
        body: EventBody,
        turn_id: Option<String>,
        item_id: Option<String>,
        raw: Option<Value>,
    ) {
        let provider: ProviderId = self.thread.provider.clone();
        match self
            .ctx
            .store
            .append_event(&self.thread.id, provider, turn_id, item_id, body)
            .await
        {
            Ok(ev) => {
                self.thread.last_seq = ev.seq;
                self.thread.updated_at = ev.at;
                self.ctx.editor.event(&ev, raw).await;
            }
            Err(e) => tracing::error!(thread = %self.thread.id, "event not persisted: {e}"),
        }
    }
}

#[cfg(test)]
mod tests;
