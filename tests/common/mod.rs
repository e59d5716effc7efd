//! The integration-test harness: a fresh environment per test (temp HOME, CODEX_HOME, database,
//! work directory, mock model server) and a client that drives the real `baton` binary over
//! stdio with a timeout on every read.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

pub use mock_model::{Api, MockServer, RecordedRequest};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool_bin(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    let p = workspace().join(".tools/npm/node_modules/.bin").join(name);
    assert!(
        p.exists(),
        "{name} is not installed: run scripts/install-tools (or set {var}); looked for {}",
        p.display()
    );
    p
}

/// The pinned codex CLI.
pub fn codex_bin() -> PathBuf {
    tool_bin("BATON_CODEX_BIN", "codex")
}

/// The pinned claude CLI.
pub fn claude_bin() -> PathBuf {
    tool_bin("BATON_CLAUDE_BIN", "claude")
}

/// One test's world.
pub struct TestEnv {
    pub root: tempfile::TempDir,
    pub home: PathBuf,
    pub codex_home: PathBuf,
    pub work: PathBuf,
    pub db: PathBuf,
    pub mock: MockServer,
}

impl TestEnv {
    pub async fn new() -> TestEnv {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let codex_home = root.path().join("codex_home");
        let work = root.path().join("work");
        for d in [&home, &codex_home, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mock = MockServer::start().await.unwrap();
        std::fs::write(
            codex_home.join("config.toml"),
            codex_config(&mock.base_url()),
        )
        .unwrap();
        let db = root.path().join("data/baton.db");
        TestEnv {
            root,
            home,
            codex_home,
            work,
            db,
            mock,
        }
    }

    pub fn baton_env(&self) -> Vec<(String, String)> {
        let s = |p: &Path| p.to_string_lossy().into_owned();
        vec![
            ("HOME".into(), s(&self.home)),
            ("XDG_DATA_HOME".into(), s(&self.root.path().join("xdg"))),
            ("CODEX_HOME".into(), s(&self.codex_home)),
            ("BATON_DB".into(), s(&self.db)),
            ("BATON_CODEX_BIN".into(), s(&codex_bin())),
            ("BATON_CLAUDE_BIN".into(), s(&claude_bin())),
            ("ANTHROPIC_BASE_URL".into(), self.mock.base_url()),
            ("ANTHROPIC_API_KEY".into(), "dummy".into()),
            (
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
                "1".into(),
            ),
            ("DISABLE_TELEMETRY".into(), "1".into()),
            ("DISABLE_AUTOUPDATER".into(), "1".into()),
            ("DISABLE_ERROR_REPORTING".into(), "1".into()),
            ("CLAUDE_CODE_MAX_RETRIES".into(), "1".into()),
            ("RUST_LOG".into(), "baton=debug".into()),
        ]
    }
}

/// A CODEX_HOME config pointing codex at the mock, with retries off so failures are quick.
pub fn codex_config(base_url: &str) -> String {
    format!(
        r#"model = "mock-model"
model_provider = "mock"
approval_policy = "never"
sandbox_mode = "read-only"
check_for_update_on_startup = false

[analytics]
enabled = false

[model_providers.mock]
name = "mock"
base_url = "{base_url}/v1"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Lsp,
    Ndjson,
}

/// The real baton binary, spoken to over stdio.
pub struct Baton {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    framing: Framing,
    next_id: i64,
    /// Messages read but not yet consumed by `read_message`.
    queue: VecDeque<Value>,
    /// Server->client requests not yet taken.
    server_requests: VecDeque<Value>,
    events: Vec<Value>,
    stderr_path: PathBuf,
}

impl Baton {
    pub async fn spawn(env: &TestEnv, args: &[&str], framing: Framing) -> Baton {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let stderr_path = env.root.path().join(format!("baton-{n}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .envs(env.baton_env())
            .current_dir(&env.work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Baton {
            child,
            stdin,
            stdout,
            framing,
            next_id: 1000,
            queue: VecDeque::new(),
            server_requests: VecDeque::new(),
            events: Vec::new(),
            stderr_path,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin is closed");
        stdin.write_all(bytes).await.unwrap();
        stdin.flush().await.unwrap();
    }

    async fn send(&mut self, msg: Value) {
        let body = serde_json::to_vec(&msg).unwrap();
        let mut bytes = Vec::new();
        match self.framing {
            Framing::Lsp => {
                bytes.extend(format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes());
                bytes.extend(body);
            }
            Framing::Ndjson => {
                bytes.extend(body);
                bytes.push(b'\n');
            }
        }
        self.send_raw(&bytes).await;
    }

    async fn read_one(&mut self) -> Option<Value> {
        let body = match self.framing {
            Framing::Ndjson => {
                let mut line = String::new();
                if self.stdout.read_line(&mut line).await.ok()? == 0 {
                    return None;
                }
                line.into_bytes()
            }
            Framing::Lsp => {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if self.stdout.read_line(&mut line).await.ok()? == 0 {
                        return None;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(v) = line.strip_prefix("Content-Length:") {
                        length = v.trim().parse::<usize>().ok();
                    }
                }
                let mut body = vec![0; length?];
                self.stdout.read_exact(&mut body).await.ok()?;
                body
            }
        };
        Some(serde_json::from_slice(&body).unwrap_or_else(|e| {
            panic!(
                "baton wrote invalid JSON ({e}): {}",
                String::from_utf8_lossy(&body)
            )
        }))
    }

    /// Reads one message from the pipe (with a deadline), recording events and server requests.
    async fn pull(&mut self, timeout: Duration) -> Option<Value> {
        let msg = tokio::time::timeout(timeout, self.read_one())
            .await
            .ok()??;
        if msg["method"] == "thread/event" {
            self.events.push(msg["params"].clone());
        }
        if msg.get("method").is_some() && msg.get("id").is_some() {
            self.server_requests.push_back(msg.clone());
        }
        Some(msg)
    }

    /// The next message of any kind (queued ones first), or None on timeout/EOF.
    pub async fn read_message(&mut self, timeout: Duration) -> Option<Value> {
        if let Some(m) = self.queue.pop_front() {
            return Some(m);
        }
        self.pull(timeout).await
    }

    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(msg) = self.pull(left).await else {
                panic!(
                    "no response to {method} (id {id}) within 30 s\n--- baton stderr ---\n{}",
                    self.stderr_tail()
                );
            };
            if msg["id"] == id && msg.get("method").is_none() {
                assert_eq!(msg["jsonrpc"], "2.0");
                return match msg.get("error") {
                    Some(e) => Err(e.clone()),
                    None => Ok(msg["result"].clone()),
                };
            }
            self.queue.push_back(msg);
        }
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    pub async fn initialize(&mut self) -> Value {
        self.initialize_with(json!({})).await
    }

    pub async fn initialize_with(&mut self, options: Value) -> Value {
        let r = self
            .request(
                "initialize",
                json!({"processId": std::process::id(), "clientInfo": {"name": "baton-tests"}, "capabilities": {}, "initializationOptions": options}),
            )
            .await
            .unwrap_or_else(|e| panic!("initialize failed: {e}"));
        self.notify("initialized", json!({})).await;
        r
    }

    /// Waits for a `thread/event` matching `pred` that has not been returned by this call before
    /// (scans events already seen, then reads more).
    pub async fn wait_event(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut checked = 0;
        loop {
            while checked < self.events.len() {
                let e = &self.events[checked];
                checked += 1;
                if pred(e) {
                    return e.clone();
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.pull(left).await.is_none() {
                panic!(
                    "expected event did not arrive within {timeout:?}; events seen:\n{}\n--- baton stderr ---\n{}",
                    self.events
                        .iter()
                        .map(|e| format!("{} {}", e["type"], e["data"]))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    self.stderr_tail()
                );
            }
        }
    }

    /// Every `thread/event` params seen so far, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.events.clone()
    }

    /// The next server->client request `{id, method, params}`.
    pub async fn next_server_request(&mut self, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(r) = self.server_requests.pop_front() {
                self.queue.retain(|m| m != &r);
                return r;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.pull(left).await.is_none() {
                panic!(
                    "no server request within {timeout:?}\n--- baton stderr ---\n{}",
                    self.stderr_tail()
                );
            }
        }
    }

    pub async fn respond(&mut self, id: Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}))
            .await;
    }

    pub async fn respond_error(&mut self, id: Value, code: i64, message: &str) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
            .await;
    }

    pub async fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for the process to exit; returns its code (None on timeout or signal).
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        self.stdin = None;
        // Keep draining stdout so baton is never blocked writing to a full pipe.
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if tokio::time::Instant::now() >= deadline {
                return None;
            }
            let _ = self.pull(Duration::from_millis(50)).await;
        }
    }

