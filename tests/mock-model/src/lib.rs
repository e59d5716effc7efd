//! Mock model servers: the remote model only, never the CLIs.
//!
//! One HTTP/1.1 server on 127.0.0.1 answers the OpenAI Responses API (`POST …/responses`, used by
//! `codex`) and the Anthropic Messages API (`POST /v1/messages`, used by `claude`) with
//! Server-Sent Events. What the "model" does is chosen by keywords in the last user message, so a
//! test picks the behaviour of each turn through its prompt:
//!
//! | keyword | behaviour |
//! |---|---|
//! | (none) | streams `mock reply to: <text>` in several deltas |
//! | `RUN_CMD: <cmd>` | calls the shell tool with `<cmd>`; the follow-up answers `command finished: <first output line>` (or `command rejected: …`) |
//! | `WRITE_FILE: <path> <content>` | writes a file with the edit tool; the follow-up says `file written` / `file not written` |
//! | `PLAN: <step>; <step>; …` | updates its plan: Responses `update_plan` `{explanation:"mock plan", plan:[{step, status}]}` (first step `in_progress`, the rest `pending`; codex offers the tool only with `[tools.update_plan] enabled = true`), Messages `TodoWrite` `{todos:[{content, status, activeForm}]}` (claude enables it only with `CLAUDE_CODE_ENABLE_TODO_TOOLS=1` and `CLAUDE_CODE_ENABLE_TASKS=0`); the follow-up answers `plan noted` |
//! | `ASK_USER: <question> \| <option> \| …` | asks the user: Responses `request_user_input` with one question `{id:"q1", header:"Question", question, options:[{label, description}]}` (codex runs it in plan mode), Messages `AskUserQuestion` `{questions:[{question, header:"Question", options, multiSelect:false}]}`; the follow-up answers `user answered: <first non-empty line of the tool result, ≤ 200 chars>` |
//! | `REASON: <thought>` | reasoning before the usual `mock reply to: …`: Responses a `reasoning` item with a `summary_text` streamed as `response.reasoning_summary_text.delta`, Messages a `thinking` block (`thinking_delta`s, then a `signature_delta`) |
//! | `RATE_LIMIT` (anywhere, also with other keywords) | every streamed response of the turn carries rate-limit headers: Responses `x-codex-primary-used-percent: 42`, `x-codex-primary-window-minutes: 300`, `x-codex-primary-reset-at: <now + 3600>`; Messages `anthropic-ratelimit-unified-status: allowed_warning`, `…-5h-status: allowed_warning`, `…-5h-utilization: 0.9`, `…-5h-reset`/`…-reset: <now + 3600>`, `…-5h-surpassed-threshold: 0.75`, `…-representative-claim: five_hour` |
//! | `SLOW` | 100 deltas, 100 ms apart |
//! | `FLOOD` | 3000 one-character deltas, 1 ms apart; `FLOOD:<n>`: n deltas back to back |
//! | `FAIL_529` | HTTP 529 overloaded (Messages) / HTTP 500 (Responses) |
//! | `HANG` | sends nothing for 60 s |
//! | `FAIL_400` / `FAIL_500` | that HTTP status with the API's error body (any API) |
//! | `DROP` | starts the stream (one text delta), then closes the connection before its end (any API) |
//! | a compaction request | `MOCK SUMMARY: <n> earlier user messages; last: <text>; they said: <all>` |
//!
//! Every request is recorded ([`MockServer::requests`], or `GET /_mock/requests`). What the
//! real CLIs send and accept is written down in this crate's README.md, and the tests in
//! `tests/` check the mock against the pinned real binaries.

mod chat;
mod faults;
mod gemini;
mod http;
mod messages;
mod responses;
mod script;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Which API a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// OpenAI Responses (`POST …/responses`): codex.
    Responses,
    /// Anthropic Messages (`POST /v1/messages`): claude, claude-agent-acp.
    Messages,
    /// OpenAI chat completions (`POST …/chat/completions`): opencode.
    ChatCompletions,
    /// Gemini (`POST /v1beta/models/<model>:streamGenerateContent` or `:generateContent`): gemini-cli.
    Gemini,
    Other,
}

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub api: Api,
    pub path: String,
    pub body: Value,
}

impl RecordedRequest {
    /// All user and assistant text of the conversation in this request (system prompts and
    /// developer instructions excluded), one message per line.
    pub fn conversation_text(&self) -> String {
        script::conversation(self.api, &self.body)
            .into_iter()
            .map(|m| m.text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The text of the last user message.
    pub fn last_user_text(&self) -> String {
        script::conversation(self.api, &self.body)
            .into_iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.text)
            .unwrap_or_default()
    }
}

/// What the connection tasks share with the [`MockServer`] handle.
#[derive(Default)]
struct Shared {
    log: Mutex<Vec<RecordedRequest>>,
    /// Model responses being written right now, so a test can check that a response stops
    /// once its client has gone away.
    active: AtomicUsize,
}

type State = Arc<Shared>;

/// A running mock server; dropping it stops the server.
pub struct MockServer {
    port: u16,
    state: State,
    task: JoinHandle<()>,
}

impl MockServer {
    /// Binds 127.0.0.1 on a free port and starts serving.
    pub async fn start() -> anyhow::Result<MockServer> {
        Self::start_on(0).await
    }

    /// Binds 127.0.0.1:`port` (0 = any free port).
    pub async fn start_on(port: u16) -> anyhow::Result<MockServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let port = listener.local_addr()?.port();
        let state: State = Arc::default();
        let task = tokio::spawn(http::serve(listener, state.clone()));
        Ok(MockServer { port, state, task })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).clone()
    }

    /// Requests to one API, in order.
    pub fn requests_to(&self, api: Api) -> Vec<RecordedRequest> {
        lock(&self.state)
            .iter()
            .filter(|r| r.api == api)
            .cloned()
            .collect()
    }

    pub fn clear_requests(&self) {
        lock(&self.state).clear();
    }

    /// How many model responses (streams, hangs) are being written right now. It drops back
    /// to zero soon after the clients disconnect, which is how tests see that an interrupted
    /// stream stopped.
    pub fn active_responses(&self) -> usize {
        self.state.active.load(Ordering::SeqCst)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &State) -> std::sync::MutexGuard<'_, Vec<RecordedRequest>> {
    // A test that panicked while holding the lock must not hide the requests from the others.
    state.log.lock().unwrap_or_else(|e| e.into_inner())
}
