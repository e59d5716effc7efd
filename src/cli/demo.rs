//! `baton demo`: an offline, self-contained tour on a fresh machine with no account.
//!
//! It serves a scripted model endpoint on 127.0.0.1 (the `mock-model` crate, which stands in
//! for the remote model only), runs the real pinned `codex` and `claude` CLIs (from the
//! environment, PATH, or installed once into a cache directory with npm), and walks through a
//! Codex turn, a compaction, a handoff to Claude, a Claude turn that shows it received the
//! context, a switch back (delta), and a stop and resume.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, anyhow};
use mock_model::{Api, MockServer};
use serde_json::{Value, json};

use super::client::{Message, Server};
use super::exec::follow_turn;
use super::render::Renderer;
use crate::provider::discovery::resolve_bin;

const CODEX_PACKAGE: &str = "@openai/codex@0.169.0";
const CLAUDE_PACKAGE: &str = "@anthropic-ai/claude-code@2.1.328";

pub async fn run(codex: Option<String>, claude: Option<String>) -> u8 {
    match demo(codex, claude).await {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            println!("baton demo: {e:#}");
            1
        }
    }
}

fn cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("baton/npm")
}

/// The pinned CLIs: given, on PATH, in the cache, or installed into the cache now.
async fn find_clis(
    codex: Option<String>,
    claude: Option<String>,
) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cached = cache_dir().join("node_modules/.bin");
    let found = |explicit: Option<&str>, name: &str| {
        resolve_bin(explicit, name).or_else(|| Some(cached.join(name)).filter(|p| p.exists()))
    };
    if let (Some(a), Some(b)) = (
        found(codex.as_deref(), "codex"),
        found(claude.as_deref(), "claude"),
    ) {
        return Ok((a, b));
    }
    let dir = cache_dir();
    println!(
        "· installing {CODEX_PACKAGE} and {CLAUDE_PACKAGE} once into {} (npm)…",
        dir.display()
    );
    std::fs::create_dir_all(&dir)?;
    let status = tokio::process::Command::new("npm")
        .args([
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            "--prefix",
        ])
        .arg(&dir)
        .args([CODEX_PACKAGE, CLAUDE_PACKAGE])
        .status()
        .await
        .context("cannot run npm (install Node.js, or put codex and claude on PATH)")?;
    if !status.success() {
        return Err(anyhow!("npm install failed ({status})"));
    }
    match (
        found(codex.as_deref(), "codex"),
        found(claude.as_deref(), "claude"),
    ) {
        (Some(a), Some(b)) => Ok((a, b)),
        _ => Err(anyhow!(
            "codex and claude are still missing after npm install"
        )),
    }
}

fn codex_config(base_url: &str) -> String {
    format!(
        "model = \"mock-model\"\nmodel_provider = \"mock\"\napproval_policy = \"never\"\nsandbox_mode = \"read-only\"\ncheck_for_update_on_startup = false\n\n[analytics]\nenabled = false\n\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"{base_url}/v1\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n"
    )
}

struct Step {
    name: &'static str,
    ok: bool,
    detail: String,
}

struct Tour {
    server: Server,
    out: Renderer,
    mock: MockServer,
    thread: String,
    steps: Vec<Step>,
}

impl Tour {
    fn header(&mut self, n: usize, title: &str) {
        self.out.note(&format!("\n━━ {n}. {title}"));
    }

    fn record(&mut self, name: &'static str, ok: bool, detail: String) {
        self.out
            .note(&format!("{} {detail}", if ok { "✓" } else { "✗" }));
        self.steps.push(Step { name, ok, detail });
    }

    async fn say(&mut self, text: &str) -> anyhow::Result<String> {
        self.out.note(&format!("  you> {text}"));
        let r = self
            .server
            .request(
                "turn/start",
                json!({"threadId": self.thread, "input": [{"type": "text", "text": text}]}),
            )
            .await?;
        let turn = r["turnId"].as_str().unwrap_or_default().to_string();
        let (state, _) = follow_turn(&mut self.server, &mut self.out, &turn).await;
        Ok(state)
    }

    /// Renders events until one matches.
    async fn wait_event(&mut self, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        loop {
            match self.server.next(Duration::from_secs(120)).await? {
                Message::Event(ev) => {
                    self.out.event(&ev);
                    if pred(&ev) {
                        return Some(ev);
                    }
                }
                Message::Approval { id, .. } => {
                    let _ = self
                        .server
                        .peer
                        .respond(id, Ok(json!({"decision": "accept"})))
                        .await;
                }
            }
        }
    }

    fn last_request(&self, api: Api) -> String {
        self.mock
            .requests_to(api)
            .last()
            .map(|r| r.last_user_text())
            .unwrap_or_default()
    }
}

async fn demo(codex: Option<String>, claude: Option<String>) -> anyhow::Result<bool> {
    println!(
        "baton demo — an offline tour: real codex and claude CLIs, a scripted model on 127.0.0.1."
    );
    let (codex_bin, claude_bin) = find_clis(codex, claude).await?;
    println!(
        "· codex:  {}\n· claude: {}",
        codex_bin.display(),
        claude_bin.display()
    );
    let mock = MockServer::start().await?;
    println!("· scripted model endpoint: {}", mock.base_url());
    let root = std::env::temp_dir().join(format!("baton-demo-{}", uuid::Uuid::new_v4()));
    let result = tour(&root, &codex_bin, &claude_bin, mock).await;
    let _ = std::fs::remove_dir_all(&root);
    result
}

