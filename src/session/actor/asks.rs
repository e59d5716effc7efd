//! Approvals and questions: what the agent asks is persisted, put to the editor by a task of
//! its own (so the actor keeps running), and answered when the editor's decision comes back as
//! a command. Whatever is still pending when its turn or session ends (stop, interrupt, the
//! provider exiting, the turn finishing) is withdrawn: the adapter gets a cancel, the log gets
//! `approval.resolved` / `input.resolved` saying who ended it, and the editor gets
//! `$/cancelRequest` so its dialog closes.

use baton_protocol::{
    ApprovalDecision, ApprovalRequestParams, ApprovalRequested, ApprovalResolved, EventBody,
    InputQuestion, InputRequestParams, InputRequested, InputResolved, InputResponse,
};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::{Actor, Command};

/// An approval request waiting for the editor.
pub(super) struct PendingApproval {
    reply: oneshot::Sender<ApprovalDecision>,
    /// Takes the request back from the editor.
    withdraw: CancellationToken,
}

/// A question request waiting for the editor.
pub(super) struct PendingInput {
    reply: oneshot::Sender<InputResponse>,
    /// Ids of questions whose answers are secret (never persisted).
    secret: Vec<String>,
    /// Takes the request back from the editor.
    withdraw: CancellationToken,
}

/// Who ended an ask that the editor did not answer (the `by` of `approval.resolved` and
/// `input.resolved`).
pub(super) mod by {
    pub const STOP: &str = "stop";
    pub const SHUTDOWN: &str = "shutdown";
    pub const INTERRUPT: &str = "interrupt";
    pub const PROVIDER_EXIT: &str = "providerExit";
    pub const TURN_ENDED: &str = "turnEnded";
}

impl Actor {
    /// Withdraws every pending ask, oldest first: the adapter is told `cancel` (the action is
    /// not taken, the questions are unanswered), the log records who ended it, and the editor's
    /// request is cancelled. The editor's late answer finds nothing pending and is ignored.
    pub(super) async fn withdraw_asks(&mut self, by: &str) {
        let mut approvals: Vec<(String, PendingApproval)> = self.approvals.drain().collect();
        // Request ids are UUIDv7: sorting by id is sorting by age.
        approvals.sort_by(|a, b| a.0.cmp(&b.0));
        for (request_id, pending) in approvals {
            pending.withdraw.cancel();
            let decision = ApprovalDecision::Cancel;
            let _ = pending.reply.send(decision);
            self.emit(
                EventBody::ApprovalResolved(ApprovalResolved {
                    request_id,
                    decision,
                    by: Some(by.to_string()),
                }),
                None,
                None,
            )
            .await;
        }
        let mut inputs: Vec<(String, PendingInput)> = self.inputs.drain().collect();
        inputs.sort_by(|a, b| a.0.cmp(&b.0));
        for (request_id, pending) in inputs {
            pending.withdraw.cancel();
            let _ = pending.reply.send(InputResponse::cancel());
            self.emit(
                EventBody::InputResolved(InputResolved {
                    request_id,
                    answers: Default::default(),
                    cancelled: true,
                    by: Some(by.to_string()),
                }),
                None,
                None,
            )
            .await;
        }
    }

    /// Puts an approval to the editor (`approval/request`, with `request`'s ids filled in here);
    /// the decision comes back as [`Command::ApprovalDecided`]. An approval outside a turn
    /// cannot be shown against one and is declined at once.
    pub(super) async fn ask_approval(
        &mut self,
        mut request: ApprovalRequestParams,
        native_turn: Option<String>,
        reply: oneshot::Sender<ApprovalDecision>,
        raw: Option<Value>,
    ) {
        let Some(turn) = self.active_turn.as_mut() else {
            let _ = reply.send(ApprovalDecision::Decline);
            return;
        };
        if let Some(n) = native_turn {
            turn.native.get_or_insert(n);
        }
        request.thread_id = self.thread.id.clone();
        request.turn_id = turn.id.clone();
        request.request_id = uuid::Uuid::now_v7().to_string();
        let request_id = request.request_id.clone();
        let withdraw = CancellationToken::new();
        self.approvals.insert(
            request_id.clone(),
            PendingApproval {
                reply,
                withdraw: withdraw.clone(),
            },
        );
        self.emit(
            EventBody::ApprovalRequested(ApprovalRequested {
                request_id: request_id.clone(),
                kind: request.kind,
                title: Some(request.title.clone()),
                command: request.command.clone(),
            }),
            None,
            raw,
        )
        .await;
        let editor = self.ctx.editor.clone();
        let back = self.self_tx.clone();
        tokio::spawn(async move {
            let (decision, by) = editor.ask_approval(request, withdraw).await;
            let _ = back
                .send(Command::ApprovalDecided {
                    request_id,
                    decision,
                    by,
                })
                .await;
        });
    }

    /// Passes the editor's decision to the waiting adapter; a decision for an approval that is
    /// no longer pending (withdrawn) is ignored.
    pub(super) async fn approval_decided(
        &mut self,
        request_id: String,
        decision: ApprovalDecision,
        by: Option<String>,
    ) {
        let Some(pending) = self.approvals.remove(&request_id) else {
            return;
        };
        let _ = pending.reply.send(decision);
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

    /// Puts the agent's questions to the editor (`input/request`); the answer comes back as
    /// [`Command::InputAnswered`]. Questions outside a turn are cancelled at once.
    pub(super) async fn ask_input(
        &mut self,
        questions: Vec<InputQuestion>,
        native_turn: Option<String>,
        reply: oneshot::Sender<InputResponse>,
        raw: Option<Value>,
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
        let withdraw = CancellationToken::new();
        self.inputs.insert(
            request_id.clone(),
            PendingInput {
                reply,
                secret,
                withdraw: withdraw.clone(),
            },
        );
        self.emit(
            EventBody::InputRequested(InputRequested {
                request_id: request_id.clone(),
                questions: questions.clone(),
            }),
            None,
            raw,
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
            let (response, by) = editor.ask_input(params, withdraw).await;
            let _ = back
                .send(Command::InputAnswered {
                    request_id,
                    response,
                    by,
                })
                .await;
        });
    }

    /// Passes the editor's answers to the waiting adapter and persists them, secret answers
    /// masked; an answer to a question no longer pending is ignored.
    pub(super) async fn input_answered(
        &mut self,
        request_id: String,
        response: InputResponse,
        by: Option<String>,
    ) {
        let Some(pending) = self.inputs.remove(&request_id) else {
            return;
        };
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
