//! Provider faults, end to end through the real `baton` binary: a provider binary that is
//! missing, not executable, exits at start, writes garbage or hangs at start (small shell
//! scripts stand in for the binary only for these faults); the real CLIs killed mid-turn; and the
//! real CLIs facing a model that answers 400/500/529, stalls, or drops the stream (mock model
//! keywords `FAIL_400`, `FAIL_500`, `FAIL_529`, `HANG`, `DROP`).
//!
//! Every fault must give a clear error or event, leave the thread consistent (`thread/read`:
//! nothing running, each turn ended once, seqs gapless, the log equal to what was notified),
//! and the next start or turn must work. Each test prints a line of figures for TESTING.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Api, Baton, Framing, TestEnv, descendants, is, start_thread, turn, wait_turn_end};
use serde_json::{Value, json};

const T: Duration = Duration::from_secs(90);

#[derive(Clone, Copy)]
struct Provider {
    id: &'static str,
    api: Api,
    /// A word in the command line of its native process.
    marker: &'static str,
}

const CODEX: Provider = Provider {
    id: "codex",
    api: Api::Responses,
    marker: "app-server",
};
const CLAUDE: Provider = Provider {
    id: "claude",
    api: Api::Messages,
    marker: "stream-json",
};

impl Provider {
    fn real_bin(self) -> PathBuf {
        match self.id {
            "codex" => common::codex_bin(),
            _ => common::claude_bin(),
        }
    }
}

/// Writes an executable shell script standing in for a provider binary.
fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Points the symlink `link` (the binary baton was told to use) at `target`.
fn point(link: &Path, target: &Path) {
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(target, link).unwrap();
}

/// Checks that `thread`'s log is consistent and equal to what was notified: seqs 1..n with no
/// gap, no turn left running, every turn ended exactly once. Returns the stored events.
async fn assert_consistent(b: &mut Baton, thread: &str) -> Vec<Value> {
    let read = b
        .request("thread/read", json!({"threadId": thread}))
        .await
        .unwrap();
    assert_ne!(read["thread"]["status"], "running", "{}", read["thread"]);
    let stored = read["events"].as_array().unwrap().clone();
    let seqs: Vec<i64> = stored.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    // Events appended after the read ran may already have been notified: compare up to the
    // read's end.
    let live: Vec<Value> = b
        .events()
        .into_iter()
        .filter(|e| e["threadId"] == thread && e["seq"].as_i64() <= Some(seqs.len() as i64))
        .collect();
    assert_eq!(&stored[..live.len()], &live[..], "thread/read == live");
    let mut turns: Vec<&str> = stored
        .iter()
        .filter(|e| e["type"] == "turn.started")
        .filter_map(|e| e["turnId"].as_str())
        .collect();
    turns.dedup();
    for t in turns {
        let ends = stored
            .iter()
            .filter(|e| e["type"] == "turn.completed" && e["turnId"] == t)
            .count();
        assert_eq!(ends, 1, "turn {t} ended {ends} times");
    }
    stored
}

/// A request answered later than the harness's 30 s allow (a provider hanging at start is
/// given up on after its initialize timeout, up to 60 s): Ok(result) or Err(error).
async fn slow_request(b: &mut Baton, id: i64, method: &str, params: Value) -> Result<Value, Value> {
    let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}).to_string();
    b.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
        .await;
    let deadline = Instant::now() + T;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = b
            .read_message(left)
            .await
            .unwrap_or_else(|| panic!("no answer to {method} within {T:?}"));
        if msg["id"] == id && msg.get("method").is_none() {
            return match msg.get("error") {
                Some(e) => Err(e.clone()),
                None => Ok(msg["result"].clone()),
            };
        }
    }
}

async fn threads(b: &mut Baton) -> usize {
    b.request("thread/list", json!({})).await.unwrap()["threads"]
        .as_array()
        .unwrap()
        .len()
}

