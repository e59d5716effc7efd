//! The actor of one thread: owns its binding, its live provider session, the session generation,
//! the active turn, pending approvals and the idle timer.
//!
//! Invariants:
//! - every event is appended to the store before it is notified (the store assigns `seq`);
//! - an event from a session generation other than the current one is dropped before it touches
//!   thread state, the store or the editor;
//! - stopping (by the user, the reaper, shutdown) keeps the resume cursor unless `detach`;
//! - the idle reaper never stops a session with a running turn or a pending approval.

use std::collections::HashMap;
use std::future::Future;

use baton_protocol::{
    ApprovalDecision, ApprovalRequestParams, ApprovalRequested, ApprovalResolved, EventBody,
    ExitReason, HandoffCompleted, HandoffFailed, HandoffInfo, HandoffMode, HandoffStarted,
    HandoffStrategy, InputQuestion, InputRequestParams, InputRequested, InputResolved,
    InputResponse, ProviderId, RuntimeError, RuntimeWarning, SessionExited, SessionStarted, Thread,
    ThreadStatus, ThreadStatusChanged, TurnCompleted, TurnMode, TurnState, errors,
};
use serde_json::Value;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

use tokio::time::Instant;

use super::{ActorHandle, Context, Sessions, handoff, store_error};
use crate::provider::{EventSink, ProviderError, ProviderEvent, Session, SessionConfig};
use crate::rpc::RpcError;
use crate::store::{NativeThread, ThreadUpdate};

type Reply<T> = oneshot::Sender<Result<T, RpcError>>;

/// Everything a thread's actor reacts to from outside.
pub enum Command {
    /// Start the provider session now (thread/start).
    Start {
        reply: Reply<Thread>,
    },
    /// Start a turn; a `provider`/`model` that differs from the binding switches first.
    StartTurn {
        text: String,
        provider: Option<ProviderId>,
        model: Option<String>,
        mode: TurnMode,
        reply: Reply<String>,
    },
    Compact {
        instructions: Option<String>,
        reply: Reply<()>,
    },
    Switch {
        provider: ProviderId,
        model: Option<String>,
        handoff: HandoffMode,
        reply: Reply<(Thread, HandoffInfo)>,
    },
    Interrupt {
        reply: Reply<()>,
    },
    Stop {
        detach: bool,
        reply: Reply<Thread>,
    },
    Delete {
        reply: Reply<()>,
    },
    Shutdown {
        reply: Reply<()>,
    },
    /// The editor (or a timeout) decided an approval.
    ApprovalDecided {
        request_id: String,
        decision: ApprovalDecision,
        by: Option<String>,
    },
    /// The editor answered (or cancelled) an `input/request`.
    InputAnswered {
        request_id: String,
        response: InputResponse,
        by: Option<String>,
    },
    /// `thread/takeover`: take the thread from the window that drives it.
    Takeover {
        reply: Reply<Thread>,
    },
    /// Another window asked for the thread (`Some`), or our lease was lost (`None`).
    Yield {
        to: Option<crate::store::Holder>,
    },
}

/// A question request waiting for the editor.
struct PendingInput {
    reply: oneshot::Sender<InputResponse>,
    /// Ids of questions whose answers are secret (never persisted).
    secret: Vec<String>,
}

struct ActiveTurn {
    id: String,
    native: Option<String>,
}

struct Actor {
    ctx: Context,
    sessions: Sessions,
    self_tx: mpsc::Sender<Command>,
    thread: Thread,
    session: Option<Session>,
    generation: u64,
    events_tx: mpsc::Sender<(u64, ProviderEvent)>,
    active_turn: Option<ActiveTurn>,
    approvals: HashMap<String, oneshot::Sender<ApprovalDecision>>,
    inputs: HashMap<String, PendingInput>,
    last_activity: Instant,
    /// Handoff text waiting to be prepended, once, to the next user message.
    pending_handoff: Option<String>,
    /// The outcome of the latest compaction (summary or error), once it is known.
    last_compaction: Option<Result<String, String>>,
    /// This process holds the thread's lease (see `actor_lease.rs`).
    leased: bool,
    /// The `message` of the next `session.exited` (why the session moved away).
    exit_message: Option<String>,
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
        thread,
        session: None,
        generation: 0,
        events_tx,
        active_turn: None,
        approvals: HashMap::new(),
        inputs: HashMap::new(),
        last_activity: Instant::now(),
        pending_handoff,
        last_compaction: None,
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

enum Flow {
    Continue,
    Exit,
}

impl Actor {
    async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        mut events: mpsc::Receiver<(u64, ProviderEvent)>,
    ) {
        loop {
            let idle_at = self.idle_deadline();
            tokio::select! {
                cmd = commands.recv() => {
                    let Some(cmd) = cmd else { break };
                    if let Flow::Exit = self.command(cmd, &mut events).await {
                        break;
                    }
                }
                Some((generation, ev)) = events.recv() => self.provider_event(generation, ev).await,
                _ = sleep_until_opt(idle_at) => {
                    tracing::info!(thread = %self.thread.id, "idle; stopping the provider session");
                    self.stop_session(&mut events, ExitReason::Idle, false).await;
                }
            }
            self.release_if_done().await;
        }
        self.release_if_done().await;
        self.sessions.forget(&self.thread.id);
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let idle = self.ctx.idle_timeout();
        let reapable = self.session.is_some()
            && self.active_turn.is_none()
            && self.approvals.is_empty()
            && self.inputs.is_empty()
            && !idle.is_zero();
        reapable.then(|| self.last_activity + idle)
    }

