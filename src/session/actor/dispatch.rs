//! The actor's command loop: the closed set of commands a thread's actor accepts, the loop that
//! interleaves them with provider events and the idle timer, and retirement of an actor that
//! has nothing live to own.

use baton_protocol::{
    ApprovalDecision, ApprovalPolicy, ExitReason, HandoffInfo, HandoffMode, InputResponse,
    ProviderId, Thread, TurnMode,
};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Actor, Events, coalesce, next_event};
use crate::rpc::RpcError;
use crate::session::budget::Liveness;
use crate::store::{Holder, ThreadUpdate};

use crate::session::Reply;

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
    /// `thread/update`: settings; a new approval policy restarts the session on the next turn.
    Update {
        title: Option<String>,
        approval_policy: Option<ApprovalPolicy>,
        reply: Reply<Thread>,
    },
    Shutdown {
        reply: Reply<()>,
    },
    /// The live-session budget wants this session stopped: soft-stop it if it is idle.
    Evict,
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
    /// Another window asked for the thread (`Some`, with who asked), or our lease was lost.
    Yield {
        to: Option<Holder>,
    },
}

impl Command {
    /// Answers the command with an error without running it (its thread could not be reached).
    /// Answers to asks carry no reply: they belonged to the actor that asked, and with it they go.
    pub fn fail(self, e: RpcError) {
        match self {
            Command::Start { reply }
            | Command::Stop { reply, .. }
            | Command::Takeover { reply }
            | Command::Update { reply, .. } => {
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
            | Command::Yield { .. }
            | Command::Evict => {}
        }
    }

    /// Commands that drive the thread, and so need its lease.
    fn drives(&self) -> bool {
        matches!(
            self,
            Command::Start { .. }
                | Command::StartTurn { .. }
                | Command::Compact { .. }
                | Command::Switch { .. }
                | Command::Interrupt { .. }
                | Command::Update { .. }
                | Command::Stop { .. }
                | Command::Delete { .. }
        )
    }

    /// True for the answers to this actor's own asks, which mean nothing to any other actor
    /// (a yield included: a retiring actor has given its lease back already).
    fn is_answer(&self) -> bool {
        matches!(
            self,
            Command::ApprovalDecided { .. }
                | Command::InputAnswered { .. }
                | Command::Yield { .. }
                | Command::Evict
        )
    }
}

/// Provider events handled in a row before the loop looks at its commands and deadlines again;
/// a command waits for at most this many (each takes microseconds).
const EVENT_BURST: usize = 64;

/// What the loop does after a command.
enum Flow {
    Continue,
    /// The thread is gone (deleted) or baton is shutting down.
    Exit,
}

impl Actor {
    pub(super) async fn run(mut self, mut commands: mpsc::Receiver<Command>, mut events: Events) {
        loop {
            let idle_at = self.idle_deadline();
            let silent_at = self.turn_deadline();
            tokio::select! {
                // The actor holds a sender of its own inbox (for the answers to its asks), so
                // the inbox never closes while the loop runs.
                Some(cmd) = commands.recv() => {
                    if let Flow::Exit = self.command(cmd, &mut events).await {
                        break;
                    }
                }
                first = next_event(&mut events) => {
                    // The events already queued too, a bounded few, before the deadlines are
                    // worked out and armed again: a streaming turn sets them up once per burst
                    // instead of once per delta. Deltas queued together go out as one.
                    let mut held = first;
                    for _ in 1..EVENT_BURST {
                        let Ok(next) = events.try_recv() else {
                            break;
                        };
                        if let Some(next) = coalesce::join(&self.delta_run, &mut held, next) {
                            let (generation, ev) = std::mem::replace(&mut held, next);
                            self.provider_event(generation, ev).await;
                        }
                    }
                    let (generation, ev) = held;
                    self.provider_event(generation, ev).await;
                }
                _ = sleep_until_opt(idle_at) => {
                    tracing::info!(thread = %self.thread.id, "idle; stopping the provider session");
                    self.stop_session(&mut events, ExitReason::Idle, false).await;
                }
                _ = sleep_until_opt(silent_at) => self.turn_timed_out(&mut events).await,
            }
            self.report_liveness();
            if self.retirable() {
                // Given back before the actor leaves the registry, so that it can never undo
                // the lease of the actor spawned next.
                self.release_lease().await;
                self.retire(commands);
                return;
            }
        }
        self.liveness = Liveness::None;
        self.sessions
            .budget()
            .report(&self.thread.id, Liveness::None, &self.self_tx);
        self.release_lease().await;
        self.sessions.forget(&self.thread.id, &self.self_tx);
    }