/// Waits (bounded) until no descendant of baton runs `path`.
async fn no_process_runs(baton: u32, path: &Path) -> bool {
    let needle = path.to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = descendants(baton).into_iter().any(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .unwrap_or_default()
                .contains(&needle)
        });
        if !left {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Binaries that cannot serve: each `thread/start` fails with a clear error naming the cause,
/// leaves no thread and no process, and once the binary is good again a thread starts and runs.
async fn startup_faults(p: Provider) {
    let env = TestEnv::new().await;
    let dir = env.root.path().join("fake");
    std::fs::create_dir_all(&dir).unwrap();
    let link = dir.join(format!("{}-bin", p.id));
    let flag = format!("--{}-bin", p.id);
    let mut b = Baton::spawn(&env, &[&flag, link.to_str().unwrap()], Framing::Lsp).await;
    b.initialize().await;

    let not_exec = dir.join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let faults: Vec<(&str, PathBuf, &[&str])> = vec![
        ("missing", dir.join("does-not-exist"), &["does not exist"]),
        ("not executable", not_exec, &["ermission"]),
        (
            "exits at start",
            script(
                &dir,
                "exits",
                "echo 'fake provider crashed at start' >&2; exit 3",
            ),
            &["crashed at start"],
        ),
        (
            "garbage output",
            script(
                &dir,
                "garbage",
                "echo 'this is not json'; echo '{\"broken'; printf '\\001\\002\\377\\n'; echo 'garbage printed' >&2; exit 0",
            ),
            &["garbage printed"],
        ),
        (
            "hangs at start",
            script(&dir, "hangs", "exec sleep 600"),
            &["time", "initialize"],
        ),
    ];
    let mut clear = 0;
    for (n, (name, target, words)) in faults.iter().enumerate() {
        point(&link, target);
        let started = Instant::now();
        let err = slow_request(
            &mut b,
            1 + n as i64,
            "thread/start",
            json!({"provider": p.id, "cwd": env.work.to_str().unwrap()}),
        )
        .await
        .unwrap_err();
        let code = err["code"].as_i64().unwrap();
        let message = err["message"].as_str().unwrap();
        assert!(
            code == -32013 || code == -32014,
            "{name}: a provider error code: {err}"
        );
        assert!(
            words.iter().any(|w| message.contains(w)),
            "{name}: the error says why ({words:?}): {message}"
        );
        assert_eq!(threads(&mut b).await, 0, "{name}: no thread is left");
        assert!(
            no_process_runs(b.pid(), target).await,
            "{name}: no process is left"
        );
        clear += 1;
        eprintln!(
            "provider_faults {}: {name}: {code} in {:.1} s: {message}",
            p.id,
            started.elapsed().as_secs_f64()
        );
    }
    // The binary is good again: the same baton starts a thread and runs a turn.
    point(&link, &p.real_bin());
    let id = start_thread(&mut b, &env, p.id, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "hello after the faults").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    assert_consistent(&mut b, &id).await;
    println!(
        "provider_faults {} startup: {} faults tried, {clear} clear errors, 0 threads and 0 processes left, next start and turn ok",
        p.id,
        faults.len()
    );
}

/// The model misbehaves mid-turn: the turn fails with the provider's (or baton's) reason, the
/// thread stays consistent, and the next turn completes with the earlier context.
async fn model_faults(p: Provider) {
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &["--turn-inactivity-timeout", "3"], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, p.id, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "remember the word QUINCE").await;
    assert_eq!(
        wait_turn_end(&mut b, &id, &t).await["data"]["state"],
        "completed"
    );
    let faults = ["FAIL_400", "FAIL_500", "FAIL_529", "DROP", "HANG"];
    let mut failed = 0;
    let mut recovered = 0;
    for fault in faults {
        let started = Instant::now();
        let t = turn(&mut b, &id, &format!("{fault} please")).await;
        let done = wait_turn_end(&mut b, &id, &t).await;
        let took = started.elapsed();
        assert_eq!(done["data"]["state"], "failed", "{fault}: {done}");
        let error = done["data"]["error"].as_str().unwrap_or("").to_string();
        assert!(!error.trim().is_empty(), "{fault}: the failure says why");
        if fault == "HANG" {
            assert!(error.contains("turn inactivity timeout"), "{error}");
        }
        failed += 1;
        assert_consistent(&mut b, &id).await;
        // The next turn works and the thread still knows what came before the fault.
        env.mock.clear_requests();
        let next = turn(
            &mut b,
            &id,
            &format!("after {} which word?", fault.to_lowercase()),
        )
        .await;
        let done = wait_turn_end(&mut b, &id, &next).await;
        assert_eq!(done["data"]["state"], "completed", "after {fault}: {done}");
        let seen = env
            .mock
            .requests_to(p.api)
            .last()
            .unwrap()
            .conversation_text();
        assert!(seen.contains("QUINCE"), "after {fault}: {seen}");
        recovered += 1;
        eprintln!(
            "provider_faults {}: {fault}: failed in {:.1} s: {error}",
            p.id,
            took.as_secs_f64()
        );
    }
    let stored = assert_consistent(&mut b, &id).await;
    println!(
        "provider_faults {} model: {} faults ({}), {failed} turns failed with a reason, {recovered} next turns completed with the earlier context, {} events consistent",
        p.id,
        faults.len(),
        faults.join(", "),
        stored.len()
    );
}