    /// Awaits a provider operation while still handling the thread's provider events, so a
    /// provider that streams while answering can never deadlock against this actor.
    async fn drive<T>(
        &mut self,
        events: &mut mpsc::Receiver<(u64, ProviderEvent)>,
        fut: impl Future<Output = T>,
    ) -> T {
        tokio::pin!(fut);
        loop {
            let next = tokio::select! {
                out = &mut fut => return out,
                ev = events.recv() => ev,
            };
            if let Some((generation, ev)) = next {
                self.provider_event(generation, ev).await;
            }
        }
    }

    async fn command(
        &mut self,
        cmd: Command,
        events: &mut mpsc::Receiver<(u64, ProviderEvent)>,
    ) -> Flow {
        if cmd.drives() {
            if let Err(e) = self.claim().await {
                cmd.fail(e);
                return Flow::Continue;
            }
        }
        match cmd {
            Command::Takeover { reply } => {
                let r = self.take_over(events).await;
                let _ = reply.send(r);
            }
            Command::Yield { to } => self.yield_to(events, to).await,
            Command::Start { reply } => {
                let r = self
                    .ensure_session(events)
                    .await
                    .map(|_| self.thread.clone());
                let _ = reply.send(r);
            }
            Command::StartTurn {
                text,
                provider,
                model,
                mode,
                reply,
            } => {
                let mut r = Ok(());
                let switch_to = provider.filter(|p| *p != self.thread.provider);
                let new_model = model.filter(|m| Some(m) != self.thread.model.as_ref());
                if switch_to.is_some() || new_model.is_some() {
                    let to = switch_to.unwrap_or_else(|| self.thread.provider.clone());
                    r = self
                        .switch(to, new_model, HandoffMode::Auto, events)
                        .await
                        .map(|_| ());
                }
                let r = match r {
                    Ok(()) => self.start_turn(text, mode, events).await,
                    Err(e) => Err(e),
                };
                let _ = reply.send(r);
            }
            Command::Compact {
                instructions,
                reply,
            } => {
                let r = self.compact(instructions, events).await;
                let _ = reply.send(r);
            }
            Command::Switch {
                provider,
                model,
                handoff,
                reply,
            } => {
                let r = self.switch(provider, model, handoff, events).await;
                let _ = reply.send(r);
            }
            Command::Interrupt { reply } => {
                let r = self.interrupt(events).await;
                let _ = reply.send(r);
            }
            Command::Stop { detach, reply } => {
                let reason = if detach {
                    ExitReason::Detached
                } else {
                    ExitReason::Stopped
                };
                self.stop_session(events, reason, detach).await;
                let r = if detach {
                    self.update(ThreadUpdate {
                        provider_thread_id: Some(None),
                        ..Default::default()
                    })
                    .await
                    .map(|_| self.thread.clone())
                } else {
                    Ok(self.thread.clone())
                };
                let _ = reply.send(r);
            }
            Command::Delete { reply } => {
                self.stop_session(events, ExitReason::Deleted, false).await;
                let r = self
                    .ctx
                    .store
                    .delete_thread(&self.thread.id)
                    .await
                    .map(|_| ())
                    .map_err(store_error);
                let _ = reply.send(r);
                return Flow::Exit;
            }
            Command::Shutdown { reply } => {
                self.stop_session(events, ExitReason::Shutdown, false).await;
                let _ = reply.send(Ok(()));
                return Flow::Exit;
            }
            Command::ApprovalDecided {
                request_id,
                decision,
                by,
            } => {
                if let Some(tx) = self.approvals.remove(&request_id) {
                    let _ = tx.send(decision);
                    self.emit(
                        EventBody::ApprovalResolved(ApprovalResolved {
                            request_id,
                            decision,
                            by,
                        }),
                        None,
                        None,
                    )
                    .await;
                }
            }
            Command::InputAnswered {
                request_id,
                response,
                by,
            } => {
                if let Some(pending) = self.inputs.remove(&request_id) {
                    let cancelled = response.is_cancel();
                    let mut answers = if cancelled {
                        Default::default()
                    } else {
                        response.answers.clone()
                    };
                    for id in &pending.secret {
                        if let Some(a) = answers.get_mut(id) {
                            *a = vec!["•••".to_string()];
                        }
                    }
                    let _ = pending.reply.send(response);
                    self.emit(
                        EventBody::InputResolved(InputResolved {
                            request_id,
                            answers,
                            cancelled,
                            by,
                        }),
                        None,
                        None,
                    )
                    .await;
                }
            }
        }
        Flow::Continue
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

    async fn ensure_session(
        &mut self,
        events: &mut mpsc::Receiver<(u64, ProviderEvent)>,
    ) -> Result<Session, RpcError> {
        if let Some(s) = &self.session {
            return Ok(s.clone());
        }
        self.generation += 1;
        let sink = EventSink::new(self.events_tx.clone(), self.generation);
        let config = SessionConfig {
            thread_id: self.thread.id.clone(),
            cwd: self.thread.cwd.clone(),
            model: self.thread.model.clone(),
            approval_policy: self.thread.approval_policy,
            sandbox: self.thread.sandbox,
            resume: self.thread.provider_thread_id.clone(),
        };
        let providers = self.ctx.providers.clone();
        let provider = self.thread.provider.clone();
        let start_as = provider.clone();
        let started = self
            .drive(events, async move {
                providers.start(start_as, config, sink).await
            })
            .await;
        let (session, started) = match started {
            Ok(ok) => ok,
            Err(e) => {
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
        };
        self.session = Some(session.clone());
        self.last_activity = Instant::now();
        if let Some(message) = started.warning.clone() {
            self.emit(
                EventBody::RuntimeWarning(RuntimeWarning { message }),
                None,
                None,
            )
            .await;
        }
        let model = started.model.clone().or_else(|| self.thread.model.clone());
        self.update(ThreadUpdate {
            provider_thread_id: Some(Some(started.native_id.clone())),
            ..Default::default()
        })
        .await?;
        if let Err(e) = self
            .ctx
            .store
            .upsert_native_thread(NativeThread {
                thread_id: self.thread.id.clone(),
                provider,
                native_id: started.native_id.clone(),
                model: model.clone(),
                last_seq: self.thread.last_seq,
                updated_at: 0,
            })
            .await
        {
            tracing::warn!("cannot record the native thread: {e}");
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
        self.set_status(ThreadStatus::Idle).await;
        Ok(session)
    }

    async fn start_turn(
        &mut self,
        text: String,
        mode: TurnMode,
        events: &mut mpsc::Receiver<(u64, ProviderEvent)>,
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
            native: None,
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

    async fn interrupt(
        &mut self,
        events: &mut mpsc::Receiver<(u64, ProviderEvent)>,
    ) -> Result<(), RpcError> {
        let Some(turn) = &self.active_turn else {
            return Err(err(
                errors::NO_ACTIVE_TURN,
                "no turn is running on this thread",
            ));
        };
        let native = turn.native.clone();
        let Some(session) = self.session.clone() else {
            self.finish_turn(TurnState::Interrupted, None, None).await;
            return Ok(());
        };
        let r = self
            .drive(events, async move { session.interrupt(native).await })
            .await;
        r.map_err(provider_error)
    }

    /// Ends the active turn (if any) with the given state.
    async fn finish_turn(&mut self, state: TurnState, error: Option<String>, raw: Option<Value>) {
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

    /// Ends the live session, keeping the binding and (unless detaching) the resume cursor.
    ///
    /// The provider calls are driven while the thread's events keep being drained (and, being
    /// stale now, dropped): a provider blocked on a full event channel could otherwise never
    /// answer, and a shared Codex process would stall every other thread with it.
    async fn stop_session(
        &mut self,
        events: &mut mpsc::Receiver<(u64, ProviderEvent)>,
        reason: ExitReason,
        detach: bool,
    ) {
        let Some(session) = self.session.take() else {
            return;
        };
        // Events of the stopped session that are still in flight are now stale.
        self.generation += 1;
        self.reject_approvals();
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

    fn reject_approvals(&mut self) {
        // Dropping the senders makes the adapters answer `decline` / cancel the questions.
        self.approvals.clear();
        self.inputs.clear();
    }

    /// Puts the agent's questions to the editor (`input/request`); the answer comes back as
    /// [`Command::InputAnswered`]. Questions outside a turn are cancelled at once.
    async fn ask_input(
        &mut self,
        questions: Vec<InputQuestion>,
        native_turn: Option<String>,
        reply: oneshot::Sender<InputResponse>,
    ) {
        let Some(turn) = self.active_turn.as_mut() else {
            let _ = reply.send(InputResponse::cancel());
            return;
        };
        if let Some(n) = native_turn {
            turn.native.get_or_insert(n);
        }
        let turn_id = turn.id.clone();
        let request_id = uuid::Uuid::now_v7().to_string();
        let secret = questions
            .iter()
            .filter(|q| q.secret)
            .map(|q| q.id.clone())
            .collect();
        self.inputs
            .insert(request_id.clone(), PendingInput { reply, secret });
        self.emit(
            EventBody::InputRequested(InputRequested {
                request_id: request_id.clone(),
                questions: questions.clone(),
            }),
            None,
            None,
        )
        .await;
        let params = InputRequestParams {
            thread_id: self.thread.id.clone(),
            turn_id,
            request_id: request_id.clone(),
            questions,
        };
        let editor = self.ctx.editor.clone();
        let back = self.self_tx.clone();
        tokio::spawn(async move {
            let (response, by) = editor.ask_input(params).await;
            let _ = back
                .send(Command::InputAnswered {
                    request_id,
                    response,
                    by,
                })
                .await;
        });
    }

    async fn provider_event(&mut self, generation: u64, ev: ProviderEvent) {
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
            } => {
                if self.active_turn.is_none() {
                    // An approval outside a turn cannot be shown against one; decline it.
                    let _ = reply.send(ApprovalDecision::Decline);
                    return;
                }
                if let (Some(t), Some(n)) = (self.active_turn.as_mut(), native_turn) {
                    t.native.get_or_insert(n);
                }
                let request_id = uuid::Uuid::now_v7().to_string();
                self.approvals.insert(request_id.clone(), reply);
                self.emit(
                    EventBody::ApprovalRequested(ApprovalRequested {
                        request_id: request_id.clone(),
                        kind: ask.kind,
                        title: Some(ask.title.clone()),
                        command: ask.command.clone(),
                    }),
                    None,
                    None,
                )
                .await;
                let params = ApprovalRequestParams {
                    thread_id: self.thread.id.clone(),
                    turn_id: self
                        .active_turn
                        .as_ref()
                        .map(|t| t.id.clone())
                        .unwrap_or_default(),
                    request_id: request_id.clone(),
                    kind: ask.kind,
                    title: ask.title,
                    command: ask.command,
                    cwd: ask.cwd,
                    changes: ask.changes,
                    reason: ask.reason,
                };
                let editor = self.ctx.editor.clone();
                let back = self.self_tx.clone();
                tokio::spawn(async move {
                    let (decision, by) = editor.ask_approval(params).await;
                    let _ = back
                        .send(Command::ApprovalDecided {
                            request_id,
                            decision,
                            by,
                        })
                        .await;
                });
            }
            ProviderEvent::Input {
                questions,
                native_turn,
                reply,
            } => self.ask_input(questions, native_turn, reply).await,
            ProviderEvent::Exited { reason, message } => {
                self.session = None;
                self.generation += 1;
                self.reject_approvals();
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
            _ => self.emit(body, item_id, raw).await,
        }
    }
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

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[path = "switch.rs"]
mod switch;

#[path = "actor_lease.rs"]
mod lease;

impl Command {
    /// Commands that drive the thread, and so need its lease.
    fn drives(&self) -> bool {
        matches!(
            self,
            Command::Start { .. }
                | Command::StartTurn { .. }
                | Command::Compact { .. }
                | Command::Switch { .. }
                | Command::Interrupt { .. }
                | Command::Stop { .. }
                | Command::Delete { .. }
        )
    }

    /// Answers a command with an error without running it.
    fn fail(self, e: RpcError) {
        match self {
            Command::Start { reply } | Command::Stop { reply, .. } | Command::Takeover { reply } => {
                let _ = reply.send(Err(e));
            }
            Command::StartTurn { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Command::Switch { reply, .. } => {
                let _ = reply.send(Err(e));
            }
            Command::Compact { reply, .. }
            | Command::Interrupt { reply }
            | Command::Delete { reply }
            | Command::Shutdown { reply } => {
                let _ = reply.send(Err(e));
            }
            Command::ApprovalDecided { .. }
            | Command::InputAnswered { .. }
            | Command::Yield { .. } => {}
        }
    }
}

#[cfg(test)]
#[path = "actor_tests.rs"]
mod tests;
