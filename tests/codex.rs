//! The Codex provider end to end: the real `baton` binary driving the real `codex app-server`
//! (0.169.0) against the mock Responses API.
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
async fn streamed_deltas_equal_the_final_text() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({"title": "first"})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    assert_eq!(thread["status"], "idle");
    assert!(thread["providerThreadId"].is_string());
    let turn_id = turn(&mut b, &id, "say hello please").await;
    let done = wait_turn_end(&mut b, &id, &turn_id).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let events = b.events();
    let ours: Vec<&Value> = events
        .iter()
        .filter(|e| e["turnId"] == turn_id.as_str())
        .collect();
    let deltas: String = ours
        .iter()
        .filter(|e| e["type"] == "content.delta" && e["data"]["stream"] == "assistant")
        .map(|e| e["data"]["delta"].as_str().unwrap())
        .collect();
    let finals: Vec<&str> = ours
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "assistant_message")
        .map(|e| e["data"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(finals.len(), 1, "{ours:#?}");
    assert!(
        deltas.len() > 3 && deltas.contains("say hello please"),
        "{deltas}"
    );
    assert_eq!(deltas, finals[0]);
    assert!(
        ours.iter().filter(|e| e["type"] == "content.delta").count() >= 3,
        "several deltas expected"
    );
    // seq strictly increasing from 1 with no gaps, for this thread.
    let seqs: Vec<i64> = events
        .iter()
        .filter(|e| e["threadId"] == id.as_str())
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    // thread/read replays exactly what was notified live (everything notified before its reply).
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let live: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["threadId"] == id.as_str())
        .collect();
    pretty_assertions::assert_eq!(read["events"].as_array().unwrap(), &live);
    assert_eq!(read["thread"]["lastSeq"], live.len() as i64);
    // thread/read with sinceSeq and limit.
    let part = b
        .request(
            "thread/read",
            json!({"threadId": id, "sinceSeq": 2, "limit": 3}),
        )
        .await
        .unwrap();
    let part = part["events"].as_array().unwrap();
    assert_eq!(part.len(), 3);
    assert_eq!(part[0]["seq"], 3);
    let list = b.request("thread/list", json!({})).await.unwrap();
    assert_eq!(list["threads"][0]["id"], id.as_str());
    assert_eq!(list["threads"][0]["title"], "first");
}

#[tokio::test]
async fn command_approval_accept_runs_and_decline_does_not() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let thread = start_thread(
        &mut b,
        &env,
        json!({"approvalPolicy": "untrusted", "sandbox": "workspace-write"}),
    )
    .await;
    let id = thread["id"].as_str().unwrap().to_string();
    for (file, decision) in [("accepted.txt", "accept"), ("declined.txt", "decline")] {
        let turn_id = turn(&mut b, &id, &format!("RUN_CMD: touch {file}")).await;
        let req = b.next_server_request(T).await;
        assert_eq!(req["method"], "approval/request", "{req}");
        let p = &req["params"];
        assert_eq!(p["threadId"], id.as_str());
        assert_eq!(p["turnId"], turn_id.as_str());
        assert_eq!(p["kind"], "command");
        assert!(p["command"].as_str().unwrap().contains(file), "{p}");
        let request_id = p["requestId"].as_str().unwrap().to_string();
        b.respond(req["id"].clone(), json!({"decision": decision}))
            .await;
        let done = wait_turn_end(&mut b, &id, &turn_id).await;
        assert_eq!(done["data"]["state"], "completed", "{done}");
        let events = b.events();
        assert!(
            events.iter().any(|e| e["type"] == "approval.requested"
                && e["data"]["requestId"] == request_id.as_str())
        );
        assert!(events.iter().any(|e| e["type"] == "approval.resolved"
            && e["data"]["requestId"] == request_id.as_str()
            && e["data"]["decision"] == decision));
        let exists = env.work.join(file).exists();
        assert_eq!(exists, decision == "accept", "{file} after {decision}");
    }
    let cmds: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "command")
        .collect();
    assert_eq!(
        cmds.first().map(|c| c["data"]["exitCode"].clone()),
        Some(json!(0)),
        "{cmds:#?}"
    );
}

#[tokio::test]
async fn approval_error_reply_counts_as_decline() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(
        &mut b,
        &env,
        json!({"approvalPolicy": "untrusted", "sandbox": "workspace-write"}),
    )
    .await;
    let id = thread["id"].as_str().unwrap().to_string();
    let turn_id = turn(&mut b, &id, "RUN_CMD: touch errored.txt").await;
    let req = b.next_server_request(T).await;
    b.respond_error(req["id"].clone(), -32000, "the editor could not ask")
        .await;
    wait_turn_end(&mut b, &id, &turn_id).await;
    assert!(!env.work.join("errored.txt").exists());
    assert!(
        b.events()
            .iter()
            .any(|e| e["type"] == "approval.resolved" && e["data"]["decision"] == "decline")
    );
}