async fn tour(
    root: &Path,
    codex_bin: &Path,
    claude_bin: &Path,
    mock: MockServer,
) -> anyhow::Result<bool> {
    let (home, codex_home, work) = (
        root.join("home"),
        root.join("codex_home"),
        root.join("work"),
    );
    for d in [&home, &codex_home, &work] {
        std::fs::create_dir_all(d)?;
    }
    std::fs::write(
        codex_home.join("config.toml"),
        codex_config(&mock.base_url()),
    )?;
    let p = |p: &Path| p.display().to_string();
    let env: Vec<(String, String)> = [
        ("HOME", p(&home)),
        ("CODEX_HOME", p(&codex_home)),
        ("BATON_DB", p(&root.join("baton.db"))),
        ("BATON_CODEX_BIN", p(codex_bin)),
        ("BATON_CLAUDE_BIN", p(claude_bin)),
        ("ANTHROPIC_BASE_URL", mock.base_url()),
        ("ANTHROPIC_API_KEY", "demo".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        ("CLAUDE_CODE_MAX_RETRIES", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let server = Server::spawn(&["--log-level".into(), "error".into()], &env).await?;
    let mut t = Tour {
        server,
        out: Renderer::default(),
        mock,
        thread: String::new(),
        steps: Vec::new(),
    };

    t.header(1, "A turn on Codex");
    let r = t
        .server
        .request(
            "thread/start",
            json!({"provider": "codex", "cwd": p(&work), "title": "demo"}),
        )
        .await?;
    t.thread = r["thread"]["id"].as_str().unwrap_or_default().to_string();
    let codex_cursor = r["thread"]["providerThreadId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let state = t
        .say("Please remember that the launch code is TANGO-42.")
        .await?;
    t.record(
        "codex turn",
        state == "completed",
        format!("codex answered (turn {state})"),
    );

    t.header(2, "Compaction on Codex");
    t.server
        .request("thread/compact/start", json!({"threadId": t.thread}))
        .await?;
    let ev = t
        .wait_event(|e| e["type"] == "compaction.completed" || e["type"] == "compaction.failed")
        .await;
    let ok = ev
        .as_ref()
        .is_some_and(|e| e["type"] == "compaction.completed");
    t.wait_event(|e| e["type"] == "turn.completed").await;
    let chars = ev
        .as_ref()
        .and_then(|e| e["data"]["summary"].as_str())
        .map(|s| s.chars().count())
        .unwrap_or(0);
    t.record(
        "compaction",
        ok,
        format!("summary of {chars} chars stored in the thread's log"),
    );

    t.header(3, "Switch to Claude, handing over the context");
    let r = t
        .server
        .request(
            "thread/switch",
            json!({"threadId": t.thread, "provider": "claude"}),
        )
        .await?;
    t.wait_event(|e| e["type"] == "handoff.completed").await;
    let strategy = r["handoff"]["strategy"].as_str().unwrap_or("").to_string();
    t.record(
        "switch to claude",
        r["thread"]["provider"] == "claude",
        format!(
            "handoff by {strategy}, {} chars",
            r["handoff"]["summaryChars"]
        ),
    );

    t.header(4, "A turn on Claude");
    let state = t.say("What is the launch code?").await?;
    let seen = t.last_request(Api::Messages);
    let got = seen.contains("<provider_handoff") && seen.contains("TANGO-42");
    t.record(
        "claude got the context",
        state == "completed" && got,
        format!("claude's first request carried the handoff block with TANGO-42: {got}"),
    );

    t.header(5, "Switch back to Codex (only the delta is handed over)");
    let r = t
        .server
        .request(
            "thread/switch",
            json!({"threadId": t.thread, "provider": "codex"}),
        )
        .await?;
    t.wait_event(|e| e["type"] == "handoff.completed").await;
    let same = r["thread"]["providerThreadId"] == codex_cursor.as_str();
    let state = t
        .say("Back on Codex: what did Claude do meanwhile?")
        .await?;
    let seen = t.last_request(Api::Responses);
    let delta = r["handoff"]["strategy"] == "delta" && seen.contains("What is the launch code?");
    t.record(
        "switch back",
        same && delta && state == "completed",
        format!("codex resumed its own thread ({same}) and got the delta ({delta})"),
    );

    t.header(6, "Stop, then resume");
    t.server
        .request("thread/stop", json!({"threadId": t.thread}))
        .await?;
    t.mock.clear_requests();
    let state = t.say("Are you still there?").await?;
    let history = t
        .mock
        .requests_to(Api::Responses)
        .last()
        .map(|r| r.conversation_text())
        .unwrap_or_default();
    let resumed = history.contains("TANGO-42");
    t.record(
        "stop and resume",
        state == "completed" && resumed,
        format!("the resumed codex thread still holds the earlier turns: {resumed}"),
    );

    let read = t
        .server
        .request("thread/read", json!({"threadId": t.thread}))
        .await?;
    let events = read["events"].as_array().map(Vec::len).unwrap_or(0);
    t.server.close().await;
    println!("\n━━ Summary");
    for s in &t.steps {
        println!(
            "  {} {:<24} {}",
            if s.ok { "✓" } else { "✗" },
            s.name,
            s.detail
        );
    }
    let passed = t.steps.iter().filter(|s| s.ok).count();
    println!(
        "  {events} events persisted for thread {}; {passed}/{} steps passed",
        t.thread,
        t.steps.len()
    );
    Ok(passed == t.steps.len())
}
