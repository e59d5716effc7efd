//! The Claude Code provider end to end: the real `baton` binary driving the real `claude` CLI
//! (2.1.328) against the mock Messages API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Baton, Framing, TestEnv, descendants, is, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn start_thread(b: &mut Baton, env: &TestEnv, extra: Value) -> Value {
    common::start_thread(b, env, "claude", extra).await
}

fn claude_pids(baton_pid: u32) -> Vec<u32> {
    common::native_pids(baton_pid, "stream-json")
}

fn claude_requests(env: &TestEnv) -> Vec<common::RecordedRequest> {
    env.mock.requests_to(common::Api::Messages)
}

#[tokio::test]
async fn streamed_text_equals_the_final_text() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    assert_eq!(thread["provider"], "claude");
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    assert_eq!(
        cursor.len(),
        36,
        "claude's session id is chosen up front: {cursor}"
    );
    let t = turn(&mut b, &id, "greet me warmly").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let events: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["turnId"] == t.as_str())
        .collect();
    let deltas: String = events
        .iter()
        .filter(|e| e["type"] == "content.delta" && e["data"]["stream"] == "assistant")
        .map(|e| e["data"]["delta"].as_str().unwrap())
        .collect();
    let finals: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(finals, vec![deltas.as_str()]);
    assert!(deltas.contains("greet me warmly"), "{deltas}");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "user_message")
    );
    let usage = events
        .iter()
        .find(|e| e["type"] == "usage.updated")
        .unwrap();
    assert!(usage["data"]["outputTokens"].as_i64().unwrap() > 0);
    assert!(usage["data"]["costUsd"].is_number(), "{usage}");
    // The session file claude wrote is the one baton will resume.
    let sessions = env.home.join(".claude/projects");
    let found = walk(&sessions)
        .into_iter()
        .any(|p| p.ends_with(format!("{cursor}.jsonl")));
    assert!(found, "claude did not store session {cursor}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn write_approval_accepted_writes_and_declined_does_not() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (file, decision) in [("yes.txt", "accept"), ("no.txt", "decline")] {
        let t = turn(
            &mut b,
            &id,
            &format!("WRITE_FILE: {file} hello from claude"),
        )
        .await;
        let req = b.next_server_request(T).await;
        assert_eq!(req["method"], "approval/request");
        assert_eq!(req["params"]["kind"], "fileChange", "{req}");
        assert_eq!(req["params"]["turnId"], t.as_str());
        let change = &req["params"]["changes"][0];
        assert!(change["path"].as_str().unwrap().ends_with(file), "{req}");
        b.respond(req["id"].clone(), json!({"decision": decision}))
            .await;
        let done = wait_turn_end(&mut b, &id, &t).await;
        assert_eq!(done["data"]["state"], "completed", "{done}");
        assert_eq!(
            env.work.join(file).exists(),
            decision == "accept",
            "{file} after {decision}"
        );
        let i = id.clone();
        let u = t.clone();
        let resolved = b
            .wait_event(T, move |e| {
                is(e, &i, "approval.resolved") && e["turnId"] == u.as_str()
            })
            .await;
        assert_eq!(resolved["data"]["decision"], decision);
    }
    assert_eq!(
        std::fs::read_to_string(env.work.join("yes.txt"))
            .unwrap()
            .trim(),
        "hello from claude"
    );
    // acceptForSession: the second write of the session is not asked for again.
    let t = turn(&mut b, &id, "WRITE_FILE: s1.txt one").await;
    let req = b.next_server_request(T).await;
    b.respond(req["id"].clone(), json!({"decision": "acceptForSession"}))
        .await;
    wait_turn_end(&mut b, &id, &t).await;
    let t = turn(&mut b, &id, "WRITE_FILE: s2.txt two").await;
    wait_turn_end(&mut b, &id, &t).await;
    assert!(env.work.join("s1.txt").exists() && env.work.join("s2.txt").exists());
    let asked = b
        .events()
        .into_iter()
        .filter(|e| e["type"] == "approval.requested")
        .count();
    assert_eq!(asked, 3);
}

