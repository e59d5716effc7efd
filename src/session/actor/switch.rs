//! Compaction and provider switching, as part of a thread's actor.
//!
//! A switch is a small state machine driven inside the actor: quiet check, `handoff.started`,
//! handoff text (delta, native compaction, or baton's transcript), target session started first,
//! only then the source stopped, binding and native-thread bookkeeping, the pending handoff block
//! persisted, `handoff.completed`. Any failure before the target is up leaves the thread on its
//! source with `handoff.failed`.

use std::time::Duration;

use baton_protocol::{
    ApprovalPolicy, EventBody, ExitReason, HandoffCompleted, HandoffFailed, HandoffInfo,
    HandoffMode, HandoffStarted, HandoffStrategy, ProviderId, RuntimeWarning, Thread, ThreadStatus,
    errors,
};
use tokio::time::Instant;

use super::lifecycle::{StartError, Target};
use super::{Actor, Events, err, next_event, provider_error};
use crate::rpc::RpcError;
use crate::session::{handoff, store_error};
use crate::store::ThreadUpdate;

/// How long a compaction may take before a handoff gives up on it.
const COMPACTION_TIMEOUT: Duration = Duration::from_secs(180);

/// What a handoff compaction asks the source to keep (the list ccodex found worth keeping).
const HANDOFF_INSTRUCTIONS: &str = "Summarise this conversation for another coding agent who will take over: the goal, decisions made, the working directory, files and symbols touched, commands and tests run with their results, the current state, open problems, and the exact next steps.";

