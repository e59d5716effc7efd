//! The mock against the real `claude` CLI (2.1.328) in headless stream-json mode: what the
//! mock scripts must come out of claude as stream events, permission requests and results.
//! We speak stream-json to claude directly here, so these tests check the mock, not baton.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod support;

use std::path::PathBuf;
use std::time::Duration;

use mock_model::{Api, MockServer};
use serde_json::{Value, json};
use support::{JsonlChild, claude_bin, uuid_v4};
use tokio::process::Command;

struct Claude {
    proc: JsonlChild,
    work: PathBuf,
    _root: tempfile::TempDir,
}

impl Claude {
    /// Starts a claude session against `mock` with a fresh HOME and work directory.
    async fn start(mock: &MockServer) -> Claude {
        Self::start_with_env(mock, &[]).await
    }

    /// Like [`Claude::start`], with extra environment variables.
    async fn start_with_env(mock: &MockServer, env: &[(&str, &str)]) -> Claude {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        // claude resolves symlinks in its cwd (macOS /tmp); canonical paths keep assertions simple.
        let work = root.path().join("work");
        for d in [&home, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        let work = work.canonicalize().unwrap();
        let mut cmd = Command::new(claude_bin());
        cmd.args([
            "-p",
            "--input-format",
            "stream-json",
            "--output-format",
            "stream-json",
            "--verbose",
            "--include-partial-messages",
            "--permission-prompt-tool",
            "stdio",
            "--session-id",
            &uuid_v4(),
        ])
        .current_dir(&work)
        .env("HOME", &home)
        .env("ANTHROPIC_BASE_URL", mock.base_url())
        .env("ANTHROPIC_API_KEY", "dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_TELEMETRY", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("DISABLE_ERROR_REPORTING", "1")
        .env("CLAUDE_CODE_MAX_RETRIES", "0");
        // Settings of a claude that may be running this very test must not leak in.
        for (k, v) in env {
            cmd.env(k, v);
        }
        for var in [
            "ANTHROPIC_AUTH_TOKEN",
            "ANTHROPIC_MODEL",
            "CLAUDE_CONFIG_DIR",
            "CLAUDECODE",
            "CLAUDE_CODE_ENTRYPOINT",
            "CLAUDE_CODE_USE_BEDROCK",
            "CLAUDE_CODE_USE_VERTEX",
        ] {
            cmd.env_remove(var);
        }
        let proc = JsonlChild::spawn("claude", cmd, root.path());
        Claude {
            proc,
            work,
            _root: root,
        }
    }

    async fn say(&mut self, text: &str) {
        self.proc
            .send(
                &json!({"type": "user", "message": {"role": "user", "content": text},
                          "parent_tool_use_id": null, "session_id": ""}),
            )
            .await;
    }

    async fn result(&mut self) -> Value {
        self.proc
            .wait_for("a result", |v| v["type"] == "result")
            .await
    }

    /// Waits for a `can_use_tool` request and answers it.
    async fn answer_tool(&mut self, tool: &str, allow: bool) -> Value {
        let req = self
            .proc
            .wait_for(&format!("can_use_tool for {tool}"), |v| {
                v["type"] == "control_request" && v["request"]["subtype"] == "can_use_tool"
            })
            .await;
        assert_eq!(req["request"]["tool_name"], tool, "{req}");
        let response = if allow {
            json!({"behavior": "allow", "updatedInput": req["request"]["input"]})
        } else {
            json!({"behavior": "deny", "message": "The user declined this action."})
        };
        self.proc
            .send(
                &json!({"type": "control_response", "response": {"subtype": "success",
                          "request_id": req["request_id"], "response": response}}),
            )
            .await;
        req
    }

    fn text_deltas(&self) -> Vec<String> {
        self.proc
            .seen
            .iter()
            .filter(|v| {
                v["type"] == "stream_event"
                    && v["event"]["type"] == "content_block_delta"
                    && v["event"]["delta"]["type"] == "text_delta"
            })
            .map(|v| v["event"]["delta"]["text"].as_str().unwrap().to_string())
            .collect()
    }
}

fn messages_requests(mock: &MockServer) -> Vec<mock_model::RecordedRequest> {
    mock.requests_to(Api::Messages)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_text_streams_as_text_deltas_and_a_result() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("hello claude").await;
    let result = claude.result().await;
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], "mock reply to: hello claude");
    let deltas = claude.text_deltas();
    assert!(deltas.len() >= 3, "{deltas:?}");
    assert_eq!(deltas.concat(), "mock reply to: hello claude");
    // The usage the mock reports reaches the result.
    assert!(
        result["usage"]["output_tokens"].as_u64() > Some(0),
        "{result}"
    );

