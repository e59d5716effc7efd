//! The Claude Code provider: one `claude -p` stream-json process per live thread.
//!
//! The first start chooses the session id (`--session-id`), so the resume cursor is known before
//! the first turn; later starts pass `--resume`. When Claude has no conversation under the cursor
//! (it writes a session only once it had a turn, and it deletes old sessions) the session starts
//! again under the same id with a warning, never silently. baton does not guess where Claude keeps
//! the session file: Claude files it under the real path of its cwd and finds it from any cwd, so
//! only `--resume` itself can tell. stdout lines are mapped by [`mapping`]; control requests
//! (`can_use_tool`, `hook_callback`) and our own control requests (`initialize`, `interrupt`,
//! `set_model`) are correlated here.

mod control;
pub mod coverage;
pub(crate) mod mapping;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use baton_protocol::{
    ApprovalDecision, ApprovalKind, ApprovalPolicy, EventBody, ExitReason, Item, ItemType,
    RuntimeWarning, TurnMode, TurnStarted,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr};
use tokio::sync::{mpsc, oneshot, watch};

use super::{
    ApprovalAsk, EventSink, ProviderError, ProviderEvent, ProviderSettings, SessionConfig, Started,
    process,
};

const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a soft stop waits for claude to exit after its stdin closed.
const STOP_GRACE: Duration = Duration::from_secs(2);

fn lock<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned map is still a valid map; baton must not crash over it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

type Pending = StdMutex<HashMap<String, oneshot::Sender<Result<Value, String>>>>;

struct Inner {
    out: mpsc::Sender<Option<String>>,
    pending: Pending,
    next_request: AtomicU64,
    stopping: AtomicBool,
    /// False until the initialize handshake succeeded. Before that, stdout belongs to the start:
    /// a resume Claude refuses prints a failed `result`, which is the start's error, not a turn.
    ready: AtomicBool,
    /// The errors of a `result` printed before the handshake (e.g. "No conversation found").
    startup_error: StdMutex<Option<String>>,
    interrupted: Arc<AtomicBool>,
    /// Set by `compact`; tells the mapping the next compaction is manual.
    compact_requested: AtomicBool,
    /// The session is in permission mode `plan` (set by a plan-mode turn).
    plan_mode: AtomicBool,
    allowed_tools: StdMutex<HashSet<String>>,
    auto_allow: bool,
    sink: EventSink,
    exited: watch::Receiver<bool>,
    kill: tokio::sync::Notify,
    stderr_tail: Arc<StdMutex<Vec<String>>>,
    include_raw: Arc<AtomicBool>,
}

/// The live Claude session of one thread.
#[derive(Clone)]
pub struct ClaudeSession {
    inner: Arc<Inner>,
}

