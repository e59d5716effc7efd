//! Security properties of the real `baton` binary: private database files, no secret from the
//! environment in any output, approvals asked unless the thread says `never`, and `thread/start`
//! refusing a cwd that is not a directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{Baton, Framing, TestEnv, is, start_thread, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(60);

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// The database directory baton creates is 0700, the database and its -wal/-shm files 0600,
/// whatever the umask lets through.
#[tokio::test]
async fn database_directory_is_0700_and_its_files_0600() {
    let env = TestEnv::new().await;
    let dir = env.db.parent().unwrap().to_path_buf();
    assert!(!dir.exists());
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, "codex", json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "hello").await;
    wait_turn_end(&mut b, &id, &t).await;
    let mut checked = vec![(dir.clone(), mode(&dir))];
    assert_eq!(mode(&dir), 0o700, "{}", dir.display());
    for suffix in ["", "-wal", "-shm"] {
        let f = dir.join(format!("baton.db{suffix}"));
        // WAL mode keeps both side files while the database is open.
        assert!(f.exists(), "{} missing", f.display());
        assert_eq!(mode(&f), 0o600, "{}", f.display());
        checked.push((f.clone(), mode(&f)));
    }
    println!(
        "database permissions: {}",
        checked
            .iter()
            .map(|(p, m)| format!("{} {m:o}", p.file_name().unwrap().to_string_lossy()))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

/// API keys and other secret values planted in baton's environment show up nowhere: not in its
/// log (at trace level, which logs every message), not in anything it sent the editor (events
/// with raw provider messages, responses, errors), not in the database file.
#[tokio::test]
async fn planted_secrets_appear_in_no_log_event_error_or_database() {
    let env = TestEnv::new().await;
    let secrets = [
        ("OPENAI_API_KEY", "sk-baton-marker-openai-5f1c2e"),
        ("CODEX_API_KEY", "sk-baton-marker-codex-9a7b3d"),
        ("ANTHROPIC_API_KEY", "sk-baton-marker-anthropic-77e0aa"),
        ("GITHUB_TOKEN", "ghp_baton_marker_token_0c4f"),
    ];
    let log = env.root.path().join("baton.log");
    let mut extra: Vec<(&str, &str)> = secrets.to_vec();
    extra.push(("RUST_LOG", "trace"));
    let mut b = Baton::spawn_with_env(
        &env,
        &["--log-file", log.to_str().unwrap()],
        Framing::Ndjson,
        &extra,
    )
    .await;
    b.initialize_with(json!({"includeRaw": true})).await;
    let mut seen: Vec<Value> = Vec::new();
    let mut turns = 0;
    let mut errors = 0;
    for provider in ["codex", "claude"] {
        let id = start_thread(&mut b, &env, provider, json!({})).await["id"]
            .as_str()
            .unwrap()
            .to_string();
        for prompt in ["say hello", "FAIL_529 please"] {
            let t = turn(&mut b, &id, prompt).await;
            wait_turn_end(&mut b, &id, &t).await;
            turns += 1;
        }
        seen.push(
            b.request("thread/read", json!({"threadId": id}))
                .await
                .unwrap(),
        );
    }
    // Error paths: a bad cwd, an unknown thread, a provider that cannot start.
    for (method, params) in [
        (
            "thread/start",
            json!({"provider": "codex", "cwd": "/nonexistent/dir"}),
        ),
        (
            "turn/start",
            json!({"threadId": "nope", "input": [{"type": "text", "text": "x"}]}),
        ),
        ("thread/start", json!({"provider": "nope", "cwd": "/"})),
    ] {
        let e = b.request(method, params).await.unwrap_err();
        seen.push(e);
        errors += 1;
    }
    seen.extend(b.events());
    b.close_stdin().await;
    assert_eq!(b.wait_exit(Duration::from_secs(15)).await, Some(0));
    let editor_text = serde_json::to_string(&seen).unwrap();
    let log_text = std::fs::read_to_string(&log).unwrap();
    assert!(log_text.contains("TRACE"), "the log is at trace level");
    let mut db_bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        db_bytes.extend(std::fs::read(format!("{}{suffix}", env.db.display())).unwrap_or_default());
    }
    let db_text = String::from_utf8_lossy(&db_bytes);
    // The events carry the providers' own messages: something was really checked.
    assert!(editor_text.contains("\"raw\""), "no raw provider messages");
    assert!(
        db_text.contains("mock reply to"),
        "the database holds the conversation"
    );
    for (name, value) in secrets {
        assert!(!log_text.contains(value), "{name} in baton's log");
        assert!(
            !editor_text.contains(value),
            "{name} in what baton sent the editor"
        );
        assert!(!db_text.contains(value), "{name} in the database");
    }
    println!(
        "secrets: {} planted values; {turns} turns on 2 providers (one failing), {errors} error replies, {} editor messages, {} KiB of trace log, {} KiB of database: 0 occurrences",
        secrets.len(),
        b.events().len(),
        log_text.len() / 1024,
        db_bytes.len() / 1024
    );
}

