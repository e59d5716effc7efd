//! The task of one ACP session: everything the agent sends about it, in order.
//!
//! Updates are mapped and reported; permission requests go to the editor through
//! [`ask::approval`](crate::provider::ask::approval); fs requests are served inside the cwd;
//! anything else is refused with the coverage table's reason. The end of a prompt (its stop
//! reason) and the end of a load's replay arrive as [`Control`] messages; since the agent wrote
//! its updates before that answer, the task first takes in what the host has routed since
//! (see [`Task::settle`]), so `turn.completed` never overtakes the turn's last update.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use agent_client_protocol_schema::v1::{
    CancelNotification, PermissionOption, PromptResponse, RequestPermissionRequest,
};
use baton_protocol::{ApprovalDecision, EventBody, ExitReason, TurnCompleted, TurnState};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::agent::{AcpAgent, refusal};
use super::mapping::turn_completed;
use super::session::{Shared, lock};
use super::{fs, permission};
use crate::provider::host::{Connection, Routed};
use crate::provider::{EventSink, ProviderError, ProviderEvent, ask};
use crate::rpc::{Incoming, RequestId};

/// How long the task waits for routed messages that are still on their way after a prompt or
/// load answered (the host moves them between two queues; this is a scheduling gap, not I/O).
const SETTLE: Duration = Duration::from_millis(15);

/// What the session's handle tells its task.
pub(super) enum Control {
    /// `session/prompt` answered (or failed); `compaction` marks a `/compact` turn.
    PromptDone {
        result: Result<Value, ProviderError>,
        compaction: bool,
    },
    /// `session/load` answered: what is routed from now on is live.
    EndReplay(oneshot::Sender<()>),
    /// The session is being stopped.
    Stop,
}

/// A permission request awaiting the editor; whoever sets `answered` first answers it.
pub(super) struct PendingPermission {
    id: RequestId,
    answered: Arc<AtomicBool>,
}

pub(super) struct Task {
    pub conn: Arc<Connection>,
    pub agent: Arc<AcpAgent>,
    pub shared: Arc<Shared>,
    pub sink: EventSink,
    pub routes: mpsc::Receiver<Routed>,
    pub control: mpsc::Receiver<Control>,
    /// Messages that arrived before the session was routed.
    pub early: Vec<Incoming>,
}

pub(super) async fn run(mut t: Task) {
    for msg in std::mem::take(&mut t.early) {
        t.incoming(msg).await;
    }
    loop {
        tokio::select! {
            biased;
            routed = t.routes.recv() => match routed {
                Some(Routed::Message(msg)) => t.incoming(msg).await,
                Some(Routed::Exited(why)) => {
                    t.exited(why).await;
                    return;
                }
                None => return,
            },
            control = t.control.recv() => match control {
                Some(Control::PromptDone { result, compaction }) => {
                    if !t.settle().await {
                        return;
                    }
                    t.prompt_done(result, compaction).await;
                }
                Some(Control::EndReplay(ack)) => {
                    if !t.settle().await {
                        return;
                    }
                    t.shared.replay.store(false, Ordering::SeqCst);
                    let _ = ack.send(());
                }
                Some(Control::Stop) | None => return,
            },
        }
    }
}

impl Task {
    /// Takes in what the host routed up to now; false when the process is gone.
    async fn settle(&mut self) -> bool {
        loop {
            let mut took = false;
            while let Ok(routed) = self.routes.try_recv() {
                took = true;
                match routed {
                    Routed::Message(msg) => self.incoming(msg).await,
                    Routed::Exited(why) => {
                        self.exited(why).await;
                        return false;
                    }
                }
            }
            if !took {
                tokio::time::sleep(SETTLE).await;
                if self.routes.is_empty() {
                    return true;
                }
            }
        }
    }

    async fn send(&self, ev: ProviderEvent) {
        self.sink.send(ev).await;
    }

    async fn incoming(&mut self, msg: Incoming) {
        match msg {
            Incoming::Notification { method, params } if method == "session/update" => {
                let replay = self.shared.replay.load(Ordering::SeqCst);
                let mut events = lock(&self.shared.mapper).map(&params, replay);
                self.shared.learn();
                if self.shared.include_raw.load(Ordering::Relaxed) {
                    for ev in &mut events {
                        if let ProviderEvent::Event { raw, .. } = ev {
                            *raw = Some(json!({"method": method, "params": params}));
                        }
                    }
                }
                for ev in events {
                    self.send(ev).await;
                }
            }
            Incoming::Notification { method, .. } => {
                if crate::provider::coverage::find(super::coverage::CLIENT_METHODS, &method)
                    .is_none()
                {
                    crate::provider::coverage::unknown("acp", &method);
                }
                self.send(ProviderEvent::Activity).await;
            }
            Incoming::Request { id, method, params } => {
                self.send(ProviderEvent::Activity).await;
                self.request(id, &method, params.into_value()).await;
            }
        }
    }

