//! The Claude Code provider: one `claude -p` stream-json process per live thread.
//!
//! The first start chooses the session id (`--session-id`), so the resume cursor is known before
//! the first turn; later starts pass `--resume`. When Claude has no conversation under the cursor
//! (it writes a session only once it had a turn, and it deletes old sessions) the session starts
//! again under the same id with a warning, never silently. baton does not guess where Claude keeps
//! the session file: Claude files it under the real path of its cwd and finds it from any cwd, so
//! only `--resume` itself can tell. The rooms: [`process`] spawns claude and reads its stdout
//! lines (mapped by [`mapping`]) and watches its exit; [`control`] is the control protocol
//! (requests both ways, ids, responses); [`permissions`] turns `can_use_tool` into approvals and
//! `AskUserQuestion` into `input/request`; this file starts sessions and drives turns.

mod control;
pub mod coverage;
pub(crate) mod mapping;
mod permissions;
mod process;
mod tools;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use baton_protocol::{EventBody, Item, ItemType, ProviderCapabilities, TurnMode, TurnStarted};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::child::ChildHandle;
use super::discovery::resolve_bin;
use super::{EventSink, ProviderError, ProviderEvent, ProviderSettings, SessionConfig, Started};
use crate::sync::lock;
use process::Mode;

/// What Claude Code supports, as `provider/list` reports it.
pub const CAPABILITIES: ProviderCapabilities = ProviderCapabilities {
    compact: true,
    resume: true,
    interrupt: true,
    approvals: true,
    in_session_model_switch: true,
};

/// The binary looked up on PATH when no path is configured.
pub const BIN_NAME: &str = "claude";

/// How long a soft stop waits for claude to exit after its stdin closed.
const STOP_GRACE: Duration = Duration::from_secs(2);

struct Inner {
    /// Lines to claude's stdin; `None` closes it.
    out: mpsc::Sender<Option<String>>,
    control: control::Control,
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
    child: ChildHandle,
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
    let bin = resolve_bin(settings.claude_bin.as_deref(), BIN_NAME).ok_or_else(|| {
        ProviderError::Unavailable(match &settings.claude_bin {
            Some(p) => format!("claude binary {p} does not exist"),
            None => "`claude` not found on PATH (set BATON_CLAUDE_BIN)".into(),
        })
    })?;
    let spawn = |mode| process::spawn(&bin, settings, &config, mode, sink.clone());
    let started = |session, native_id, resumed, warning| {
        let model = config.model.clone();
        let started = Started {
            native_id,
            resumed,
            model,
            warning,
        };
        Ok((session, started))
    };
    let mut warning = None;
    if let Some(cursor) = config.resume.clone() {
        match spawn(Mode::Resume(cursor.clone())).await {
            Ok(s) => return started(s, cursor, true, None),
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
        match spawn(Mode::New(cursor.clone())).await {
            Ok(s) => return started(s, cursor, false, Some(lost)),
            Err(e) => {
                tracing::debug!(thread = %config.thread_id, "claude refused session id {cursor} again: {e}");
                warning = Some(lost);
            }
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    let s = spawn(Mode::New(id.clone())).await?;
    started(s, id, false, warning)
}

impl ClaudeSession {
    async fn write(&self, v: Value) -> Result<(), ProviderError> {
        self.inner
            .out
            .send(Some(v.to_string()))
            .await
            .map_err(|_| ProviderError::Gone("claude is not running".into()))
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
        // Claude does not echo the user's message: the turn's start and the message are told
        // from the line baton writes, which is also their raw message.
        let line = user_message(&text);
        let sent = |body| self.sent_event(body, &line);
        let sink = &self.inner.sink;
        sink.send(sent(EventBody::TurnStarted(TurnStarted { model: None })))
            .await;
        let user = Item {
            text: Some(text.clone()),
            ..Item::new(ItemType::UserMessage)
        };
        let user_id = format!("user-{}", uuid::Uuid::new_v4());
        for body in [
            EventBody::ItemStarted(user.clone()),
            EventBody::ItemCompleted(user),
        ] {
            let mut ev = sent(body);
            if let ProviderEvent::Event { item_id, .. } = &mut ev {
                *item_id = Some(user_id.clone());
            }
            sink.send(ev).await;
        }
        self.write(line).await
    }

    /// An event told from a line baton sends claude, with that line as its raw message when
    /// the editor asked for raw messages.
    fn sent_event(&self, body: EventBody, line: &Value) -> ProviderEvent {
        let mut ev = event(body, None);
        if self.inner.include_raw.load(Ordering::Relaxed) {
            ev.set_raw(line);
        }
        ev
    }

    pub async fn interrupt(&self) -> Result<(), ProviderError> {
        self.inner.interrupted.store(true, Ordering::SeqCst);
        self.control(json!({"subtype": "interrupt"}))
            .await
            .map(|_| ())
            .map_err(ProviderError::Failed)
    }

    /// Closes stdin, waits briefly for the exit, then kills claude's process group.
    pub async fn stop(&self) {
        self.inner.stopping.store(true, Ordering::SeqCst);
        let out = self.inner.out.clone();
        let close = async move {
            let _ = out.send(None).await;
        };
        self.inner.child.stop(close, STOP_GRACE).await;
    }

    /// Changes the model of the live session (`set_model` control request).
    pub async fn set_model(&self, model: &str) -> Result<(), ProviderError> {
        self.control(json!({"subtype": "set_model", "model": model}))
            .await
            .map(|_| ())
            .map_err(ProviderError::Failed)
    }

    /// Starts a compaction with `/compact [instructions]`. Claude has no control request for
    /// it: the command is a user message, and its progress and summary come back on stdout
    /// (see [`mapping`]).
    pub async fn compact(&self, instructions: Option<String>) -> Result<(), ProviderError> {
        self.inner.interrupted.store(false, Ordering::SeqCst);
        self.inner.compact_requested.store(true, Ordering::SeqCst);
        // Like Codex, the compaction runs as a turn of its own, so the thread shows it running.
        let command = match instructions.filter(|i| !i.trim().is_empty()) {
            Some(i) => format!("/compact {i}"),
            None => "/compact".to_string(),
        };
        let line = user_message(&command);
        let started = EventBody::TurnStarted(TurnStarted { model: None });
        self.inner.sink.send(self.sent_event(started, &line)).await;
        self.write(line).await
    }
}

/// A user message line of stream-json.
fn user_message(text: &str) -> Value {
    json!({
        "type": "user",
        "message": {"role": "user", "content": text},
        "parent_tool_use_id": null,
        "session_id": "",
    })
}

fn event(body: EventBody, item_id: Option<String>) -> ProviderEvent {
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id,
        raw: None,
    }
}
