//! The Codex provider end to end: the real `baton` binary driving the real `codex app-server`
//! (0.169.0) against the mock Responses API: what is Codex's own (one shared process, its lost
//! cursors, a killed baton, doctor). The scenarios every provider runs are in `scenarios.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Baton, Framing, TestEnv, descendants, is, process_alive, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn start_thread(b: &mut Baton, env: &TestEnv, extra: Value) -> Value {
    common::start_thread(b, env, "codex", extra).await
}
fn codex_pids(baton_pid: u32) -> Vec<u32> {
    common::native_pids(baton_pid, "app-server")
}

#[tokio::test]
async fn baton_killed_mid_turn_then_restart_closes_the_log_and_resumes() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t1 = turn(&mut b, &id, "remember KIWI").await;
    wait_turn_end(&mut b, &id, &t1).await;
    let t2 = turn(&mut b, &id, "HANG now").await;
    let codex = codex_pids(b.pid());
    b.kill9();
    b.wait_exit(Duration::from_secs(5)).await;
    // The orphaned codex sees EOF on stdin and exits by itself.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while codex.iter().any(|p| process_alive(*p)) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        codex.iter().all(|p| !process_alive(*p)),
        "codex outlived a killed baton"
    );

    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let events = read["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["type"], "turn.completed", "{last}");
    assert_eq!(last["turnId"], t2.as_str());
    assert_eq!(last["data"]["state"], "failed");
    assert_eq!(last["data"]["error"], "baton restarted");
    assert_eq!(read["thread"]["status"], "stopped");
    env.mock.clear_requests();
    let t3 = turn(&mut b, &id, "which fruit?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t3).await["data"]["state"],
        "completed"
    );
    assert!(
        env.mock
            .requests()
            .last()
            .unwrap()
            .conversation_text()
            .contains("KIWI")
    );
    let started = b.wait_event(T, |e| e["type"] == "session.started").await;
    assert_eq!(started["data"]["resumed"], true);
}

