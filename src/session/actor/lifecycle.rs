//! A thread's provider session from start to end: the one start-and-bind path used by a plain
//! (re)start and by a switch, stopping (soft, detached, idle, shutdown), a session the provider
//! lost, and deletion. Idle reaping and retirement are timed by the command loop ([`super::dispatch`]).

use baton_protocol::{
    EventBody, ExitReason, ProviderId, RuntimeError, RuntimeWarning, SessionExited, SessionStarted,
    ThreadStatus, TurnState,
};
use tokio::time::Instant;

use super::asks::by;
use super::{Actor, Events, provider_error};
use crate::provider::{EventSink, ProviderError, Session, SessionConfig};
use crate::rpc::RpcError;
use crate::session::store_error;
use crate::store::{NativeThread, ThreadUpdate};

/// A session to start and bind to the thread.
pub(super) struct Target {
    pub provider: ProviderId,
    pub model: Option<String>,
    /// The native thread to resume, if any.
    pub resume: Option<String>,
    /// The generation the new session's events carry. It becomes current once the session is
    /// bound; a caller with no session to protect may make it current before the start, so the
    /// events the provider sends while starting count.
    pub generation: u64,
    /// A switch rebinds the thread: provider and model are persisted with the cursor.
    pub rebind: bool,
}

impl Actor {
    /// The live session, started (resuming the bound cursor) when there is none.
    pub(super) async fn ensure_session(
        &mut self,
        events: &mut Events,
    ) -> Result<Session, RpcError> {
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        self.generation += 1;
        let provider = self.thread.provider.clone();
        let target = Target {
            provider: provider.clone(),
            model: self.thread.model.clone(),
            resume: self.thread.provider_thread_id.clone(),
            generation: self.generation,
            rebind: false,
        };
        let session = match self.start_and_bind(events, target).await {
            Ok((session, _)) => session,
            Err(StartError::Provider(e)) => {
                let rpc = provider_error(e);
                self.emit(
                    EventBody::RuntimeError(RuntimeError {
                        message: format!("cannot start the {provider} session: {}", rpc.message),
                        class: "provider".into(),
                    }),
                    None,
                    None,
                )
                .await;
                self.set_status(ThreadStatus::Error).await;
                return Err(rpc);
            }
            Err(StartError::Bind(e)) => return Err(e),
        };
        self.set_status(ThreadStatus::Idle).await;
        Ok(session)
    }

    /// Starts a provider session and binds it to the thread: it becomes the live session (a
    /// session it replaces is stopped only now that the new one is up), the cursor is persisted,
    /// the native thread recorded, and a lost-cursor warning and `session.started` are emitted.
    /// A failed start changes nothing. Returns the session and whether it resumed the native
    /// thread it was asked to (false for a fresh thread, asked for or not).
    pub(super) async fn start_and_bind(
        &mut self,
        events: &mut Events,
        target: Target,
    ) -> Result<(Session, bool), StartError> {
        let sink = EventSink::new(self.events_tx.clone(), target.generation);
        let config = SessionConfig {
            thread_id: self.thread.id.clone(),
            cwd: self.thread.cwd.clone(),
            model: target.model.clone(),
            approval_policy: self.thread.approval_policy,
            sandbox: self.thread.sandbox,
            resume: target.resume,
        };
        let providers = self.ctx.providers.clone();
        let start_as = target.provider.clone();
        let (session, started) = self
            .drive(events, async move {
                providers.start(start_as, config, sink).await
            })
            .await
            .map_err(StartError::Provider)?;
        self.generation = target.generation;
        if let Some(old) = self.session.replace(session.clone()) {
            self.drive(events, async move { old.stop().await }).await;
        }
        self.last_activity = Instant::now();
        // A switch chooses the thread's model (asked for, else what the target runs); a plain
        // (re)start keeps the thread's setting and reports what the provider says it runs.
        let model = if target.rebind {
            let model = target.model.or(started.model.clone());
            self.update(ThreadUpdate {
                provider: Some(target.provider.clone()),
                provider_thread_id: Some(Some(started.native_id.clone())),
                model: Some(model.clone()),
                ..Default::default()
            })
            .await
            .map_err(StartError::Bind)?;
            model
        } else {
            self.update(ThreadUpdate {
                provider_thread_id: Some(Some(started.native_id.clone())),
                ..Default::default()
            })
            .await
            .map_err(StartError::Bind)?;
            started.model.clone().or(target.model)
        };
        self.record_native(target.provider, started.native_id.clone(), model.clone())
            .await;
        if let Some(message) = started.warning {
            self.emit(
                EventBody::RuntimeWarning(RuntimeWarning { message }),
                None,
                None,
            )
            .await;
        }
        self.emit(
            EventBody::SessionStarted(SessionStarted {
                resumed: started.resumed,
                provider_thread_id: started.native_id,
                model,
            }),
            None,
            None,
        )
        .await;
        Ok((session, started.resumed))
    }

