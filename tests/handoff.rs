//! Compaction and provider switching with handoff, end to end against the real `codex` and
//! `claude` CLIs and the mock model servers (which record every request body). Manual compaction
//! and a model-only switch, which every provider runs alike, are in `scenarios.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Api, Baton, Framing, TestEnv, is, start_thread, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(90);

async fn thread_on(b: &mut Baton, env: &TestEnv, provider: &str) -> String {
    start_thread(b, env, provider, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn say(b: &mut Baton, id: &str, text: &str) {
    let t = turn(b, id, text).await;
    let done = wait_turn_end(b, id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
}

fn last_user_text(env: &TestEnv, api: Api) -> String {
    env.mock
        .requests_to(api)
        .last()
        .map(|r| r.last_user_text())
        .unwrap_or_default()
}

#[tokio::test]
async fn compacting_while_a_turn_runs_is_refused() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread_on(&mut b, &env, "codex").await;
    let t = turn(&mut b, &id, "SLOW please").await;
    let err = b
        .request("thread/compact/start", json!({"threadId": id}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32011, "{err}");
    let err = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "claude"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32011, "{err}");
    b.request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap();
    wait_turn_end(&mut b, &id, &t).await;
}

/// codex -> claude -> codex: compaction summary on the way there, and on the way back Codex
/// resumes its original thread and receives only what happened on Claude.
#[tokio::test]
async fn codex_to_claude_and_back_with_compact_then_delta() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, "codex", json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let codex_cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    say(&mut b, &id, "remember the word ALPHA").await;

    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "claude"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "compact", "{r}");
    assert!(r["handoff"]["summaryChars"].as_u64().unwrap() > 20);
    assert_eq!(r["thread"]["provider"], "claude");
    let i = id.clone();
    let done = b
        .wait_event(T, move |e| is(e, &i, "handoff.completed"))
        .await;
    assert_eq!(
        (done["data"]["from"].clone(), done["data"]["to"].clone()),
        (json!("codex"), json!("claude"))
    );

    env.mock.clear_requests();
    say(&mut b, &id, "hello claude, say BRAVO").await;
    let first = last_user_text(&env, Api::Messages);
    let all_claude: String = env
        .mock
        .requests_to(Api::Messages)
        .iter()
        .map(|r| r.conversation_text())
        .collect();
    assert!(
        all_claude.contains("<provider_handoff from=\"codex\" to=\"claude\">"),
        "{all_claude}"
    );
    assert!(
        all_claude.contains("MOCK SUMMARY") && all_claude.contains("ALPHA"),
        "{all_claude}"
    );
    assert!(first.contains("hello claude"), "{first}");
    // The block is sent once.
    env.mock.clear_requests();
    say(&mut b, &id, "second claude turn").await;
    assert_eq!(last_user_text(&env, Api::Messages), "second claude turn");

    // Back to codex: its original thread is resumed and gets only the delta.
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "codex"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "delta", "{r}");
    assert_eq!(r["thread"]["providerThreadId"], codex_cursor.as_str());
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], true);
    env.mock.clear_requests();
    say(&mut b, &id, "back on codex").await;
    let req = env
        .mock
        .requests_to(Api::Responses)
        .into_iter()
        .next()
        .unwrap();
    let last = req.last_user_text();
    assert!(
        last.contains("<provider_handoff from=\"claude\" to=\"codex\">"),
        "{last}"
    );
    assert!(
        last.contains("BRAVO") && last.contains("second claude turn"),
        "the delta has claude's turns: {last}"
    );
    assert!(
        !last.contains("remember the word ALPHA"),
        "the delta does not repeat what codex saw: {last}"
    );
    assert!(
        req.conversation_text().contains("remember the word ALPHA"),
        "codex resumed its own history"
    );
}

#[tokio::test]
async fn claude_to_codex_handoff_carries_the_summary() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let id = thread_on(&mut b, &env, "claude").await;
    say(&mut b, &id, "remember the word CHARLIE").await;
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "codex"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "compact", "{r}");
    env.mock.clear_requests();
    say(&mut b, &id, "continue on codex").await;
    let last = last_user_text(&env, Api::Responses);
    assert!(
        last.starts_with("<provider_handoff from=\"claude\" to=\"codex\">"),
        "{last}"
    );
    assert!(
        last.contains("MOCK SUMMARY")
            && last.contains("CHARLIE")
            && last.ends_with("continue on codex"),
        "{last}"
    );
}

#[tokio::test]
async fn transcript_fallback_when_the_source_binary_is_gone() {
    let env = TestEnv::new().await;
    let bin = env.root.path().join("codex-link");
    std::os::unix::fs::symlink(common::codex_bin(), &bin).unwrap();
    let mut b = Baton::spawn(&env, &["--codex-bin", bin.to_str().unwrap()], Framing::Lsp).await;
    b.initialize().await;
    // `never`: the command runs unasked (without a policy baton asks first).
    let id = start_thread(&mut b, &env, "codex", json!({"approvalPolicy": "never"})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    say(&mut b, &id, "RUN_CMD: echo DELTA-OUTPUT").await;
    say(&mut b, &id, "remember ECHO").await;
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    std::fs::remove_file(&bin).unwrap();
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "claude"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "transcript", "{r}");
    env.mock.clear_requests();
    say(&mut b, &id, "go on").await;
    let last = last_user_text(&env, Api::Messages);
    assert!(
        last.contains("<provider_handoff from=\"codex\" to=\"claude\">"),
        "{last}"
    );
    assert!(last.contains("User: remember ECHO"), "{last}");
    assert!(
        last.contains("Command: `")
            && last.contains("echo DELTA-OUTPUT")
            && last.contains("(exit 0)"),
        "{last}"
    );
}

