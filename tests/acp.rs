//! ACP agents as baton providers, end to end: the real `baton` binary drives the pinned real
//! agents (opencode, gemini-cli, claude-agent-acp; recipes in `common/acp_agents.rs`) against the
//! mock model server, declared in a config file as `kind = "acp"` providers.
//!
//! Per agent (one test each, so the agents run side by side): a streamed turn, a permission
//! accepted (file written) and one declined (nothing done), an interrupt, a second thread on the
//! same agent process, a write outside the cwd refused, and a resume after a baton restart with
//! the earlier messages reaching the model. Then config errors, and the handoff chain
//! codex -> opencode -> claude-agent-acp -> gemini -> codex on one thread.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use common::acp_agents::{self, AcpAgent};
use common::{Api, Baton, Framing, TestEnv, is};
use serde_json::{Value, json};

/// Turns of real agents under load (2 cores shared with compilers) can take a while.
const T: Duration = Duration::from_secs(120);

/// Writes a config file declaring the three agents (ids `opencode`, `gemini`, `claude-acp`).
fn config(env: &TestEnv) -> (PathBuf, Vec<AcpAgent>) {
    let url = env.mock.base_url();
    let agents = vec![
        acp_agents::opencode(env.root.path(), &url),
        acp_agents::gemini(env.root.path(), &url),
        acp_agents::claude_acp(env.root.path(), &url),
    ];
    let mut text = String::new();
    for a in &agents {
        text.push_str(&a.provider_toml(a.name));
        if !a.fs_read {
            text.push_str("fs = { read_text_file = false }\n");
        }
        text.push('\n');
    }
    let path = env.root.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    (path, agents)
}

async fn baton(env: &TestEnv, config: &Path) -> Baton {
    let mut b = Baton::spawn(
        env,
        &["--config", config.to_str().unwrap()],
        Framing::Ndjson,
    )
    .await;
    b.initialize().await;
    b
}

/// `thread/start` (spawning the agent when it is not running: Node agents on a loaded machine can
/// take over 30 s to answer `initialize`).
async fn thread_on(b: &mut Baton, env: &TestEnv, provider: &str) -> String {
    let params = json!({"provider": provider, "cwd": env.work.to_str().unwrap()});
    let r = b
        .request_within("thread/start", params, T)
        .await
        .unwrap_or_else(|e| panic!("thread/start on {provider}: {e}\n{}", b.stderr_tail()));
    r["thread"]["id"].as_str().unwrap().to_string()
}

/// `turn/start` with one text input (which may spawn and resume the agent first); the turn id.
async fn turn(b: &mut Baton, thread: &str, text: &str) -> String {
    let params = json!({"threadId": thread, "input": [{"type": "text", "text": text}]});
    let r = b
        .request_within("turn/start", params, T)
        .await
        .unwrap_or_else(|e| panic!("turn/start {text:?}: {e}\n{}", b.stderr_tail()));
    r["turnId"].as_str().unwrap().to_string()
}

/// Runs one turn to its end, answering every approval with `decision`; the `turn.completed`
/// event and how many approvals were asked.
async fn run_turn(b: &mut Baton, thread: &str, text: &str, decision: &str) -> (Value, usize) {
    let turn_id = turn(b, thread, text).await;
    let deadline = tokio::time::Instant::now() + T;
    let mut approvals = 0;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let Some(msg) = b.read_message(left).await else {
            panic!(
                "turn {text:?} did not end within {T:?}\n{}",
                b.stderr_tail()
            );
        };
        if msg["method"] == "approval/request" {
            approvals += 1;
            b.respond(msg["id"].clone(), json!({"decision": decision}))
                .await;
        } else if msg["method"] == "thread/event"
            && is(&msg["params"], thread, "turn.completed")
            && msg["params"]["turnId"] == turn_id.as_str()
        {
            return (msg["params"].clone(), approvals);
        }
    }
}

/// The text of the assistant messages of a turn.
fn answer(b: &Baton, turn_id: &Value) -> String {
    b.events()
        .iter()
        .filter(|e| e["turnId"] == *turn_id && e["type"] == "item.completed")
        .filter(|e| e["data"]["itemType"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("|")
}

/// Direct children of `pid` whose command line contains `marker` (the agent processes baton
/// spawned; a node launcher `exec`s into node, so each agent is one child).
fn children(pid: u32, marker: &str) -> usize {
    common::descendants(pid)
        .into_iter()
        .filter(|c| {
            let stat = std::fs::read_to_string(format!("/proc/{c}/stat")).unwrap_or_default();
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1).map(str::to_string));
            let cmd = std::fs::read_to_string(format!("/proc/{c}/cmdline")).unwrap_or_default();
            ppid.as_deref() == Some(pid.to_string().as_str()) && cmd.contains(marker)
        })
        .count()
}

