//! One running `codex app-server` process: spawn, handshake, routing of its notifications and
//! requests to the threads that use it, crash detection and idle exit.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use baton_protocol::{
    ApprovalDecision, ApprovalKind, CompactionCompleted, CompactionFailed, CompactionStarted,
    CompactionTrigger, EventBody, ExitReason, FileChange,
};
use serde_json::{Value, json};
use tokio::process::Child;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{REQUEST_TIMEOUT, mapping, rpc_to_provider};
use crate::provider::{ApprovalAsk, EventSink, ProviderError, ProviderEvent, ProviderSettings};
use crate::provider::{coverage, process};
use crate::rpc::{self, Incoming, Peer, PeerOptions, RequestId, RpcError};

pub struct CodexServer {
    peer: Peer,
    routes: StdMutex<HashMap<String, Route>>,
    /// File changes announced by `item/started`, so a file approval can show them.
    file_items: StdMutex<HashMap<String, Vec<FileChange>>>,
    last_used: StdMutex<Instant>,
    dead: AtomicBool,
    retiring: AtomicBool,
    exited: tokio::sync::watch::Receiver<bool>,
    include_raw: Arc<AtomicBool>,
    /// The last rate limits broadcast, so an unchanged update is not repeated to every thread.
    last_rate_limits: StdMutex<Option<Value>>,
    /// Process-wide warnings that arrived while no thread was routed.
    pending_notices: StdMutex<Vec<EventBody>>,
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked mid-update of a plain map; the map
    // itself is still usable, and baton must not crash over it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// `codex app-server` with its threads unloaded as soon as baton unsubscribes from them: a
/// loaded thread keeps its "active writer" claim in CODEX_HOME, so another window's codex could
/// not resume it after a `thread/takeover` until this process exits.
pub fn app_server_args() -> Vec<String> {
    ["app-server", "-c", "thread_unload_delay_secs=0"]
        .map(String::from)
        .to_vec()
}

impl CodexServer {
    pub async fn spawn(settings: &ProviderSettings) -> Result<Arc<CodexServer>, ProviderError> {
        let bin =
            process::resolve_bin(settings.codex_bin.as_deref(), "codex").ok_or_else(|| {
                ProviderError::Unavailable(match &settings.codex_bin {
                    Some(p) => format!("codex binary {p} does not exist"),
                    None => "`codex` not found on PATH (set BATON_CODEX_BIN)".into(),
                })
            })?;
        let mut child = process::spawn(&bin, &app_server_args(), None).map_err(|e| {
            ProviderError::Unavailable(format!("cannot start {} app-server: {e}", bin.display()))
        })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(ProviderError::Unavailable(
                "codex stdio was not piped".into(),
            ));
        };
        process::log_stderr("codex", stderr);
        let (peer, incoming) = rpc::spawn(stdout, stdin, PeerOptions::provider("codex"));
        let (exit_tx, exit_rx) = tokio::sync::watch::channel(false);
        let server = Arc::new(CodexServer {
            peer,
            routes: StdMutex::new(HashMap::new()),
            file_items: StdMutex::new(HashMap::new()),
            last_used: StdMutex::new(Instant::now()),
            dead: AtomicBool::new(false),
            retiring: AtomicBool::new(false),
            exited: exit_rx,
            include_raw: settings.include_raw.clone(),
            last_rate_limits: StdMutex::new(None),
            pending_notices: StdMutex::new(Vec::new()),
        });
        tokio::spawn(route_incoming(server.clone(), incoming));
        tokio::spawn(watch_exit(server.clone(), child, exit_tx));
        let init = tokio::time::timeout(
            REQUEST_TIMEOUT,
            server.peer.request(
                "initialize",
                json!({
                    "clientInfo": {"name": "baton", "title": "baton", "version": env!("CARGO_PKG_VERSION")},
                    "capabilities": {"experimentalApi": true},
                }),
            ),
        )
        .await;
        match init {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                server.kill();
                return Err(ProviderError::Unavailable(format!(
                    "codex app-server failed to initialize: {}",
                    e.message
                )));
            }
            Err(_) => {
                server.kill();
                return Err(ProviderError::Unavailable(
                    "codex app-server did not answer initialize".into(),
                ));
            }
        }
        server
            .peer
            .notify("initialized", json!({}))
            .await
            .map_err(|e| ProviderError::Unavailable(e.message))?;
        tracing::info!(bin = %bin.display(), "codex app-server started");
        Ok(server)
    }

    pub fn usable(&self) -> bool {
        !self.dead.load(Ordering::SeqCst) && !self.retiring.load(Ordering::SeqCst)
    }

    pub fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    /// Routes a thread's messages to `sink`; returns the thread's compaction state.
    pub fn register(
        &self,
        native_id: &str,
        sink: EventSink,
        rollout: Option<PathBuf>,
    ) -> Arc<Compaction> {
        self.touch();
        let compaction = Arc::new(Compaction {
            rollout,
            manual: AtomicBool::new(false),
            seen: AtomicUsize::new(0),
        });
        let pending = std::mem::take(&mut *lock(&self.pending_notices));
        if !pending.is_empty() {
            let sink = sink.clone();
            tokio::spawn(async move {
                for body in pending {
                    sink.send(ProviderEvent::Event {
                        body,
                        native_turn: None,
                        item_id: None,
                        raw: None,
                    })
                    .await;
                }
            });
        }
        lock(&self.routes).insert(
            native_id.to_string(),
            Route {
                sink,
                compaction: compaction.clone(),
            },
        );
        compaction
    }

    pub fn unregister(&self, native_id: &str) {
        self.touch();
        lock(&self.routes).remove(native_id);
    }

    fn route(&self, native_id: &str) -> Option<Route> {
        lock(&self.routes).get(native_id).cloned()
    }

    pub async fn request(&self, method: &str, params: Value) -> Result<Value, ProviderError> {
        if self.dead.load(Ordering::SeqCst) || self.peer.is_closed() {
            return Err(ProviderError::Gone(
                "codex app-server is not running".into(),
            ));
        }
        self.touch();
        match tokio::time::timeout(REQUEST_TIMEOUT, self.peer.request(method, params)).await {
            Ok(r) => r.map_err(rpc_to_provider),
            Err(_) => Err(ProviderError::Failed(format!(
                "codex did not answer {method} in time"
            ))),
        }
    }

    fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
        let peer = self.peer.clone();
        tokio::spawn(async move { peer.close().await });
    }

    /// Retires the process when no thread has used it for `idle`.
    pub fn watch_idle(
        self: &Arc<Self>,
        pool: Arc<Mutex<Option<Arc<CodexServer>>>>,
        idle: Duration,
    ) {
        let server = Arc::downgrade(self);
        let tick = (idle / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(tick).await;
                let Some(s) = server.upgrade() else { return };
                if s.dead.load(Ordering::SeqCst) {
                    return;
                }
                let mut current = pool.lock().await;
                let idle_now = lock(&s.routes).is_empty() && lock(&s.last_used).elapsed() >= idle;
                if idle_now {
                    s.retiring.store(true, Ordering::SeqCst);
                    if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, &s)) {
                        *current = None;
                    }
                    drop(current);
                    tracing::info!("codex app-server idle; closing it");
                    s.shutdown(Duration::from_secs(2)).await;
                    return;
                }
            }
        });
    }

    /// Closes stdin and waits for the exit; kills after `grace`.
    pub async fn shutdown(&self, grace: Duration) {
        self.retiring.store(true, Ordering::SeqCst);
        lock(&self.routes).clear();
        self.peer.close().await;
        let mut exited = self.exited.clone();
        let waited = tokio::time::timeout(grace, exited.wait_for(|e| *e)).await;
        if waited.is_err() {
            tracing::warn!("codex app-server did not exit after stdin closed; killing it");
            self.dead.store(true, Ordering::SeqCst);
            // Dropping the last handle of the child kills it (kill_on_drop); watch_exit owns it and
            // is told to give up through `dead`.
        }
    }
}