#[tokio::test]
async fn approval_policy_never_allows_without_asking() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({"approvalPolicy": "never"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "WRITE_FILE: auto.txt fine").await;
    wait_turn_end(&mut b, &id, &t).await;
    assert!(env.work.join("auto.txt").exists());
    assert!(b.events().iter().all(|e| e["type"] != "approval.requested"));
}

#[tokio::test]
async fn interrupt_of_a_slow_stream_and_the_session_stays_usable() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "SLOW please").await;
    let i = id.clone();
    b.wait_event(T, move |e| {
        is(e, &i, "content.delta") && e["data"]["stream"] == "assistant"
    })
    .await;
    let pids = claude_pids(b.pid());
    b.request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap();
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "interrupted", "{done}");
    let t2 = turn(&mut b, &id, "quick one").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
    assert_eq!(
        claude_pids(b.pid()),
        pids,
        "the same claude process serves the next turn"
    );
}

#[tokio::test]
async fn api_error_529_fails_the_turn_with_the_message() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "FAIL_529 now").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "failed", "{done}");
    let error = done["data"]["error"].as_str().unwrap();
    assert!(
        error.contains("529") || error.contains("Overloaded"),
        "{error}"
    );
    let t2 = turn(&mut b, &id, "recovered?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
}

#[tokio::test]
async fn soft_stop_resumes_with_history_and_detach_starts_fresh() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    let t = turn(&mut b, &id, "remember the word ORCHID").await;
    wait_turn_end(&mut b, &id, &t).await;
    let pids = claude_pids(b.pid());
    assert_eq!(pids.len(), 1);
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    assert!(
        claude_pids(b.pid()).is_empty(),
        "soft stop ends the claude process"
    );
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "what was the word?").await;
    wait_turn_end(&mut b, &id, &t).await;
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], true);
    assert_eq!(
        started.last().unwrap()["data"]["providerThreadId"],
        cursor.as_str()
    );
    let seen = claude_requests(&env).last().unwrap().conversation_text();
    assert!(
        seen.contains("ORCHID"),
        "the resumed session must carry the earlier turn: {seen}"
    );

    b.request("thread/stop", json!({"threadId": id, "detach": true}))
        .await
        .unwrap();
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "fresh start").await;
    wait_turn_end(&mut b, &id, &t).await;
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], false);
    assert_ne!(
        started.last().unwrap()["data"]["providerThreadId"],
        cursor.as_str()
    );
    let seen = claude_requests(&env).last().unwrap().conversation_text();
    assert!(
        !seen.contains("ORCHID"),
        "a detached thread starts fresh: {seen}"
    );
}

#[tokio::test]
async fn claude_killed_mid_turn_then_the_next_turn_resumes() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "remember TULIP").await;
    wait_turn_end(&mut b, &id, &t).await;
    let t = turn(&mut b, &id, "HANG now").await;
    let i = id.clone();
    b.wait_event(T, move |e| {
        is(e, &i, "item.completed") && e["data"]["itemType"] == "user_message"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pids = claude_pids(b.pid());
    assert_eq!(pids.len(), 1);
    std::process::Command::new("kill")
        .arg("-9")
        .arg(pids[0].to_string())
        .status()
        .unwrap();
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "failed");
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "crashed");
    assert_eq!(exited["data"]["recoverable"], true);
    let crashes = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.exited"))
        .count();
    assert_eq!(crashes, 1, "exactly one session.exited per exit");
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "which flower?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    assert!(
        claude_requests(&env)
            .last()
            .unwrap()
            .conversation_text()
            .contains("TULIP")
    );
}

#[tokio::test]
async fn baton_restart_then_resume() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "remember LILAC").await;
    wait_turn_end(&mut b, &id, &t).await;
    let all = descendants(b.pid());
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        all.iter().all(|p| !common::process_alive(*p)),
        "claude outlived baton"
    );

    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "which flower?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    let started = b.wait_event(T, |e| e["type"] == "session.started").await;
    assert_eq!(started["data"]["resumed"], true);
    assert!(
        claude_requests(&env)
            .last()
            .unwrap()
            .conversation_text()
            .contains("LILAC")
    );
}