    /// Remembers that `provider`'s native thread has seen the log up to now.
    pub(super) async fn record_native(
        &mut self,
        provider: ProviderId,
        native_id: String,
        model: Option<String>,
    ) {
        let native = NativeThread {
            thread_id: self.thread.id.clone(),
            provider,
            native_id,
            model,
            last_seq: self.thread.last_seq,
            updated_at: 0,
        };
        if let Err(e) = self.ctx.store.upsert_native_thread(native).await {
            tracing::warn!(thread = %self.thread.id, "cannot record the native thread: {e}");
        }
    }

    /// Ends the live session, keeping the binding and (unless detaching) the resume cursor.
    ///
    /// The provider calls are driven while the thread's events keep being drained (and, being
    /// stale now, dropped): a provider blocked on a full event channel could otherwise never
    /// answer, and a shared Codex process would stall every other thread with it.
    pub(super) async fn stop_session(
        &mut self,
        events: &mut Events,
        reason: ExitReason,
        detach: bool,
    ) {
        let Some(session) = self.session.take() else {
            return;
        };
        // Events of the stopped session that are still in flight are now stale.
        self.generation += 1;
        let by = if reason == ExitReason::Shutdown {
            by::SHUTDOWN
        } else {
            by::STOP
        };
        self.withdraw_asks(by).await;
        if self.active_turn.is_some() {
            let native = self.active_turn.as_ref().and_then(|t| t.native.clone());
            let s = session.clone();
            let _ = self
                .drive(events, async move { s.interrupt(native).await })
                .await;
            self.finish_turn(
                TurnState::Interrupted,
                Some(format!("session {}", reason_str(reason))),
                None,
            )
            .await;
        }
        self.drive(events, async move { session.stop().await })
            .await;
        let message = self.exit_message.take();
        self.emit(
            EventBody::SessionExited(SessionExited {
                reason,
                recoverable: !detach,
                message,
            }),
            None,
            None,
        )
        .await;
        self.set_status(ThreadStatus::Stopped).await;
    }

    /// The provider ended the session on its own (crash, exit): the running turn fails, pending
    /// asks are rejected, and the cursor stays for the next start to resume.
    pub(super) async fn session_lost(&mut self, reason: ExitReason, message: Option<String>) {
        self.session = None;
        self.generation += 1;
        self.withdraw_asks(by::PROVIDER_EXIT).await;
        let recoverable = self.thread.provider_thread_id.is_some();
        if self.active_turn.is_some() {
            let error = message
                .clone()
                .unwrap_or_else(|| "provider session ended".into());
            self.finish_turn(TurnState::Failed, Some(error), None).await;
        }
        self.emit(
            EventBody::SessionExited(SessionExited {
                reason,
                recoverable,
                message,
            }),
            None,
            None,
        )
        .await;
        let status = if reason == ExitReason::Crashed {
            ThreadStatus::Error
        } else {
            ThreadStatus::Stopped
        };
        self.set_status(status).await;
    }

    /// Stops the session and deletes the thread with its log; the actor ends after this.
    pub(super) async fn delete(&mut self, events: &mut Events) -> Result<(), RpcError> {
        self.stop_session(events, ExitReason::Deleted, false).await;
        self.ctx
            .store
            .delete_thread(&self.thread.id)
            .await
            .map(|_| ())
            .map_err(store_error)
    }
}

/// Why [`Actor::start_and_bind`] failed: the provider did not start (nothing changed), or the
/// binding could not be persisted (the session is live, the store failed).
pub(super) enum StartError {
    Provider(ProviderError),
    Bind(RpcError),
}

fn reason_str(r: ExitReason) -> &'static str {
    match r {
        ExitReason::Stopped => "stopped",
        ExitReason::Detached => "detached",
        ExitReason::Idle => "stopped for idleness",
        ExitReason::Crashed => "crashed",
        ExitReason::Shutdown => "shut down",
        ExitReason::Deleted => "deleted",
        ExitReason::TakenOver => "moved to another window",
    }
}
