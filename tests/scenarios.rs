//! The scenarios every provider must pass, run once per provider: the real `baton` binary
//! driving the real CLIs (`codex app-server` 0.169.0, `claude` 2.1.328) against the mock model.
//!
//! Each scenario is one async function taking a [`Provider`], which says what differs between
//! the providers (process model, API, how an approval is provoked); the `scenarios!` macro
//! generates one `#[tokio::test]` per provider per scenario, named `codex::<scenario>` and
//! `claude::<scenario>`. Tests of one provider's own behaviour stay in `codex.rs`/`claude.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{Api, Baton, Framing, TestEnv, descendants, is, process_alive, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

/// How a provider asks for approval in the scenarios.
#[derive(Clone, Copy, PartialEq)]
enum Approval {
    /// A shell command (`RUN_CMD: touch FILE`), asked for under `approvalPolicy: untrusted`.
    Command,
    /// A file write (`WRITE_FILE: FILE text`), asked for under the default policy.
    FileChange,
}

/// What the scenarios need to know about a provider.
#[derive(Clone, Copy)]
struct Provider {
    id: &'static str,
    /// A word in the command line of its native process.
    marker: &'static str,
    /// The API of the mock model it talks to.
    api: Api,
    /// One process per live session (claude), or one shared process for every thread (codex),
    /// which outlives a stopped session until it is idle itself.
    process_per_session: bool,
    approval: Approval,
    /// Words one of which its error message for an overloaded model (HTTP 529) contains.
    overloaded: &'static [&'static str],
    /// The turn mode in which the agent may ask the user questions (`ASK_USER:`).
    question_mode: &'static str,
}

const CODEX: Provider = Provider {
    id: "codex",
    marker: "app-server",
    api: Api::Responses,
    process_per_session: false,
    approval: Approval::Command,
    overloaded: &["high demand"],
    question_mode: "plan",
};

const CLAUDE: Provider = Provider {
    id: "claude",
    marker: "stream-json",
    api: Api::Messages,
    process_per_session: true,
    approval: Approval::FileChange,
    overloaded: &["529", "Overloaded"],
    question_mode: "default",
};

impl Provider {
    async fn start_thread(self, b: &mut Baton, env: &TestEnv, extra: Value) -> Value {
        common::start_thread(b, env, self.id, extra).await
    }

    async fn thread_id(self, b: &mut Baton, env: &TestEnv, extra: Value) -> String {
        self.start_thread(b, env, extra).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn pids(self, baton_pid: u32) -> Vec<u32> {
        common::native_pids(baton_pid, self.marker)
    }

    /// The conversation the provider sent with its latest model request.
    fn last_conversation(self, env: &TestEnv) -> String {
        env.mock
            .requests_to(self.api)
            .last()
            .unwrap()
            .conversation_text()
    }

    /// The thread params under which this provider asks for approvals.
    fn approval_params(self) -> Value {
        match self.approval {
            Approval::Command => {
                json!({"approvalPolicy": "untrusted", "sandbox": "workspace-write"})
            }
            Approval::FileChange => json!({}),
        }
    }

    /// A prompt that makes the model create `file`, which needs approval.
    fn approval_prompt(self, file: &str) -> String {
        match self.approval {
            Approval::Command => format!("RUN_CMD: touch {file}"),
            Approval::FileChange => format!("WRITE_FILE: {file} hello from {}", self.id),
        }
    }

    /// Asserts that an `approval/request`'s params name `file` the way this provider's kind does.
    fn assert_asks_for(self, params: &Value, file: &str) {
        match self.approval {
            Approval::Command => {
                assert_eq!(params["kind"], "command", "{params}");
                assert!(
                    params["command"].as_str().unwrap().contains(file),
                    "{params}"
                );
            }
            Approval::FileChange => {
                assert_eq!(params["kind"], "fileChange", "{params}");
                let path = params["changes"][0]["path"].as_str().unwrap();
                assert!(path.ends_with(file), "{params}");
            }
        }
    }
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod codex {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::CODEX).await
            })*
        }
        mod claude {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::CLAUDE).await
            })*
        }
    };
}

