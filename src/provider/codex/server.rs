//! What is Codex-specific about the shared `codex app-server` process: the handshake, the
//! routing key (`threadId`), process-wide notices, and each thread's task that maps its
//! notifications and turns Codex's approvals and questions into editor round trips.
//!
//! The process itself (spawn, routing, exit, idle stop) is the [`Host`](crate::provider::host)'s.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use baton_protocol::{ApprovalDecision, ApprovalKind, EventBody, ExitReason, FileChange};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::compaction::{Compaction, compaction_body, compaction_event};
use super::mapping;
use crate::provider::host::{Agent, Connection, Routed};
use crate::provider::{ApprovalAsk, EventSink, ProviderError, ProviderEvent, ask, coverage};
use crate::rpc::{Incoming, Params, RequestId, RpcError};
use crate::sync::lock;

/// How long Codex may take to answer `initialize`.
const INITIALIZE_TIMEOUT: Duration = Duration::from_secs(60);
/// How many process-wide warnings are held for a thread that has not registered yet.
const PENDING_NOTICES: usize = 8;

/// The Codex side of the host.
pub struct CodexAgent {
    include_raw: Arc<AtomicBool>,
    /// The last rate limits broadcast, so an unchanged update is not repeated to every thread.
    last_rate_limits: StdMutex<Option<Value>>,
    /// Process-wide warnings (the notifications themselves) that arrived while no thread was
    /// routed.
    pending_notices: StdMutex<Vec<(String, Value)>>,
}

impl CodexAgent {
    pub fn new(include_raw: Arc<AtomicBool>) -> Self {
        CodexAgent {
            include_raw,
            last_rate_limits: StdMutex::new(None),
            pending_notices: StdMutex::new(Vec::new()),
        }
    }

    /// Starts the task that serves one thread's route; warnings held for the first thread go
    /// to it.
    pub fn serve(
        &self,
        conn: Arc<Connection>,
        native_id: &str,
        sink: EventSink,
        compaction: Arc<Compaction>,
    ) {
        let rx = conn.register(native_id);
        let pending = std::mem::take(&mut *lock(&self.pending_notices));
        let mut thread = Thread {
            conn,
            sink,
            compaction,
            include_raw: self.include_raw.clone(),
            file_items: HashMap::new(),
        };
        tokio::spawn(async move {
            for (method, params) in pending {
                thread.notification(&method, &params).await;
            }
            thread.run(rx).await;
        });
    }
}

impl Agent for CodexAgent {
    async fn handshake(&self, conn: &Arc<Connection>) -> Result<(), ProviderError> {
        let init = json!({
            "clientInfo": {"name": "baton", "title": "baton", "version": env!("CARGO_PKG_VERSION")},
            "capabilities": {"experimentalApi": true},
        });
        conn.request("initialize", init, Some(INITIALIZE_TIMEOUT))
            .await
            .map_err(|e| {
                ProviderError::Unavailable(format!("codex app-server failed to initialize: {e}"))
            })?;
        conn.notify("initialized", json!({})).await
    }

    /// Read straight from the params' text: routing a streamed delta builds no `Value`.
    fn route_key<'a>(&self, _method: &str, params: &'a Params) -> Option<Cow<'a, str>> {
        if let Some(id) = params.text().and_then(mapping::leading_thread_id) {
            return Some(Cow::Borrowed(id));
        }
        params
            .view::<mapping::ThreadKey>()
            .ok()
            .and_then(|k| k.thread_id)
    }

    /// Process-wide notifications (config warnings, rate limits, MCP server status) go to every
    /// thread; warnings that arrive before any thread is routed (codex checks its config while
    /// the first thread starts) are held for the next thread. Requests no thread takes are
    /// answered here.
    async fn unrouted(&self, conn: &Arc<Connection>, msg: Incoming) {
        match msg {
            Incoming::Request { id, method, params } => {
                answer_request(conn, None, id, &method, params.into_value()).await;
            }
            Incoming::Notification { method, params } => {
                if let Some(thread) = self.route_key(&method, &params) {
                    tracing::debug!(
                        method,
                        thread = &*thread,
                        "codex notification for an unrouted thread"
                    );
                    return;
                }
                if method == "account/rateLimits/updated" {
                    let mut last = lock(&self.last_rate_limits);
                    if last.as_ref() == params.get("rateLimits") {
                        return;
                    }
                    *last = params.get("rateLimits").cloned();
                }
                if conn.broadcast(&method, &params).await > 0 {
                    return;
                }
                let warns = mapping::map_notification(&method, &params)
                    .iter()
                    .any(|ev| {
                        matches!(
                            ev,
                            ProviderEvent::Event {
                                body: EventBody::RuntimeWarning(_),
                                ..
                            }
                        )
                    });
                let mut pending = lock(&self.pending_notices);
                if warns && pending.len() < PENDING_NOTICES {
                    pending.push((method, params.into_value()));
                }
            }
        }
    }
}