#[tokio::test]
async fn target_start_failure_leaves_the_thread_on_the_source() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--claude-bin", "/nonexistent/claude"], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, "codex", json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    say(&mut b, &id, "remember FOXTROT").await;
    let err = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "claude", "handoff": "transcript"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32013, "{err}");
    let i = id.clone();
    let failed = b.wait_event(T, move |e| is(e, &i, "handoff.failed")).await;
    assert!(
        failed["data"]["error"]
            .as_str()
            .unwrap()
            .contains("/nonexistent/claude"),
        "{failed}"
    );
    let read = b
        .request("thread/read", json!({"threadId": id, "limit": 1}))
        .await
        .unwrap();
    assert_eq!(read["thread"]["provider"], "codex");
    assert_eq!(
        read["thread"]["providerThreadId"],
        thread["providerThreadId"]
    );
    env.mock.clear_requests();
    say(&mut b, &id, "still on codex?").await;
    assert!(
        env.mock
            .requests_to(Api::Responses)
            .last()
            .unwrap()
            .conversation_text()
            .contains("FOXTROT")
    );
}

#[tokio::test]
async fn implicit_switch_through_turn_start() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread_on(&mut b, &env, "codex").await;
    say(&mut b, &id, "remember GOLF").await;
    env.mock.clear_requests();
    let r = b
        .request("turn/start", json!({"threadId": id, "provider": "claude", "input": [{"type": "text", "text": "now on claude"}]}))
        .await
        .unwrap();
    let t = r["turnId"].as_str().unwrap().to_string();
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    assert!(b.events().iter().any(|e| is(e, &id, "handoff.completed")));
    let last = last_user_text(&env, Api::Messages);
    assert!(
        last.contains("<provider_handoff")
            && last.contains("GOLF")
            && last.ends_with("now on claude"),
        "{last}"
    );
    let read = b
        .request("thread/read", json!({"threadId": id, "limit": 1}))
        .await
        .unwrap();
    assert_eq!(read["thread"]["provider"], "claude");
}

#[tokio::test]
async fn a_pending_handoff_survives_a_baton_restart() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread_on(&mut b, &env, "codex").await;
    say(&mut b, &id, "remember INDIA").await;
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "claude", "handoff": "transcript"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "transcript");
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));

    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    env.mock.clear_requests();
    say(&mut b, &id, "after the restart").await;
    let last = last_user_text(&env, Api::Messages);
    assert!(
        last.contains("<provider_handoff from=\"codex\" to=\"claude\">") && last.contains("INDIA"),
        "{last}"
    );
    env.mock.clear_requests();
    say(&mut b, &id, "and once more").await;
    assert_eq!(last_user_text(&env, Api::Messages), "and once more");
}

#[tokio::test]
async fn codex_auto_compaction_is_surfaced() {
    let env = TestEnv::new().await;
    let config = env.codex_home.join("config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    // A tiny limit makes Codex compact on its own once the context grows.
    std::fs::write(
        &config,
        format!("model_auto_compact_token_limit = 2000\n{text}"),
    )
    .unwrap();
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread_on(&mut b, &env, "codex").await;
    for i in 0..4 {
        say(&mut b, &id, &format!("turn number {i} mentions KILO")).await;
        if b.events()
            .iter()
            .any(|e| is(e, &id, "compaction.completed"))
        {
            break;
        }
    }
    let done = b
        .events()
        .into_iter()
        .find(|e| is(e, &id, "compaction.completed"))
        .expect("codex compacted on its own");
    assert_eq!(done["data"]["trigger"], "auto", "{done}");
    assert!(
        done["data"]["summary"].as_str().unwrap().contains("KILO"),
        "{done}"
    );
}

/// codex -> claude -> codex where codex lost its own thread meanwhile (its rollout files are
/// gone): codex starts a fresh thread, so a delta would lose everything before the switch;
/// the whole thread is handed over instead.
#[tokio::test]
async fn switching_back_to_a_provider_that_lost_its_thread_hands_over_everything() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, "codex", json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let codex_cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    say(&mut b, &id, "remember the word ALPHA").await;
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "claude", "handoff": "transcript"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "transcript", "{r}");
    say(&mut b, &id, "hello claude, say BRAVO").await;

    // Codex forgets its thread.
    std::fs::remove_dir_all(env.codex_home.join("sessions")).unwrap();
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": "codex"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "transcript", "{r}");
    assert_ne!(r["thread"]["providerThreadId"], codex_cursor.as_str());
    let i = id.clone();
    let warning = b
        .wait_event(T, move |e| {
            is(e, &i, "runtime.warning")
                && e["data"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("could not resume")
        })
        .await;
    assert!(
        warning["data"]["message"]
            .as_str()
            .unwrap()
            .contains("codex"),
        "{warning}"
    );
    let i = id.clone();
    let done = b
        .wait_event(T, move |e| {
            is(e, &i, "handoff.completed") && e["data"]["to"] == "codex"
        })
        .await;
    assert_eq!(done["data"]["strategy"], "transcript", "{done}");

    env.mock.clear_requests();
    say(&mut b, &id, "back on codex").await;
    let req = env
        .mock
        .requests_to(Api::Responses)
        .into_iter()
        .next()
        .unwrap();
    let last = req.last_user_text();
    assert!(
        last.contains("<provider_handoff from=\"claude\" to=\"codex\">"),
        "{last}"
    );
    assert!(
        last.contains("remember the word ALPHA"),
        "the early context reaches the fresh codex thread: {last}"
    );
    assert!(last.contains("BRAVO"), "and claude's turn too: {last}");
}
