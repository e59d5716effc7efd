#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

use super::*;

/// Set for the helper process of `a_sigkilled_baton_leaves_no_agent_behind`: where it writes the
/// pid of the agent it spawned.
const HELPER_PIDFILE: &str = "BATON_CHILD_TEST_PIDFILE";
const HELPER_TEST: &str = "provider::child::tests::helper_spawns_an_agent_and_waits";

fn sh(script: &str) -> ChildSpec {
    ChildSpec::new(
        "sh",
        PathBuf::from("/bin/sh"),
        vec!["-c".into(), script.into()],
    )
}

/// Whether a process runs: absent or a zombie (dead, waiting to be reaped) counts as gone.
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

async fn gone_within(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Not a test of its own: the body of the process that
/// `a_sigkilled_baton_leaves_no_agent_behind` kills. It spawns an agent through [`spawn`],
/// reports its pid and waits to be killed.
#[test]
#[ignore = "the helper process of a_sigkilled_baton_leaves_no_agent_behind"]
fn helper_spawns_an_agent_and_waits() {
    let Ok(pidfile) = std::env::var(HELPER_PIDFILE) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        // Spawned from a runtime worker, as baton does.
        let spawned = tokio::spawn(async { spawn(&sh("exec sleep 60")).unwrap() })
            .await
            .unwrap();
        let pid = spawned.handle.pid().unwrap();
        std::fs::write(&pidfile, pid.to_string()).unwrap();
        tokio::time::sleep(Duration::from_secs(60)).await;
        drop(spawned);
    });
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_sigkilled_baton_leaves_no_agent_behind() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("agent.pid");
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([HELPER_TEST, "--exact", "--ignored", "--test-threads=1"])
        .env(HELPER_PIDFILE, &pidfile)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pidfile)
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the helper never reported its agent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(alive(pid), "the agent runs while its parent lives");
    helper.kill().unwrap(); // SIGKILL: no destructor, no kill_on_drop runs
    helper.wait().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(5)).await,
        "agent {pid} outlived the SIGKILLed process that spawned it"
    );
}

#[tokio::test]
async fn a_stop_kills_the_whole_process_group() {
    // The agent starts a grandchild and ignores EOF on stdin, so only the group kill ends both.
    let spawned = spawn(&sh("sleep 60 & echo $!; wait")).unwrap();
    let mut out = BufReader::new(spawned.stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(5), out.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let grandchild: u32 = line.trim().parse().unwrap();
    let agent = spawned.handle.pid().unwrap();
    assert!(alive(grandchild) && alive(agent));
    let stdin = spawned.stdin;
    let began = Instant::now();
    spawned
        .handle
        .stop(async move { drop(stdin) }, Duration::from_millis(300))
        .await;
    assert!(
        began.elapsed() >= Duration::from_millis(300),
        "the grace period was honoured"
    );
    let status = spawned.handle.exit_status().unwrap();
    assert!(status.contains("signal: 9"), "{status}");
    assert!(gone_within(agent, Duration::from_secs(5)).await);
    assert!(
        gone_within(grandchild, Duration::from_secs(5)).await,
        "the agent's own child {grandchild} survived the group kill"
    );
}

#[tokio::test]
async fn an_agent_that_exits_on_eof_is_not_killed() {
    let spawned = spawn(&sh("cat >/dev/null; echo bye >&2")).unwrap();
    let stdin = spawned.stdin;
    spawned
        .handle
        .stop(async move { drop(stdin) }, Duration::from_secs(5))
        .await;
    assert_eq!(
        spawned.handle.exit_status().as_deref(),
        Some("exit status: 0")
    );
    spawned.handle.stderr_drained(Duration::from_secs(5)).await;
    assert_eq!(spawned.handle.stderr_tail(), "bye");
}

#[tokio::test]
async fn the_stderr_tail_is_bounded_and_env_reaches_the_agent() {
    let mut spec = sh("for i in $(seq 1 200); do echo \"$GREETING $i\" >&2; done; exit 3");
    spec.env.push(("GREETING".into(), "hello".into()));
    let spawned = spawn(&spec).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(5), spawned.handle.exited())
        .await
        .unwrap();
    assert_eq!(status, "exit status: 3");
    spawned.handle.stderr_drained(Duration::from_secs(5)).await;
    let tail = spawned.handle.stderr_tail();
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines.len(), TAIL_LINES);
    assert_eq!(lines.first(), Some(&"hello 137"));
    assert_eq!(lines.last(), Some(&"hello 200"));
    assert!(
        spawned
            .handle
            .exit_message()
            .starts_with("sh exited (exit status: 3): hello 137"),
        "{}",
        spawned.handle.exit_message()
    );
}

#[test]
fn the_tail_drops_old_lines_past_its_byte_budget() {
    let mut tail = Tail::default();
    for i in 0..10 {
        tail.push(format!("{i}{}", "x".repeat(4 * 1024)));
    }
    assert!(tail.bytes <= TAIL_BYTES);
    assert_eq!(tail.lines.len(), 3);
    assert!(tail.text().starts_with('7'));
}