    for r in mock.requests() {
        let keys: Vec<&String> = r
            .body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        eprintln!("claude sent {:?} {} {keys:?}", r.api, r.path);
    }
    let reqs = messages_requests(&mock);
    let last = reqs.last().unwrap();
    assert_eq!(last.path, "/v1/messages?beta=true");
    assert_eq!(last.last_user_text(), "hello claude");
    assert_eq!(last.conversation_text(), "hello claude");

    // A second turn: the model sees the first exchange.
    claude.say("and again").await;
    let result = claude.result().await;
    assert_eq!(result["result"], "mock reply to: and again");
    let conv = messages_requests(&mock).last().unwrap().conversation_text();
    assert_eq!(
        conv, "hello claude\nmock reply to: hello claude\nand again",
        "{conv}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_asks_permission_for_write() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    let allowed = claude.work.join("allowed.txt");
    claude
        .say(&format!(
            "WRITE_FILE: {} hello from claude",
            allowed.display()
        ))
        .await;
    let req = claude.answer_tool("Write", true).await;
    assert_eq!(
        req["request"]["input"],
        json!({"file_path": allowed.to_string_lossy(), "content": "hello from claude"})
    );
    let result = claude.result().await;
    assert_eq!(result["result"], "file written", "{result}");
    assert_eq!(
        std::fs::read_to_string(&allowed).unwrap(),
        "hello from claude"
    );

    let denied = claude.work.join("denied.txt");
    claude
        .say(&format!("WRITE_FILE: {} no thanks", denied.display()))
        .await;
    claude.answer_tool("Write", false).await;
    let result = claude.result().await;
    let seen = messages_requests(&mock).last().unwrap().conversation_text();
    eprintln!("after a denied Write the model sees: {seen:?}");
    assert_eq!(result["result"], "file not written", "{result}");
    assert!(!denied.exists());
}

/// claude resolves a relative `file_path` against its cwd before asking, so prompts may use
/// relative paths just as with codex.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_with_a_relative_path() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("WRITE_FILE: relative.txt some text").await;
    let req = claude.answer_tool("Write", true).await;
    let expected = claude.work.join("relative.txt");
    assert_eq!(
        req["request"]["input"]["file_path"],
        expected.to_string_lossy().as_ref()
    );
    let result = claude.result().await;
    assert_eq!(result["result"], "file written", "{result}");
    assert_eq!(std::fs::read_to_string(expected).unwrap(), "some text");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cmd_is_a_bash_tool_use() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("RUN_CMD: touch made.txt && echo made it").await;
    let req = claude.answer_tool("Bash", true).await;
    assert_eq!(
        req["request"]["input"]["command"],
        "touch made.txt && echo made it"
    );
    let result = claude.result().await;
    assert_eq!(result["result"], "command finished: made it", "{result}");
    assert!(claude.work.join("made.txt").exists());