    pub fn kill9(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .arg("-9")
                .arg(pid.to_string())
                .status();
        }
    }
}

// Helpers shared by the provider tests.

pub fn is(ev: &Value, thread: &str, ty: &str) -> bool {
    ev["threadId"] == thread && ev["type"] == ty
}

pub async fn start_thread(b: &mut Baton, env: &TestEnv, provider: &str, extra: Value) -> Value {
    let mut params = json!({"provider": provider, "cwd": env.work.to_str().unwrap()});
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    b.request("thread/start", params).await.unwrap()["thread"].clone()
}

pub async fn turn(b: &mut Baton, thread: &str, text: &str) -> String {
    let r = b
        .request(
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
        )
        .await
        .unwrap();
    r["turnId"].as_str().unwrap().to_string()
}

pub async fn wait_turn_end(b: &mut Baton, thread: &str, turn_id: &str) -> Value {
    let t = thread.to_string();
    let u = turn_id.to_string();
    b.wait_event(Duration::from_secs(60), move |e| {
        is(e, &t, "turn.completed") && e["turnId"] == u.as_str()
    })
    .await
}

/// All live descendants of `pid` (children, grandchildren, ...), from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // The command name is in parentheses and may contain spaces: parse after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            if fields.first() == Some(&"Z") {
                continue;
            }
            if let Some(ppid) = fields.get(1).and_then(|s| s.parse::<u32>().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(cur) = frontier.pop() {
        for (child, parent) in &parents {
            if *parent == cur && !out.contains(child) {
                out.push(*child);
                frontier.push(*child);
            }
        }
    }
    out
}

/// True while the process exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, r)| !r.trim_start().starts_with('Z'))
            .unwrap_or(false),
        Err(_) => false,
    }
}