/// One Codex thread's route: its messages, in order, in a task of its own.
struct Thread {
    conn: Arc<Connection>,
    sink: EventSink,
    compaction: Arc<Compaction>,
    include_raw: Arc<AtomicBool>,
    /// File changes announced by `item/started`, so a file approval can show them.
    file_items: HashMap<String, Vec<FileChange>>,
}

impl Thread {
    async fn run(mut self, mut rx: mpsc::Receiver<Routed>) {
        while let Some(msg) = rx.recv().await {
            match msg {
                Routed::Message(Incoming::Notification { method, params }) => {
                    self.routed_notification(&method, &params).await;
                }
                Routed::Message(Incoming::Request { id, method, params }) => {
                    answer_request(&self.conn, Some(&self), id, &method, params.into_value()).await;
                }
                Routed::Exited(message) => {
                    self.sink
                        .send(ProviderEvent::Exited {
                            reason: ExitReason::Crashed,
                            message: Some(message),
                        })
                        .await;
                    return;
                }
            }
        }
    }

    /// A streamed delta (most of what a turn sends) is mapped from a typed view of its params'
    /// text; everything else from its value.
    async fn routed_notification(&mut self, method: &str, params: &Params) {
        if let Some(stream) = mapping::delta_stream(method)
            && !self.include_raw.load(Ordering::Relaxed)
            && let Ok(view) = params.view::<mapping::DeltaView>()
            && view.thread_id.is_some()
        {
            self.sink.send(mapping::delta_event(stream, view)).await;
            return;
        }
        self.notification(method, params).await;
    }

    /// Sends a notification's events, with the compaction events an item implies. Waiting for
    /// a compaction summary holds up only this thread.
    async fn notification(&mut self, method: &str, params: &Value) {
        self.remember_file_changes(method, params);
        let mut events = mapping::map_notification(method, params);
        if params.get("threadId").is_none() {
            // A process-wide notice: only its events, nothing that waits for an answer.
            events.retain(|e| matches!(e, ProviderEvent::Event { .. }));
        }
        let compaction = if method.starts_with("item/") {
            compaction_event(&self.compaction, method, params).await
        } else {
            None
        };
        let started = matches!(compaction, Some((true, _)));
        let mut compaction_ev = compaction.as_ref().map(|c| compaction_body(Some(c)));
        if self.include_raw.load(Ordering::Relaxed) {
            let raw = json!({"method": method, "params": params});
            for ev in events.iter_mut().chain(compaction_ev.as_mut()) {
                ev.set_raw(&raw);
            }
        }
        if started && let Some(ev) = compaction_ev.take() {
            self.sink.send(ev).await;
        }
        for ev in events {
            self.sink.send(ev).await;
        }
        if let Some(ev) = compaction_ev {
            self.sink.send(ev).await;
        }
    }

    /// A request as `data.raw`, when the editor asked for raw messages.
    fn raw(&self, method: &str, params: &Value) -> Option<Value> {
        self.include_raw
            .load(Ordering::Relaxed)
            .then(|| json!({"method": method, "params": params}))
    }

    fn remember_file_changes(&mut self, method: &str, params: &Value) {
        let Some(item) = params.get("item") else {
            return;
        };
        if item.get("type").and_then(Value::as_str) != Some("fileChange") {
            return;
        }
        let Some(id) = item.get("id").and_then(Value::as_str) else {
            return;
        };
        if method == "item/started" {
            self.file_items
                .insert(id.to_string(), mapping::file_changes(item.get("changes")));
        } else if method == "item/completed" {
            self.file_items.remove(id);
        }
    }
}

