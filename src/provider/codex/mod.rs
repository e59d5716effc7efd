//! The Codex provider: threads on the real `codex app-server` (JSONL JSON-RPC over stdio).
//!
//! One `codex app-server` process serves every baton thread (it multiplexes threads by id): a
//! [`Host`] runs it, routes its messages by `threadId`, stops it after no thread has used it for
//! the idle timeout and respawns it on demand. The resume cursor is the Codex thread id;
//! `thread/resume` reloads it.

mod compaction;
pub mod coverage;
pub(crate) mod mapping;
mod server;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use baton_protocol::{ProviderCapabilities, TurnMode};
use serde_json::{Value, json};

use super::child::ChildSpec;
use super::discovery::resolve_bin;
use super::host::{Connection, Host, Launcher, Transport};
use super::{EventSink, ProviderError, ProviderSettings, SessionConfig, Started};
use compaction::Compaction;
use server::CodexAgent;

/// What Codex supports, as `provider/list` reports it.
pub const CAPABILITIES: ProviderCapabilities = ProviderCapabilities {
    compact: true,
    resume: true,
    interrupt: true,
    approvals: true,
    in_session_model_switch: true,
};

/// The binary looked up on PATH when no path is configured.
pub const BIN_NAME: &str = "codex";

/// How long each kind of request may take before baton gives up on it. `turn/start` answers
/// once the turn is accepted (the turn itself runs on, reported by notifications).
const THREAD_TIMEOUT: Duration = Duration::from_secs(60);
const TURN_TIMEOUT: Duration = Duration::from_secs(60);
const INTERRUPT_TIMEOUT: Duration = Duration::from_secs(30);
const COMPACT_TIMEOUT: Duration = Duration::from_secs(60);
const UNSUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Owns the shared `codex app-server` process, spawning it when needed.
#[derive(Clone)]
pub struct CodexPool {
    host: Arc<Host<CodexAgent>>,
}

impl CodexPool {
    pub fn new(settings: Arc<ProviderSettings>) -> Self {
        let explicit = settings.codex_bin.clone();
        let extra = settings.codex_extra.clone();
        let launch = Transport::launcher(move || {
            let bin = resolve_bin(explicit.as_deref(), BIN_NAME).ok_or_else(|| {
                ProviderError::Unavailable(match &explicit {
                    Some(p) => format!("codex binary {p} does not exist"),
                    None => "`codex` not found on PATH (set BATON_CODEX_BIN)".into(),
                })
            })?;
            // Threads are unloaded as soon as baton unsubscribes from them: a loaded thread keeps
            // its "active writer" claim in CODEX_HOME, so another window's codex could not
            // resume it after a `thread/takeover` until this process exits. The config file's
            // leading arguments and env come first.
            let mut args = extra.args.clone();
            args.extend(["app-server", "-c", "thread_unload_delay_secs=0"].map(String::from));
            let mut spec = ChildSpec::new("codex", bin, args);
            spec.env = extra.env.clone();
            Ok(spec)
        });
        Self::with_launcher(&settings, launch)
    }

    /// A pool whose processes come from `launch` (tests use in-memory pipes).
    pub fn with_launcher(settings: &ProviderSettings, launch: Launcher) -> Self {
        let agent = Arc::new(CodexAgent::new(settings.include_raw.clone()));
        CodexPool {
            host: Arc::new(Host::new(
                "codex",
                agent,
                launch,
                settings.process_idle_timeout,
            )),
        }
    }

