//! The live-session budget (`maxLiveSessions`) with the real CLIs: beyond it the least recently
//! used idle sessions are soft-stopped (cursor kept) and resumed by their next turn; a session
//! with a running turn is never chosen.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Baton, Framing, TestEnv, is, native_pids, start_thread, turn, wait_turn_end};
use serde_json::json;

const T: Duration = Duration::from_secs(60);

async fn budget_evicts_the_least_recently_used_idle_session(provider: &str, marker: &str) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize_with(json!({"maxLiveSessions": 2})).await;
    let mut ids = Vec::new();
    for i in 0..2 {
        let t = start_thread(&mut b, &env, provider, json!({})).await;
        let id = t["id"].as_str().unwrap().to_string();
        let turn_id = turn(&mut b, &id, &format!("hello {i}")).await;
        wait_turn_end(&mut b, &id, &turn_id).await;
        ids.push(id);
    }
    // The oldest thread is busy with a slow turn when the third session starts: it is not
    // stopped, the second (idle) one is.
    let slow = turn(&mut b, &ids[0], "SLOW").await;
    let third = start_thread(&mut b, &env, provider, json!({})).await;
    let third = third["id"].as_str().unwrap().to_string();
    let exited = b.wait_event(T, |e| e["type"] == "session.exited").await;
    assert_eq!(exited["threadId"], ids[1].as_str(), "{exited}");
    assert_eq!(exited["data"]["reason"], "idle");
    assert_eq!(exited["data"]["recoverable"], true);
    wait_turn_end(&mut b, &ids[0], &slow).await;
    let events = b.events();
    assert!(
        !events.iter().any(|e| is(e, &ids[0], "session.exited")),
        "the busy session was stopped"
    );
    if provider == "claude" {
        // One live claude process per live session: two, not three.
        assert_eq!(native_pids(b.pid(), marker).len(), 2);
    }
    // The next turn of the stopped thread resumes its native thread (and evicts another).
    let t = turn(&mut b, &ids[1], "are you back").await;
    let started = b
        .wait_event(T, |e| {
            is(e, &ids[1], "session.started") && e["data"]["resumed"] == true
        })
        .await;
    assert_eq!(started["data"]["resumed"], true);
    wait_turn_end(&mut b, &ids[1], &t).await;
    let _ = third;
}

#[tokio::test]
async fn codex_budget_evicts_the_least_recently_used_idle_session() {
    budget_evicts_the_least_recently_used_idle_session("codex", "app-server").await;
}

#[tokio::test]
async fn claude_budget_evicts_the_least_recently_used_idle_session() {
    budget_evicts_the_least_recently_used_idle_session("claude", "claude").await;
}