/// Answers a request Codex sends: approvals and questions go to the thread (and so the editor),
/// the rest are answered as the coverage table says; with no thread to ask, approvals are
/// declined and questions cancelled. Every request gets exactly one answer.
async fn answer_request(
    conn: &Arc<Connection>,
    thread: Option<&Thread>,
    id: RequestId,
    method: &str,
    params: Value,
) {
    let kind = match method {
        "item/commandExecution/requestApproval" => ApprovalKind::Command,
        "item/fileChange/requestApproval" => ApprovalKind::FileChange,
        "item/permissions/requestApproval" => ApprovalKind::Other,
        "item/tool/requestUserInput" => return ask_input(conn, thread, id, params).await,
        "currentTime/read" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            return conn.respond(id, Ok(json!({"currentTimeAt": now}))).await;
        }
        "mcpServer/elicitation/request" => {
            let decline = json!({"action": "decline", "content": null});
            return conn.respond(id, Ok(decline)).await;
        }
        "applyPatchApproval" | "execCommandApproval" => {
            return conn.respond(id, Ok(json!({"decision": "denied"}))).await;
        }
        // The rest of the table's requests (dynamic tools, token refresh, attestation) get an
        // error saying why; a request no table names is unknown.
        _ => {
            let error = match coverage::answer_reason(super::coverage::REQUESTS, method) {
                Some(why) => RpcError::new(
                    baton_protocol::errors::INVALID_REQUEST,
                    format!("{method}: {why}"),
                ),
                None => {
                    coverage::unknown("codex", method);
                    RpcError::method_not_found(method)
                }
            };
            return conn.respond(id, Err(error)).await;
        }
    };
    let requested = params.get("permissions").cloned().unwrap_or(json!({}));
    let conn = conn.clone();
    let answer = move |decision: ApprovalDecision| async move {
        conn.respond(id, Ok(approval_answer(kind, decision, requested)))
            .await;
    };
    let Some(thread) = thread else {
        return answer(ApprovalDecision::Decline).await;
    };
    let ask = approval_ask(kind, &params, &thread.file_items);
    let native_turn = text(&params, "turnId");
    let raw = thread.raw(method, &params);
    ask::approval(&thread.sink, ask, native_turn, raw, answer).await;
}

fn text(params: &Value, key: &str) -> Option<String> {
    params.get(key).and_then(Value::as_str).map(str::to_string)
}

/// What the editor is shown for one of Codex's approval requests.
fn approval_ask(
    kind: ApprovalKind,
    params: &Value,
    file_items: &HashMap<String, Vec<FileChange>>,
) -> ApprovalAsk {
    let changes = text(params, "itemId").and_then(|i| file_items.get(&i).cloned());
    let command = text(params, "command");
    let title = match kind {
        ApprovalKind::Command => format!("Run `{}`", command.as_deref().unwrap_or("a command")),
        ApprovalKind::FileChange => match changes.as_deref() {
            Some([one]) => format!("Change {}", one.path),
            Some(many) if !many.is_empty() => format!("Change {} files", many.len()),
            _ => "Apply a file change".to_string(),
        },
        ApprovalKind::Other => format!(
            "Grant extra permissions: {}",
            params
                .get("permissions")
                .map(Value::to_string)
                .unwrap_or_default()
        ),
    };
    ApprovalAsk {
        kind,
        title,
        command,
        cwd: text(params, "cwd"),
        changes,
        reason: text(params, "reason"),
    }
}

/// Codex's answer for a decision: permissions are granted for the turn or the session, the
/// others take the decision's name.
fn approval_answer(kind: ApprovalKind, decision: ApprovalDecision, requested: Value) -> Value {
    if kind != ApprovalKind::Other {
        return json!({"decision": decision.as_str()});
    }
    match decision {
        ApprovalDecision::Accept => json!({"permissions": requested, "scope": "turn"}),
        ApprovalDecision::AcceptForSession => {
            json!({"permissions": requested, "scope": "session"})
        }
        _ => json!({"permissions": {}, "scope": "turn"}),
    }
}

/// `item/tool/requestUserInput`: the questions go to the editor as `input/request`; the answers
/// come back as `{answers:{<id>:{answers:[…]}}}`. A cancel answers no question.
async fn ask_input(conn: &Arc<Connection>, thread: Option<&Thread>, id: RequestId, params: Value) {
    let conn = conn.clone();
    let answer = move |response: Option<baton_protocol::InputResponse>| async move {
        let answers: serde_json::Map<String, Value> = response
            .map(|r| r.answers)
            .unwrap_or_default()
            .into_iter()
            .map(|(q, a)| (q, json!({"answers": a})))
            .collect();
        conn.respond(id, Ok(json!({"answers": answers}))).await;
    };
    let Some(thread) = thread else {
        return answer(None).await;
    };
    let questions = mapping::input_questions(params.get("questions"));
    let raw = thread.raw("item/tool/requestUserInput", &params);
    ask::input(
        &thread.sink,
        questions,
        text(&params, "turnId"),
        raw,
        answer,
    )
    .await;
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
