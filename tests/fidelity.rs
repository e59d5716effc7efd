//! Provider fidelity end to end: the new event types and `input/request`, from the real
//! `codex app-server` (0.169.0) and the real `claude` (2.1.328) through the real baton, with the
//! mock model choosing what the agent does by keyword (PLAN:, ASK_USER:, REASON:, RATE_LIMIT).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Api, Baton, Framing, TestEnv, is, start_thread, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

async fn thread(b: &mut Baton, env: &TestEnv, provider: &str) -> String {
    start_thread(b, env, provider, json!({"approvalPolicy": "never"})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn turn_in(b: &mut Baton, thread: &str, text: &str, mode: &str) -> String {
    let r = b
        .request(
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}], "mode": mode}),
        )
        .await
        .unwrap_or_else(|e| panic!("turn/start failed: {e}"));
    r["turnId"].as_str().unwrap().to_string()
}

fn of_type(b: &Baton, thread: &str, ty: &str) -> Vec<Value> {
    b.events()
        .into_iter()
        .filter(|e| is(e, thread, ty))
        .collect()
}

fn assistant_text(b: &Baton, thread: &str, turn: &str) -> String {
    b.events()
        .into_iter()
        .filter(|e| {
            is(e, thread, "item.completed")
                && e["turnId"] == turn
                && e["data"]["itemType"] == "assistant_message"
        })
        .map(|e| e["data"]["text"].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Answers the next `input/request` with `answer` (or an error when `None`); returns its params.
async fn answer_input(b: &mut Baton, answer: Option<Value>) -> Value {
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "input/request", "{req}");
    match answer {
        Some(a) => b.respond(req["id"].clone(), a).await,
        None => {
            b.respond_error(req["id"].clone(), -32000, "user closed")
                .await
        }
    }
    req["params"].clone()
}

fn check_question(params: &Value, thread: &str, turn: &str) -> String {
    assert_eq!(params["threadId"], thread);
    assert_eq!(params["turnId"], turn);
    let q = &params["questions"][0];
    assert_eq!(q["question"], "Which color?", "{params}");
    let labels: Vec<&str> = q["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["red", "blue"], "{params}");
    q["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn codex_plan_mode_question_is_answered_through_input_request() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread(&mut b, &env, "codex").await;
    let t = turn_in(&mut b, &id, "ASK_USER: Which color? | red | blue", "plan").await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "input/request", "{req}");
    let qid = check_question(&req["params"], &id, &t);
    b.respond(
        req["id"].clone(),
        json!({"answers": {qid.clone(): ["blue"]}}),
    )
    .await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let requested = of_type(&b, &id, "input.requested");
    let resolved = of_type(&b, &id, "input.resolved");
    assert_eq!(requested.len(), 1);
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0]["data"]["cancelled"], false);
    assert_eq!(resolved[0]["data"]["answers"][&qid], json!(["blue"]));
    assert_eq!(
        requested[0]["data"]["requestId"],
        resolved[0]["data"]["requestId"]
    );
    // The answer reached the model: the follow-up request carries it.
    let last = env.mock.requests_to(Api::Responses).pop().unwrap();
    assert!(last.body.to_string().contains("blue"), "{}", last.body);
    assert!(assistant_text(&b, &id, &t).contains("user answered"));

    // A later default-mode turn leaves plan mode: codex tells the model it is back in Default.
    env.mock.clear_requests();
    let t2 = turn_in(&mut b, &id, "hello again", "default").await;
    wait_turn_end(&mut b, &id, &t2).await;
    let mode = last_collaboration_mode(&env);
    assert!(mode.contains("Collaboration Mode: Default"), "{mode}");
}

/// The latest `<collaboration_mode>` developer message codex sent the model.
fn last_collaboration_mode(env: &TestEnv) -> String {
    let body = env.mock.requests_to(Api::Responses).pop().unwrap().body;
    body["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["role"] == "developer")
        .map(|i| i["content"].to_string())
        .rev()
        .find(|d| d.contains("<collaboration_mode>"))
        .expect("codex names the collaboration mode")
}

/// Codex keeps a thread's collaboration mode in the thread itself: after a plan-mode turn, a
/// stop and a resume, the next plain turn must still bring the thread back to Default.
#[tokio::test]
async fn codex_plain_turn_after_a_resumed_plan_turn_is_back_in_default_mode() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread(&mut b, &env, "codex").await;
    let t = turn_in(&mut b, &id, "think about the layout", "plan").await;
    wait_turn_end(&mut b, &id, &t).await;
    assert!(last_collaboration_mode(&env).contains("Plan"));
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    let t = turn_in(&mut b, &id, "now just answer", "default").await;
    wait_turn_end(&mut b, &id, &t).await;
    let started = of_type(&b, &id, "session.started");
    assert_eq!(started.last().unwrap()["data"]["resumed"], true);
    let mode = last_collaboration_mode(&env);
    assert!(mode.contains("Collaboration Mode: Default"), "{mode}");
}

#[tokio::test]
async fn codex_question_closed_by_the_editor_is_cancelled_and_the_turn_goes_on() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let id = thread(&mut b, &env, "codex").await;
    let t = turn_in(&mut b, &id, "ASK_USER: Which color? | red | blue", "plan").await;
    answer_input(&mut b, None).await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let resolved = of_type(&b, &id, "input.resolved");
    assert_eq!(resolved[0]["data"]["cancelled"], true, "{resolved:?}");
    assert_eq!(resolved[0]["data"]["by"], "error");
    let last = env.mock.requests_to(Api::Responses).pop().unwrap();
    assert!(
        !last.body.to_string().contains("\\\"blue\\\"]"),
        "no answer was given"
    );
}