/// Starts (or resumes) a session.
pub async fn start(
    settings: &ProviderSettings,
    config: SessionConfig,
    sink: EventSink,
) -> Result<(ClaudeSession, Started), ProviderError> {
    let bin = process::resolve_bin(settings.claude_bin.as_deref(), "claude").ok_or_else(|| {
        ProviderError::Unavailable(match &settings.claude_bin {
            Some(p) => format!("claude binary {p} does not exist"),
            None => "`claude` not found on PATH (set BATON_CLAUDE_BIN)".into(),
        })
    })?;
    let mut warning = None;
    if let Some(cursor) = config.resume.clone() {
        match spawn(
            &bin,
            settings,
            &config,
            Mode::Resume(cursor.clone()),
            sink.clone(),
        )
        .await
        {
            Ok(s) => {
                return Ok((
                    s,
                    Started {
                        native_id: cursor,
                        resumed: true,
                        model: config.model.clone(),
                        warning: None,
                    },
                ));
            }
            Err(ProviderError::Failed(msg)) if msg.contains("No conversation found") => {
                tracing::debug!(thread = %config.thread_id, "claude cannot resume {cursor}: {msg}");
            }
            Err(e) => return Err(e),
        }
        // A thread that never had a turn lost nothing, but baton cannot tell it from a session
        // Claude deleted, so both are reported.
        let lost = format!(
            "claude has no stored conversation for session {cursor} (claude stores a session only \
             after its first turn and deletes old ones); continuing in a fresh claude session \
             without that history"
        );
        // Keeping the id keeps the cursor stable; Claude refuses it only if some project still
        // holds a session under it, and then a new id will do.
        match spawn(
            &bin,
            settings,
            &config,
            Mode::New(cursor.clone()),
            sink.clone(),
        )
        .await
        {
            Ok(s) => {
                return Ok((
                    s,
                    Started {
                        native_id: cursor,
                        resumed: false,
                        model: config.model.clone(),
                        warning: Some(lost),
                    },
                ));
            }
            Err(e) => {
                tracing::debug!(thread = %config.thread_id, "claude refused session id {cursor} again: {e}");
                warning = Some(lost);
            }
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let s = spawn(&bin, settings, &config, Mode::New(id.clone()), sink).await?;
    Ok((
        s,
        Started {
            native_id: id,
            resumed: false,
            model: config.model.clone(),
            warning,
        },
    ))
}

enum Mode {
    New(String),
    Resume(String),
}

async fn spawn(
    bin: &PathBuf,
    settings: &ProviderSettings,
    config: &SessionConfig,
    mode: Mode,
    sink: EventSink,
) -> Result<ClaudeSession, ProviderError> {
    let mut args: Vec<String> = [
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        "--include-partial-messages",
        "--permission-prompt-tool",
        "stdio",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match &mode {
        Mode::New(id) => args.extend(["--session-id".to_string(), id.clone()]),
        Mode::Resume(id) => args.extend(["--resume".to_string(), id.clone()]),
    }
    if let Some(m) = &config.model {
        args.extend(["--model".to_string(), m.clone()]);
    }
    tracing::debug!(thread = %config.thread_id, ?args, "starting claude");
    let mut child = process::spawn(bin, &args, Some(&config.cwd))
        .map_err(|e| ProviderError::Unavailable(format!("cannot start {}: {e}", bin.display())))?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(ProviderError::Unavailable(
            "claude stdio was not piped".into(),
        ));
    };
    let stderr_tail = Arc::new(StdMutex::new(Vec::new()));
    let stderr_done = collect_stderr(stderr, stderr_tail.clone());
    let (out_tx, out_rx) = mpsc::channel::<Option<String>>(256);
    tokio::spawn(write_loop(stdin, out_rx));
    let (exit_tx, exit_rx) = watch::channel(false);
    let inner = Arc::new(Inner {
        out: out_tx,
        pending: StdMutex::new(HashMap::new()),
        next_request: AtomicU64::new(1),
        // Until the handshake succeeds an exit is a failed start, not a crash to report.
        stopping: AtomicBool::new(true),
        ready: AtomicBool::new(false),
        startup_error: StdMutex::new(None),
        interrupted: Arc::new(AtomicBool::new(false)),
        compact_requested: AtomicBool::new(false),
        plan_mode: AtomicBool::new(false),
        allowed_tools: StdMutex::new(HashSet::new()),
        auto_allow: config.approval_policy == Some(ApprovalPolicy::Never),
        sink,
        exited: exit_rx,
        kill: tokio::sync::Notify::new(),
        stderr_tail,
        include_raw: settings.include_raw.clone(),
    });
    let session = ClaudeSession {
        inner: inner.clone(),
    };
    let stdout_done = tokio::spawn(read_loop(session.clone(), stdout));
    tokio::spawn(watch_exit(session.clone(), child, exit_tx));
    // The initialize handshake proves the process is up (and, for --resume, that the session
    // exists: claude exits at once when it does not).
    match session
        .control(json!({"subtype": "initialize", "hooks": {}}))
        .await
    {
        Ok(_) => {
            session.inner.ready.store(true, Ordering::SeqCst);
            session.inner.stopping.store(false, Ordering::SeqCst);
            Ok(session)
        }
        Err(e) => {
            session.inner.stopping.store(true, Ordering::SeqCst);
            session.inner.kill.notify_one();
            let mut exited = session.inner.exited.clone();
            let _ = tokio::time::timeout(Duration::from_secs(2), exited.wait_for(|e| *e)).await;
            // The process is gone; its last words may still sit in the pipes. Read them before
            // judging why the start failed.
            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                let _ = stdout_done.await;
                let _ = stderr_done.await;
            })
            .await;
            let mut why = vec![e];
            why.extend(lock(&session.inner.startup_error).take());
            let tail = lock(&session.inner.stderr_tail).join("\n");
            if !tail.is_empty() {
                why.push(tail);
            }
            Err(ProviderError::Failed(why.join(": ")))
        }
    }
}