/// A thread started without `approvalPolicy` asks before running a command, even though the
/// provider's own configuration (the test CODEX_HOME) says `never`; nothing runs while the
/// question is open, and a decline means the command never runs.
#[tokio::test]
async fn the_default_policy_asks_and_a_decline_runs_nothing() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let thread = start_thread(&mut b, &env, "codex", json!({"sandbox": "workspace-write"})).await;
    assert_eq!(thread["approvalPolicy"], "untrusted", "{thread}");
    let id = thread["id"].as_str().unwrap().to_string();
    let file = env.work.join("default-policy.txt");
    let t = turn(&mut b, &id, "RUN_CMD: touch default-policy.txt").await;
    let req = b.next_server_request(T).await;
    assert_eq!(req["method"], "approval/request", "{req}");
    // Unanswered for a while: nothing ran, the turn waits.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!file.exists(), "the command ran before it was approved");
    assert!(
        !b.events().iter().any(|e| is(e, &id, "turn.completed")),
        "the turn ended without an answer"
    );
    b.respond(req["id"].clone(), json!({"decision": "decline"}))
        .await;
    let done = wait_turn_end(&mut b, &id, &t).await;
    assert_eq!(done["data"]["state"], "completed", "{done}");
    assert!(!file.exists(), "the declined command ran");
    let resolved = b
        .events()
        .into_iter()
        .find(|e| is(e, &id, "approval.resolved"))
        .unwrap();
    assert_eq!(resolved["data"]["decision"], "decline", "{resolved}");
    println!(
        "approvals: default policy untrusted; 1 command asked, 2 s unanswered with nothing run, declined, not run"
    );
}

/// `thread/start` checks its cwd: missing, a file, relative: -32602 naming the path.
#[tokio::test]
async fn thread_start_refuses_a_cwd_that_is_not_a_directory() {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Ndjson).await;
    b.initialize().await;
    let file = env.work.join("a-file.txt");
    std::fs::write(&file, "x").unwrap();
    let missing = env.work.join("no-such-dir");
    let cases = [
        (missing.to_str().unwrap().to_string(), "does not exist"),
        (file.to_str().unwrap().to_string(), "is not a directory"),
        ("relative/dir".to_string(), "absolute"),
    ];
    for (cwd, why) in &cases {
        let e = b
            .request("thread/start", json!({"provider": "codex", "cwd": cwd}))
            .await
            .unwrap_err();
        assert_eq!(e["code"], -32602, "{e}");
        assert_eq!(e["data"]["field"], "cwd", "{e}");
        let msg = e["message"].as_str().unwrap();
        assert!(msg.contains(cwd.as_str()) && msg.contains(why), "{msg}");
    }
    let list = b.request("thread/list", json!({})).await.unwrap();
    assert_eq!(list["threads"].as_array().unwrap().len(), 0);
    println!(
        "cwd validation: {} bad cwds refused with -32602 naming the path; 0 threads created",
        cases.len()
    );
}