scenarios!(
    streamed_text_equals_the_final_text,
    approval_accepted_runs_and_declined_does_not,
    approval_error_reply_counts_as_decline,
    interrupt_ends_the_turn_and_the_session_stays_usable,
    soft_stop_resumes_with_history_and_detach_starts_fresh,
    idle_reaping_then_resume,
    provider_killed_mid_turn_fails_the_turn_and_the_next_turn_resumes,
    baton_restart_then_resume,
    api_error_fails_the_turn_with_the_message,
    manual_compaction,
    model_only_switch_keeps_the_resume_cursor,
    a_missing_binary_is_a_clear_error_at_thread_start,
    pending_asks_are_withdrawn_by_interrupt_stop_and_provider_exit,
    a_silent_provider_fails_the_turn_after_the_inactivity_timeout,
    every_live_event_of_a_provider_message_carries_it_raw,
);

async fn baton(env: &TestEnv) -> Baton {
    let mut b = Baton::spawn(env, &[], Framing::Lsp).await;
    b.initialize().await;
    b
}

async fn streamed_text_equals_the_final_text(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let thread = p
        .start_thread(&mut b, &env, json!({"title": "first"}))
        .await;
    let id = thread["id"].as_str().unwrap().to_string();
    assert_eq!(thread["provider"], p.id);
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
    assert_eq!(finals, vec![deltas.as_str()], "{ours:#?}");
    assert!(
        deltas.len() > 3 && deltas.contains("say hello please"),
        "{deltas}"
    );
    assert!(
        ours.iter().filter(|e| e["type"] == "content.delta").count() >= 3,
        "several deltas expected"
    );
    assert!(
        ours.iter()
            .any(|e| e["type"] == "item.completed" && e["data"]["itemType"] == "user_message")
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
    // Appends and the read race: an event committed after the read's query may be notified
    // before its reply arrives, and one the read saw may still be on its way to the editor
    // (notified in order right after its commit). The replay is compared with what was live up
    // to the read's lastSeq, once that has arrived.
    let last_seq = read["thread"]["lastSeq"].as_i64().unwrap();
    b.wait_event(Duration::from_secs(10), |e| {
        e["threadId"] == id.as_str() && e["seq"].as_i64() == Some(last_seq)
    })
    .await;
    let live: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["threadId"] == id.as_str() && e["seq"].as_i64().unwrap() <= last_seq)
        .collect();
    pretty_assertions::assert_eq!(read["events"].as_array().unwrap(), &live);
    assert_eq!(last_seq, live.len() as i64);

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

async fn approval_accepted_runs_and_declined_does_not(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let id = p.thread_id(&mut b, &env, p.approval_params()).await;
    for (file, decision) in [("accepted.txt", "accept"), ("declined.txt", "decline")] {
        let turn_id = turn(&mut b, &id, &p.approval_prompt(file)).await;
        let req = b.next_server_request(T).await;
        assert_eq!(req["method"], "approval/request", "{req}");
        let params = &req["params"];
        assert_eq!(params["threadId"], id.as_str());
        assert_eq!(params["turnId"], turn_id.as_str());
        p.assert_asks_for(params, file);
        let request_id = params["requestId"].as_str().unwrap().to_string();
        b.respond(req["id"].clone(), json!({"decision": decision}))
            .await;
        let done = wait_turn_end(&mut b, &id, &turn_id).await;
        assert_eq!(done["data"]["state"], "completed", "{done}");
        let events = b.events();
        assert!(
            events.iter().any(|e| e["type"] == "approval.requested"
                && e["data"]["requestId"] == request_id.as_str())
        );
        let i = id.clone();
        let u = turn_id.clone();
        let resolved = b
            .wait_event(T, move |e| {
                is(e, &i, "approval.resolved") && e["turnId"] == u.as_str()
            })
            .await;
        assert_eq!(resolved["data"]["requestId"], request_id.as_str());
        assert_eq!(resolved["data"]["decision"], decision);
        let exists = env.work.join(file).exists();
        assert_eq!(exists, decision == "accept", "{file} after {decision}");
    }
    match p.approval {
        // The accepted command ran successfully.
        Approval::Command => {
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
        // The accepted write wrote what the model asked for.
        Approval::FileChange => assert_eq!(
            std::fs::read_to_string(env.work.join("accepted.txt"))
                .unwrap()
                .trim(),
            format!("hello from {}", p.id)
        ),
    }
}

async fn approval_error_reply_counts_as_decline(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, p.approval_params()).await;
    let turn_id = turn(&mut b, &id, &p.approval_prompt("errored.txt")).await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request", "{req}");
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

async fn interrupt_ends_the_turn_and_the_session_stays_usable(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, json!({})).await;
    let turn_id = turn(&mut b, &id, "SLOW please").await;
    let i = id.clone();
    b.wait_event(T, move |e| {
        is(e, &i, "content.delta") && e["data"]["stream"] == "assistant"
    })
    .await;
    let pids = p.pids(b.pid());
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
    assert_eq!(done["data"]["state"], "interrupted", "{done}");
    let err = b
        .request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32012);
    // The thread is usable afterwards, served by the same process.
    let t2 = turn(&mut b, &id, "and now quickly").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
    assert_eq!(
        p.pids(b.pid()),
        pids,
        "the same {} process serves the next turn",
        p.id
    );
}

