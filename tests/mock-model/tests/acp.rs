//! The mock against the real ACP agents (opencode, gemini-cli, claude-agent-acp) driven over ACP
//! by a tiny client: one full session per agent — initialize, session/new, a streamed prompt with
//! a thought, a file write allowed and a command rejected through `session/request_permission`, a
//! plan, a cancelled prompt and the prompt after it, then a restart of the agent and
//! `session/load` (and `session/resume` where advertised) with the earlier messages reaching the
//! mock. The agents are spawned exactly as `tests/common/acp_agents.rs` says, so these tests also
//! check the recipes baton's own tests use.
//!
//! With `BATON_RECORD_ACP=1` each test also writes its transcript to
//! `tests/fixtures/acp/<agent>-<version>.jsonl` (see `scripts/record-acp-transcripts`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

#[path = "../../common/acp_agents.rs"]
mod acp_agents;
#[path = "support/acp.rs"]
mod acp_client;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use acp_agents::AcpAgent;
use acp_client::{AcpClient, Permission, Transcript};
use mock_model::{Api, MockServer};
use serde_json::{Value, json};

/// What differs between the agents in the common scenario.
struct Expect {
    api: Api,
    /// The file name of the fixture, without the version.
    fixture_name: &'static str,
    /// The agent sends a `plan` update for the mock's plan tool.
    plan_update: bool,
    /// The agent asks permission for its plan tool.
    plan_asks: bool,
    /// After a rejected tool call the agent sends the result to the model and the turn goes on
    /// (opencode instead fails the tool call and ends the turn without another model call).
    reject_continues: bool,
}

struct World {
    mock: MockServer,
    root: tempfile::TempDir,
    work: PathBuf,
    agent: AcpAgent,
}

async fn world(name: &str) -> World {
    let mock = MockServer::start().await.unwrap();
    let root = tempfile::tempdir().unwrap();
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let work = work.canonicalize().unwrap();
    let agent = acp_agents::by_name(name, root.path(), &mock.base_url());
    World {
        mock,
        root,
        work,
        agent,
    }
}

/// Spawns the agent and initializes it; returns the client, the initialize result and the time
/// from spawn to the initialize response.
async fn start(w: &World, transcript: Transcript) -> (AcpClient, Value, Duration) {
    let mut c = AcpClient::spawn(&w.agent, &w.work, w.root.path(), transcript);
    let init = c
        .request("initialize", acp_agents::initialize_params(&w.agent))
        .await
        .unwrap_or_else(|e| panic!("initialize failed: {e}"));
    let took = c.age();
    (c, init, took)
}

/// One prompt to completion: the stop reason and the agent message text it streamed.
async fn prompt(c: &mut AcpClient, session: &str, text: &str) -> (String, String) {
    let from = c.updates.len();
    let result = c
        .request(
            "session/prompt",
            json!({"sessionId": session, "prompt": [{"type": "text", "text": text}]}),
        )
        .await
        .unwrap_or_else(|e| panic!("session/prompt {text:?} failed: {e}"));
    let stop = result["stopReason"].as_str().unwrap_or("").to_string();
    (stop, c.message_text_since(from))
}

fn permission_requests(c: &AcpClient) -> usize {
    c.agent_requests
        .iter()
        .filter(|r| r["method"] == "session/request_permission")
        .count()
}

/// The conversation text of the last model request of the session's API that is a real turn
/// (opencode's title requests carry no tools, claude's ask for a JSON title).
fn last_turn_text(mock: &MockServer, api: Api) -> String {
    mock.requests_to(api)
        .into_iter()
        .rev()
        .find(|r| {
            let b = &r.body;
            let has_tools = b
                .get("tools")
                .and_then(Value::as_array)
                .is_some_and(|t| !t.is_empty());
            has_tools || api == Api::Gemini
        })
        .map(|r| r.conversation_text())
        .unwrap_or_default()
}