    /// Tells the live-session budget when this thread's state changed.
    fn report_liveness(&mut self) {
        let now = match (&self.session, self.busy()) {
            (None, _) => Liveness::None,
            (Some(_), true) => Liveness::Busy,
            (Some(_), false) => Liveness::Idle,
        };
        if now != self.liveness {
            self.liveness = now;
            self.sessions
                .budget()
                .report(&self.thread.id, now, &self.self_tx);
        }
    }

    /// A turn running or an ask pending: the session must not be stopped for the budget.
    fn busy(&self) -> bool {
        self.active_turn.is_some() || !self.approvals.is_empty() || !self.inputs.is_empty()
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

    /// When the running turn counts as hung: its provider has sent nothing for the turn
    /// inactivity timeout. A turn waiting for the user (a pending ask) is not silent, it waits.
    fn turn_deadline(&self) -> Option<Instant> {
        let limit = self.ctx.turn_inactivity_timeout();
        let waiting = self.active_turn.is_some()
            && self.approvals.is_empty()
            && self.inputs.is_empty()
            && !limit.is_zero();
        waiting.then(|| self.last_activity + limit)
    }

    /// Nothing live to own: no session, no turn, no pending ask. Everything else the actor
    /// holds (binding, cursor, status, pending handoff) is persisted, so a fresh actor spawned
    /// from the store continues exactly where this one stops.
    fn retirable(&self) -> bool {
        self.session.is_none()
            && self.active_turn.is_none()
            && self.approvals.is_empty()
            && self.inputs.is_empty()
    }

    /// Leaves the registry and closes the inbox. A caller holding an older handle gets its
    /// command back from the closed channel and resends it through the registry; commands that
    /// were already queued are handed on the same way, in order.
    fn retire(self, mut commands: mpsc::Receiver<Command>) {
        tracing::debug!(thread = %self.thread.id, "stopped and idle; retiring the actor");
        self.sessions.forget(&self.thread.id, &self.self_tx);
        commands.close();
        let mut queued = Vec::new();
        while let Ok(cmd) = commands.try_recv() {
            if !cmd.is_answer() {
                queued.push(cmd);
            }
        }
        if queued.is_empty() {
            return;
        }
        let sessions = self.sessions.clone();
        let thread_id = self.thread.id.clone();
        tokio::spawn(async move {
            for cmd in queued {
                if let Err((cmd, e)) = sessions.send(&thread_id, cmd).await {
                    cmd.fail(e);
                }
            }
        });
    }

    async fn command(&mut self, cmd: Command, events: &mut Events) -> Flow {
        // Driving needs the thread's lease: another window's live lease refuses it (-32016).
        if cmd.drives()
            && let Err(e) = self.claim().await
        {
            cmd.fail(e);
            return Flow::Continue;
        }
        match cmd {
            Command::Evict => {
                if self.session.is_some() && !self.busy() {
                    tracing::info!(thread = %self.thread.id, "stopping the provider session for the live-session budget");
                    self.stop_session(events, ExitReason::Idle, false).await;
                }
            }
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
                let r = self.delete(events).await;
                let _ = reply.send(r);
                return Flow::Exit;
            }
            Command::Update {
                title,
                approval_policy,
                reply,
            } => {
                let r = self.update_settings(title, approval_policy, events).await;
                let _ = reply.send(r);
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
            } => self.approval_decided(request_id, decision, by).await,
            Command::InputAnswered {
                request_id,
                response,
                by,
            } => self.input_answered(request_id, response, by).await,
        }
        Flow::Continue
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