/// Routes each message of the process to the thread it names; process-wide ones (no `threadId`)
/// go to every thread using the process.
async fn route_incoming(server: Arc<CodexServer>, mut incoming: mpsc::Receiver<Incoming>) {
    while let Some(msg) = incoming.recv().await {
        match msg {
            Incoming::Notification { method, params } => {
                remember_file_changes(&server, &method, &params);
                let mut events = mapping::map_notification(&method, &params);
                if server.include_raw.load(Ordering::Relaxed) {
                    for ev in &mut events {
                        if let ProviderEvent::Event { raw, .. } = ev {
                            *raw = Some(json!({"method": method, "params": params}));
                        }
                    }
                }
                match params.get("threadId").and_then(Value::as_str) {
                    Some(thread) => deliver(&server, thread, &method, &params, events).await,
                    None => broadcast(&server, &method, &params, events).await,
                }
            }
            Incoming::Request { id, method, params } => {
                handle_request(&server, id, &method, params).await;
            }
        }
    }
}

/// Sends a thread's events, with the compaction events an item of the thread implies.
async fn deliver(
    server: &CodexServer,
    thread: &str,
    method: &str,
    params: &Value,
    events: Vec<ProviderEvent>,
) {
    let Some(route) = server.route(thread) else {
        tracing::debug!(method, thread, "codex notification for an unrouted thread");
        return;
    };
    let sink = route.sink;
    let compaction = if method.starts_with("item/") {
        compaction_event(&route.compaction, method, params).await
    } else {
        None
    };
    let started = matches!(compaction, Some((true, _)));
    if started {
        sink.send(compaction_body(compaction.as_ref())).await;
    }
    for ev in events {
        sink.send(ev).await;
    }
    if let (false, Some(_)) = (started, &compaction) {
        sink.send(compaction_body(compaction.as_ref())).await;
    }
}