#[tokio::test]
async fn codex_plan_diff_reasoning_summary_and_rate_limits() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(
        &mut b,
        &env,
        "codex",
        json!({"approvalPolicy": "never", "sandbox": "workspace-write"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let t = common::turn(
        &mut b,
        &id,
        "PLAN: read the code; fix the bug; run the tests",
    )
    .await;
    wait_turn_end(&mut b, &id, &t).await;
    let plans = of_type(&b, &id, "turn.plan");
    assert_eq!(plans.len(), 1, "{plans:?}");
    let steps = plans[0]["data"]["steps"].as_array().unwrap();
    let texts: Vec<&str> = steps.iter().map(|s| s["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["read the code", "fix the bug", "run the tests"]);
    assert_eq!(steps[0]["status"], "inProgress");
    assert_eq!(steps[1]["status"], "pending");
    assert_eq!(plans[0]["turnId"], t.as_str());

    let t = common::turn(&mut b, &id, "WRITE_FILE: diffed.txt hello diff").await;
    wait_turn_end(&mut b, &id, &t).await;
    assert!(env.work.join("diffed.txt").exists());
    let diffs = of_type(&b, &id, "turn.diff");
    let last = diffs.last().expect("a turn.diff event");
    let diff = last["data"]["unifiedDiff"].as_str().unwrap();
    assert!(
        diff.contains("diffed.txt") && diff.contains("+hello diff"),
        "{diff}"
    );

    let t = common::turn(&mut b, &id, "REASON: weigh the options first").await;
    wait_turn_end(&mut b, &id, &t).await;
    let summary: String = of_type(&b, &id, "content.delta")
        .iter()
        .filter(|e| e["turnId"] == t.as_str() && e["data"]["stream"] == "reasoning_summary")
        .map(|e| e["data"]["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(summary, "weigh the options first");

    let t = common::turn(&mut b, &id, "RATE_LIMIT check").await;
    wait_turn_end(&mut b, &id, &t).await;
    let limits = of_type(&b, &id, "rate_limit.updated");
    assert_eq!(
        limits.len(),
        1,
        "one update, not one per request: {limits:?}"
    );
    let primary = &limits[0]["data"]["limits"][0];
    assert_eq!(primary["name"], "primary");
    assert_eq!(primary["usedPercent"], 42.0);
    assert_eq!(primary["windowMinutes"], 300);

    // Usage carries the context fill.
    let usage = of_type(&b, &id, "usage.updated");
    let u = &usage.last().unwrap()["data"];
    assert!(u["contextTokens"].as_i64().unwrap() > 0, "{u}");
    assert!(u["contextWindow"].as_i64().unwrap() >= u["contextTokens"].as_i64().unwrap());

    // Replay equals live for the new events too.
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let stored: Vec<&Value> = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            ["turn.plan", "turn.diff", "rate_limit.updated"].contains(&e["type"].as_str().unwrap())
        })
        .collect();
    assert_eq!(stored.len(), plans.len() + diffs.len() + limits.len());
}

#[tokio::test]
async fn claude_ask_user_question_is_answered_through_input_request() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    // approvalPolicy never: tools are allowed without asking, but questions are still asked.
    let id = thread(&mut b, &env, "claude").await;
    let t = common::turn(&mut b, &id, "ASK_USER: Which color? | red | blue").await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "input/request", "{req}");
    let qid = check_question(&req["params"], &id, &t);
    assert_eq!(req["params"]["questions"][0]["allowOther"], true);
    b.respond(
        req["id"].clone(),
        json!({"answers": {qid.clone(): ["blue"]}}),
    )
    .await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let answer = assistant_text(&b, &id, &t);
    assert!(answer.contains("blue"), "{answer}");
    let resolved = of_type(&b, &id, "input.resolved");
    assert_eq!(resolved[0]["data"]["answers"][&qid], json!(["blue"]));
    assert!(of_type(&b, &id, "approval.requested").is_empty());
}

#[tokio::test]
async fn claude_question_cancelled_is_denied_and_the_turn_goes_on() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let id = thread(&mut b, &env, "claude").await;
    let t = common::turn(&mut b, &id, "ASK_USER: Which color? | red | blue").await;
    answer_input(&mut b, Some(json!({"cancelled": true}))).await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let resolved = of_type(&b, &id, "input.resolved");
    assert_eq!(resolved[0]["data"]["cancelled"], true);
    assert_eq!(
        resolved[0]["data"].get("by"),
        None,
        "the editor cancelled itself"
    );
    let answer = assistant_text(&b, &id, &t);
    assert!(answer.contains("declined"), "{answer}");
}

#[tokio::test]
async fn claude_todo_plan_and_thinking() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = thread(&mut b, &env, "claude").await;
    let t = common::turn(&mut b, &id, "PLAN: read the code; fix the bug").await;
    wait_turn_end(&mut b, &id, &t).await;
    let plans = of_type(&b, &id, "turn.plan");
    assert_eq!(plans.len(), 1, "{plans:?}");
    let steps = plans[0]["data"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0]["text"], "read the code");
    assert_eq!(steps[0]["status"], "inProgress");

    let t = common::turn(&mut b, &id, "REASON: think it through").await;
    wait_turn_end(&mut b, &id, &t).await;
    let thinking: String = of_type(&b, &id, "content.delta")
        .iter()
        .filter(|e| e["data"]["stream"] == "reasoning")
        .map(|e| e["data"]["delta"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(thinking, "think it through");
    let usage = of_type(&b, &id, "usage.updated");
    let u = &usage.last().unwrap()["data"];
    assert!(u["contextTokens"].as_i64().unwrap() > 0, "{u}");
}