async fn soft_stop_resumes_with_history_and_detach_starts_fresh(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let thread = p.start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let cursor = thread["providerThreadId"].as_str().unwrap().to_string();
    let t1 = turn(&mut b, &id, "remember the word PAPAYA").await;
    wait_turn_end(&mut b, &id, &t1).await;
    assert_eq!(p.pids(b.pid()).len(), 1);

    let stopped = b
        .request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    assert_eq!(stopped["thread"]["status"], "stopped");
    assert_eq!(stopped["thread"]["providerThreadId"], cursor.as_str());
    if p.process_per_session {
        assert!(
            p.pids(b.pid()).is_empty(),
            "soft stop ends the {} process",
            p.id
        );
    }
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
    let seen = p.last_conversation(&env);
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
    let seen = p.last_conversation(&env);
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

async fn idle_reaping_then_resume(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--idle-timeout", "2"], Framing::Lsp).await;
    b.initialize().await;
    let thread = p.start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t1 = turn(&mut b, &id, "remember MANGO").await;
    wait_turn_end(&mut b, &id, &t1).await;
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "idle");
    assert_eq!(exited["data"]["recoverable"], true);
    if p.process_per_session {
        assert!(
            p.pids(b.pid()).is_empty(),
            "the reaped session's process is gone"
        );
    }
    let read = b
        .request("thread/read", json!({"threadId": id, "limit": 1}))
        .await
        .unwrap();
    assert_eq!(read["thread"]["status"], "stopped");
    assert_eq!(
        read["thread"]["providerThreadId"],
        thread["providerThreadId"]
    );
    // With no thread using it for the idle timeout, a shared process exits too.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !p.pids(b.pid()).is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        p.pids(b.pid()).is_empty(),
        "the idle {} process did not exit",
        p.id
    );
    env.mock.clear_requests();
    let t2 = turn(&mut b, &id, "which fruit?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
    assert!(p.last_conversation(&env).contains("MANGO"));
    let started: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.started"))
        .collect();
    assert_eq!(started.last().unwrap()["data"]["resumed"], true);
}

async fn provider_killed_mid_turn_fails_the_turn_and_the_next_turn_resumes(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, json!({})).await;
    let t1 = turn(&mut b, &id, "remember LIME").await;
    wait_turn_end(&mut b, &id, &t1).await;
    let t2 = turn(&mut b, &id, "HANG now").await;
    // Killed once the turn is under way (claude has then written it to its session file).
    let i = id.clone();
    b.wait_event(T, move |e| {
        is(e, &i, "item.completed") && e["data"]["itemType"] == "user_message"
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pids = p.pids(b.pid());
    assert_eq!(pids.len(), 1);
    std::process::Command::new("kill")
        .arg("-9")
        .arg(pids[0].to_string())
        .status()
        .unwrap();
    let done = wait_turn_end(&mut b, &id, &t2).await;
    assert_eq!(done["data"]["state"], "failed");
    let i = id.clone();
    let exited = b.wait_event(T, move |e| is(e, &i, "session.exited")).await;
    assert_eq!(exited["data"]["reason"], "crashed");
    assert_eq!(exited["data"]["recoverable"], true);
    let exits = b
        .events()
        .into_iter()
        .filter(|e| is(e, &id, "session.exited"))
        .count();
    assert_eq!(exits, 1, "exactly one session.exited per exit");
    env.mock.clear_requests();
    let t3 = turn(&mut b, &id, "which fruit?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t3).await["data"]["state"],
        "completed"
    );
    assert!(p.last_conversation(&env).contains("LIME"));
    let new_pids = p.pids(b.pid());
    assert_eq!(new_pids.len(), 1);
    assert_ne!(new_pids, pids);
}

async fn baton_restart_then_resume(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, json!({})).await;
    let t = turn(&mut b, &id, "remember LILAC").await;
    wait_turn_end(&mut b, &id, &t).await;
    let all = descendants(b.pid());
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(5)).await, Some(0));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        all.iter().all(|pid| !process_alive(*pid)),
        "{} outlived baton",
        p.id
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
    assert!(p.last_conversation(&env).contains("LILAC"));
}

