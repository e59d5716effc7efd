//! The Claude Code provider end to end: the real `baton` binary driving the real `claude` CLI
//! (2.1.328) against the mock Messages API: what is Claude's own. The scenarios every provider
//! runs (streaming, approvals, interrupt, stop/resume, restarts, errors, compaction) are in
//! `scenarios.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Baton, Framing, TestEnv, descendants, is, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn start_thread(b: &mut Baton, env: &TestEnv, extra: Value) -> Value {
    common::start_thread(b, env, "claude", extra).await
}

fn claude_requests(env: &TestEnv) -> Vec<common::RecordedRequest> {
    env.mock.requests_to(common::Api::Messages)
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
async fn the_session_id_is_chosen_up_front_and_its_file_is_the_one_resumed() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    assert_eq!(
        cursor.len(),
        36,
        "claude's session id is chosen up front: {cursor}"
    );
    let t = turn(&mut b, &id, "greet me warmly").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let usage = b
        .events()
        .into_iter()
        .find(|e| e["turnId"] == t.as_str() && e["type"] == "usage.updated")
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

/// acceptForSession: the second write of the session is not asked for again.
#[tokio::test]
async fn accept_for_session_is_not_asked_again() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "WRITE_FILE: s1.txt one").await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request");
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
    assert_eq!(asked, 1);
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
