//! The mock against the real `codex app-server` (0.169): everything the mock scripts must come
//! out of codex as the app-server notifications baton relies on. We speak JSONL to codex
//! directly here, so these tests check the mock, not baton.
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
use support::{JsonlChild, codex_bin};
use tokio::process::Command;

struct Codex {
    proc: JsonlChild,
    next_id: i64,
    work: PathBuf,
    root: tempfile::TempDir,
}

fn config(base_url: &str, model: &str) -> String {
    format!(
        r#"model = "{model}"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#
    )
}

fn method(m: &str) -> impl Fn(&Value) -> bool + '_ {
    move |v| v["method"] == m
}

impl Codex {
    /// Starts `codex app-server` against `mock` in a fresh CODEX_HOME and work directory, and
    /// does the initialize handshake.
    async fn start(mock: &MockServer) -> Codex {
        Self::start_with(mock, "mock-model").await
    }

    /// Like [`Codex::start`], with another model slug: codex chooses its tools by the slug.
    async fn start_with(mock: &MockServer, model: &str) -> Codex {
        Self::start_opts(mock, model, "", json!({})).await
    }

    /// Like [`Codex::start_with`], with `extra` appended to config.toml and `capabilities` in
    /// the initialize request.
    async fn start_opts(mock: &MockServer, model: &str, extra: &str, capabilities: Value) -> Codex {
        let root = tempfile::tempdir().unwrap();
        let codex_home = root.path().join("codex_home");
        let home = root.path().join("home");
        let work = root.path().join("work");
        for d in [&codex_home, &home, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            codex_home.join("config.toml"),
            config(&mock.base_url(), model) + extra,
        )
        .unwrap();
        let mut cmd = Command::new(codex_bin());
        cmd.arg("app-server")
            .env("CODEX_HOME", &codex_home)
            .env("HOME", &home)
            .env_remove("OPENAI_API_KEY")
            .env_remove("OPENAI_BASE_URL")
            .current_dir(&work);
        let proc = JsonlChild::spawn("codex", cmd, root.path());
        let mut codex = Codex {
            proc,
            next_id: 1,
            work,
            root,
        };
        codex
            .request(
                "initialize",
                json!({"clientInfo": {"name": "mock_model_tests", "version": "0.0.0"}, "capabilities": capabilities}),
            )
            .await;
        codex.proc.send(&json!({"method": "initialized"})).await;
        codex
    }

    /// Sends a request and waits for its result; an error response fails the test.
    async fn request(&mut self, m: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.proc
            .send(&json!({"id": id, "method": m, "params": params}))
            .await;
        let reply = self
            .proc
            .wait_for(&format!("the response to {m}"), |v| {
                v["id"] == id && v.get("method").is_none()
            })
            .await;
        assert!(reply.get("error").is_none(), "{m} failed: {reply}");
        reply["result"].clone()
    }

    async fn thread_start(&mut self, approval: &str, sandbox: &str) -> String {
        let cwd = self.work.to_string_lossy().into_owned();
        let r = self
            .request(
                "thread/start",
                json!({"cwd": cwd, "approvalPolicy": approval, "sandbox": sandbox}),
            )
            .await;
        r["thread"]["id"].as_str().unwrap().to_string()
    }

    async fn turn_start(&mut self, thread: &str, text: &str) -> String {
        let r = self
            .request(
                "turn/start",
                json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
            )
            .await;
        r["turn"]["id"].as_str().unwrap().to_string()
    }

    async fn turn_completed(&mut self) -> Value {
        self.proc
            .wait_for("turn/completed", method("turn/completed"))
            .await["params"]["turn"]
            .clone()
    }

    /// The text of the last completed agentMessage, after the turn completed.
    async fn final_text(&mut self) -> String {
        let msg = self
            .proc
            .wait_for("an agentMessage item", |v| {
                v["method"] == "item/completed" && v["params"]["item"]["type"] == "agentMessage"
            })
            .await;
        msg["params"]["item"]["text"].as_str().unwrap().to_string()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_text_streams_as_agent_message_deltas() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "read-only").await;
    codex.turn_start(&thread, "hello codex").await;
    let text = codex.final_text().await;
    assert_eq!(text, "mock reply to: hello codex");
    let turn = codex.turn_completed().await;
    assert_eq!(turn["status"], "completed");