async fn api_error_fails_the_turn_with_the_message(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, json!({})).await;
    let t = turn(&mut b, &id, "FAIL_529 now").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "failed", "{done}");
    let error = done["data"]["error"].as_str().unwrap();
    assert!(p.overloaded.iter().any(|w| error.contains(w)), "{error}");
    let t2 = turn(&mut b, &id, "recovered?").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t2).await["data"]["state"],
        "completed"
    );
}

async fn manual_compaction(p: Provider) {
    const T: Duration = Duration::from_secs(90);
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, json!({})).await;
    let t = turn(&mut b, &id, "remember the word COMPASS").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    b.request("thread/compact/start", json!({"threadId": id}))
        .await
        .unwrap();
    let i = id.clone();
    let done = b
        .wait_event(T, move |e| {
            is(e, &i, "compaction.completed") || is(e, &i, "compaction.failed")
        })
        .await;
    assert_eq!(done["type"], "compaction.completed", "{done}");
    assert_eq!(done["data"]["trigger"], "manual");
    let summary = done["data"]["summary"].as_str().unwrap();
    assert!(
        summary.contains("MOCK SUMMARY") && summary.contains("COMPASS"),
        "{summary}"
    );
    let i = id.clone();
    let done_seq = done["seq"].as_i64();
    b.wait_event(T, move |e| {
        is(e, &i, "thread.status") && e["data"]["status"] == "idle" && e["seq"].as_i64() > done_seq
    })
    .await;
    // The summary is stored.
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let stored = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["type"] == "compaction.completed" && e["data"]["summary"] == summary);
    assert!(stored);
    assert!(b.events().iter().any(|e| is(e, &id, "compaction.started")));
    // The thread goes on after compacting.
    let t = turn(&mut b, &id, "after the compaction").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
}

async fn model_only_switch_keeps_the_resume_cursor(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let thread = p.start_thread(&mut b, &env, json!({})).await;
    let id = thread["id"].as_str().unwrap().to_string();
    let t = turn(&mut b, &id, "remember HOTEL").await;
    wait_turn_end(&mut b, &id, &t).await;
    let r = b
        .request(
            "thread/switch",
            json!({"threadId": id, "provider": p.id, "model": "mock-model-2"}),
        )
        .await
        .unwrap();
    assert_eq!(r["handoff"]["strategy"], "none");
    assert_eq!(r["thread"]["model"], "mock-model-2");
    assert_eq!(r["thread"]["providerThreadId"], thread["providerThreadId"]);
    env.mock.clear_requests();
    let t = turn(&mut b, &id, "which word?").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    let req = env.mock.requests_to(p.api).pop().unwrap();
    assert_eq!(req.body["model"], "mock-model-2");
    assert!(req.conversation_text().contains("HOTEL"));
    assert!(b.events().iter().all(|e| e["type"] != "handoff.started"));
}

async fn a_missing_binary_is_a_clear_error_at_thread_start(p: Provider) {
    let env = TestEnv::new().await;
    let flag = format!("--{}-bin", p.id);
    let missing = format!("/nonexistent/{}", p.id);
    let mut b = Baton::spawn(&env, &[&flag, &missing], Framing::Lsp).await;
    b.initialize().await;
    let err = b
        .request(
            "thread/start",
            json!({"provider": p.id, "cwd": env.work.to_str().unwrap()}),
        )
        .await
        .unwrap_err();
    assert_eq!(err["code"], -32013, "{err}");
    assert!(err["message"].as_str().unwrap().contains(&missing), "{err}");
    let list = b.request("thread/list", json!({})).await.unwrap();
    assert_eq!(
        list["threads"].as_array().unwrap().len(),
        0,
        "no thread is left behind"
    );
}

/// Waits for baton's `$/cancelRequest` of the server->client request `id`.
async fn wait_cancel_request(b: &mut Baton, id: &Value) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let msg = b
            .read_message(left)
            .await
            .unwrap_or_else(|| panic!("no $/cancelRequest for request {id}"));
        if msg["method"] == "$/cancelRequest" && msg["params"]["id"] == *id {
            return;
        }
    }
}