/// Process-wide notifications (config warnings, rate limits, MCP server status): every thread
/// using the process gets them. Warnings that arrive before any thread is routed (codex checks
/// its config while the first thread starts) are held for the next thread that registers.
async fn broadcast(server: &CodexServer, method: &str, params: &Value, events: Vec<ProviderEvent>) {
    let events: Vec<ProviderEvent> = events
        .into_iter()
        .filter(|e| matches!(e, ProviderEvent::Event { .. }))
        .collect();
    if events.is_empty() {
        return;
    }
    if method == "account/rateLimits/updated" {
        let mut last = lock(&server.last_rate_limits);
        if last.as_ref() == params.get("rateLimits") {
            return;
        }
        *last = params.get("rateLimits").cloned();
    }
    let sinks: Vec<EventSink> = lock(&server.routes)
        .values()
        .map(|r| r.sink.clone())
        .collect();
    if sinks.is_empty() {
        let mut pending = lock(&server.pending_notices);
        for ev in events {
            if let ProviderEvent::Event {
                body: body @ EventBody::RuntimeWarning(_),
                ..
            } = ev
                && pending.len() < PENDING_NOTICES
            {
                pending.push(body);
            }
        }
        return;
    }
    for sink in sinks {
        for ev in events.iter().filter_map(ProviderEvent::duplicate) {
            sink.send(ev).await;
        }
    }
}

/// How many process-wide warnings are held for a thread that has not registered yet.
const PENDING_NOTICES: usize = 8;

fn remember_file_changes(server: &CodexServer, method: &str, params: &Value) {
    let Some(item) = params.get("item") else {
        return;
    };
    if item.get("type").and_then(Value::as_str) != Some("fileChange") {
        return;
    }
    let Some(id) = item.get("id").and_then(Value::as_str) else {
        return;
    };
    let mut items = lock(&server.file_items);
    if method == "item/started" {
        items.insert(id.to_string(), mapping::file_changes(item.get("changes")));
    } else if method == "item/completed" {
        items.remove(id);
    }
}

