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
use crate::provider::process;
use crate::provider::{ApprovalAsk, EventSink, ProviderError, ProviderEvent, ProviderSettings};
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
}

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another task panicked mid-update of a plain map; the map
    // itself is still usable, and baton must not crash over it.
    m.lock().unwrap_or_else(|e| e.into_inner())
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
        let mut child = process::spawn(&bin, &["app-server".to_string()], None).map_err(|e| {
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

/// Routes each message of the process to the thread it names.
async fn route_incoming(server: Arc<CodexServer>, mut incoming: mpsc::Receiver<Incoming>) {
    while let Some(msg) = incoming.recv().await {
        match msg {
            Incoming::Notification { method, params } => {
                let Some(thread) = params.get("threadId").and_then(Value::as_str) else {
                    tracing::debug!(method, "codex notification without thread");
                    continue;
                };
                let Some(route) = server.route(thread) else {
                    tracing::debug!(method, thread, "codex notification for an unrouted thread");
                    continue;
                };
                let sink = route.sink;
                remember_file_changes(&server, &method, &params);
                let compaction = compaction_event(&route.compaction, &method, &params).await;
                let mut ev = mapping::map_notification(&method, &params);
                if let (true, ProviderEvent::Event { raw, .. }) =
                    (server.include_raw.load(Ordering::Relaxed), &mut ev)
                {
                    *raw = Some(json!({"method": method, "params": params}));
                }
                let started = matches!(compaction, Some((true, _)));
                if started {
                    sink.send(compaction_body(compaction.as_ref())).await;
                }
                sink.send(ev).await;
                if let (false, Some(_)) = (started, &compaction) {
                    sink.send(compaction_body(compaction.as_ref())).await;
                }
            }
            Incoming::Request { id, method, params } => {
                handle_request(&server, id, &method, params).await;
            }
        }
    }
}

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

async fn handle_request(server: &Arc<CodexServer>, id: RequestId, method: &str, params: Value) {
    let kind = match method {
        "item/commandExecution/requestApproval" => ApprovalKind::Command,
        "item/fileChange/requestApproval" => ApprovalKind::FileChange,
        _ => {
            tracing::debug!(method, "unsupported codex request");
            let _ = server
                .peer
                .respond(id, Err(RpcError::method_not_found(method)))
                .await;
            return;
        }
    };
    let thread = params.get("threadId").and_then(Value::as_str).unwrap_or("");
    let Some(sink) = server.route(thread).map(|r| r.sink) else {
        let _ = server
            .peer
            .respond(id, Ok(json!({"decision": "decline"})))
            .await;
        return;
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
        ApprovalKind::Other => method.to_string(),
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
        let _ = server
            .peer
            .respond(id, Ok(json!({"decision": "decline"})))
            .await;
        return;
    }
    let peer = server.peer.clone();
    tokio::spawn(async move {
        let decision = rx.await.unwrap_or(ApprovalDecision::Decline);
        let _ = peer
            .respond(id, Ok(json!({"decision": decision.as_str()})))
            .await;
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