fn collect_stderr(
    stderr: ChildStderr,
    tail: Arc<StdMutex<Vec<String>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "baton::provider::stderr", provider = "claude", "{line}");
            let mut t = lock(&tail);
            if t.len() >= 20 {
                t.remove(0);
            }
            t.push(line);
        }
    })
}

async fn write_loop(mut stdin: tokio::process::ChildStdin, mut rx: mpsc::Receiver<Option<String>>) {
    while let Some(msg) = rx.recv().await {
        let Some(mut line) = msg else { break };
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
    // Dropping stdin closes it: claude finishes and exits.
}

impl ClaudeSession {
    async fn write(&self, v: Value) -> Result<(), ProviderError> {
        self.inner
            .out
            .send(Some(v.to_string()))
            .await
            .map_err(|_| ProviderError::Gone("claude is not running".into()))
    }

    /// Sends a control request and waits for its response.
    async fn control(&self, request: Value) -> Result<Value, String> {
        let id = format!(
            "baton-{}",
            self.inner.next_request.fetch_add(1, Ordering::Relaxed)
        );
        let (tx, rx) = oneshot::channel();
        lock(&self.inner.pending).insert(id.clone(), tx);
        if self
            .write(json!({"type": "control_request", "request_id": id, "request": request}))
            .await
            .is_err()
        {
            lock(&self.inner.pending).remove(&id);
            return Err("claude is not running".into());
        }
        let mut exited = self.inner.exited.clone();
        tokio::select! {
            r = tokio::time::timeout(CONTROL_TIMEOUT, rx) => match r {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err("claude exited".into()),
                Err(_) => {
                    lock(&self.inner.pending).remove(&id);
                    Err("claude did not answer a control request in time".into())
                }
            },
            _ = exited.wait_for(|e| *e) => {
                lock(&self.inner.pending).remove(&id);
                Err("claude exited".into())
            }
        }
    }

    pub async fn send_turn(&self, text: String, mode: TurnMode) -> Result<(), ProviderError> {
        let plan = mode == TurnMode::Plan;
        if plan != self.inner.plan_mode.load(Ordering::SeqCst) {
            let mode = if plan { "plan" } else { "default" };
            self.control(json!({"subtype": "set_permission_mode", "mode": mode}))
                .await
                .map_err(ProviderError::Failed)?;
            self.inner.plan_mode.store(plan, Ordering::SeqCst);
        }
        self.inner.interrupted.store(false, Ordering::SeqCst);
        let sink = &self.inner.sink;
        sink.send(event(
            EventBody::TurnStarted(TurnStarted { model: None }),
            None,
        ))
        .await;
        let user = Item {
            text: Some(text.clone()),
            ..Item::new(ItemType::UserMessage)
        };
        let user_id = Some(format!("user-{}", uuid::Uuid::new_v4()));
        sink.send(event(EventBody::ItemStarted(user.clone()), user_id.clone()))
            .await;
        sink.send(event(EventBody::ItemCompleted(user), user_id))
            .await;
        self.write(json!({
            "type": "user",
            "message": {"role": "user", "content": text},
            "parent_tool_use_id": null,
            "session_id": "",
        }))
        .await
    }

    pub async fn interrupt(&self) -> Result<(), ProviderError> {
        self.inner.interrupted.store(true, Ordering::SeqCst);
        self.control(json!({"subtype": "interrupt"}))
            .await
            .map(|_| ())
            .map_err(ProviderError::Failed)
    }

    /// Closes stdin, waits briefly for the exit, then kills.
    pub async fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let _ = self.inner.out.send(None).await;
        let mut exited = self.inner.exited.clone();
        if tokio::time::timeout(STOP_GRACE, exited.wait_for(|e| *e))
            .await
            .is_err()
        {
            tracing::debug!("claude did not exit after stdin closed; killing it");
            self.inner.kill.notify_one();
            let _ = tokio::time::timeout(Duration::from_secs(2), exited.wait_for(|e| *e)).await;
        }
    }

    async fn answer(&self, request_id: &str, response: Value) {
        let _ = self
            .write(json!({"type": "control_response", "response": {"subtype": "success", "request_id": request_id, "response": response}}))
            .await;
    }

    async fn answer_error(&self, request_id: &str, error: &str) {
        let _ = self
            .write(json!({"type": "control_response", "response": {"subtype": "error", "request_id": request_id, "error": error}}))
            .await;
    }

    /// A control request from claude.
    async fn on_control_request(&self, msg: &Value) {
        let request_id = msg
            .get("request_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let request = msg.get("request").cloned().unwrap_or(Value::Null);
        let subtype = request.get("subtype").and_then(Value::as_str).unwrap_or("");
        match subtype {
            "can_use_tool" => self.on_can_use_tool(request_id, request).await,
            "hook_callback" => self.answer(&request_id, json!({})).await,
            "elicitation" => self.answer(&request_id, json!({"action": "decline"})).await,
            // Only sent for dialog kinds the host declared, and baton declares none; the SDK
            // says an undeclared kind must not be answered (claude cancels it on its deadline).
            "request_user_dialog" => {}
            other => {
                // Every other subtype in the table is answered with an error saying why.
                let why =
                    crate::provider::coverage::answer_reason(coverage::CONTROL_REQUESTS, other)
                        .unwrap_or_else(|| {
                            crate::provider::coverage::unknown("claude control_request", other);
                            "not supported by baton"
                        });
                self.answer_error(&request_id, &format!("{other}: {why}"))
                    .await;
            }
        }
    }

    /// `AskUserQuestion`: the questions go to the editor as `input/request`. Answered, the tool
    /// is allowed with the answers added to its input (keyed by question text, as the tool
    /// expects); cancelled, it is denied so the agent knows the user did not answer.
    async fn ask_user(&self, request_id: String, input: Value) {
        let questions = mapping::ask_user_questions(&input);
        let (tx, rx) = oneshot::channel();
        let sent = self
            .inner
            .sink
            .send(ProviderEvent::Input {
                questions: questions.clone(),
                native_turn: None,
                reply: tx,
            })
            .await;
        let declined =
            json!({"behavior": "deny", "message": "The user declined to answer these questions."});
        if !sent {
            return self.answer(&request_id, declined).await;
        }
        let session = self.clone();
        tokio::spawn(async move {
            let response = match rx.await {
                Ok(r) if !r.is_cancel() => {
                    let mut answers = serde_json::Map::new();
                    for q in &questions {
                        if let Some(a) = r.answers.get(&q.id).filter(|a| !a.is_empty()) {
                            answers.insert(q.question.clone(), json!(a.join(", ")));
                        }
                    }
                    let mut updated = input.clone();
                    if let Some(obj) = updated.as_object_mut() {
                        obj.insert("answers".into(), Value::Object(answers));
                    }
                    json!({"behavior": "allow", "updatedInput": updated})
                }
                _ => declined,
            };
            session.answer(&request_id, response).await;
        });
    }

    async fn on_can_use_tool(&self, request_id: String, request: Value) {
        let tool = request
            .get("tool_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let input = request.get("input").cloned().unwrap_or(json!({}));
        if tool == coverage::ASK_USER_TOOL {
            // A question, not an approval: asked even when the policy allows everything.
            return self.ask_user(request_id, input).await;
        }
        let allow = json!({"behavior": "allow", "updatedInput": input});
        if self.inner.auto_allow || lock(&self.inner.allowed_tools).contains(&tool) {
            return self.answer(&request_id, allow).await;
        }
        let item = mapping::tool_item(&tool, &input);
        let kind = match item.item_type {
            ItemType::Command => ApprovalKind::Command,
            ItemType::FileChange => ApprovalKind::FileChange,
            _ => ApprovalKind::Other,
        };
        let title = match kind {
            ApprovalKind::Command => {
                format!("Run `{}`", item.command.as_deref().unwrap_or("a command"))
            }
            ApprovalKind::FileChange => format!(
                "{tool} {}",
                item.changes
                    .as_ref()
                    .and_then(|c| c.first())
                    .map(|c| c.path.as_str())
                    .unwrap_or("a file")
            ),
            ApprovalKind::Other => format!("Use {tool}"),
        };
        let ask = ApprovalAsk {
            kind,
            title,
            command: item.command.clone(),
            cwd: None,
            changes: item.changes.clone(),
            reason: request
                .get("description")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        let (tx, rx) = oneshot::channel();
        if !self
            .inner
            .sink
            .send(ProviderEvent::Approval {
                ask,
                native_turn: None,
                reply: tx,
            })
            .await
        {
            return self
                .answer(
                    &request_id,
                    json!({"behavior": "deny", "message": "baton is shutting down"}),
                )
                .await;
        }
        let session = self.clone();
        tokio::spawn(async move {
            let decision = rx.await.unwrap_or(ApprovalDecision::Decline);
            let response = match decision {
                ApprovalDecision::Accept => allow,
                ApprovalDecision::AcceptForSession => {
                    lock(&session.inner.allowed_tools).insert(tool);
                    allow
                }
                ApprovalDecision::Decline => {
                    json!({"behavior": "deny", "message": "The user declined this action."})
                }
                ApprovalDecision::Cancel => {
                    json!({"behavior": "deny", "message": "The user declined this action and stopped the turn.", "interrupt": true})
                }
            };
            session.answer(&request_id, response).await;
        });
    }
}

fn event(body: EventBody, item_id: Option<String>) -> ProviderEvent {
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id,
        raw: None,
    }
}

async fn read_loop(session: ClaudeSession, stdout: tokio::process::ChildStdout) {
    let inner = &session.inner;
    let mut lines = BufReader::new(stdout).lines();
    let mut state = mapping::TurnState::default();
    loop {
        let line = match lines.next_line().await {
            Ok(Some(l)) => l,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("cannot read claude's stdout: {e}");
                break;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let msg: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(_) => {
                let shown: String = line.chars().take(200).collect();
                inner
                    .sink
                    .send(event(
                        EventBody::RuntimeWarning(RuntimeWarning {
                            message: format!("claude printed a line that is not JSON: {shown}"),
                        }),
                        None,
                    ))
                    .await;
                continue;
            }
        };
        match msg.get("type").and_then(Value::as_str) {
            Some("control_response") => {
                let resp = msg.get("response").cloned().unwrap_or(Value::Null);
                let id = resp.get("request_id").and_then(Value::as_str).unwrap_or("");
                if let Some(tx) = lock(&inner.pending).remove(id) {
                    let r = if resp.get("subtype").and_then(Value::as_str) == Some("error") {
                        Err(resp
                            .get("error")
                            .and_then(Value::as_str)
                            .unwrap_or("error")
                            .to_string())
                    } else {
                        Ok(resp.get("response").cloned().unwrap_or(Value::Null))
                    };
                    let _ = tx.send(r);
                }
            }
            Some("control_request") => session.on_control_request(&msg).await,
            Some("control_cancel_request") => {}
            _ if !inner.ready.load(Ordering::SeqCst) => {
                tracing::debug!("claude output before the handshake: {line}");
                if msg.get("type").and_then(Value::as_str) == Some("result") {
                    let errors: Vec<String> = msg
                        .get("errors")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|e| e.as_str().map(str::to_string))
                        .collect();
                    if !errors.is_empty() {
                        *lock(&inner.startup_error) = Some(errors.join("; "));
                    }
                }
            }
            _ => {
                state.interrupted = inner.interrupted.load(Ordering::SeqCst);
                if inner.compact_requested.swap(false, Ordering::SeqCst) {
                    state.compact_requested = true;
                }
                let is_result = msg.get("type").and_then(Value::as_str) == Some("result");
                let mut out = mapping::map_line(&msg, &mut state);
                if is_result {
                    inner.interrupted.store(false, Ordering::SeqCst);
                }
                if let (true, Some(ProviderEvent::Event { raw, .. })) =
                    (inner.include_raw.load(Ordering::Relaxed), out.last_mut())
                {
                    *raw = Some(msg.clone());
                }
                for ev in out {
                    if !inner.sink.send(ev).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Reports an exit nobody asked for as a crash, exactly once.
async fn watch_exit(session: ClaudeSession, mut child: Child, exit_tx: watch::Sender<bool>) {
    let status = tokio::select! {
        s = child.wait() => s.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
        _ = session.inner.kill.notified() => {
            let _ = child.kill().await;
            "killed".to_string()
        }
    };
    let _ = exit_tx.send(true);
    let waiters: Vec<_> = lock(&session.inner.pending)
        .drain()
        .map(|(_, w)| w)
        .collect();
    for w in waiters {
        let _ = w.send(Err("claude exited".into()));
    }
    if !session.inner.stopping.load(Ordering::SeqCst) {
        let tail = lock(&session.inner.stderr_tail).join("\n");
        let message = if tail.is_empty() {
            format!("claude exited ({status})")
        } else {
            format!("claude exited ({status}): {tail}")
        };
        tracing::warn!("{message}");
        session
            .inner
            .sink
            .send(ProviderEvent::Exited {
                reason: ExitReason::Crashed,
                message: Some(message),
            })
            .await;
    }
}
