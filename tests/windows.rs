//! Several windows on one database: two real `baton` processes share one SQLite file, as two
//! editor windows do, with the real codex and claude CLIs against the mock model. A thread is
//! driven by one window at a time (its lease holder); the other reads it, follows it live
//! (`thread/subscribe`), or takes it over (`thread/takeover`); a holder killed with SIGKILL
//! loses its threads at once.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::time::{Duration, Instant};

use common::{Baton, Framing, TestEnv, is, native_pids, start_thread, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn window(env: &TestEnv, name: &str) -> Baton {
    let mut b = Baton::spawn(env, &[], Framing::Lsp).await;
    b.initialize_as(name, json!({})).await;
    b
}

fn turn_params(thread: &str, text: &str) -> Value {
    json!({"threadId": thread, "input": [{"type": "text", "text": text}]})
}

/// Asserts a -32016 whose message and data name `holder` (client name and pid).
fn assert_leased(err: &Value, holder: &str, pid: u32) {
    assert_eq!(err["code"], -32016, "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(
        msg.contains(holder) && msg.contains(&pid.to_string()),
        "the message names the holder: {msg}"
    );
    assert_eq!(err["data"]["holder"]["client"], holder, "{err}");
    assert_eq!(err["data"]["holder"]["pid"], pid, "{err}");
    assert!(
        err["data"]["holder"]["since"].as_i64().unwrap() > 0,
        "{err}"
    );
}

fn native_id(thread: &Value) -> String {
    thread["providerThreadId"].as_str().unwrap().to_string()
}

/// Every driving request from the second window is refused naming the first; reading works.
async fn second_window_is_refused(provider: &str) {
    let env = TestEnv::new().await;
    let mut a = window(&env, "window-a").await;
    let thread = start_thread(&mut a, &env, provider, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t1 = turn(&mut a, &id, "remember KIWI").await;
    wait_turn_end(&mut a, &id, &t1).await;

    let mut b = window(&env, "window-b").await;
    let refused = [
        ("turn/start", turn_params(&id, "hello from b")),
        (
            "thread/switch",
            json!({"threadId": id, "provider": provider, "model": "other-model"}),
        ),
        ("thread/compact/start", json!({"threadId": id})),
        ("thread/stop", json!({"threadId": id})),
        ("turn/interrupt", json!({"threadId": id})),
        ("thread/delete", json!({"threadId": id})),
    ];
    for (method, params) in refused {
        let err = b.request(method, params).await.unwrap_err();
        assert_leased(&err, "window-a", a.pid());
    }
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let logged: Vec<i64> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    // Window a may not have read its last notification yet.
    let newest = *logged.last().unwrap();
    let i = id.clone();
    a.wait_event(T, move |e| {
        e["threadId"] == i.as_str() && e["seq"] == newest
    })
    .await;
    let live: Vec<i64> = a
        .events()
        .iter()
        .filter(|e| e["threadId"] == id.as_str())
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(logged, live, "window b reads what window a was notified");
    let list = b.request("thread/list", json!({})).await.unwrap();
    assert_eq!(list["threads"][0]["id"], id.as_str());
    // Window a still drives it, undisturbed.
    let t2 = turn(&mut a, &id, "still mine?").await;
    assert_eq!(
        wait_turn_end(&mut a, &id, &t2).await["data"]["state"],
        "completed"
    );
    assert!(
        b.events().iter().all(|e| e["threadId"] != id.as_str()),
        "nothing was notified to a window that does not follow the thread"
    );
}

#[tokio::test]
async fn codex_a_second_window_is_refused_naming_the_holder_and_reads() {
    second_window_is_refused("codex").await;
}

#[tokio::test]
async fn claude_a_second_window_is_refused_naming_the_holder_and_reads() {
    second_window_is_refused("claude").await;
}

/// SIGKILL of the holder: the second window drives at once; the dead holder's open turn is
/// closed and the conversation resumes.
async fn killed_holder_is_taken_over_at_once(provider: &str, marker: &str) {
    let env = TestEnv::new().await;
    let mut a = window(&env, "window-a").await;
    let thread = start_thread(&mut a, &env, provider, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = native_id(&thread);
    let t1 = turn(&mut a, &id, "remember MANGO").await;
    wait_turn_end(&mut a, &id, &t1).await;
    let hung = turn(&mut a, &id, "HANG for a while").await;
    let natives = native_pids(a.pid(), marker);
    let mut b = window(&env, "window-b").await;
    let err = b
        .request("turn/start", turn_params(&id, "not yet"))
        .await
        .unwrap_err();
    assert_leased(&err, "window-a", a.pid());
    a.kill9();
    a.wait_exit(Duration::from_secs(5)).await;
    env.mock.clear_requests();
    let started = Instant::now();
    let t2 = b
        .request("turn/start", turn_params(&id, "which fruit?"))
        .await
        .unwrap_or_else(|e| panic!("window b could not drive after the holder died: {e}"));
    let took = started.elapsed();
    let t2 = t2["turnId"].as_str().unwrap().to_string();
    // The dead window's open turn was closed, and window b was told.
    let i = id.clone();
    let h = hung.clone();
    let closed = b
        .wait_event(T, move |e| {
            is(e, &i, "turn.completed") && e["turnId"] == h.as_str()
        })
        .await;
    assert_eq!(closed["data"]["state"], "failed");
    assert!(
        closed["data"]["error"].as_str().unwrap().contains("died"),
        "{closed}"
    );
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
    let i = id.clone();
    let resumed = b.wait_event(T, move |e| is(e, &i, "session.started")).await;
    assert_eq!(resumed["data"]["providerThreadId"], cursor.as_str());
    assert_eq!(resumed["data"]["resumed"], true);
    let seen = env.mock.requests();
    assert!(
        seen.iter().any(|r| r.conversation_text().contains("MANGO")),
        "the resumed {provider} thread remembers the earlier turn"
    );
    // The killed window's provider processes go away by themselves (stdin EOF).
    let deadline = Instant::now() + Duration::from_secs(10);
    while natives.iter().any(|p| common::process_alive(*p)) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(natives.iter().all(|p| !common::process_alive(*p)));
    println!(
        "{provider}: second window's turn/start answered {} ms after the holder's SIGKILL (provider start included)",
        took.as_millis()
    );
}

#[tokio::test]
async fn codex_a_killed_holder_is_taken_over_at_once() {
    killed_holder_is_taken_over_at_once("codex", "app-server").await;
}

#[tokio::test]
async fn claude_a_killed_holder_is_taken_over_at_once() {
    killed_holder_is_taken_over_at_once("claude", "stream-json").await;
}

/// `thread/takeover`: the first window's session stops (it is told why) within 2 s, the second
/// window holds the thread and resumes the same provider thread; the first is now refused.
async fn takeover_moves_the_thread(provider: &str, marker: &str) {
    let env = TestEnv::new().await;
    let mut a = window(&env, "window-a").await;
    let thread = start_thread(&mut a, &env, provider, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = native_id(&thread);
    let t1 = turn(&mut a, &id, "remember PAPAYA").await;
    wait_turn_end(&mut a, &id, &t1).await;
    assert_eq!(native_pids(a.pid(), marker).len(), 1);

    let mut b = window(&env, "window-b").await;
    let started = Instant::now();
    let r = b
        .request("thread/takeover", json!({"threadId": id}))
        .await
        .unwrap_or_else(|e| panic!("takeover failed: {e}"));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "takeover took {took:?}");
    assert_eq!(r["thread"]["id"], id.as_str());
    assert_eq!(r["thread"]["providerThreadId"], cursor.as_str());
    let i = id.clone();
    let exited = a
        .wait_event(Duration::from_secs(2), move |e| is(e, &i, "session.exited"))
        .await;
    assert_eq!(exited["data"]["reason"], "takenOver", "{exited}");
    assert_eq!(exited["data"]["recoverable"], true);
    let msg = exited["data"]["message"].as_str().unwrap();
    assert!(
        msg.contains("another window") && msg.contains("window-b"),
        "{msg}"
    );
    // Never two drivers: window a's provider session is gone.
    if provider == "claude" {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !native_pids(a.pid(), marker).is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            native_pids(a.pid(), marker).is_empty(),
            "window a's claude still runs the session"
        );
    }
    env.mock.clear_requests();
    let t2 = turn(&mut b, &id, "which fruit?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
    let i = id.clone();
    let resumed = b.wait_event(T, move |e| is(e, &i, "session.started")).await;
    assert_eq!(resumed["data"]["providerThreadId"], cursor.as_str());
    assert_eq!(resumed["data"]["resumed"], true);
    assert!(
        env.mock
            .requests()
            .iter()
            .any(|r| r.conversation_text().contains("PAPAYA")),
        "the next turn continued the same {provider} conversation"
    );
    let err = a
        .request("turn/start", turn_params(&id, "mine again?"))
        .await
        .unwrap_err();
    assert_leased(&err, "window-b", b.pid());
    // And back: window a takes it over again, and window b is told.
    a.request("thread/takeover", json!({"threadId": id}))
        .await
        .unwrap();
    let i = id.clone();
    let exited = b
        .wait_event(Duration::from_secs(2), move |e| is(e, &i, "session.exited"))
        .await;
    assert_eq!(exited["data"]["reason"], "takenOver");
    let t3 = turn(&mut a, &id, "and now?").await;
    assert_eq!(
        wait_turn_end(&mut a, &id, &t3).await["data"]["state"],
        "completed"
    );
    // One seq sequence, however many windows wrote it.
    let read = a
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let seqs: Vec<i64> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    println!(
        "{provider}: thread/takeover answered in {} ms",
        took.as_millis()
    );
}

#[tokio::test]
async fn codex_takeover_moves_the_thread_and_resumes_it() {
    takeover_moves_the_thread("codex", "app-server").await;
}

#[tokio::test]
async fn claude_takeover_moves_the_thread_and_resumes_it() {
    takeover_moves_the_thread("claude", "stream-json").await;
}

/// `thread/subscribe`: window b follows window a's thread: the log after `sinceSeq`, then live
/// events within 0.5 s, with the seqs of the log, no gaps, no duplicates.
async fn subscribe_follows_another_window(provider: &str) {
    let env = TestEnv::new().await;
    let mut a = window(&env, "window-a").await;
    let thread = start_thread(&mut a, &env, provider, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t1 = turn(&mut a, &id, "first turn").await;
    wait_turn_end(&mut a, &id, &t1).await;
    let mut b = window(&env, "window-b").await;
    // Replay from the middle of the log.
    let since = 2;
    let r = b
        .request(
            "thread/subscribe",
            json!({"threadId": id, "sinceSeq": since}),
        )
        .await
        .unwrap();
    assert_eq!(r["thread"]["id"], id.as_str());
    let before = a
        .events()
        .iter()
        .filter(|e| e["threadId"] == id.as_str())
        .count() as i64;
    let i = id.clone();
    b.wait_event(Duration::from_secs(2), move |e| {
        e["threadId"] == i.as_str() && e["seq"] == before
    })
    .await;
    // Live: every event of the next turns reaches b soon after a saw it.
    let mut worst = Duration::ZERO;
    for text in ["SLOW stream please", "PLAN: one; two"] {
        let t = turn(&mut a, &id, text).await;
        wait_turn_end(&mut a, &id, &t).await;
        let last = a
            .events()
            .iter()
            .filter(|e| e["threadId"] == id.as_str())
            .map(|e| e["seq"].as_i64().unwrap())
            .max()
            .unwrap();
        let at = Instant::now();
        let i = id.clone();
        b.wait_event(Duration::from_secs(2), move |e| {
            e["threadId"] == i.as_str() && e["seq"] == last
        })
        .await;
        worst = worst.max(at.elapsed());
    }
    assert!(worst < Duration::from_millis(500), "lag {worst:?}");
    let read = b
        .request("thread/read", json!({"threadId": id, "sinceSeq": since}))
        .await
        .unwrap();
    let logged = read["events"].as_array().unwrap();
    // The log may hold a last event (the status after turn.completed) a has not read yet.
    let newest = logged.last().unwrap()["seq"].clone();
    let (i, n) = (id.clone(), newest.clone());
    b.wait_event(Duration::from_secs(2), move |e| {
        e["threadId"] == i.as_str() && e["seq"] == n
    })
    .await;
    let n = newest.clone();
    let i = id.clone();
    a.wait_event(Duration::from_secs(2), move |e| {
        e["threadId"] == i.as_str() && e["seq"] == n
    })
    .await;
    let followed: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["threadId"] == id.as_str())
        .collect();
    let seqs = |v: &[Value]| {
        v.iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        seqs(&followed),
        seqs(logged),
        "followed live == the log after sinceSeq"
    );
    assert!(
        &followed == logged,
        "followed live == the log after sinceSeq (whole events)"
    );
    // The live notifications of the driving window carry the same objects.
    let driven: Vec<Value> = a
        .events()
        .into_iter()
        .filter(|e| e["threadId"] == id.as_str() && e["seq"].as_i64().unwrap() > since)
        .collect();
    assert_eq!(seqs(&followed), seqs(&driven));
    assert!(
        followed == driven,
        "the driver's notifications are the same objects"
    );
    b.request("thread/unsubscribe", json!({"threadId": id}))
        .await
        .unwrap();
    let t = turn(&mut a, &id, "after unsubscribe").await;
    wait_turn_end(&mut a, &id, &t).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let _ = b.request("thread/list", json!({})).await.unwrap();
    assert_eq!(
        b.events()
            .iter()
            .filter(|e| e["threadId"] == id.as_str())
            .count(),
        followed.len(),
        "nothing after thread/unsubscribe"
    );
    // Following a thread across a takeover: b subscribes, takes over, drives; its own events
    // come once each, in order.
    let last = a
        .events()
        .iter()
        .filter(|e| e["threadId"] == id.as_str())
        .count() as i64;
    b.request(
        "thread/subscribe",
        json!({"threadId": id, "sinceSeq": last}),
    )
    .await
    .unwrap();
    b.request("thread/takeover", json!({"threadId": id}))
        .await
        .unwrap();
    let t = turn(&mut b, &id, "driven by b now").await;
    wait_turn_end(&mut b, &id, &t).await;
    let read = b
        .request("thread/read", json!({"threadId": id, "sinceSeq": last}))
        .await
        .unwrap();
    let newest = read["events"].as_array().unwrap().last().unwrap()["seq"].clone();
    let i = id.clone();
    b.wait_event(Duration::from_secs(2), move |e| {
        e["threadId"] == i.as_str() && e["seq"] == newest
    })
    .await;
    let seqs: Vec<i64> = b
        .events()
        .iter()
        .filter(|e| e["threadId"] == id.as_str() && e["seq"].as_i64().unwrap() > last)
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    let want: Vec<i64> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, want, "no duplicates, no gaps across the takeover");
    println!(
        "{provider}: {} events followed; worst lag after the driver saw the last one: {} ms",
        followed.len(),
        worst.as_millis()
    );
}

#[tokio::test]
async fn codex_subscribe_follows_another_window_live() {
    subscribe_follows_another_window("codex").await;
}

#[tokio::test]
async fn claude_subscribe_follows_another_window_live() {
    subscribe_follows_another_window("claude").await;
}