/// Answers a request Codex sends: approvals and questions go to the thread (and so the editor),
/// the rest are answered here as the coverage table says. Every request gets exactly one answer.
async fn handle_request(server: &Arc<CodexServer>, id: RequestId, method: &str, params: Value) {
    let reply = |result: Result<Value, RpcError>| {
        let peer = server.peer.clone();
        let id = id.clone();
        async move {
            let _ = peer.respond(id, result).await;
        }
    };
    let kind = match method {
        "item/commandExecution/requestApproval" => ApprovalKind::Command,
        "item/fileChange/requestApproval" => ApprovalKind::FileChange,
        "item/permissions/requestApproval" => ApprovalKind::Other,
        "item/tool/requestUserInput" => {
            return ask_input(server, id, params).await;
        }
        "currentTime/read" => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            return reply(Ok(json!({"currentTimeAt": now}))).await;
        }
        "mcpServer/elicitation/request" => {
            return reply(Ok(json!({"action": "decline", "content": null}))).await;
        }
        "applyPatchApproval" | "execCommandApproval" => {
            return reply(Ok(json!({"decision": "denied"}))).await;
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
            return reply(Err(error)).await;
        }
    };
    let decline = || {
        if kind == ApprovalKind::Other {
            json!({"permissions": {}, "scope": "turn"})
        } else {
            json!({"decision": "decline"})
        }
    };
    let thread = params.get("threadId").and_then(Value::as_str).unwrap_or("");
    let Some(sink) = server.route(thread).map(|r| r.sink) else {
        return reply(Ok(decline())).await;
    };
    let s = |k: &str| params.get(k).and_then(Value::as_str).map(str::to_string);
    let changes = s("itemId").and_then(|i| lock(&server.file_items).get(&i).cloned());
    let command = s("command");
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
    let ask = ApprovalAsk {
        kind,
        title,
        command,
        cwd: s("cwd"),
        changes,
        reason: s("reason"),
    };
    let (tx, rx) = oneshot::channel();
    let native_turn = s("turnId");
    if !sink
        .send(ProviderEvent::Approval {
            ask,
            native_turn,
            reply: tx,
        })
        .await
    {
        return reply(Ok(decline())).await;
    }
    let peer = server.peer.clone();
    let requested = params.get("permissions").cloned().unwrap_or(json!({}));
    tokio::spawn(async move {
        let decision = rx.await.unwrap_or(ApprovalDecision::Decline);
        let answer = if kind == ApprovalKind::Other {
            match decision {
                ApprovalDecision::Accept => json!({"permissions": requested, "scope": "turn"}),
                ApprovalDecision::AcceptForSession => {
                    json!({"permissions": requested, "scope": "session"})
                }
                _ => json!({"permissions": {}, "scope": "turn"}),
            }
        } else {
            json!({"decision": decision.as_str()})
        };
        let _ = peer.respond(id, Ok(answer)).await;
    });
}