#[tokio::test]
async fn two_threads_share_one_codex_process_and_eof_leaves_no_child() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let a = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let c = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ta = turn(&mut b, &a, "thread A speaks").await;
    let tc = turn(&mut b, &c, "thread C speaks").await;
    wait_turn_end(&mut b, &a, &ta).await;
    wait_turn_end(&mut b, &c, &tc).await;
    assert_eq!(
        codex_pids(b.pid()).len(),
        1,
        "one codex app-server serves both threads"
    );
    // Each thread only saw its own text.
    let text = |t: &str| -> String {
        b.events()
            .into_iter()
            .filter(|e| e["threadId"] == t && e["type"] == "content.delta")
            .map(|e| e["data"]["delta"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(text(&a).contains("thread A") && !text(&a).contains("thread C"));
    assert!(text(&c).contains("thread C") && !text(&c).contains("thread A"));
    let all = descendants(b.pid());
    assert!(!all.is_empty());
    b.close_stdin().await;
    let started = std::time::Instant::now();
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));
    assert!(started.elapsed() < Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left: Vec<u32> = all.into_iter().filter(|p| process_alive(*p)).collect();
    assert!(left.is_empty(), "children left behind: {left:?}");
}

#[tokio::test]
async fn a_cursor_codex_lost_starts_fresh_with_a_warning() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize_with(json!({"includeRaw": true})).await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    let t1 = turn(&mut b, &id, "remember FIG").await;
    wait_turn_end(&mut b, &id, &t1).await;
    // includeRaw: live events carry the provider's message, persisted ones never do.
    let live_delta = b
        .events()
        .into_iter()
        .find(|e| e["type"] == "content.delta")
        .unwrap();
    assert_eq!(
        live_delta["data"]["raw"]["method"], "item/agentMessage/delta",
        "{live_delta}"
    );
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    assert!(
        read["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["data"].get("raw").is_none())
    );

    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    // Codex forgets the thread: its rollout files are gone.
    std::fs::remove_dir_all(env.codex_home.join("sessions")).unwrap();
    let t2 = turn(&mut b, &id, "anything there?").await;
    wait_turn_end(&mut b, &id, &t2).await;
    let i = id.clone();
    let warning = b
        .wait_event(T, move |e| {
            is(e, &i, "runtime.warning")
                && e["data"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("no longer has")
        })
        .await;
    assert!(
        warning["data"]["message"]
            .as_str()
            .unwrap()
            .contains(&cursor),
        "{warning}"
    );
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
}

#[tokio::test]
async fn doctor_reports_providers_and_problems() {
    let env = TestEnv::new().await;
    let run = |extra: Vec<(&str, &str)>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_baton"));
        cmd.arg("doctor").envs(env.baton_env());
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let ok = run(vec![]);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{text}");
    assert!(text.contains("codex") && text.contains("0.169.0"), "{text}");
    assert!(text.contains(env.db.to_str().unwrap()), "{text}");
    let bad = run(vec![("BATON_CODEX_BIN", "/nonexistent/codex")]);
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("/nonexistent/codex does not exist"), "{text}");
}

/// Two editors may each run a baton on the same database: the second one's startup recovery must
/// leave the first one's live turn alone, and recover it only once that baton is gone.
#[tokio::test]
async fn a_second_baton_on_the_same_database_leaves_live_turns_alone() {
    let env = TestEnv::new().await;
    let mut a = Baton::spawn(&env, &[], Framing::Lsp).await;
    a.initialize().await;
    let id = start_thread(&mut a, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut a, &id, "HANG here").await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let last = read["events"].as_array().unwrap().last().unwrap().clone();
    assert_ne!(
        last["type"], "turn.completed",
        "the live turn was closed by the other baton: {last}"
    );
    assert_eq!(read["thread"]["status"], "running");
    b.close_stdin().await;
    b.wait_exit(Duration::from_secs(5)).await;
    a.kill9();
    a.wait_exit(Duration::from_secs(5)).await;
    let mut c = Baton::spawn(&env, &[], Framing::Lsp).await;
    c.initialize().await;
    let read = c
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let last = read["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (last["type"].clone(), last["turnId"].clone()),
        (json!("turn.completed"), json!(t)),
        "{last}"
    );
    assert_eq!(last["data"]["error"], "baton restarted");
}

/// A provider streaming faster than baton drains must not wedge a stop: the actor keeps draining
/// the thread's (now stale) events while it waits for the provider, and the shared codex process
/// goes on serving the other thread.
#[tokio::test]
async fn stopping_a_flooding_turn_does_not_wedge_the_thread_or_codex() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "FLOOD please").await;
    let i = id.clone();
    b.wait_event(T, move |e| is(e, &i, "content.delta")).await;
    let started = std::time::Instant::now();
    let stopped = b
        .request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    assert_eq!(stopped["thread"]["status"], "stopped");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stop took {:?}",
        started.elapsed()
    );
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "interrupted");
    let t2 = turn(&mut b, &other, "still served?").await;
    assert_eq!(
        wait_turn_end(&mut b, &other, &t2).await["data"]["state"],
        "completed"
    );
}

#[tokio::test]
async fn an_unanswered_approval_is_declined_after_the_approval_timeout() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize_with(json!({"approvalTimeoutSecs": 1})).await;
    let id = start_thread(
        &mut b,
        &env,
        json!({"approvalPolicy": "untrusted", "sandbox": "workspace-write"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "RUN_CMD: touch ignored.txt").await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request");
    // No answer: after a second the approval counts as declined.
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed");
    let resolved = b
        .events()
        .into_iter()
        .find(|e| is(e, &id, "approval.resolved"))
        .unwrap();
    assert_eq!(resolved["data"]["decision"], "decline");
    assert_eq!(resolved["data"]["by"], "timeout");
    assert!(!env.work.join("ignored.txt").exists());
}
