//! Recipes for running the real ACP agents offline against the mock model server: for each agent,
//! write its isolated home and config under a test's temp root and return exactly what a baton
//! config entry `[providers.<id>] kind = "acp"`, `command = [...]`, `env = {...}` carries.
//!
//! The agents are the pinned npm packages `scripts/install-tools` puts under `.tools/acp`:
//!
//! | agent | binary (env var, else default) | ACP command | model API it calls |
//! |---|---|---|---|
//! | opencode 1.18.33 | `BATON_OPENCODE_BIN`, `.tools/acp/node_modules/.bin/opencode` | `<bin> acp` | chat completions |
//! | gemini-cli 0.61.0 | `BATON_GEMINI_BIN`, `.tools/acp/bin/gemini` (Node 24 launcher) | `<bin> --acp` | Gemini |
//! | claude-agent-acp 0.101.0 | `BATON_CLAUDE_ACP_BIN`, `.tools/acp/bin/claude-agent-acp` (Node 24 launcher) | `<bin>` | Anthropic Messages |
//!
//! Quirks a client must know (checked by `tests/mock-model/tests/acp.rs`):
//! - **gemini-cli** must be initialized with `clientCapabilities.fs.readTextFile: false`
//!   ([`AcpAgent::fs_read`]): with it advertised, gemini reads a file before creating it, takes any
//!   error reply for "exists", and never writes a new file. It sends `fs/write_text_file` for its
//!   writes. It has no `session/list`, `session/resume` or `session/close` (-32601). Its
//!   `session/load` fails ("No previous sessions found for this project.") and wipes the session when
//!   called in the same wall-clock minute the session was started (its chat file is named after the
//!   minute and the session id, and the load rewrites that file): wait with [`wait_for_next_minute`].
//!   Read-only shell commands (`echo`) run without a permission request; `touch` asks. Its
//!   `write_todos` asks for permission too and sends no `plan` update.
//! - **opencode** asks permission only because the config says `permission: {edit:"ask",
//!   bash:"ask"}`; it writes files through `fs/write_text_file` (after the permission). It sends no
//!   `plan` update for its `todowrite` tool (a `tool_call` of kind `other`). It makes one extra
//!   tool-less chat-completions call per session for the title. A model error (HTTP 500) is retried
//!   (6 requests in all) before `session/prompt` fails with -32603; with the mock's
//!   `retry-after-ms: 0` that takes ~12 s instead of over a minute.
//! - **claude-agent-acp** needs `IS_SANDBOX=1` as root. Its default mode is `auto` (a classifier
//!   decides, no permission requests); the settings written here make it `default`, so `Write` and
//!   `Bash` ask. It sends `plan` updates for `TodoWrite` (enabled by the env below). It makes an extra
//!   tool-less Messages call with a JSON-schema output format for the session title, and answers
//!   the next prompt normally after a `session/cancel`. No fs requests.
//! - opencode and claude-agent-acp advertise `sessionCapabilities {list, resume, close, fork}` (claude
//!   also `delete`); all three advertise `loadSession: true`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;

/// How to spawn one ACP agent: the pieces of a baton `[providers.<id>]` entry, plus what the
/// client must advertise to it.
#[derive(Debug, Clone)]
pub struct AcpAgent {
    /// `opencode`, `gemini` or `claude-acp`.
    pub name: &'static str,
    /// argv; `command[0]` is an absolute path.
    pub command: Vec<String>,
    /// Variables to set on top of the inherited environment.
    pub env: BTreeMap<String, String>,
    /// Whether to advertise `clientCapabilities.fs.readTextFile` (false for gemini-cli).
    pub fs_read: bool,
    /// The agent's isolated home (its session store lives below it).
    pub home: PathBuf,
}

impl AcpAgent {
    /// A `tokio::process::Command` for it (env applied, nothing else).
    pub fn command(&self) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.command[0]);
        cmd.args(&self.command[1..]);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The TOML of a baton `[providers.<id>]` entry for it.
    pub fn provider_toml(&self, id: &str) -> String {
        let command: Vec<String> = self
            .command
            .iter()
            .map(|a| serde_json::to_string(a).unwrap())
            .collect();
        let env: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{} = {}", k, serde_json::to_string(v).unwrap()))
            .collect();
        format!(
            "[providers.{id}]\nkind = \"acp\"\ncommand = [{}]\nenv = {{ {} }}\n",
            command.join(", "),
            env.join(", ")
        )
    }
}

