//! The `claude -p` stream-json process of one session: spawn and handshake, the stdin writer,
//! the stdout reader (bounded like every other peer) and the exit watcher.

use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use baton_protocol::{ApprovalPolicy, EventBody, ExitReason, RuntimeWarning};
use serde_json::{Value, json};
use tokio::io::{AsyncBufRead, AsyncWriteExt, BufReader};
use tokio::process::ChildStdin;
use tokio::sync::mpsc;

use super::{ClaudeSession, Inner, control, event, lock, mapping};
use crate::provider::child::{self, ChildSpec};
use crate::provider::paced::Paced;
use crate::provider::{EventSink, ProviderError, ProviderEvent, ProviderSettings, SessionConfig};
use crate::rpc::codec::{WholeLine, read_whole_line};

pub(super) enum Mode {
    New(String),
    Resume(String),
}

pub(super) async fn spawn(
    bin: &Path,
    settings: &ProviderSettings,
    config: &SessionConfig,
    mode: Mode,
    sink: EventSink,
) -> Result<ClaudeSession, ProviderError> {
    let mut args: Vec<String> = settings.claude_extra.args.clone();
    args.extend(
        [
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
        .map(|s| s.to_string()),
    );
    match &mode {
        Mode::New(id) => args.extend(["--session-id".to_string(), id.clone()]),
        Mode::Resume(id) => args.extend(["--resume".to_string(), id.clone()]),
    }
    if let Some(m) = &config.model {
        args.extend(["--model".to_string(), m.clone()]);
    }
    tracing::debug!(thread = %config.thread_id, ?args, "starting claude");
    let mut spec = ChildSpec::new("claude", bin.to_path_buf(), args);
    spec.cwd = Some(config.cwd.clone());
    spec.env = settings.claude_extra.env.clone();
    let spawned = child::spawn(&spec)
        .map_err(|e| ProviderError::Unavailable(format!("cannot start {}: {e}", bin.display())))?;
    let (out_tx, out_rx) = mpsc::channel::<Option<String>>(256);
    tokio::spawn(write_loop(spawned.stdin, out_rx));
    let inner = Arc::new(Inner {
        out: out_tx,
        control: control::Control::default(),
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
        child: spawned.handle,
        include_raw: settings.include_raw.clone(),
    });
    let session = ClaudeSession { inner };
    let stdout_done = tokio::spawn(read_loop(session.clone(), spawned.stdout));
    tokio::spawn(watch_exit(session.clone()));
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
            let child = &session.inner.child;
            child.kill().await;
            // The process is gone; its last words may still sit in the pipes. Read them before
            // judging why the start failed.
            let _ = tokio::time::timeout(Duration::from_secs(1), stdout_done).await;
            child.stderr_drained(Duration::from_secs(1)).await;
            let mut why = vec![e];
            why.extend(lock(&session.inner.startup_error).take());
            let tail = child.stderr_tail();
            if !tail.is_empty() {
                why.push(tail);
            }
            Err(ProviderError::Failed(why.join(": ")))
        }
    }
}

async fn write_loop(mut stdin: ChildStdin, mut rx: mpsc::Receiver<Option<String>>) {
    while let Some(msg) = rx.recv().await {
        let Some(mut line) = msg else { break };
        line.push('\n');
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            break;
        }
    }
    // Dropping stdin closes it: claude finishes and exits.
}

/// One line of claude's stdout.
#[derive(Debug, PartialEq)]
pub(super) enum Line {
    Json(Value),
    /// Not JSON; the first 200 characters.
    NotJson(String),
    /// A line of this many bytes, over the limit, was skipped without being buffered.
    TooLarge(usize),
}

/// Reads the next non-blank line, never holding more than `max` bytes of it.
pub(super) async fn next_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> Option<Line> {
    loop {
        let bytes = match read_whole_line(r, max).await {
            Ok(WholeLine::Message(b)) => b,
            Ok(WholeLine::TooLarge(n)) => return Some(Line::TooLarge(n)),
            Ok(WholeLine::Eof) => return None,
            Err(e) => {
                tracing::warn!("cannot read claude's stdout: {e}");
                return None;
            }
        };
        if bytes.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        return Some(match serde_json::from_slice(&bytes) {
            Ok(v) => Line::Json(v),
            Err(_) => Line::NotJson(String::from_utf8_lossy(&bytes).chars().take(200).collect()),
        });
    }
}

fn warning(message: String) -> ProviderEvent {
    event(EventBody::RuntimeWarning(RuntimeWarning { message }), None)
}

async fn read_loop(session: ClaudeSession, stdout: Paced) {
    let inner = &session.inner;
    let mut reader = BufReader::with_capacity(64 * 1024, stdout);
    let mut state = mapping::TurnState::default();
    while let Some(line) = next_line(&mut reader, crate::rpc::max_message_bytes()).await {
        let msg = match line {
            Line::Json(v) => v,
            Line::NotJson(shown) => {
                let w = format!("claude printed a line that is not JSON: {shown}");
                inner.sink.send(warning(w)).await;
                continue;
            }
            Line::TooLarge(n) => {
                tracing::warn!(
                    bytes = n,
                    "claude printed a line over the size limit; skipped"
                );
                let w = format!(
                    "claude printed a message of {n} bytes, over baton's limit of \
                     {} (--max-message-bytes); it was skipped",
                    crate::rpc::max_message_bytes()
                );
                inner.sink.send(warning(w)).await;
                continue;
            }
        };
        match msg.get("type").and_then(Value::as_str) {
            Some("control_response") => inner.control.resolve(&msg),
            Some("control_request") => session.on_control_request(&msg).await,
            Some("control_cancel_request") => {}
            _ if !inner.ready.load(Ordering::SeqCst) => {
                tracing::debug!("claude output before the handshake: {msg}");
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
                // Every event a line maps to carries it, not only the last (a `result` is
                // usage and the turn's end, an assistant message several items).
                if inner.include_raw.load(Ordering::Relaxed) {
                    for ev in &mut out {
                        ev.set_raw(&msg);
                    }
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
async fn watch_exit(session: ClaudeSession) {
    let child = &session.inner.child;
    child.exited().await;
    session.inner.control.fail_all();
    if !session.inner.stopping.load(Ordering::SeqCst) {
        child.stderr_drained(Duration::from_millis(500)).await;
        let message = child.exit_message();
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[tokio::test]
    async fn lines_over_the_limit_are_skipped_and_reading_goes_on() {
        let mut bytes = b"{\"type\":\"a\"}\n\n".to_vec();
        bytes.extend(vec![b'x'; 10_000]);
        bytes.extend(b"\nnot json\n{\"type\":\"b\"}\n");
        // A small buffer makes the long line span many reads: it is never held whole.
        let mut r = BufReader::with_capacity(64, &bytes[..]);
        let mut got = Vec::new();
        while let Some(line) = next_line(&mut r, 100).await {
            got.push(line);
        }
        assert_eq!(
            got,
            vec![
                Line::Json(json!({"type": "a"})),
                Line::TooLarge(10_000),
                Line::NotJson("not json".into()),
                Line::Json(json!({"type": "b"})),
            ]
        );
    }
}