/// The provider process is SIGKILLed mid-turn, several times: each time the turn fails, the
/// session is reported crashed once, and the next turn resumes with the history.
async fn killed_mid_turn(p: Provider) {
    const ROUNDS: usize = 3;
    let env = TestEnv::new().await;
    let mut b = Baton::spawn(&env, &[], Framing::Lsp).await;
    b.initialize().await;
    let id = start_thread(&mut b, &env, p.id, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = turn(&mut b, &id, "remember the word SORREL").await;
    wait_turn_end(&mut b, &id, &t).await;
    for round in 0..ROUNDS {
        let t = turn(&mut b, &id, "SLOW please").await;
        let (i, u) = (id.clone(), t.clone());
        b.wait_event(T, move |e| {
            is(e, &i, "content.delta") && e["turnId"] == u.as_str()
        })
        .await;
        let pids = common::native_pids(b.pid(), p.marker);
        assert_eq!(pids.len(), 1, "round {round}");
        std::process::Command::new("kill")
            .args(["-9", &pids[0].to_string()])
            .status()
            .unwrap();
        let done = wait_turn_end(&mut b, &id, &t).await;
        assert_eq!(done["data"]["state"], "failed", "round {round}: {done}");
        assert_consistent(&mut b, &id).await;
        env.mock.clear_requests();
        let next = turn(&mut b, &id, "which word?").await;
        let done = wait_turn_end(&mut b, &id, &next).await;
        assert_eq!(done["data"]["state"], "completed", "round {round}: {done}");
        let seen = env
            .mock
            .requests_to(p.api)
            .last()
            .unwrap()
            .conversation_text();
        assert!(seen.contains("SORREL"), "round {round}: {seen}");
    }
    let stored = assert_consistent(&mut b, &id).await;
    let crashes = stored
        .iter()
        .filter(|e| e["type"] == "session.exited" && e["data"]["reason"] == "crashed")
        .count();
    assert_eq!(crashes, ROUNDS, "one session.exited per kill");
    println!(
        "provider_faults {} killed: {ROUNDS} SIGKILLs mid-stream, {ROUNDS} turns failed, {crashes} crashes reported once each, {ROUNDS} next turns resumed with the history",
        p.id
    );
}

macro_rules! per_provider {
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

per_provider!(startup_faults, model_faults, killed_mid_turn);