/// The workspace root: the nearest ancestor of this crate with a Cargo.lock.
fn workspace() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("Cargo.lock").exists() {
        assert!(
            dir.pop(),
            "no Cargo.lock above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir
}

fn bin(var: &str, default: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "{var} names {}, which does not exist",
            p.display()
        );
        return p;
    }
    let p = workspace().join(default);
    assert!(
        p.exists(),
        "the ACP agent {} is not installed: run scripts/install-tools or set {var}",
        p.display()
    );
    p
}

/// `BATON_OPENCODE_BIN`, else `.tools/acp/node_modules/.bin/opencode`.
pub fn opencode_bin() -> PathBuf {
    bin(
        "BATON_OPENCODE_BIN",
        ".tools/acp/node_modules/.bin/opencode",
    )
}

/// `BATON_GEMINI_BIN`, else `.tools/acp/bin/gemini`.
pub fn gemini_bin() -> PathBuf {
    bin("BATON_GEMINI_BIN", ".tools/acp/bin/gemini")
}

/// `BATON_CLAUDE_ACP_BIN`, else `.tools/acp/bin/claude-agent-acp`.
pub fn claude_acp_bin() -> PathBuf {
    bin("BATON_CLAUDE_ACP_BIN", ".tools/acp/bin/claude-agent-acp")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn home_for(root: &Path, name: &str) -> PathBuf {
    let home = root.join("acp").join(name);
    std::fs::create_dir_all(&home).unwrap();
    home
}

fn env(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), v.clone()))
        .collect()
}

/// opencode in ACP mode against `mock_url` (`http://127.0.0.1:PORT`): a provider `mock`
/// (OpenAI-compatible, base URL `<mock_url>/v1`) with one model `mock-model`, permission
/// requests for edits and shell commands, nothing fetched from the network.
pub fn opencode(root: &Path, mock_url: &str) -> AcpAgent {
    let home = home_for(root, "opencode");
    let config = home.join("opencode.json");
    let body = json!({
        "$schema": "https://opencode.ai/config.json",
        "provider": {"mock": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Mock",
            "options": {"baseURL": format!("{mock_url}/v1"), "apiKey": "dummy"},
            "models": {"mock-model": {"name": "Mock Model", "tool_call": true}}
        }},
        "model": "mock/mock-model",
        "small_model": "mock/mock-model",
        "enabled_providers": ["mock"],
        "permission": {"edit": "ask", "bash": "ask"},
        "autoupdate": false,
        "share": "disabled"
    });
    std::fs::write(&config, serde_json::to_string_pretty(&body).unwrap()).unwrap();
    AcpAgent {
        name: "opencode",
        command: vec![s(&opencode_bin()), "acp".into()],
        env: env(&[
            ("HOME", s(&home)),
            ("XDG_CONFIG_HOME", s(&home.join(".config"))),
            ("XDG_DATA_HOME", s(&home.join(".local/share"))),
            ("XDG_CACHE_HOME", s(&home.join(".cache"))),
            ("XDG_STATE_HOME", s(&home.join(".local/state"))),
            ("OPENCODE_CONFIG", s(&config)),
            ("OPENCODE_DISABLE_PROJECT_CONFIG", "1".into()),
            ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
            ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
            ("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1".into()),
            ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
            ("OPENCODE_DISABLE_SHARE", "1".into()),
            ("OPENCODE_DISABLE_CLAUDE_CODE", "1".into()),
        ]),
        fs_read: true,
        home,
    }
}

