//! Turns: starting one (with a pending handoff block prepended once), interrupting it, and
//! finishing it with its final state.

use std::time::Duration;

use baton_protocol::{
    EventBody, ExitReason, RuntimeError, ThreadStatus, TurnCompleted, TurnMode, TurnState, errors,
};
use serde_json::Value;
use tokio::time::Instant;

use super::asks::by;
use super::{ActiveTurn, Actor, Events, err, provider_error};
use crate::rpc::RpcError;
use crate::store::ThreadUpdate;

/// How long a provider that went silent gets to take an interrupt before its session is stopped.
const INTERRUPT_GRACE: Duration = Duration::from_secs(5);

impl Actor {
    pub(super) async fn start_turn(
        &mut self,
        text: String,
        mode: TurnMode,
        events: &mut Events,
    ) -> Result<String, RpcError> {
        if let Some(t) = &self.active_turn {
            return Err(err(
                errors::TURN_IN_PROGRESS,
                format!(
                    "turn {} is still running; interrupt it or wait for turn.completed",
                    t.id
                ),
            ));
        }
        let session = self.ensure_session(events).await?;
        let generation = self.generation;
        let text = match &self.pending_handoff {
            Some(block) => format!("{block}{text}"),
            None => text,
        };
        let turn_id = uuid::Uuid::now_v7().to_string();
        self.active_turn = Some(ActiveTurn {
            id: turn_id.clone(),
            ..Default::default()
        });
        self.last_activity = Instant::now();
        self.set_status(ThreadStatus::Running).await;
        let model = self.thread.model.clone();
        let sent = self
            .drive(
                events,
                async move { session.send_turn(text, model, mode).await },
            )
            .await;
        match sent {
            Ok(native) => {
                // The provider has the handoff now; it is sent once.
                if self.pending_handoff.take().is_some() {
                    let cleared = ThreadUpdate {
                        pending_handoff: Some(None),
                        ..Default::default()
                    };
                    if let Err(e) = self.update(cleared).await {
                        tracing::warn!(thread = %self.thread.id, "cannot clear the handoff: {}", e.message);
                    }
                }
                if let Some(t) = self
                    .active_turn
                    .as_mut()
                    .filter(|t| t.id == turn_id && t.native.is_none())
                    .filter(|_| self.generation == generation)
                {
                    t.native = native;
                }
                Ok(turn_id)
            }
            Err(e) => {
                let rpc = provider_error(e);
                if self.active_turn.as_ref().is_some_and(|t| t.id == turn_id) {
                    self.finish_turn(TurnState::Failed, Some(rpc.message.clone()), None)
                        .await;
                }
                Err(rpc)
            }
        }
    }

    pub(super) async fn interrupt(&mut self, events: &mut Events) -> Result<(), RpcError> {
        let Some(turn) = &self.active_turn else {
            return Err(err(
                errors::NO_ACTIVE_TURN,
                "no turn is running on this thread",
            ));
        };
        let native = turn.native.clone();
        // A turn without a session: the provider began one on its own while its session was
        // starting, and the start failed. Nothing runs it any more; end it here.
        let Some(session) = self.session.clone() else {
            self.finish_turn(TurnState::Interrupted, None, None).await;
            return Ok(());
        };
        let r = self
            .drive(events, async move { session.interrupt(native).await })
            .await;
        // Whatever the agent still asks about belongs to the interrupted turn.
        self.withdraw_asks(by::INTERRUPT).await;
        r.map_err(provider_error)
    }

    /// The provider went silent mid-turn for the turn inactivity timeout: the turn fails with an
    /// error that says so. The provider's turn is interrupted and its end awaited, so nothing
    /// it still says about that turn can land in the next one; a provider that does not end the
    /// turn within the grace period is stopped, so the next turn starts a fresh session
    /// (resuming the cursor) instead of talking to a wedged one.
    pub(super) async fn turn_timed_out(&mut self, events: &mut Events) {
        let secs = self.ctx.turn_inactivity_timeout().as_secs();
        let message = format!(
            "{} sent nothing for {secs} s; the turn was stopped (turn inactivity timeout: \
             --turn-inactivity-timeout or initializationOptions.turnInactivityTimeoutSecs)",
            self.thread.provider
        );
        let Some(turn) = self.active_turn.as_mut() else {
            return;
        };
        turn.timed_out = Some(message.clone());
        let native = turn.native.clone();
        let turn_id = turn.id.clone();
        tracing::warn!(thread = %self.thread.id, "{message}");
        self.emit(
            EventBody::RuntimeError(RuntimeError {
                message: message.clone(),
                class: "timeout".into(),
            }),
            None,
            None,
        )
        .await;
        if let Some(session) = self.session.clone() {
            let _ = self
                .drive(events, async move {
                    tokio::time::timeout(INTERRUPT_GRACE, session.interrupt(native)).await
                })
                .await;
            let ended = |a: &Self| a.active_turn.as_ref().is_none_or(|t| t.id != turn_id);
            if self.wait_until(events, INTERRUPT_GRACE, ended).await {
                return;
            }
            tracing::warn!(thread = %self.thread.id, "the silent provider did not end its turn; stopping its session");
        }
        self.finish_turn(TurnState::Failed, Some(message), None)
            .await;
        self.stop_session(events, ExitReason::Stopped, false).await;
    }

    /// Ends the active turn (if any) with the given state.
    pub(super) async fn finish_turn(
        &mut self,
        state: TurnState,
        error: Option<String>,
        raw: Option<Value>,
    ) {
        let Some(turn) = &self.active_turn else {
            return;
        };
        // A turn failed by the inactivity timeout fails, however the provider ended it.
        let (state, error) = match &turn.timed_out {
            Some(message) => (TurnState::Failed, Some(message.clone())),
            None => (state, error),
        };
        // An ask cannot outlive its turn; it is withdrawn under the turn's id.
        let by = if state == TurnState::Interrupted {
            by::INTERRUPT
        } else {
            by::TURN_ENDED
        };
        self.withdraw_asks(by).await;
        let Some(turn) = self.active_turn.take() else {
            return;
        };
        self.emit_in(
            EventBody::TurnCompleted(TurnCompleted { state, error }),
            Some(turn.id),
            None,
            raw,
        )
        .await;
        let status = if self.session.is_some() {
            ThreadStatus::Idle
        } else {
            ThreadStatus::Stopped
        };
        self.set_status(status).await;
    }
}
