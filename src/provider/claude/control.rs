//! Claude's control protocol: `control_request` / `control_response` lines in both directions.
//!
//! Our requests (`initialize`, `interrupt`, `set_model`, `set_permission_mode`) get ids
//! `baton-N` and wait for the response with that id; claude's requests are dispatched by
//! subtype and each gets exactly one response (approvals and questions in [`super::permissions`]).

use std::collections::HashMap;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::{ClaudeSession, coverage, lock};

/// How long claude may take to answer one of our control requests.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(30);

type Waiter = oneshot::Sender<Result<Value, String>>;

/// Our control requests waiting for their response.
#[derive(Default)]
pub(super) struct Control {
    pending: StdMutex<HashMap<String, Waiter>>,
    next_request: AtomicU64,
}

impl Control {
    /// Resolves the request a `control_response` answers.
    pub(super) fn resolve(&self, msg: &Value) {
        let resp = msg.get("response").cloned().unwrap_or(Value::Null);
        let id = resp.get("request_id").and_then(Value::as_str).unwrap_or("");
        let Some(tx) = lock(&self.pending).remove(id) else {
            return;
        };
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

    /// Fails every waiting request (claude exited).
    pub(super) fn fail_all(&self) {
        let waiters: Vec<Waiter> = lock(&self.pending).drain().map(|(_, w)| w).collect();
        for w in waiters {
            let _ = w.send(Err("claude exited".into()));
        }
    }
}

impl ClaudeSession {
    /// Sends a control request and waits for its response.
    pub(super) async fn control(&self, request: Value) -> Result<Value, String> {
        let control = &self.inner.control;
        let id = format!(
            "baton-{}",
            control.next_request.fetch_add(1, Ordering::Relaxed) + 1
        );
        let (tx, rx) = oneshot::channel();
        lock(&control.pending).insert(id.clone(), tx);
        if self
            .write(json!({"type": "control_request", "request_id": id, "request": request}))
            .await
            .is_err()
        {
            lock(&control.pending).remove(&id);
            return Err("claude is not running".into());
        }
        tokio::select! {
            r = tokio::time::timeout(CONTROL_TIMEOUT, rx) => match r {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err("claude exited".into()),
                Err(_) => {
                    lock(&control.pending).remove(&id);
                    Err("claude did not answer a control request in time".into())
                }
            },
            _ = self.inner.child.exited() => {
                lock(&control.pending).remove(&id);
                Err("claude exited".into())
            }
        }
    }

    pub(super) async fn answer(&self, request_id: &str, response: Value) {
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
    pub(super) async fn on_control_request(&self, msg: &Value) {
        let request_id = msg
            .get("request_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let request = msg.get("request").cloned().unwrap_or(Value::Null);
        let subtype = request.get("subtype").and_then(Value::as_str).unwrap_or("");
        match subtype {
            "can_use_tool" => {
                let raw = self
                    .inner
                    .include_raw
                    .load(std::sync::atomic::Ordering::Relaxed)
                    .then(|| msg.clone());
                self.on_can_use_tool(request_id, request, raw).await
            }
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
}