    /// Starts a fresh Codex thread, or resumes `config.resume`. A cursor Codex no longer knows
    /// falls back to a fresh thread with a warning naming the lost cursor.
    pub async fn start(
        &self,
        config: SessionConfig,
        sink: EventSink,
    ) -> Result<(CodexSession, Started), ProviderError> {
        let server = self.host.connection().await?;
        tracing::debug!(thread = %config.thread_id, resume = ?config.resume, "starting a codex session");
        let mut overrides = json!({ "cwd": config.cwd });
        if let Some(m) = &config.model {
            overrides["model"] = json!(m);
        }
        if let Some(p) = config.approval_policy {
            overrides["approvalPolicy"] = json!(p.as_str());
        }
        if let Some(s) = config.sandbox {
            overrides["sandbox"] = json!(s.as_str());
        }
        let mut warning = None;
        let mut resumed = None;
        if let Some(cursor) = &config.resume {
            let mut params = overrides.clone();
            params["threadId"] = json!(cursor);
            params["excludeTurns"] = json!(true);
            match resume(&server, params).await {
                Ok(result) => resumed = Some(result),
                Err(ProviderError::Failed(msg)) if is_lost_cursor(&msg) => {
                    warning = Some(format!(
                        "codex no longer has thread {cursor} ({msg}); started a fresh codex thread without its history"
                    ));
                }
                Err(e) => return Err(e),
            }
        }
        let was_resumed = resumed.is_some();
        let result = match resumed {
            Some(r) => r,
            None => {
                server
                    .request("thread/start", overrides, Some(THREAD_TIMEOUT))
                    .await?
            }
        };
        let native_id = result
            .get("thread")
            .and_then(|t| t.get("id"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ProviderError::Failed("codex thread/start returned no thread id".into())
            })?
            .to_string();
        let model = result
            .get("model")
            .and_then(Value::as_str)
            .map(str::to_string);
        let rollout = result
            .get("thread")
            .and_then(|t| t.get("path"))
            .and_then(Value::as_str)
            .map(std::path::PathBuf::from);
        let compaction = Arc::new(Compaction::new(rollout));
        self.host
            .agent()
            .serve(server.clone(), &native_id, sink, compaction.clone());
        Ok((
            CodexSession {
                server,
                native_id: native_id.clone(),
                compaction,
                model: model.clone(),
                // Codex keeps a thread's collaboration mode across resumes, and a resumed thread
                // may have ended in plan mode: its first plain turn names Default explicitly.
                plan_mode: Arc::new(AtomicBool::new(was_resumed)),
            },
            Started {
                native_id,
                resumed: was_resumed,
                model,
                warning,
            },
        ))
    }

    /// Closes the shared process: stdin first (Codex exits on EOF), then a kill after a grace period.
    pub async fn shutdown(&self) {
        self.host.shutdown().await;
    }
}

/// How long a resume waits for Codex to finish unloading the thread it is asked for.
const CLOSING_WAIT: Duration = Duration::from_secs(5);

/// `thread/resume`, retried while Codex is still unloading the thread: it unloads a thread as
/// soon as its last subscriber leaves (`thread_unload_delay_secs=0`), so a resume right after a
/// stop can find it "closing".
async fn resume(server: &Connection, params: Value) -> Result<Value, ProviderError> {
    let deadline = tokio::time::Instant::now() + CLOSING_WAIT;
    loop {
        match server
            .request("thread/resume", params.clone(), Some(THREAD_TIMEOUT))
            .await
        {
            Err(ProviderError::Failed(msg))
                if msg.contains("is closing") && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            r => return r,
        }
    }
}

/// How codex 0.169 words its answer when the thread a cursor names does not exist for it
/// (each observed: `thread/resume` of an id it has no rollout for, of a malformed id, and a
/// request naming a thread it does not know). Anything else, however it is worded, is a real
/// error and keeps the cursor: replacing it would throw the thread's history away.
const LOST_CURSOR_PREFIXES: &[&str] = &[
    "no rollout found for thread id ",
    "invalid session id: ",
    "thread not found: ",
];

/// Codex's answer when a thread's history points at a rollout that is gone (a forked thread
/// whose source was deleted): "invalid paginated history lineage for <id>: missing source
/// rollout".
const LOST_LINEAGE: (&str, &str) = (
    "invalid paginated history lineage for ",
    "missing source rollout",
);

/// True when codex's error says the cursor's thread is unknown to it, and nothing else.
fn is_lost_cursor(msg: &str) -> bool {
    let msg = msg.trim();
    LOST_CURSOR_PREFIXES.iter().any(|p| msg.starts_with(p))
        || (msg.starts_with(LOST_LINEAGE.0) && msg.ends_with(LOST_LINEAGE.1))
}

/// The live Codex thread of one baton thread.
#[derive(Clone)]
pub struct CodexSession {
    server: Arc<Connection>,
    native_id: String,
    compaction: Arc<Compaction>,
    /// The model Codex reported for the thread (a collaboration mode must name one).
    model: Option<String>,
    /// The thread may be in plan mode (the last turn ran in it, or the thread was resumed);
    /// Codex keeps the mode, so the next default turn resets it.
    plan_mode: Arc<AtomicBool>,
}