#[tokio::test]
async fn interrupt_ends_the_turn_interrupted() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let turn_id = turn(&mut b, &id, "SLOW please").await;
    let i = id.clone();
    b.wait_event(T, move |e| is(e, &i, "content.delta")).await;
    // A second turn while one runs is refused.
    let err = b
        .request(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": "again"}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32011);
    b.request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap();
    let done = wait_turn_end(&mut b, &id, &turn_id).await;
    assert_eq!(done["data"]["state"], "interrupted");
    let err = b
        .request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32012);
    // The thread is usable afterwards.
    let t2 = turn(&mut b, &id, "and now quickly").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
}

#[tokio::test]
async fn soft_stop_resumes_and_detach_starts_fresh() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    let t1 = turn(&mut b, &id, "remember the word PAPAYA").await;
    wait_turn_end(&mut b, &id, &t1).await;

    let stopped = b
        .request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    assert_eq!(stopped["thread"]["status"], "stopped");
    assert_eq!(stopped["thread"]["providerThreadId"], cursor.as_str());
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "stopped");
    assert_eq!(exited["data"]["recoverable"], true);

    env.mock.clear_requests();
    let t2 = turn(&mut b, &id, "what was the word?").await;
    wait_turn_end(&mut b, &id, &t2).await;
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.len(), 2);
    assert_eq!(started[1]["data"]["resumed"], true);
    assert_eq!(started[1]["data"]["providerThreadId"], cursor.as_str());
    let seen = env.mock.requests().last().unwrap().conversation_text();
    assert!(
        seen.contains("PAPAYA"),
        "the resumed thread must carry the earlier turn: {seen}"
    );

    let detached = b
        .request("thread/stop", json!({"threadId": id, "detach": true}))
        .await
        .unwrap();
    assert!(
        detached["thread"]
            .get("providerThreadId")
            .is_none_or(Value::is_null),
        "{detached}"
    );
    env.mock.clear_requests();
    let t3 = turn(&mut b, &id, "fresh start").await;
    wait_turn_end(&mut b, &id, &t3).await;
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.len(), 3);
    assert_eq!(started[2]["data"]["resumed"], false);
    assert_ne!(started[2]["data"]["providerThreadId"], cursor.as_str());
    let seen = env.mock.requests().last().unwrap().conversation_text();
    assert!(
        !seen.contains("PAPAYA"),
        "a detached thread must start fresh: {seen}"
    );

    // Detaching an already stopped thread still detaches.
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    let again = b
        .request("thread/stop", json!({"threadId": id, "detach": true}))
        .await
        .unwrap();
    assert!(
        again["thread"]
            .get("providerThreadId")
            .is_none_or(Value::is_null),
        "{again}"
    );
}

#[tokio::test]
async fn idle_reaping_then_resume() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--idle-timeout", "2"], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t1 = turn(&mut b, &id, "remember MANGO").await;
    wait_turn_end(&mut b, &id, &t1).await;
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "idle");
    assert_eq!(exited["data"]["recoverable"], true);
    let read = b
        .request("thread/read", json!({"threadId": id, "limit": 1}))
        .await
        .unwrap();
    assert_eq!(read["thread"]["status"], "stopped");
    assert_eq!(
        read["thread"]["providerThreadId"],
        thread["providerThreadId"]
    );
    // With no thread using it for the idle timeout, the shared codex process exits too.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !codex_pids(b.pid()).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        codex_pids(b.pid()).is_empty(),
        "the idle codex app-server did not exit"
    );
    env.mock.clear_requests();
    let t2 = turn(&mut b, &id, "which fruit?").await;
    wait_turn_end(&mut b, &id, &t2).await;
    assert!(
        env.mock
            .requests()
            .last()
            .unwrap()
            .conversation_text()
            .contains("MANGO")
    );
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], true);
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
async fn codex_killed_mid_turn_fails_the_turn_and_next_turn_resumes() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t1 = turn(&mut b, &id, "remember LIME").await;
    wait_turn_end(&mut b, &id, &t1).await;
    let t2 = turn(&mut b, &id, "HANG now").await;
    let codex = codex_pids(b.pid());
    assert_eq!(codex.len(), 1);
    std::process::Command::new("kill")
        .arg("-9")
        .arg(codex[0].to_string())
        .status()
        .unwrap();
    let done = wait_turn_end(&mut b, &id, &t2).await;
    assert_eq!(done["data"]["state"], "failed");
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "crashed");
    assert_eq!(exited["data"]["recoverable"], true);
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
            .contains("LIME")
    );
    let new_codex = codex_pids(b.pid());
    assert_eq!(new_codex.len(), 1);
    assert_ne!(new_codex, codex);
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

#[tokio::test]
async fn a_missing_codex_binary_is_a_clear_error_at_thread_start() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--codex-bin", "/nonexistent/codex"], Framing::Lsp).await;
    b.initialize().await;
    let err = b
        .request(
            "thread/start",
            json!({"provider": "codex", "cwd": env.work.to_str().unwrap()}),
        )
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32013, "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/codex"),
        "{err}"
    );
    let list = b.request("thread/list", json!({})).await.unwrap();
    assert_eq!(
        list["threads"].as_array().unwrap().len(),
        0,
        "no thread is left behind"
    );
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