async fn full_session(name: &str, expect: Expect) {
    let w = world(name).await;
    let (mut c, init, init_time) = start(&w, Transcript::default()).await;
    let version = init["agentInfo"]["version"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let caps = init["agentCapabilities"].clone();
    eprintln!("{name} {version}: spawn -> initialize {init_time:?}; agentCapabilities {caps}");
    assert_eq!(init["protocolVersion"], 1, "{init}");
    assert_eq!(caps["loadSession"], true, "{caps}");
    let resume = caps["sessionCapabilities"].get("resume").is_some();

    let new = c
        .request("session/new", json!({"cwd": w.work, "mcpServers": []}))
        .await
        .unwrap();
    // Taken once the session exists, so that its start is in this minute or an earlier one.
    let started = SystemTime::now();
    let session = new["sessionId"].as_str().unwrap().to_string();

    // A streamed reply with a thought before it.
    let from = c.updates.len();
    let (stop, text) = prompt(&mut c, &session, "REASON: weighing it").await;
    assert_eq!(stop, "end_turn");
    assert_eq!(text, "mock reply to: REASON: weighing it");
    let chunks = c.updates[from..]
        .iter()
        .filter(|u| u["update"]["sessionUpdate"] == "agent_message_chunk")
        .count();
    assert!(chunks >= 3, "the reply came in {chunks} chunks");
    let thought = c.chunk_text_since(from, "agent_thought_chunk");
    assert!(thought.contains("weighing it"), "thought: {thought:?}");

    // A file write, allowed.
    c.permission = Permission::AllowOnce;
    let asked = permission_requests(&c);
    let (stop, text) = prompt(&mut c, &session, "WRITE_FILE: allowed.txt hello acp").await;
    assert_eq!((stop.as_str(), text.as_str()), ("end_turn", "file written"));
    assert_eq!(
        permission_requests(&c),
        asked + 1,
        "one permission request for the write"
    );
    assert_eq!(
        std::fs::read_to_string(w.work.join("allowed.txt")).unwrap(),
        "hello acp"
    );

    // A command, rejected.
    c.permission = Permission::RejectOnce;
    let asked = permission_requests(&c);
    let from = c.updates.len();
    let (stop, text) = prompt(&mut c, &session, "RUN_CMD: touch denied.txt").await;
    assert_eq!(stop, "end_turn");
    if expect.reject_continues {
        assert!(text.starts_with("command rejected"), "{text:?}");
    } else {
        assert_eq!(text, "");
        assert!(
            c.updates[from..]
                .iter()
                .any(|u| u["update"]["sessionUpdate"] == "tool_call_update"
                    && u["update"]["status"] == "failed"),
            "the rejected tool call did not fail"
        );
    }
    assert_eq!(permission_requests(&c), asked + 1);
    assert!(!w.work.join("denied.txt").exists());
    c.permission = Permission::AllowOnce;

    // A plan.
    let from = c.updates.len();
    let asked = permission_requests(&c);
    let (stop, text) = prompt(&mut c, &session, "PLAN: first step; second step").await;
    assert_eq!((stop.as_str(), text.as_str()), ("end_turn", "plan noted"));
    let plans: Vec<&Value> = c.updates[from..]
        .iter()
        .filter(|u| u["update"]["sessionUpdate"] == "plan")
        .collect();
    if expect.plan_update {
        let entries = &plans.last().expect("a plan update")["update"]["entries"];
        assert_eq!(entries[0]["content"], "first step", "{entries}");
        assert_eq!(entries[1]["status"], "pending", "{entries}");
    } else {
        assert!(plans.is_empty(), "{plans:?}");
    }
    assert_eq!(
        permission_requests(&c) - asked,
        usize::from(expect.plan_asks)
    );

    // Cancel a slow reply once it streams; the next prompt is answered normally.
    let id = c
        .start_request(
            "session/prompt",
            json!({"sessionId": session, "prompt": [{"type": "text", "text": "SLOW please"}]}),
        )
        .await;
    c.wait_update("the first slow chunk", Duration::from_secs(60), |u| {
        u["sessionUpdate"] == "agent_message_chunk"
    })
    .await;
    let t = Instant::now();
    c.notify("session/cancel", json!({"sessionId": session}))
        .await;
    let result = c
        .response(id, "the cancelled prompt", Duration::from_secs(20))
        .await
        .unwrap();
    assert_eq!(result["stopReason"], "cancelled", "{result}");
    eprintln!("{name}: cancel -> cancelled in {:?}", t.elapsed());
    let (stop, text) = prompt(&mut c, &session, "after cancel").await;
    assert_eq!(
        (stop.as_str(), text.as_str()),
        ("end_turn", "mock reply to: after cancel")
    );

    // Restart the agent; session/load brings the conversation back.
    let transcript = c.kill().await;
    if name == "gemini" {
        acp_agents::wait_for_next_minute(started).await;
    }
    let (mut c, _, init_time) = start(&w, transcript).await;
    eprintln!("{name}: restart -> initialize {init_time:?}");
    let from = c.updates.len();
    c.request(
        "session/load",
        json!({"sessionId": session, "cwd": w.work, "mcpServers": []}),
    )
    .await
    .unwrap_or_else(|e| panic!("session/load failed: {e}"));
    // gemini-cli streams the replay after its session/load response: wait for its last message
    // so it does not mix with the next prompt's reply.
    let replay_done = |c: &AcpClient| {
        c.message_text_since(from)
            .ends_with("mock reply to: after cancel")
    };
    if !replay_done(&c) {
        c.wait_update("the end of the replay", Duration::from_secs(30), |u| {
            u["sessionUpdate"] == "agent_message_chunk"
                && u["content"]["text"]
                    .as_str()
                    .is_some_and(|t| t.ends_with("after cancel"))
        })
        .await;
    }
    assert!(replay_done(&c), "{}", c.message_text_since(from));
    let replayed = c.updates[from..]
        .iter()
        .filter(|u| u["update"]["sessionUpdate"] == "user_message_chunk")
        .count();
    eprintln!("{name}: session/load replayed {replayed} user_message_chunk updates");
    let (stop, text) = prompt(&mut c, &session, "after load").await;
    assert_eq!(
        (stop.as_str(), text.as_str()),
        ("end_turn", "mock reply to: after load")
    );
    let seen = last_turn_text(&w.mock, expect.api);
    assert!(
        seen.contains("REASON: weighing it") && seen.contains("after cancel"),
        "the model did not see the earlier messages after session/load:\n{seen}"
    );

    // And session/resume, where advertised.
    if resume {
        let transcript = c.kill().await;
        let (mut c2, _, _) = start(&w, transcript).await;
        let from = c2.updates.len();
        c2.request(
            "session/resume",
            json!({"sessionId": session, "cwd": w.work, "mcpServers": []}),
        )
        .await
        .unwrap_or_else(|e| panic!("session/resume failed: {e}"));
        let replayed = c2.updates[from..]
            .iter()
            .filter(|u| u["update"]["sessionUpdate"] == "user_message_chunk")
            .count();
        assert_eq!(replayed, 0, "session/resume must not replay");
        let (stop, text) = prompt(&mut c2, &session, "after resume").await;
        assert_eq!(
            (stop.as_str(), text.as_str()),
            ("end_turn", "mock reply to: after resume")
        );
        let seen = last_turn_text(&w.mock, expect.api);
        assert!(seen.contains("after load"), "{seen}");
        c = c2;
    }

    let fs: Vec<&str> = c
        .transcript
        .lines
        .iter()
        .filter(|l| l.dir == "out")
        .filter_map(|l| l.msg["method"].as_str())
        .filter(|m| m.starts_with("fs/"))
        .collect();
    eprintln!("{name}: fs requests {fs:?}");
    let transcript = c.kill().await;
    if std::env::var_os("BATON_RECORD_ACP").is_some() {
        let path = fixtures().join(format!("{}-{version}.jsonl", expect.fixture_name));
        acp_client::write_fixture(
            &path,
            &transcript,
            &[
                (w.work.to_string_lossy().into_owned(), "<CWD>"),
                (w.agent.home.to_string_lossy().into_owned(), "<HOME>"),
                (w.root.path().to_string_lossy().into_owned(), "<ROOT>"),
                (format!("127.0.0.1:{}", w.mock.port()), "127.0.0.1:<PORT>"),
            ],
        );
        eprintln!("wrote {}", path.display());
    }
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/acp")
}

#[tokio::test]
async fn opencode_full_session_over_acp() {
    full_session(
        "opencode",
        Expect {
            api: Api::ChatCompletions,
            fixture_name: "opencode",
            plan_update: false,
            plan_asks: false,
            reject_continues: false,
        },
    )
    .await;
}

#[tokio::test]
async fn gemini_full_session_over_acp() {
    full_session(
        "gemini",
        Expect {
            api: Api::Gemini,
            fixture_name: "gemini-cli",
            plan_update: false,
            plan_asks: true,
            reject_continues: true,
        },
    )
    .await;
}

#[tokio::test]
async fn claude_agent_acp_full_session_over_acp() {
    full_session(
        "claude-acp",
        Expect {
            api: Api::Messages,
            fixture_name: "claude-agent-acp",
            plan_update: true,
            plan_asks: false,
            reject_continues: true,
        },
    )
    .await;
}

/// The committed transcripts are whole sessions, one JSON-RPC message per line, with no
/// machine-specific paths.
#[test]
fn committed_transcripts_are_whole_sessions_without_local_paths() {
    let mut names: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "claude-agent-acp-0.101.0.jsonl",
            "gemini-cli-0.61.0.jsonl",
            "opencode-1.18.33.jsonl"
        ]
    );
    for name in names {
        let text = std::fs::read_to_string(fixtures().join(&name)).unwrap();
        assert!(text.len() < 64 * 1024, "{name} is {} bytes", text.len());
        for local in ["\"/tmp/", "\"/root/", "/work/"] {
            assert!(!text.contains(local), "{name} contains {local}");
        }
        let mut methods = Vec::new();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert!(v["dir"] == "in" || v["dir"] == "out", "{line}");
            assert!(v["process"].as_u64().unwrap() >= 1, "{line}");
            assert_eq!(v["msg"]["jsonrpc"], "2.0", "{line}");
            if let Some(m) = v["msg"]["method"].as_str() {
                methods.push(m.to_string());
            }
        }
        for m in [
            "initialize",
            "session/new",
            "session/prompt",
            "session/update",
            "session/request_permission",
            "session/cancel",
            "session/load",
        ] {
            assert!(methods.iter().any(|x| x == m), "{name} has no {m}");
        }
    }
}