impl CodexSession {
    pub async fn send_turn(
        &self,
        text: String,
        model: Option<String>,
        mode: TurnMode,
    ) -> Result<String, ProviderError> {
        let mut params = json!({
            "threadId": self.native_id,
            "input": [{"type": "text", "text": text}],
        });
        let plan = mode == TurnMode::Plan;
        if plan || self.plan_mode.load(Ordering::SeqCst) {
            let model = model
                .clone()
                .or_else(|| self.model.clone())
                .unwrap_or_default();
            params["collaborationMode"] = json!({
                "mode": if plan { "plan" } else { "default" },
                "settings": {"model": model, "developer_instructions": null},
            });
        }
        if let Some(m) = model {
            params["model"] = json!(m);
        }
        let result = self
            .server
            .request("turn/start", params, Some(TURN_TIMEOUT))
            .await?;
        self.plan_mode.store(plan, Ordering::SeqCst);
        result
            .get("turn")
            .and_then(|t| t.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ProviderError::Failed("codex turn/start returned no turn id".into()))
    }

    pub async fn interrupt(&self, native_turn: Option<String>) -> Result<(), ProviderError> {
        let Some(turn_id) = native_turn else {
            return Err(ProviderError::Failed(
                "codex has not started the turn yet".into(),
            ));
        };
        // Right after turn/start Codex may not have begun the turn yet and answers "no active
        // turn": an interrupt the user sent that early must still land, so retry briefly.
        let params = json!({"threadId": self.native_id, "turnId": turn_id});
        let mut attempts = 0;
        loop {
            match self
                .server
                .request("turn/interrupt", params.clone(), Some(INTERRUPT_TIMEOUT))
                .await
            {
                Err(ProviderError::Failed(m)) if m.contains("no active turn") && attempts < 30 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                r => return r.map(|_| ()),
            }
        }
    }

    /// Starts a compaction; it runs as its own turn and reports `compaction.*` events.
    pub async fn compact(&self) -> Result<(), ProviderError> {
        self.compaction.manual.store(true, Ordering::SeqCst);
        let r = self
            .server
            .request(
                "thread/compact/start",
                json!({"threadId": self.native_id}),
                Some(COMPACT_TIMEOUT),
            )
            .await;
        if r.is_err() {
            self.compaction.manual.store(false, Ordering::SeqCst);
        }
        r.map(|_| ())
    }

    /// Unsubscribes from the thread; Codex keeps its rollout so it can be resumed.
    pub async fn stop(&self) {
        self.server.unregister(&self.native_id);
        let _ = self
            .server
            .request(
                "thread/unsubscribe",
                json!({"threadId": self.native_id}),
                Some(UNSUBSCRIBE_TIMEOUT),
            )
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::is_lost_cursor;

    #[test]
    fn only_codexs_unknown_thread_answers_are_lost_cursors() {
        // What codex 0.169 answers for a thread it does not have.
        for lost in [
            "no rollout found for thread id 01a22ac5-503c-7562-b23f-cd04d58a7123",
            "invalid session id: invalid character: expected an optional prefix of `urn:uuid:` followed by [0-9a-fA-F-], found `n` at 1",
            "invalid session id: invalid length: expected length 32 for simple format, found 0",
            "thread not found: 00000000-0000-4000-8000-0000000000ff",
            "invalid paginated history lineage for 01a22ac5-503c-7562-b23f-cd04d58a7123: missing source rollout",
        ] {
            assert!(is_lost_cursor(lost), "{lost}");
        }
        // Errors that merely mention something missing keep the cursor.
        for other in [
            "model not found: gpt-9",
            "file not found: /tmp/x",
            "Not Found",
            "404 page not found",
            "failed to read thread: thread-store internal error: failed to read session metadata /h/sessions/rollout-x.jsonl: rollout at /h/sessions/rollout-x.jsonl is empty",
            "rollout recorder failed: No space left on device (os error 28)",
            "the thread was not found in time",
            "unexpected status 500: no rollout found for thread id 1 (proxy said so)",
            "",
        ] {
            assert!(!is_lost_cursor(other), "{other}");
        }
    }
}