/// `item/tool/requestUserInput`: the questions go to the editor as `input/request`; the answers
/// come back as `{answers:{<id>:{answers:[…]}}}`. A cancel answers no question.
async fn ask_input(server: &Arc<CodexServer>, id: RequestId, params: Value) {
    let thread = params.get("threadId").and_then(Value::as_str).unwrap_or("");
    let peer = server.peer.clone();
    let no_answers = json!({"answers": {}});
    let Some(sink) = server.route(thread).map(|r| r.sink) else {
        let _ = peer.respond(id, Ok(no_answers)).await;
        return;
    };
    let questions = mapping::input_questions(params.get("questions"));
    let native_turn = params
        .get("turnId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let (tx, rx) = oneshot::channel();
    if !sink
        .send(ProviderEvent::Input {
            questions,
            native_turn,
            reply: tx,
        })
        .await
    {
        let _ = peer.respond(id, Ok(no_answers)).await;
        return;
    }
    tokio::spawn(async move {
        let answer = match rx.await {
            Ok(r) if !r.is_cancel() => {
                let answers: serde_json::Map<String, Value> = r
                    .answers
                    .into_iter()
                    .map(|(q, a)| (q, json!({"answers": a})))
                    .collect();
                json!({"answers": answers})
            }
            _ => no_answers,
        };
        let _ = peer.respond(id, Ok(answer)).await;
    });
}

/// Waits for the process to exit; tells every thread still using it that its session crashed.
async fn watch_exit(
    server: Arc<CodexServer>,
    mut child: Child,
    exit_tx: tokio::sync::watch::Sender<bool>,
) {
    let status = loop {
        tokio::select! {
            status = child.wait() => break status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            _ = tokio::time::sleep(Duration::from_millis(250)) => {
                if server.dead.load(Ordering::SeqCst) {
                    let _ = child.kill().await;
                }
            }
        }
    };
    server.dead.store(true, Ordering::SeqCst);
    let _ = exit_tx.send(true);
    let sinks: Vec<EventSink> = lock(&server.routes).drain().map(|(_, r)| r.sink).collect();
    if !sinks.is_empty() {
        tracing::warn!(%status, threads = sinks.len(), "codex app-server exited unexpectedly");
    }
    for sink in sinks {
        sink.send(ProviderEvent::Exited {
            reason: ExitReason::Crashed,
            message: Some(format!("codex app-server exited ({status})")),
        })
        .await;
    }
}

/// Where a thread's messages go, and its compaction state.
#[derive(Clone)]
pub struct Route {
    sink: EventSink,
    compaction: Arc<Compaction>,
}

/// Compaction bookkeeping of one Codex thread. Codex does not put the summary in any
/// notification: it appends `{"type":"compacted","payload":{"message":…}}` to the thread's
/// rollout file, so the summary is read from there once the compaction item completes.
pub struct Compaction {
    rollout: Option<PathBuf>,
    /// Set by `thread/compact/start`; a compaction without it was Codex's own (auto).
    pub manual: AtomicBool,
    /// How many `compacted` records the rollout had when the compaction started.
    seen: AtomicUsize,
}

/// The `compacted` records of a rollout file, oldest first.
async fn compacted_records(path: &PathBuf) -> Vec<String> {
    let Ok(text) = tokio::fs::read_to_string(path).await else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| l.contains("\"compacted\""))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("compacted"))
        .filter_map(|v| {
            v.get("payload")
                .and_then(|p| p.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect()
}

/// `Some((true, body))` when a compaction item starts, `Some((false, body))` when it completes.
async fn compaction_event(
    state: &Compaction,
    method: &str,
    params: &Value,
) -> Option<(bool, EventBody)> {
    let item = params.get("item")?;
    if item.get("type").and_then(Value::as_str) != Some("contextCompaction") {
        return None;
    }
    let trigger = if state.manual.load(Ordering::SeqCst) {
        CompactionTrigger::Manual
    } else {
        CompactionTrigger::Auto
    };
    match method {
        "item/started" => {
            if let Some(path) = &state.rollout {
                state
                    .seen
                    .store(compacted_records(path).await.len(), Ordering::SeqCst);
            }
            Some((
                true,
                EventBody::CompactionStarted(CompactionStarted { trigger }),
            ))
        }
        "item/completed" => {
            state.manual.store(false, Ordering::SeqCst);
            let Some(path) = &state.rollout else {
                return Some((
                    false,
                    failed("codex did not say where the thread's rollout file is"),
                ));
            };
            let seen = state.seen.load(Ordering::SeqCst);
            // The record is written around the time the item completes: wait for it briefly.
            for _ in 0..30 {
                let records = compacted_records(path).await;
                if records.len() > seen {
                    let summary = records.last().cloned().unwrap_or_default();
                    return Some((
                        false,
                        EventBody::CompactionCompleted(CompactionCompleted {
                            summary,
                            trigger,
                            pre_tokens: None,
                            post_tokens: None,
                        }),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Some((
                false,
                failed(
                    "codex compacted the thread but its summary was not found in the rollout file",
                ),
            ))
        }
        _ => None,
    }
}

fn failed(error: &str) -> EventBody {
    EventBody::CompactionFailed(CompactionFailed {
        error: error.into(),
    })
}

fn compaction_body(c: Option<&(bool, EventBody)>) -> ProviderEvent {
    let body = c
        .map(|(_, b)| b.clone())
        .unwrap_or_else(|| failed("no compaction"));
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id: None,
        raw: None,
    }
}