/// claude-agent-acp's `/compact` (the only compact command among these agents) summarises
/// through the mock, and the next model request carries the summary.
#[tokio::test]
async fn claude_agent_acp_compact_summarises_through_the_mock() {
    let w = world("claude-acp").await;
    let (mut c, _, _) = start(&w, Transcript::default()).await;
    let new = c
        .request("session/new", json!({"cwd": w.work, "mcpServers": []}))
        .await
        .unwrap();
    let session = new["sessionId"].as_str().unwrap().to_string();
    let commands = c
        .wait_update("the available commands", WAIT_COMMANDS, |u| {
            u["sessionUpdate"] == "available_commands_update"
        })
        .await;
    assert!(
        commands["availableCommands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "compact"),
        "{commands}"
    );
    prompt(&mut c, &session, "remember: the code is 42").await;
    let from = c.updates.len();
    let (stop, _) = prompt(&mut c, &session, "/compact").await;
    assert_eq!(stop, "end_turn");
    assert!(
        c.updates[from..]
            .iter()
            .any(|u| u["update"]["sessionUpdate"] == "tool_call"
                && u["update"]["title"] == "Compact conversation"),
        "no compaction tool call"
    );
    let (_, text) = prompt(&mut c, &session, "after compact").await;
    assert_eq!(text, "mock reply to: after compact");
    let seen = last_turn_text(&w.mock, Api::Messages);
    assert!(
        seen.contains("MOCK SUMMARY: 1 earlier user messages; last: remember: the code is 42"),
        "{seen}"
    );
    c.kill().await;
}

const WAIT_COMMANDS: Duration = Duration::from_secs(30);