    let deltas: Vec<&str> = codex
        .proc
        .seen
        .iter()
        .filter(|v| v["method"] == "item/agentMessage/delta")
        .map(|v| v["params"]["delta"].as_str().unwrap())
        .collect();
    assert!(deltas.len() >= 3, "{deltas:?}");
    assert_eq!(deltas.concat(), text);
    // The usage the mock reports reaches codex's token accounting.
    assert!(
        codex
            .proc
            .seen
            .iter()
            .any(|v| v["method"] == "thread/tokenUsage/updated"
                && v["params"]["tokenUsage"]["last"]["outputTokens"].as_u64() > Some(0)),
        "no token usage"
    );

    let reqs = mock.requests_to(Api::Responses);
    assert_eq!(reqs.len(), 1, "{:?}", mock.requests());
    assert_eq!(reqs[0].path, "/v1/responses");
    assert_eq!(reqs[0].last_user_text(), "hello codex");
    assert_eq!(reqs[0].conversation_text(), "hello codex");
    // Record which tools 0.169 offers, for the README: the shapes the mock emits must be among them.
    let tools: Vec<String> = reqs[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["type"].as_str().unwrap_or("?"),
                t["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    eprintln!("codex tools: {tools:?}");
    let keys: Vec<&String> = reqs[0].body.as_object().unwrap().keys().collect();
    eprintln!("codex request keys: {keys:?}");
    for i in reqs[0].body["input"].as_array().unwrap() {
        eprintln!("  input item type={} role={}", i["type"], i["role"]);
    }
    assert!(
        tools.contains(&"function:exec_command".to_string()),
        "{tools:?}"
    );
    // A model slug codex does not know gets no apply_patch tool; the mock then patches through
    // exec_command (see write_file_is_an_apply_patch_file_change).
    assert!(
        !tools.iter().any(|t| t.ends_with(":apply_patch")),
        "{tools:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cmd_asks_for_approval_and_obeys_the_decision() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("untrusted", "workspace-write").await;
    for (file, decision) in [("accepted.txt", "accept"), ("declined.txt", "decline")] {
        codex
            .turn_start(&thread, &format!("RUN_CMD: touch {file}"))
            .await;
        let req = codex
            .proc
            .wait_for(
                "item/commandExecution/requestApproval",
                method("item/commandExecution/requestApproval"),
            )
            .await;
        assert!(
            req["params"]["command"]
                .as_str()
                .unwrap()
                .contains(&format!("touch {file}")),
            "{req}"
        );
        codex
            .proc
            .send(&json!({"id": req["id"], "result": {"decision": decision}}))
            .await;
        let exec = codex
            .proc
            .wait_for("the commandExecution item", |v| {
                v["method"] == "item/completed" && v["params"]["item"]["type"] == "commandExecution"
            })
            .await;
        let text = codex.final_text().await;
        let turn = codex.turn_completed().await;
        assert_eq!(turn["status"], "completed");
        let exists = codex.work.join(file).exists();
        let output = mock
            .requests_to(Api::Responses)
            .last()
            .unwrap()
            .conversation_text();
        eprintln!(
            "{decision}: item {} | tool output seen by the model: {output:?} | answer {text:?}",
            exec["params"]["item"]
        );
        if decision == "accept" {
            assert!(exists, "the accepted command did not run");
            assert_eq!(exec["params"]["item"]["status"], "completed");
            assert_eq!(text, "command finished: (no output)");
        } else {
            assert!(!exists, "the declined command ran");
            assert_eq!(exec["params"]["item"]["status"], "declined");
            assert!(text.starts_with("command rejected: "), "{text}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_cmd_output_reaches_the_follow_up() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "danger-full-access").await;
    codex
        .turn_start(&thread, "RUN_CMD: echo first line && echo second line")
        .await;
    let text = codex.final_text().await;
    assert_eq!(text, "command finished: first line");
    codex.turn_completed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_is_an_apply_patch_file_change() {
    write_file_round_trip("mock-model").await;
}

/// For a model slug from its catalog codex 0.169 switches to "code mode": no top-level `tools`,
/// an `additional_tools` input item offering a JavaScript `exec` tool instead of exec_command,
/// and no apply_patch tool. A direct `exec_command` call (which the mock makes) is still
/// executed, and `apply_patch` inside it still becomes a fileChange.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_file_works_for_a_catalog_model_too() {
    let mock = write_file_round_trip("gpt-6.1-sol").await;
    let first = &mock.requests_to(Api::Responses)[0];
    assert!(first.body.get("tools").is_none(), "{}", first.body["tools"]);
    let input = first.body["input"].as_array().unwrap();
    assert!(
        input.iter().any(|i| i["type"] == "additional_tools"),
        "no additional_tools item"
    );
    assert_eq!(
        first.conversation_text(),
        "WRITE_FILE: notes/new.txt hello from codex"
    );
}

async fn write_file_round_trip(model: &str) -> MockServer {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start_with(&mock, model).await;
    let thread = codex.thread_start("untrusted", "workspace-write").await;
    codex
        .turn_start(&thread, "WRITE_FILE: notes/new.txt hello from codex")
        .await;
    let req = codex
        .proc
        .wait_for(
            "item/fileChange/requestApproval",
            method("item/fileChange/requestApproval"),
        )
        .await;
    codex
        .proc
        .send(&json!({"id": req["id"], "result": {"decision": "accept"}}))
        .await;
    let change = codex
        .proc
        .wait_for("the fileChange item", |v| {
            v["method"] == "item/completed" && v["params"]["item"]["type"] == "fileChange"
        })
        .await;
    let item = &change["params"]["item"];
    assert_eq!(item["status"], "completed", "{item}");
    assert_eq!(item["changes"][0]["kind"]["type"], "add", "{item}");
    assert!(
        item["changes"][0]["path"]
            .as_str()
            .unwrap()
            .ends_with("notes/new.txt")
    );
    assert_eq!(codex.final_text().await, "file written");
    codex.turn_completed().await;
    assert_eq!(
        std::fs::read_to_string(codex.work.join("notes/new.txt")).unwrap(),
        "hello from codex\n"
    );

    // A declined patch leaves no file, and the model is told.
    codex
        .turn_start(&thread, "WRITE_FILE: refused.txt no thanks")
        .await;
    let req = codex
        .proc
        .wait_for(
            "item/fileChange/requestApproval",
            method("item/fileChange/requestApproval"),
        )
        .await;
    codex
        .proc
        .send(&json!({"id": req["id"], "result": {"decision": "decline"}}))
        .await;
    let text = codex.final_text().await;
    codex.turn_completed().await;
    eprintln!(
        "declined patch, tool output seen by the model: {:?}",
        mock.requests_to(Api::Responses)
            .last()
            .unwrap()
            .conversation_text()
    );
    assert_eq!(text, "file not written");
    assert!(!codex.work.join("refused.txt").exists());
    drop(codex);
    mock
}

/// Waits (bounded) until the mock has no response in progress.
async fn until_idle(mock: &MockServer) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mock.active_responses() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the mock kept writing after codex went away"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_hang_can_be_interrupted() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "read-only").await;

    let turn = codex.turn_start(&thread, "SLOW").await;
    codex
        .proc
        .wait_for("a first delta", method("item/agentMessage/delta"))
        .await;
    assert_eq!(mock.active_responses(), 1);
    codex
        .request(
            "turn/interrupt",
            json!({"threadId": thread, "turnId": turn}),
        )
        .await;
    let done = codex
        .proc
        .wait_for_within(
            "the interrupted turn",
            Duration::from_secs(5),
            method("turn/completed"),
        )
        .await;
    assert_eq!(done["params"]["turn"]["status"], "interrupted");
    until_idle(&mock).await;

    let turn = codex.turn_start(&thread, "HANG").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while mock.active_responses() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "codex never called the model"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    codex
        .request(
            "turn/interrupt",
            json!({"threadId": thread, "turnId": turn}),
        )
        .await;
    let done = codex
        .proc
        .wait_for_within(
            "the interrupted turn",
            Duration::from_secs(5),
            method("turn/completed"),
        )
        .await;
    assert_eq!(done["params"]["turn"]["status"], "interrupted");
    until_idle(&mock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_529_fails_the_turn() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "read-only").await;
    codex.turn_start(&thread, "FAIL_529 now").await;
    let turn = codex.turn_completed().await;
    assert_eq!(turn["status"], "failed", "{turn}");
    eprintln!("failed turn: {turn}");
    // request_max_retries = 0: exactly one attempt.
    assert_eq!(mock.requests_to(Api::Responses).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compaction_produces_the_mock_summary() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let r = codex
        .request(
            "thread/start",
            json!({"cwd": codex.work.to_string_lossy(), "approvalPolicy": "never", "sandbox": "read-only"}),
        )
        .await;
    let thread = r["thread"]["id"].as_str().unwrap().to_string();
    let rollout = PathBuf::from(r["thread"]["path"].as_str().unwrap());
    codex.turn_start(&thread, "remember the word ALPHA").await;
    codex.turn_completed().await;

    codex
        .request("thread/compact/start", json!({"threadId": thread}))
        .await;
    codex
        .proc
        .wait_for("the contextCompaction item", |v| {
            v["method"] == "item/completed" && v["params"]["item"]["type"] == "contextCompaction"
        })
        .await;
    let turn = codex.turn_completed().await;
    assert_eq!(turn["status"], "completed");
    let req = mock.requests_to(Api::Responses).pop().unwrap();
    assert!(
        req.last_user_text()
            .starts_with("You are performing a CONTEXT CHECKPOINT COMPACTION"),
        "{}",
        req.last_user_text()
    );
    let log = std::fs::read_to_string(&rollout).unwrap();
    assert!(
        log.contains("MOCK SUMMARY: 1 earlier user messages; last: remember the word ALPHA"),
        "the rollout has no summary"
    );

    // The next turn starts from the summary.
    codex.turn_start(&thread, "what was the word").await;
    codex.turn_completed().await;
    let req = mock.requests_to(Api::Responses).pop().unwrap();
    let conv = req.conversation_text();
    eprintln!("after compaction the model sees: {conv:?}");
    assert!(
        conv.contains("MOCK SUMMARY") && conv.contains("ALPHA"),
        "{conv}"
    );
    assert_eq!(req.last_user_text(), "what was the word");
    drop(codex.root);
}

/// `PLAN:` is an `update_plan` call, which codex 0.169 offers (and runs) only with
/// `[tools.update_plan] enabled = true`; it then reports `turn/plan/updated`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_updates_the_turn_plan() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start_opts(
        &mock,
        "mock-model",
        "\n[tools.update_plan]\nenabled = true\n",
        json!({}),
    )
    .await;
    let thread = codex.thread_start("never", "read-only").await;
    codex
        .turn_start(&thread, "PLAN: first step; second step; third step")
        .await;
    let update = codex
        .proc
        .wait_for("turn/plan/updated", method("turn/plan/updated"))
        .await;
    eprintln!("plan update: {update}");
    assert_eq!(update["params"]["explanation"], "mock plan");
    assert_eq!(
        update["params"]["plan"],
        json!([
            {"step": "first step", "status": "inProgress"},
            {"step": "second step", "status": "pending"},
            {"step": "third step", "status": "pending"}
        ])
    );
    assert_eq!(codex.final_text().await, "plan noted");
    assert_eq!(codex.turn_completed().await["status"], "completed");
    let reqs = mock.requests_to(Api::Responses);
    let tools = reqs[0].body["tools"].to_string();
    assert!(tools.contains("\"update_plan\""), "{tools}");
    assert_eq!(
        reqs.last().unwrap().conversation_text().lines().last(),
        Some("Plan updated")
    );
}

/// Without the config codex does not know the tool: the call fails as "unsupported".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_without_the_update_plan_tool_is_unsupported() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "read-only").await;
    codex.turn_start(&thread, "PLAN: a; b").await;
    assert_eq!(codex.final_text().await, "plan noted");
    codex.turn_completed().await;
    assert!(
        !codex
            .proc
            .seen
            .iter()
            .any(|v| v["method"] == "turn/plan/updated"),
        "a plan update without the tool"
    );
    let output = mock
        .requests_to(Api::Responses)
        .last()
        .unwrap()
        .conversation_text();
    assert!(output.contains("unsupported call: update_plan"), "{output}");
}

/// `ASK_USER:` in plan mode is a `request_user_input` call: codex asks the client with
/// `item/tool/requestUserInput`, and the answer is the tool output the model sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ask_user_in_plan_mode_requests_user_input() {
    let mock = MockServer::start().await.unwrap();
    let mut codex =
        Codex::start_opts(&mock, "mock-model", "", json!({"experimentalApi": true})).await;
    let thread = codex.thread_start("never", "read-only").await;
    codex
        .request(
            "turn/start",
            json!({"threadId": thread,
                   "input": [{"type": "text", "text": "ASK_USER: Which color? | red | blue"}],
                   "collaborationMode": {"mode": "plan", "settings": {"model": "mock-model", "developer_instructions": null}}}),
        )
        .await;
    let req = codex
        .proc
        .wait_for(
            "item/tool/requestUserInput",
            method("item/tool/requestUserInput"),
        )
        .await;
    eprintln!("request: {req}");
    let q = &req["params"]["questions"][0];
    assert_eq!(q["id"], "q1", "{req}");
    assert_eq!(q["header"], "Question");
    assert_eq!(q["question"], "Which color?");
    assert_eq!(
        q["options"],
        json!([{"label": "red", "description": "red"}, {"label": "blue", "description": "blue"}])
    );
    codex
        .proc
        .send(&json!({"id": req["id"], "result": {"answers": {"q1": {"answers": ["blue"]}}}}))
        .await;
    let text = codex.final_text().await;
    assert_eq!(codex.turn_completed().await["status"], "completed");
    let follow_up = mock.requests_to(Api::Responses).pop().unwrap();
    let output = follow_up.conversation_text();
    eprintln!("the model saw: {output:?}; answered {text:?}");
    assert!(output.contains("blue"), "{output}");
    assert!(
        text.starts_with("user answered: ") && text.contains("blue"),
        "{text}"
    );
}

/// `REASON:` streams a reasoning summary before the answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reason_streams_a_reasoning_summary() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "read-only").await;
    codex.turn_start(&thread, "REASON: some thought").await;
    let reasoning = codex
        .proc
        .wait_for("the reasoning item", |v| {
            v["method"] == "item/completed" && v["params"]["item"]["type"] == "reasoning"
        })
        .await;
    assert_eq!(
        reasoning["params"]["item"]["summary"],
        json!(["some thought"]),
        "{reasoning}"
    );
    assert_eq!(
        codex.final_text().await,
        "mock reply to: REASON: some thought"
    );
    codex.turn_completed().await;
    let deltas: Vec<&str> = codex
        .proc
        .seen
        .iter()
        .filter(|v| v["method"] == "item/reasoning/summaryTextDelta")
        .map(|v| v["params"]["delta"].as_str().unwrap())
        .collect();
    assert!(deltas.len() >= 2, "{deltas:?}");
    assert_eq!(deltas.concat(), "some thought");
}

/// `RATE_LIMIT` headers become codex's `account/rateLimits/updated`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_headers_update_the_account_rate_limits() {
    let mock = MockServer::start().await.unwrap();
    let mut codex = Codex::start(&mock).await;
    let thread = codex.thread_start("never", "read-only").await;
    codex.turn_start(&thread, "RATE_LIMIT hello").await;
    let update = codex
        .proc
        .wait_for("account/rateLimits/updated with a primary window", |v| {
            v["method"] == "account/rateLimits/updated"
                && !v["params"]["rateLimits"]["primary"].is_null()
        })
        .await;
    eprintln!("rate limits: {update}");
    let primary = &update["params"]["rateLimits"]["primary"];
    assert_eq!(primary["usedPercent"], 42, "{update}");
    assert_eq!(primary["windowDurationMins"], 300, "{update}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let reset = primary["resetsAt"].as_u64().unwrap();
    assert!(reset > now + 3000 && reset <= now + 3700, "{update}");
    codex.turn_completed().await;
}