/// The `*.resolved` event of an ask, waited for.
async fn resolved(b: &mut Baton, thread: &str, ty: &str, request_id: &Value) -> Value {
    let (t, ty, r) = (thread.to_string(), ty.to_string(), request_id.clone());
    b.wait_event(T, move |e| is(e, &t, &ty) && e["data"]["requestId"] == r)
        .await
}

async fn pending_asks_are_withdrawn_by_interrupt_stop_and_provider_exit(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = baton(&env).await;
    let id = p.thread_id(&mut b, &env, p.approval_params()).await;

    // An interrupt withdraws the approval its turn was waiting for.
    let t1 = turn(&mut b, &id, &p.approval_prompt("interrupted.txt")).await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request", "{req}");
    b.request("turn/interrupt", json!({"threadId": id}))
        .await
        .unwrap();
    wait_cancel_request(&mut b, &req["id"]).await;
    let r = resolved(
        &mut b,
        &id,
        "approval.resolved",
        &req["params"]["requestId"],
    )
    .await;
    assert_eq!(r["data"]["by"], "interrupt", "{r}");
    assert_eq!(r["data"]["decision"], "cancel", "{r}");
    assert_eq!(r["turnId"], t1.as_str());
    let done = wait_turn_end(&mut b, &id, &t1).await;
    assert_eq!(done["data"]["state"], "interrupted", "{done}");
    // The editor's late answer changes nothing.
    b.respond(req["id"].clone(), json!({"decision": "accept"}))
        .await;
    // The thread goes on. (Claude sends this message together with the result of the tool
    // call it was interrupted in, so the mock reads it as a tool follow-up: a plain turn here
    // keeps the next keyword the last user message.)
    let t = turn(&mut b, &id, "go on").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");

    // A stop withdraws a pending question.
    let r = b
        .request(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": "ASK_USER: Which color? | red | blue"}], "mode": p.question_mode}),
        )
        .await
        .unwrap();
    let t2 = r["turnId"].as_str().unwrap().to_string();
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "input/request", "{req}");
    b.request("thread/stop", json!({"threadId": id}))
        .await
        .unwrap();
    wait_cancel_request(&mut b, &req["id"]).await;
    let r = resolved(&mut b, &id, "input.resolved", &req["params"]["requestId"]).await;
    assert_eq!(r["data"]["by"], "stop", "{r}");
    assert_eq!(r["data"]["cancelled"], true, "{r}");
    assert_eq!(r["turnId"], t2.as_str());
    let done = wait_turn_end(&mut b, &id, &t2).await;
    assert_eq!(done["data"]["state"], "interrupted", "{done}");
    let t = turn(&mut b, &id, "go on").await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");

    // The provider dying withdraws the approval it asked for.
    let t3 = turn(&mut b, &id, &p.approval_prompt("crashed.txt")).await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request", "{req}");
    let pids = p.pids(b.pid());
    assert_eq!(pids.len(), 1);
    std::process::Command::new("kill")
        .arg("-9")
        .arg(pids[0].to_string())
        .status()
        .unwrap();
    wait_cancel_request(&mut b, &req["id"]).await;
    let r = resolved(
        &mut b,
        &id,
        "approval.resolved",
        &req["params"]["requestId"],
    )
    .await;
    assert_eq!(r["data"]["by"], "providerExit", "{r}");
    let done = wait_turn_end(&mut b, &id, &t3).await;
    assert_eq!(done["data"]["state"], "failed", "{done}");

    // Every ask was resolved exactly once, nothing was done, and the thread goes on.
    let count = |ty: &str| b.events().iter().filter(|e| is(e, &id, ty)).count();
    assert_eq!(count("approval.requested"), 2);
    assert_eq!(count("approval.resolved"), 2);
    assert_eq!(count("input.requested"), 1);
    assert_eq!(count("input.resolved"), 1);
    assert!(!env.work.join("interrupted.txt").exists());
    assert!(!env.work.join("crashed.txt").exists());
    let t4 = turn(&mut b, &id, "still there?").await;
    let done = wait_turn_end(&mut b, &id, &t4).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
}