/// gemini-cli in ACP mode against `mock_url`: API-key auth with a dummy key, model
/// `gemini-2.5-flash`, one attempt per model call (no retries), telemetry, update checks,
/// folder trust, IDE mode and checkpointing off.
pub fn gemini(root: &Path, mock_url: &str) -> AcpAgent {
    let home = home_for(root, "gemini");
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    let settings = json!({
        "security": {"auth": {"selectedType": "gemini-api-key"}, "folderTrust": {"enabled": false}},
        "model": {"name": "gemini-2.5-flash"},
        "general": {"maxAttempts": 1, "disableAutoUpdate": true, "disableUpdateNag": true,
                    "checkpointing": {"enabled": false}},
        "privacy": {"usageStatisticsEnabled": false},
        "telemetry": {"enabled": false},
        "ide": {"enabled": false}
    });
    std::fs::write(
        home.join(".gemini/settings.json"),
        serde_json::to_string_pretty(&settings).unwrap(),
    )
    .unwrap();
    AcpAgent {
        name: "gemini",
        command: vec![s(&gemini_bin()), "--acp".into()],
        env: env(&[
            ("HOME", s(&home)),
            ("GEMINI_CLI_HOME", s(&home)),
            ("GEMINI_API_KEY", "dummy".into()),
            ("GOOGLE_GEMINI_BASE_URL", mock_url.to_string()),
            ("GEMINI_CLI_TRUST_WORKSPACE", "true".into()),
            ("GEMINI_TELEMETRY_ENABLED", "false".into()),
            ("GOOGLE_API_KEY", String::new()),
            ("GOOGLE_CLOUD_PROJECT", String::new()),
            ("GOOGLE_GENAI_USE_VERTEXAI", String::new()),
        ]),
        fs_read: false,
        home,
    }
}

/// claude-agent-acp against `mock_url` (no `/v1`): a dummy API key, permission mode `default`
/// (so `Write`/`Bash` ask), the TodoWrite tool on (plans), no retries, no background traffic.
/// Variables of a Claude Code that may be running the tests are blanked.
pub fn claude_acp(root: &Path, mock_url: &str) -> AcpAgent {
    let home = home_for(root, "claude-acp");
    let config_dir = home.join(".claude");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("settings.json"),
        json!({"permissions": {"defaultMode": "default"}}).to_string(),
    )
    .unwrap();
    AcpAgent {
        name: "claude-acp",
        command: vec![s(&claude_acp_bin())],
        env: env(&[
            ("HOME", s(&home)),
            ("CLAUDE_CONFIG_DIR", s(&config_dir)),
            ("IS_SANDBOX", "1".into()),
            ("ANTHROPIC_BASE_URL", mock_url.to_string()),
            ("ANTHROPIC_API_KEY", "dummy".into()),
            ("ANTHROPIC_AUTH_TOKEN", String::new()),
            ("ANTHROPIC_MODEL", String::new()),
            ("CLAUDECODE", String::new()),
            ("CLAUDE_CODE_ENTRYPOINT", String::new()),
            ("CLAUDE_CODE_USE_BEDROCK", String::new()),
            ("CLAUDE_CODE_USE_VERTEX", String::new()),
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
            ("DISABLE_TELEMETRY", "1".into()),
            ("DISABLE_AUTOUPDATER", "1".into()),
            ("DISABLE_ERROR_REPORTING", "1".into()),
            ("CLAUDE_CODE_MAX_RETRIES", "0".into()),
            ("CLAUDE_CODE_ENABLE_TODO_TOOLS", "1".into()),
            ("CLAUDE_CODE_ENABLE_TASKS", "0".into()),
        ]),
        fs_read: true,
        home,
    }
}

/// Every agent, by name: `opencode`, `gemini`, `claude-acp`.
pub fn by_name(name: &str, root: &Path, mock_url: &str) -> AcpAgent {
    match name {
        "opencode" => opencode(root, mock_url),
        "gemini" => gemini(root, mock_url),
        "claude-acp" => claude_acp(root, mock_url),
        other => panic!("no ACP agent recipe named {other}"),
    }
}

/// The `initialize` params a client sends to `agent` (ACP v1, fs per [`AcpAgent::fs_read`],
/// no terminal).
pub fn initialize_params(agent: &AcpAgent) -> serde_json::Value {
    json!({
        "protocolVersion": 1,
        "clientCapabilities": {"fs": {"readTextFile": agent.fs_read, "writeTextFile": true}, "terminal": false},
        "clientInfo": {"name": "baton-tests", "version": "0"}
    })
}

/// Sleeps until the wall-clock minute differs from the minute of `since` (at most ~61 s):
/// gemini-cli's `session/load` only works in a later minute than the session's start.
pub async fn wait_for_next_minute(since: SystemTime) {
    let minute = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() / 60);
    let start = minute(since);
    while minute(SystemTime::now()) == start {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