    claude.say("RUN_CMD: touch refused.txt").await;
    claude.answer_tool("Bash", false).await;
    let result = claude.result().await;
    let text = result["result"].as_str().unwrap();
    assert!(text.starts_with("command rejected: "), "{text}");
    assert!(!claude.work.join("refused.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_can_be_interrupted() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("SLOW").await;
    claude
        .proc
        .wait_for("a first text delta", |v| {
            v["type"] == "stream_event" && v["event"]["delta"]["type"] == "text_delta"
        })
        .await;
    assert_eq!(mock.active_responses(), 1);
    claude
        .proc
        .send(&json!({"type": "control_request", "request_id": "int-1",
                      "request": {"subtype": "interrupt"}}))
        .await;
    let result = claude
        .proc
        .wait_for_within("the interrupted result", Duration::from_secs(5), |v| {
            v["type"] == "result"
        })
        .await;
    assert_eq!(result["is_error"], true, "{result}");
    eprintln!("interrupted result: {}", result["terminal_reason"]);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mock.active_responses() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the mock kept writing after claude interrupted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_529_is_an_api_error_result() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("FAIL_529 please").await;
    let result = claude.result().await;
    assert_eq!(result["is_error"], true, "{result}");
    eprintln!(
        "529 result: subtype={} terminal_reason={} api_error_status={} result={}",
        result["subtype"], result["terminal_reason"], result["api_error_status"], result["result"]
    );
    assert_eq!(result["api_error_status"], 529, "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_produces_the_mock_summary() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("remember the word ALPHA").await;
    claude.result().await;
    claude.say("/compact").await;
    claude
        .proc
        .wait_for("compact_boundary", |v| {
            v["type"] == "system" && v["subtype"] == "compact_boundary"
        })
        .await;
    let result = claude.result().await;
    assert_eq!(result["is_error"], false, "{result}");
    let summary_req = messages_requests(&mock).pop().unwrap();
    assert!(
        summary_req
            .last_user_text()
            .contains("create a detailed summary of the conversation"),
        "{}",
        summary_req.last_user_text()
    );
    let continued = claude
        .proc
        .seen
        .iter()
        .find(|v| v.to_string().contains("This session is being continued"))
        .cloned()
        .unwrap_or_else(|| panic!("no continuation message: {:?}", claude.proc.seen.len()));
    assert!(
        continued
            .to_string()
            .contains("MOCK SUMMARY: 1 earlier user messages; last: remember the word ALPHA"),
        "{continued}"
    );

    // The next turn starts from the summary.
    claude.say("what was the word").await;
    claude.result().await;
    let req = messages_requests(&mock).pop().unwrap();
    let conv = req.conversation_text();
    eprintln!("after /compact the model sees: {conv:?}");
    assert!(
        conv.contains("MOCK SUMMARY") && conv.contains("ALPHA"),
        "{conv}"
    );
    assert_eq!(req.last_user_text(), "what was the word");
}

/// `PLAN:` is a `TodoWrite` tool_use. claude 2.1.328 disables TodoWrite for its default model
/// (in favour of its Task tools) unless `CLAUDE_CODE_ENABLE_TODO_TOOLS=1` and
/// `CLAUDE_CODE_ENABLE_TASKS=0`; it runs without a permission request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_is_a_todo_write_tool_use() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start_with_env(
        &mock,
        &[
            ("CLAUDE_CODE_ENABLE_TODO_TOOLS", "1"),
            ("CLAUDE_CODE_ENABLE_TASKS", "0"),
        ],
    )
    .await;
    claude
        .say("PLAN: first step; second step; third step")
        .await;
    let result = claude.result().await;
    assert_eq!(result["result"], "plan noted", "{result}");
    let tool_use = claude
        .proc
        .seen
        .iter()
        .filter(|v| v["type"] == "assistant")
        .flat_map(|v| {
            v["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|b| b["type"] == "tool_use")
        .unwrap_or_else(|| panic!("no tool_use"));
    assert_eq!(tool_use["name"], "TodoWrite", "{tool_use}");
    assert_eq!(
        tool_use["input"]["todos"],
        json!([
            {"content": "first step", "status": "in_progress", "activeForm": "first step"},
            {"content": "second step", "status": "pending", "activeForm": "second step"},
            {"content": "third step", "status": "pending", "activeForm": "third step"}
        ])
    );
    let seen = messages_requests(&mock).last().unwrap().conversation_text();
    eprintln!("after TodoWrite the model sees: {seen:?}");
    assert!(
        seen.contains("Todos have been modified successfully"),
        "{seen}"
    );
}

/// Without those variables claude refuses the call; the turn still ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_without_todo_tools_is_refused() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("PLAN: a; b").await;
    let result = claude.result().await;
    assert_eq!(result["result"], "plan noted", "{result}");
    let seen = messages_requests(&mock).last().unwrap().conversation_text();
    assert!(seen.contains("TodoWrite is disabled"), "{seen}");
}

/// `ASK_USER:` is an `AskUserQuestion` tool_use: with `--permission-prompt-tool stdio` claude
/// sends `can_use_tool`, and the answers in `updatedInput` are the tool result.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_user_is_an_ask_user_question_permission_request() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("ASK_USER: Which color? | red | blue").await;
    let req = claude
        .proc
        .wait_for("can_use_tool for AskUserQuestion", |v| {
            v["type"] == "control_request" && v["request"]["subtype"] == "can_use_tool"
        })
        .await;
    eprintln!("request: {req}");
    assert_eq!(req["request"]["tool_name"], "AskUserQuestion", "{req}");
    let questions = json!([{"question": "Which color?", "header": "Question",
        "options": [{"label": "red", "description": "red"}, {"label": "blue", "description": "blue"}],
        "multiSelect": false}]);
    assert_eq!(req["request"]["input"]["questions"], questions, "{req}");
    claude
        .proc
        .send(
            &json!({"type": "control_response", "response": {"subtype": "success",
            "request_id": req["request_id"], "response": {"behavior": "allow",
            "updatedInput": {"questions": questions, "answers": {"Which color?": "blue"}}}}}),
        )
        .await;
    let result = claude.result().await;
    let seen = messages_requests(&mock).last().unwrap().conversation_text();
    eprintln!("the model saw: {seen:?}; result {}", result["result"]);
    let tool_result = seen.lines().last().unwrap_or("");
    assert!(tool_result.contains("blue"), "{seen}");
    let text = result["result"].as_str().unwrap();
    assert!(
        text.starts_with("user answered: ") && text.contains("blue"),
        "{text}"
    );
}

/// `REASON:` streams a thinking block before the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reason_is_a_thinking_block() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("REASON: some thought").await;
    let result = claude.result().await;
    assert_eq!(
        result["result"], "mock reply to: REASON: some thought",
        "{result}"
    );
    let thinking: Vec<String> = claude
        .proc
        .seen
        .iter()
        .filter(|v| v["type"] == "stream_event" && v["event"]["delta"]["type"] == "thinking_delta")
        .map(|v| {
            v["event"]["delta"]["thinking"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(thinking.len() >= 2, "{thinking:?}");
    assert_eq!(thinking.concat(), "some thought");
    let block = claude
        .proc
        .seen
        .iter()
        .filter(|v| v["type"] == "assistant")
        .flat_map(|v| {
            v["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find(|b| b["type"] == "thinking")
        .unwrap_or_else(|| panic!("no thinking block"));
    assert_eq!(block["thinking"], "some thought", "{block}");
    assert!(!block["signature"].as_str().unwrap().is_empty(), "{block}");
}

/// `RATE_LIMIT` sends the unified rate-limit headers. With an API key (not a claude.ai login)
/// claude 2.1.328 was not seen to report them; this records what it does and checks the turn
/// is unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_headers_do_not_disturb_the_turn() {
    let mock = MockServer::start().await.unwrap();
    let mut claude = Claude::start(&mock).await;
    claude.say("RATE_LIMIT hello").await;
    let result = claude.result().await;
    assert_eq!(result["is_error"], false, "{result}");
    assert_eq!(result["result"], "mock reply to: RATE_LIMIT hello");
    let events: Vec<&Value> = claude
        .proc
        .seen
        .iter()
        .filter(|v| v["type"] == "rate_limit_event" || v.to_string().contains("rate_limit_info"))
        .collect();
    eprintln!("rate limit events: {events:?}");
}