impl Actor {
    /// Handles provider events until `done` holds or `timeout` passes; returns whether it held.
    pub(super) async fn wait_until(
        &mut self,
        events: &mut Events,
        timeout: Duration,
        done: impl Fn(&Self) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if done(self) {
                return true;
            }
            let (generation, ev) = tokio::select! {
                ev = next_event(events) => ev,
                _ = tokio::time::sleep_until(deadline) => return false,
            };
            self.provider_event(generation, ev).await;
        }
    }

    fn ensure_quiet(&self) -> Result<(), RpcError> {
        if let Some(t) = &self.active_turn {
            return Err(err(
                errors::TURN_IN_PROGRESS,
                format!(
                    "turn {} is running; wait for it or interrupt it first",
                    t.id
                ),
            ));
        }
        if !self.approvals.is_empty() || !self.inputs.is_empty() {
            return Err(err(
                errors::THREAD_BUSY,
                "an approval is pending on this thread",
            ));
        }
        Ok(())
    }

    /// `thread/update`. The approval policy is given to a provider when its session starts, so a
    /// new one soft-stops the live session (the cursor is kept): the next turn resumes the same
    /// provider thread under the new policy. Refused while a turn or an approval is pending.
    pub(super) async fn update_settings(
        &mut self,
        title: Option<String>,
        approval_policy: Option<ApprovalPolicy>,
        events: &mut Events,
    ) -> Result<Thread, RpcError> {
        let policy = approval_policy.filter(|p| Some(*p) != self.thread.approval_policy);
        if policy.is_some() {
            self.ensure_quiet()?;
        }
        self.update(ThreadUpdate {
            title: title.map(Some),
            approval_policy: policy.map(Some),
            ..Default::default()
        })
        .await?;
        if policy.is_some() {
            self.stop_session(events, ExitReason::Stopped, false).await;
        }
        Ok(self.thread.clone())
    }

    /// `thread/compact/start`: compaction runs on; `compaction.*` events report it.
    pub(super) async fn compact(
        &mut self,
        instructions: Option<String>,
        events: &mut Events,
    ) -> Result<(), RpcError> {
        self.ensure_quiet()?;
        let session = self.ensure_session(events).await?;
        self.last_compaction = None;
        let r = self
            .drive(events, async move { session.compact(instructions).await })
            .await;
        r.map_err(provider_error)
    }

    /// Compacts and waits for the summary (and for the compaction's own turn to end).
    async fn compact_and_wait(&mut self, events: &mut Events) -> Result<String, String> {
        self.compact(Some(HANDOFF_INSTRUCTIONS.into()), events)
            .await
            .map_err(|e| e.message)?;
        let settled = self
            .wait_until(events, COMPACTION_TIMEOUT, |a| {
                a.last_compaction.is_some() && a.active_turn.is_none()
            })
            .await;
        match self.last_compaction.take() {
            Some(r) if settled => r,
            Some(Err(e)) => Err(e),
            _ => Err("the compaction did not finish in time".into()),
        }
    }

    /// `thread/switch` (and the implicit switch of `turn/start`).
    pub(super) async fn switch(
        &mut self,
        to: ProviderId,
        model: Option<String>,
        mode: HandoffMode,
        events: &mut Events,
    ) -> Result<(Thread, HandoffInfo), RpcError> {
        self.ensure_quiet()?;
        let from = self.thread.provider.clone();
        if to == from {
            // A model change within the provider: the cursor is kept.
            if let Some(m) = model.filter(|m| Some(m) != self.thread.model.as_ref()) {
                if let Some(session) = self.session.clone() {
                    let m2 = m.clone();
                    let r = self
                        .drive(events, async move { session.set_model(&m2).await })
                        .await;
                    r.map_err(provider_error)?;
                }
                self.update(ThreadUpdate {
                    model: Some(Some(m)),
                    ..Default::default()
                })
                .await?;
            }
            let info = HandoffInfo {
                strategy: HandoffStrategy::None,
                summary_chars: 0,
            };
            return Ok((self.thread.clone(), info));
        }
        let natives = self
            .ctx
            .store
            .native_threads(&self.thread.id)
            .await
            .map_err(store_error)?;
        let target = natives.into_iter().find(|n| n.provider == to);
        let can_compact = self.ctx.providers.can_compact(&from)
            && (self.session.is_some() || self.thread.provider_thread_id.is_some());
        let mut strategy = match mode {
            HandoffMode::None => HandoffStrategy::None,
            HandoffMode::Transcript => HandoffStrategy::Transcript,
            HandoffMode::Compact => HandoffStrategy::Compact,
            HandoffMode::Auto if target.is_some() => HandoffStrategy::Delta,
            HandoffMode::Auto if can_compact => HandoffStrategy::Compact,
            HandoffMode::Auto => HandoffStrategy::Transcript,
        };
        self.emit(
            EventBody::HandoffStarted(HandoffStarted {
                from: from.clone(),
                to: to.clone(),
                strategy,
            }),
            None,
            None,
        )
        .await;
        let mut text = match strategy {
            HandoffStrategy::None => String::new(),
            HandoffStrategy::Delta => {
                let since = target.as_ref().map(|t| t.last_seq).unwrap_or(0);
                let events = self
                    .ctx
                    .store
                    .read_events(&self.thread.id, since, None)
                    .await
                    .map_err(store_error)?;
                let rendered = handoff::render_transcript(&events, handoff::DEFAULT_MAX_CHARS);
                handoff::delta_text(&from, &rendered)
            }
            HandoffStrategy::Transcript => self.transcript().await?,
            HandoffStrategy::Compact => match self.compact_and_wait(events).await {
                Ok(summary) => handoff::summary_text(&summary),
                Err(e) if mode == HandoffMode::Auto => {
                    let message = format!(
                        "compaction on {from} failed ({e}); handing over a transcript instead"
                    );
                    self.emit(
                        EventBody::RuntimeWarning(RuntimeWarning { message }),
                        None,
                        None,
                    )
                    .await;
                    strategy = HandoffStrategy::Transcript;
                    self.transcript().await?
                }
                Err(e) => {
                    return Err(self
                        .handoff_failed(from.clone(), to.clone(), format!("compaction failed: {e}"))
                        .await);
                }
            },
        };
        // The source's native thread has seen everything up to here; a later switch back
        // hands over only what comes after.
        if let Some(native_id) = self.thread.provider_thread_id.clone() {
            self.record_native(from.clone(), native_id, self.thread.model.clone())
                .await;
        }
        // Start the target first; only once it is up is the source stopped.
        let target = Target {
            provider: to.clone(),
            model: model.or_else(|| target.as_ref().and_then(|t| t.model.clone())),
            resume: target.map(|t| t.native_id),
            generation: self.generation + 1,
            rebind: true,
        };
        let resumed = match self.start_and_bind(events, target).await {
            Ok((_, resumed)) => resumed,
            Err(StartError::Provider(e)) => {
                let msg = provider_error(e).message;
                return Err(self.handoff_failed(from.clone(), to.clone(), msg).await);
            }
            Err(StartError::Bind(e)) => return Err(e),
        };
        // A delta only makes sense on top of the target's own history. A target that could
        // not resume it (history deleted, resume refused) starts from nothing: it gets the
        // whole conversation instead. (The source is stopped by now, so it cannot compact.)
        if strategy == HandoffStrategy::Delta && !resumed {
            let message = format!(
                "{to} could not resume its earlier thread; handing over a transcript of the whole thread instead of what happened since"
            );
            self.emit(
                EventBody::RuntimeWarning(RuntimeWarning { message }),
                None,
                None,
            )
            .await;
            strategy = HandoffStrategy::Transcript;
            text = self.transcript().await?;
        }
        self.pending_handoff = (!text.is_empty()).then(|| handoff::block(&from, &to, &text));
        self.update(ThreadUpdate {
            pending_handoff: Some(self.pending_handoff.clone()),
            ..Default::default()
        })
        .await?;
        let summary_chars = text.chars().count() as u64;
        self.emit(
            EventBody::HandoffCompleted(HandoffCompleted {
                from,
                to,
                strategy,
                summary_chars,
            }),
            None,
            None,
        )
        .await;
        self.set_status(ThreadStatus::Idle).await;
        let info = HandoffInfo {
            strategy,
            summary_chars,
        };
        Ok((self.thread.clone(), info))
    }

    async fn transcript(&mut self) -> Result<String, RpcError> {
        let events = self
            .ctx
            .store
            .read_events(&self.thread.id, 0, None)
            .await
            .map_err(store_error)?;
        let rendered = handoff::render_transcript(&events, handoff::DEFAULT_MAX_CHARS);
        Ok(handoff::transcript_text(&rendered))
    }

    async fn handoff_failed(
        &mut self,
        from: ProviderId,
        to: ProviderId,
        error: String,
    ) -> RpcError {
        self.emit(
            EventBody::HandoffFailed(HandoffFailed {
                from: from.clone(),
                to: to.clone(),
                error: error.clone(),
            }),
            None,
            None,
        )
        .await;
        err(
            errors::PROVIDER_UNAVAILABLE,
            format!("cannot hand the thread to {to}: {error}; it stays on {from}"),
        )
    }
}