#[tokio::test]
async fn idle_reaping_then_resume() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--idle-timeout", "2"], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "remember POPPY").await;
    wait_turn_end(&mut b, &id, &t).await;
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "idle");
    assert!(
        claude_pids(b.pid()).is_empty(),
        "the reaped session's process is gone"
    );
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "which flower?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    assert!(
        claude_requests(&env)
            .last()
            .unwrap()
            .conversation_text()
            .contains("POPPY")
    );
}

#[tokio::test]
async fn a_thread_started_but_never_used_continues_under_the_same_id() {
    // Claude stores nothing before a session's first turn, so the resume finds no conversation.
    // Nothing was lost, but baton cannot tell that from a deleted session: it says so once and
    // keeps the cursor.
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    let t = turn(&mut b, &id, "first words").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    let warnings: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "runtime.warning"))
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(
        warnings[0]["data"]["message"]
            .as_str()
            .unwrap()
            .contains(&cursor)
    );
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started[1]["data"]["providerThreadId"], cursor.as_str());
    assert_eq!(started[1]["data"]["resumed"], false);
    // The refused resume is the start's business: it reports no turn or usage of its own.
    assert!(
        b.events()
            .iter()
            .filter(|e| is(e, &id, "usage.updated"))
            .count()
            == 1
    );
}

#[tokio::test]
async fn a_symlinked_cwd_still_resumes_with_history() {
    // Claude files sessions under the real path of its cwd, so baton must not guess the file's
    // location from the thread's cwd: a resume has to work through a symlink too.
    let env = TestEnv::new().await;
    let link = env.root.path().join("work-link");
    std::os::unix::fs::symlink(&env.work, &link).unwrap();
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({"cwd": link.to_str().unwrap()})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t = turn(&mut b, &id, "remember DAHLIA").await;
    wait_turn_end(&mut b, &id, &t).await;
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "which flower?").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let i = id.clone();
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &i, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], true);
    assert!(
        claude_requests(&env)
            .last()
            .unwrap()
            .conversation_text()
            .contains("DAHLIA")
    );
}

#[tokio::test]
async fn a_session_claude_deleted_starts_fresh_with_a_warning() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    let t = turn(&mut b, &id, "remember IRIS").await;
    wait_turn_end(&mut b, &id, &t).await;
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    // Claude deletes old sessions on its own (cleanupPeriodDays); here it happens at once.
    let files: Vec<_> = walk(&env.home.join(".claude/projects"))
        .into_iter()
        .filter(|p| p.ends_with(format!("{cursor}.jsonl")))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::remove_file(&files[0]).unwrap();
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "which flower?").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let i = id.clone();
    let warning = b.wait_event(T, move |e| is(e, &i, "runtime.warning")).await;
    assert!(
        warning["data"]["message"]
            .as_str()
            .unwrap()
            .contains(&cursor),
        "the warning names the lost session: {warning}"
    );
    let i = id.clone();
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &i, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], false);
    // A failed resume reports nothing of its own: no usage or turn events from the dead process.
    let usage = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "usage.updated"))
        .count();
    assert_eq!(usage, 2, "one usage.updated per real turn");
    assert!(
        !claude_requests(&env)
            .last()
            .unwrap()
            .conversation_text()
            .contains("IRIS")
    );
}

/// The direct children of `pid` (the processes baton spawned itself).
fn children(pid: u32) -> Vec<u32> {
    descendants(pid)
        .into_iter()
        .filter(|c| {
            std::fs::read_to_string(format!("/proc/{c}/stat"))
                .ok()
                .and_then(|s| {
                    let (_, rest) = s.rsplit_once(')')?;
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// A SIGKILLed baton runs no destructor: the kernel kills claude (parent-death signal), which
/// would otherwise keep running mid-turn.
#[tokio::test]
async fn a_sigkilled_baton_leaves_no_claude_behind() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let _t = turn(&mut b, &id, "HANG for a while").await;
    let i = id.clone();
    b.wait_event(T, move |e| is(e, &i, "turn.started")).await;
    let claude = children(b.pid());
    assert!(!claude.is_empty(), "claude runs as baton's child");
    b.kill9();
    b.wait_exit(Duration::from_secs(5)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while claude.iter().any(|p| common::process_alive(*p)) && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        claude.iter().all(|p| !common::process_alive(*p)),
        "claude outlived a SIGKILLed baton"
    );
}