async fn a_silent_provider_fails_the_turn_after_the_inactivity_timeout(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize_with(json!({"turnInactivityTimeoutSecs": 2}))
        .await;
    let id = p.thread_id(&mut b, &env, json!({})).await;
    let t1 = turn(&mut b, &id, "remember KIWI").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t1).await["data"]["state"],
        "completed"
    );
    // The model never answers: the turn fails once the provider has been silent for 2 s.
    let started = std::time::Instant::now();
    let t2 = turn(&mut b, &id, "HANG now").await;
    let done = wait_turn_end(&mut b, &id, &t2).await;
    let took = started.elapsed();
    assert_eq!(done["data"]["state"], "failed", "{done}");
    let error = done["data"]["error"].as_str().unwrap();
    assert!(
        error.contains("turn inactivity timeout") && error.contains("2 s"),
        "{error}"
    );
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(30),
        "{took:?}"
    );
    let i = id.clone();
    let runtime = b.wait_event(T, move |e| is(e, &i, "runtime.error")).await;
    assert_eq!(runtime["data"]["class"], "timeout", "{runtime}");
    assert_eq!(runtime["turnId"], t2.as_str());
    // The thread is consistent: no turn running, the log ends the turn once.
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    assert_ne!(read["thread"]["status"], "running", "{}", read["thread"]);
    let ends = read["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "turn.completed" && e["turnId"] == t2.as_str())
        .count();
    assert_eq!(ends, 1);
    // The next turn works and still knows the earlier one.
    env.mock.clear_requests();
    let t3 = turn(&mut b, &id, "which fruit?").await;
    let done = wait_turn_end(&mut b, &id, &t3).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    assert!(p.last_conversation(&env).contains("KIWI"));
}

/// Events baton makes itself, from no provider message: they never carry `data.raw`.
const BATONS_OWN: &[&str] = &[
    "thread.status",
    "session.started",
    "session.exited",
    "approval.resolved",
    "input.resolved",
];

async fn every_live_event_of_a_provider_message_carries_it_raw(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize_with(json!({"includeRaw": true})).await;
    let id = p.thread_id(&mut b, &env, p.approval_params()).await;
    let t = turn(&mut b, &id, "PLAN: look; change").await;
    wait_turn_end(&mut b, &id, &t).await;
    let t = turn(&mut b, &id, &p.approval_prompt("raw.txt")).await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request", "{req}");
    b.respond(req["id"].clone(), json!({"decision": "accept"}))
        .await;
    wait_turn_end(&mut b, &id, &t).await;
    let live: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["threadId"] == id.as_str())
        .collect();
    let mut counted = 0;
    for e in &live {
        let ty = e["type"].as_str().unwrap();
        if BATONS_OWN.contains(&ty) {
            assert!(e["data"].get("raw").is_none(), "{e}");
            continue;
        }
        counted += 1;
        assert!(
            e["data"]["raw"].is_object(),
            "a live {ty} without its provider message: {e}"
        );
    }
    assert!(counted > 15, "{counted} events checked");
    let raw_of = |ty: &str| {
        live.iter()
            .find(|e| e["type"] == ty)
            .map(|e| e["data"]["raw"].clone())
            .unwrap()
    };
    match p.id {
        "codex" => {
            assert_eq!(
                raw_of("approval.requested")["method"],
                "item/commandExecution/requestApproval"
            );
            assert_eq!(raw_of("turn.plan")["method"], "turn/plan/updated");
        }
        _ => {
            assert_eq!(raw_of("approval.requested")["type"], "control_request");
            assert_eq!(
                raw_of("approval.requested")["request"]["subtype"],
                "can_use_tool"
            );
            // One `result` line is both the usage and the turn's end: both carry it.
            let last_usage = live
                .iter()
                .rev()
                .find(|e| e["type"] == "usage.updated")
                .unwrap();
            let last_end = live
                .iter()
                .rev()
                .find(|e| e["type"] == "turn.completed")
                .unwrap();
            assert_eq!(last_usage["data"]["raw"]["type"], "result");
            assert_eq!(last_usage["data"]["raw"], last_end["data"]["raw"]);
            // The user's message is told from the line baton sent claude.
            assert_eq!(raw_of("turn.started")["type"], "user");
        }
    }
    // Raw messages are never persisted.
    let read = b
        .request("thread/read", json!({"threadId": id}))
        .await
        .unwrap();
    let stored = read["events"].as_array().unwrap();
    assert!(!stored.is_empty());
    assert!(stored.iter().all(|e| e["data"].get("raw").is_none()));
}
