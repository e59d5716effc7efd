//! `baton acp` driven by the official TypeScript ACP SDK (`@agentclientprotocol/sdk` 2.4.0).
//!
//! Each test runs one scenario script, `tests/acp-client/<name>.mjs`, with node. The script
//! spawns the real `baton acp` (real codex and claude CLIs, the mock model for the remote model),
//! talks to it through the SDK's client (`client().connect(ndJsonStream(...))`), asserts, and
//! exits 0 only when every assertion held. The SDK package is found in `BATON_ACP_SDK_DIR`, else
//! `.tools/acp/node_modules/@agentclientprotocol/sdk` (installed by scripts/install-tools). node is
//! `BATON_NODE24_BIN` when set, else `node` on PATH.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::TestEnv;
use tokio::process::Command;

/// A scenario script may take this long (it bounds its own waits more tightly).
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);

fn sdk_dir() -> PathBuf {
    let dir = std::env::var_os("BATON_ACP_SDK_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join(".tools/acp/node_modules/@agentclientprotocol/sdk")
        });
    assert!(
        dir.join("package.json").exists(),
        "@agentclientprotocol/sdk is not installed at {} (run scripts/install-tools, or set BATON_ACP_SDK_DIR to the package's directory)",
        dir.display()
    );
    dir
}

fn node() -> std::ffi::OsString {
    std::env::var_os("BATON_NODE24_BIN")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// Runs `tests/acp-client/<name>.mjs` against a fresh test world; panics with its output when
/// it fails or hangs.
async fn scenario(name: &str) {
    let env = TestEnv::new().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/acp-client")
        .join(format!("{name}.mjs"));
    let mut cmd = Command::new(node());
    cmd.arg(&script)
        .envs(env.baton_env())
        .env("RUST_LOG", "baton=debug")
        .env("BATON_BIN", env!("CARGO_BIN_EXE_baton"))
        .env("BATON_ACP_SDK_DIR", sdk_dir())
        .env("MOCK_URL", env.mock.base_url())
        .env("WORK_DIR", &env.work)
        .env_remove("BATON_DEFAULT_PROVIDER")
        .current_dir(&env.work)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    let out = tokio::time::timeout(SCENARIO_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("scenario {name} did not finish within {SCENARIO_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("scenario {name}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "scenario {name} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    // What the scenario logged (seen with --nocapture): measured times, summaries, texts.
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{stdout}");
    }
    assert!(
        stdout.contains(&format!("{name}: ok")),
        "scenario {name} exited 0 without reporting success:\n{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn new_session_and_streamed_prompt() {
    scenario("prompt").await;
}

#[tokio::test]
async fn permission_requests_answered_both_ways_and_questions() {
    scenario("permission").await;
}

#[tokio::test]
async fn cancel_interrupts_the_turn() {
    scenario("cancel").await;
}

#[tokio::test]
async fn switch_provider_and_model_with_handoff() {
    scenario("switch").await;
}

#[tokio::test]
async fn compact_slash_command() {
    scenario("compact").await;
}

#[tokio::test]
async fn restart_then_load_replays_and_resumes() {
    scenario("restart").await;
}

#[tokio::test]
async fn bad_input_gets_errors_not_a_crash() {
    scenario("errors").await;
}