fn api_of(agent: &str) -> Api {
    match agent {
        "opencode" => Api::ChatCompletions,
        "gemini" => Api::Gemini,
        _ => Api::Messages,
    }
}

/// Everything one agent must do through baton.
async fn agent_scenarios(agent: &str, marker: &str) {
    let t0 = Instant::now();
    let env = TestEnv::new().await;
    let (cfg, _agents) = config(&env);
    let mut b = baton(&env, &cfg).await;
    let id = thread_on(&mut b, &env, agent).await;
    // Taken once the session exists: its start is in this minute or an earlier one. Taken
    // before `thread/start`, a start that crossed into the next minute made the restart's load
    // a same-minute one, which gemini-cli answers by wiping the session.
    let started_at = SystemTime::now();

    // A streamed turn.
    let (done, _) = run_turn(&mut b, &id, "hello from baton", "decline").await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let deltas = b
        .events()
        .iter()
        .filter(|e| e["turnId"] == done["turnId"] && e["type"] == "content.delta")
        .count();
    assert!(deltas >= 2, "{agent}: the answer streams ({deltas} deltas)");
    assert_eq!(
        answer(&b, &done["turnId"]),
        "mock reply to: hello from baton"
    );

    // A permission accepted writes the file; one declined does nothing.
    let (done, asked) = run_turn(&mut b, &id, "WRITE_FILE: accepted.txt hello acp", "accept").await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    assert!(asked >= 1, "{agent}: the write asked for permission");
    assert_eq!(
        std::fs::read_to_string(env.work.join("accepted.txt")).unwrap(),
        "hello acp"
    );
    let (done, asked) = run_turn(&mut b, &id, "RUN_CMD: touch denied.txt", "decline").await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    assert!(asked >= 1, "{agent}: the command asked for permission");
    assert!(
        !env.work.join("denied.txt").exists(),
        "{agent}: a declined command ran"
    );
    let approvals: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["type"] == "approval.requested")
        .collect();
    assert!(
        approvals.iter().any(|a| a["data"]["kind"] == "fileChange"),
        "{approvals:?}"
    );
    assert!(
        approvals.iter().any(|a| a["data"]["kind"] == "command"),
        "{approvals:?}"
    );

    // Interrupt while the model streams.
    let turn_id = turn(&mut b, &id, "SLOW please").await;
    let tid = turn_id.clone();
    let id2 = id.clone();
    b.wait_event(T, move |e| {
        is(e, &id2, "content.delta") && e["turnId"] == tid.as_str()
    })
    .await;
    b.request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap();
    let tid = turn_id.clone();
    let id2 = id.clone();
    let done = b
        .wait_event(T, move |e| {
            is(e, &id2, "turn.completed") && e["turnId"] == tid.as_str()
        })
        .await;
    assert_eq!(done["data"]["state"], "interrupted", "{done}");

    // A second thread runs on the same agent process.
    let other = thread_on(&mut b, &env, agent).await;
    let (done, _) = run_turn(&mut b, &other, "second thread", "decline").await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    assert_eq!(
        children(b.pid(), marker),
        1,
        "{agent}: one agent process for both threads"
    );

    // A write outside the thread's cwd: baton refuses the agent's `fs/write_text_file` even with
    // the permission granted. gemini-cli then gives up (nothing is written); opencode falls back
    // to writing the file itself (its own `external_directory` permission, asked before, is the
    // gate there). claude-agent-acp writes by itself; for it the permission is the only gate.
    if agent != "claude-acp" {
        let outside = env.root.path().join("outside.txt");
        let text = format!("WRITE_FILE: {} nope", outside.display());
        let (done, _) = run_turn(&mut b, &other, &text, "accept").await;
        assert_eq!(done["data"]["state"], "completed", "{done}");
        if agent == "opencode" {
            assert!(
                b.stderr_tail().contains("agent write refused"),
                "{}",
                b.stderr_tail()
            );
        } else {
            assert!(!outside.exists(), "{agent}: wrote outside its cwd");
        }
    }

    // A baton restart: the thread resumes the agent's session and the model sees the history.
    b.close_stdin().await;
    assert_eq!(
        b.wait_exit(Duration::from_secs(20)).await,
        Some(0),
        "{}",
        b.stderr_tail()
    );
    assert_eq!(
        children(b.pid(), marker),
        0,
        "{agent}: left behind after shutdown"
    );
    if agent == "gemini" {
        // gemini-cli loads a session only in a later clock minute than it started.
        acp_agents::wait_for_next_minute(started_at).await;
    }
    let mut b = baton(&env, &cfg).await;
    let before = env.mock.requests_to(api_of(agent)).len();
    let (done, _) = run_turn(&mut b, &id, "RESUMECHECK what came before", "decline").await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let started = b
        .events()
        .into_iter()
        .find(|e| is(e, &id, "session.started"))
        .unwrap();
    assert_eq!(started["data"]["resumed"], true, "{agent}: {started}");
    let seen = env.mock.requests_to(api_of(agent))[before..]
        .iter()
        .any(|r| {
            r.last_user_text().contains("RESUMECHECK")
                && r.conversation_text().contains("hello from baton")
        });
    assert!(
        seen,
        "{agent}: the resumed session's model request carries the earlier turns"
    );
    assert!(
        !b.events().iter().any(|e| is(e, &id, "item.completed")
            && e["data"]["text"] == "mock reply to: hello from baton"),
        "{agent}: the load's replay was logged again"
    );
    eprintln!("{agent}: scenarios took {:?}", t0.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_through_baton() {
    agent_scenarios("opencode", "opencode").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_through_baton() {
    agent_scenarios("gemini", "gemini").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_agent_acp_through_baton() {
    agent_scenarios("claude-acp", "claude-agent-acp").await;
}

#[tokio::test]
async fn config_errors_are_reported_and_valid_providers_served() {
    let env = TestEnv::new().await;
    let cfg = env.root.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[providers.found]\nkind = \"acp\"\ncommand = [\"/bin/true\"]\n\n[providers.broken]\nkind = \"acp\"\n",
    )
    .unwrap();
    let mut b = Baton::spawn(&env, &["--config", cfg.to_str().unwrap()], Framing::Ndjson).await;
    let init = b
        .initialize_with(json!({"providers": {
            "extra": {"kind": "acp", "command": []},
            "added": {"kind": "acp", "command": ["/bin/true"]}
        }}))
        .await;
    let errors = init["configErrors"].as_array().unwrap().clone();
    let text = serde_json::to_string(&errors).unwrap();
    assert!(
        text.contains("bad.toml:5") && text.contains("providers.broken.command"),
        "{text}"
    );
    assert!(
        text.contains("initializationOptions.providers") && text.contains("extra.command"),
        "{text}"
    );
    let list = b.request("provider/list", json!({})).await.unwrap();
    assert_eq!(list["configErrors"], json!(errors));
    let ids: Vec<&str> = list["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    // The file's valid entry and the editor's own (initializationOptions.providers) are served.
    assert_eq!(ids, ["codex", "claude", "added", "found"]);
    let found = &list["providers"][3];
    assert_eq!(
        (found["kind"].as_str(), found["available"].as_bool()),
        (Some("acp"), Some(true)),
        "its command exists"
    );
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(["doctor", "--config", cfg.to_str().unwrap()])
        .envs(env.baton_env())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("providers.broken.command"), "{stdout}");
    // doctor runs each ACP agent once: /bin/true exits without answering initialize.
    assert!(
        stdout.contains("found") && stdout.contains("initialize"),
        "{stdout}"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
}

/// The first request to `api` after `since` requests; its whole conversation text.
fn first_after(env: &TestEnv, api: Api, since: usize, marker: &str) -> String {
    env.mock.requests_to(api)[since..]
        .iter()
        .find(|r| r.last_user_text().contains(marker))
        .map(|r| r.conversation_text())
        .unwrap_or_else(|| panic!("no {api:?} request for {marker}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thread_hands_over_codex_opencode_claude_gemini_codex() {
    let t0 = Instant::now();
    let env = TestEnv::new().await;
    let (cfg, _agents) = config(&env);
    let mut b = baton(&env, &cfg).await;
    let id = thread_on(&mut b, &env, "codex").await;
    let (done, _) = run_turn(&mut b, &id, "the secret word is PAPAYA", "decline").await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let hops = [
        ("opencode", Api::ChatCompletions, "HOP1"),
        ("claude-acp", Api::Messages, "HOP2"),
        ("gemini", Api::Gemini, "HOP3"),
        ("codex", Api::Responses, "HOP4"),
    ];
    for (i, (to, api, marker)) in hops.iter().enumerate() {
        let r = b
            .request_within("thread/switch", json!({"threadId": id, "provider": to}), T)
            .await
            .unwrap_or_else(|e| panic!("switch to {to}: {e}\n{}", b.stderr_tail()));
        eprintln!("-> {to}: {} after {:?}", r["handoff"], t0.elapsed());
        let since = env.mock.requests_to(*api).len();
        let text = format!("{marker} what is the secret word");
        let (done, _) = run_turn(&mut b, &id, &text, "decline").await;
        assert_eq!(done["data"]["state"], "completed", "{to}: {done}");
        let seen = first_after(&env, *api, since, marker);
        assert!(
            seen.contains("PAPAYA"),
            "{to}'s first request lacks the earlier context:\n{seen}"
        );
        if i > 0 {
            // And what the previous agent was told is there too.
            let prev = hops[i - 1].2;
            assert!(
                seen.contains(prev),
                "{to}'s first request lacks the {prev} turn:\n{seen}"
            );
        }
    }
    let switches: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "handoff.completed"))
        .collect();
    assert_eq!(switches.len(), 4, "{switches:?}");
    eprintln!("chain took {:?}", t0.elapsed());
}
