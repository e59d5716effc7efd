//! The terminal front ends: `baton exec` and `baton demo`, run as a person would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::TestEnv;
use serde_json::Value;

fn baton(env: &TestEnv, args: &[&str], stdin: &str) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .envs(env.baton_env())
        .current_dir(&env.work)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_runs_one_turn_and_continues_a_thread() {
    let env = TestEnv::new().await;
    let (code, out) = baton(&env, &["exec", "hello from the terminal"], "");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("codex> mock reply to: hello from the terminal"),
        "{out}"
    );
    assert!(out.contains("· tokens:"), "{out}");
    let thread = out
        .lines()
        .find_map(|l| l.strip_prefix("· thread "))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let (code, out) = baton(
        &env,
        &["exec", "--json", "--thread", &thread, "and again"],
        "",
    );
    assert_eq!(code, 0, "{out}");
    let events: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(events.iter().all(|e| e["threadId"] == thread.as_str()));
    let last = events
        .iter()
        .rev()
        .find(|e| e["type"] == "turn.completed")
        .unwrap();
    assert_eq!(last["data"]["state"], "completed");
    let resumed = events
        .iter()
        .find(|e| e["type"] == "session.started")
        .unwrap();
    assert_eq!(resumed["data"]["resumed"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_asks_approvals_on_the_terminal() {
    let env = TestEnv::new().await;
    let (code, out) = baton(
        &env,
        &[
            "exec",
            "--provider",
            "claude",
            "WRITE_FILE: term.txt typed yes",
        ],
        "a\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("? Write") && out.contains("→ accept"), "{out}");
    assert!(env.work.join("term.txt").exists());
    let (code, out) = baton(
        &env,
        &[
            "exec",
            "--provider",
            "claude",
            "WRITE_FILE: nope.txt typed no",
        ],
        "n\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("→ decline"), "{out}");
    assert!(!env.work.join("nope.txt").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_green_offline() {
    let env = TestEnv::new().await;
    let (code, out) = baton(&env, &["demo"], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("6/6 steps passed"), "{out}");
    assert!(
        out.contains("handoff by compact") && out.contains("TANGO-42: true"),
        "{out}"
    );
}
