//! Provider events into thread events: the generation guard, activity for the reaper, and the
//! few events that change thread state (turn start and end, compaction outcomes) before they
//! are persisted and notified like every other event.

use baton_protocol::{ApprovalRequestParams, EventBody, ThreadStatus};
use serde_json::Value;
use tokio::time::Instant;

use super::{ActiveTurn, Actor};
use crate::provider::ProviderEvent;

impl Actor {
    pub(super) async fn provider_event(&mut self, generation: u64, ev: ProviderEvent) {
        if generation != self.generation {
            tracing::debug!(thread = %self.thread.id, generation, current = self.generation, "dropping a stale provider event");
            return;
        }
        self.last_activity = Instant::now();
        match ev {
            ProviderEvent::Activity => {}
            ProviderEvent::Event {
                body,
                native_turn,
                item_id,
                raw,
            } => self.on_event(body, native_turn, item_id, raw).await,
            ProviderEvent::Approval {
                ask,
                native_turn,
                reply,
                raw,
            } => {
                // The ids are the actor's to assign.
                let request = ApprovalRequestParams {
                    thread_id: String::new(),
                    turn_id: String::new(),
                    request_id: String::new(),
                    kind: ask.kind,
                    title: ask.title,
                    command: ask.command,
                    cwd: ask.cwd,
                    changes: ask.changes,
                    reason: ask.reason,
                };
                self.ask_approval(request, native_turn, reply, raw).await;
            }
            ProviderEvent::Input {
                questions,
                native_turn,
                reply,
                raw,
            } => self.ask_input(questions, native_turn, reply, raw).await,
            ProviderEvent::Exited { reason, message } => self.session_lost(reason, message).await,
        }
    }

    async fn on_event(
        &mut self,
        body: EventBody,
        native_turn: Option<String>,
        item_id: Option<String>,
        raw: Option<Value>,
    ) {
        match &body {
            EventBody::TurnStarted(_) => {
                if self.active_turn.is_none() {
                    // The provider started a turn on its own (e.g. a compaction): track it.
                    self.active_turn = Some(ActiveTurn {
                        id: uuid::Uuid::now_v7().to_string(),
                        native: native_turn,
                        ..Default::default()
                    });
                    self.set_status(ThreadStatus::Running).await;
                } else if let (Some(t), Some(n)) = (self.active_turn.as_mut(), native_turn) {
                    t.native.get_or_insert(n);
                }
                self.emit(body, item_id, raw).await;
            }
            EventBody::TurnCompleted(tc) => {
                let matches = match (&self.active_turn, &native_turn) {
                    (Some(t), Some(n)) => t.native.as_deref().is_none_or(|own| own == n),
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if !matches {
                    tracing::debug!(thread = %self.thread.id, "dropping turn.completed of another turn");
                    return;
                }
                let (state, error) = (tc.state, tc.error.clone());
                self.finish_turn(state, error, raw).await;
            }
            EventBody::CompactionCompleted(c) => {
                self.last_compaction = Some(Ok(c.summary.clone()));
                self.emit(body, item_id, raw).await;
            }
            EventBody::CompactionFailed(c) => {
                self.last_compaction = Some(Err(c.error.clone()));
                self.emit(body, item_id, raw).await;
            }
            // The provider's stream (deltas, items, usage, ...): pipelined.
            _ => self.stream(body, item_id, raw).await,
        }
    }
}