    async fn request(&mut self, id: RequestId, method: &str, params: Value) {
        let fs = self.agent.fs();
        let answer = match method {
            "session/request_permission" => return self.permission(id, params).await,
            "fs/read_text_file" if fs.read_text_file => fs::read(&self.shared.cwd, params).await,
            "fs/write_text_file" if fs.write_text_file => fs::write(&self.shared.cwd, params).await,
            "fs/read_text_file" | "fs/write_text_file" => Err(refusal(
                method,
                Some("not advertised to this agent (see the provider's fs setting)"),
            )),
            _ => Err(refusal(method, None)),
        };
        self.conn.respond(id, answer).await;
    }

    async fn permission(&mut self, id: RequestId, params: Value) {
        // The request itself is `data.raw` of `approval.requested`, when the editor asked.
        let raw = self
            .shared
            .include_raw
            .load(Ordering::Relaxed)
            .then(|| json!({"method": "session/request_permission", "params": params}));
        let req: RequestPermissionRequest = match serde_json::from_value(params) {
            Ok(r) => r,
            Err(e) => {
                let e = crate::rpc::RpcError::invalid_params(format!(
                    "session/request_permission: {e}"
                ));
                return self.conn.respond(id, Err(e)).await;
            }
        };
        let item = lock(&self.shared.mapper).permission_item(&req.tool_call);
        let ask = permission::ask(item);
        let answered = Arc::new(AtomicBool::new(false));
        lock(&self.shared.pending).push(PendingPermission {
            id: id.clone(),
            answered: answered.clone(),
        });
        let options: Vec<PermissionOption> = req.options;
        let conn = self.conn.clone();
        let shared = self.shared.clone();
        ask::approval(&self.sink, ask, None, raw, move |decision| async move {
            lock(&shared.pending).retain(|p| p.id != id);
            if answered.swap(true, Ordering::SeqCst) {
                return;
            }
            conn.respond(id, Ok(permission::outcome(&options, decision)))
                .await;
            if decision == ApprovalDecision::Cancel {
                let cancel = CancelNotification::new(shared.session_id.clone());
                let _ = conn
                    .notify(
                        "session/cancel",
                        serde_json::to_value(cancel).unwrap_or(Value::Null),
                    )
                    .await;
            }
        })
        .await;
    }

    async fn prompt_done(&mut self, result: Result<Value, ProviderError>, compaction: bool) {
        let closing = lock(&self.shared.mapper).end_turn(compaction);
        self.shared.learn();
        for ev in closing {
            self.send(ev).await;
        }
        let completed = match result {
            Ok(v) => match serde_json::from_value::<PromptResponse>(v) {
                Ok(r) => turn_completed(&r.stop_reason),
                Err(e) => TurnCompleted {
                    state: TurnState::Failed,
                    error: Some(format!("session/prompt answered something else: {e}")),
                },
            },
            // A gone process is reported by its exit.
            Err(ProviderError::Gone(_)) => return,
            Err(e) => TurnCompleted {
                state: TurnState::Failed,
                error: Some(e.to_string()),
            },
        };
        self.send(ProviderEvent::Event {
            body: EventBody::TurnCompleted(completed),
            native_turn: None,
            item_id: None,
            raw: None,
        })
        .await;
    }

    async fn exited(&mut self, why: String) {
        let closing = lock(&self.shared.mapper).end_turn(false);
        for ev in closing {
            self.send(ev).await;
        }
        self.send(ProviderEvent::Exited {
            reason: ExitReason::Crashed,
            message: Some(why),
        })
        .await;
    }
}

/// Answers every open permission request of the session `cancelled` (ACP asks this of a client
/// that cancels the turn).
pub(super) async fn cancel_pending(conn: &Connection, shared: &Shared) {
    let pending: Vec<PendingPermission> = std::mem::take(&mut *lock(&shared.pending));
    for p in pending {
        if !p.answered.swap(true, Ordering::SeqCst) {
            conn.respond(p.id, Ok(json!({"outcome": {"outcome": "cancelled"}})))
                .await;
        }
    }
}
