//! The integration-test harness: a fresh world per test (temp HOME, CODEX_HOME, database, work
//! directory, mock model server) and a client that drives the real `baton` binary over stdio.
//!
//! baton's stdout is read by a background task that parses whole messages and hands them over a
//! channel, so every wait in a test is a cancel-safe channel receive bounded by a timeout: a
//! timeout can never drop half a message. Every failed wait panics with what it expected and the
//! tail of baton's stderr, which the harness captures to a file in the test's temp directory.
#![allow(
    dead_code,
    unused_imports,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub mod acp_agents;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

pub use mock_model::{Api, MockServer, RecordedRequest};

/// How long `request` waits for its response.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool_bin(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "{var} names {}, which does not exist (run scripts/install-tools)",
            p.display()
        );
        return p;
    }
    let p = workspace().join(".tools/npm/node_modules/.bin").join(name);
    assert!(
        p.exists(),
        "{name} is not installed: run scripts/install-tools (or set {var}); looked for {}",
        p.display()
    );
    p
}

/// The pinned codex CLI: `BATON_CODEX_BIN`, else the one `scripts/install-tools` installed.
pub fn codex_bin() -> PathBuf {
    tool_bin("BATON_CODEX_BIN", "codex")
}

/// The pinned claude CLI: `BATON_CLAUDE_BIN`, else the one `scripts/install-tools` installed.
pub fn claude_bin() -> PathBuf {
    tool_bin("BATON_CLAUDE_BIN", "claude")
}

/// One test's world. Everything lives under `root`, which is deleted when the value drops.
pub struct TestEnv {
    pub root: tempfile::TempDir,
    pub home: PathBuf,
    pub codex_home: PathBuf,
    /// The cwd of baton and of the threads the tests start.
    pub work: PathBuf,
    pub db: PathBuf,
    pub mock: MockServer,
}

impl TestEnv {
    /// Starts the mock model server and writes a codex config that points at it.
    pub async fn new() -> TestEnv {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let codex_home = root.path().join("codex_home");
        let work = root.path().join("work");
        for d in [&home, &codex_home, &work] {
            std::fs::create_dir_all(d).unwrap();
        }
        let mock = MockServer::start()
            .await
            .unwrap_or_else(|e| panic!("the mock model server did not start: {e:#}"));
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

    /// The environment baton runs with: an isolated home, the pinned CLIs, and both providers
    /// pointed at the mock with every kind of background network traffic switched off.
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
            // The mock's model is unknown to claude, which then offers its Task tools instead of
            // TodoWrite; these bring TodoWrite (the plan tool baton maps to turn.plan) back.
            ("CLAUDE_CODE_ENABLE_TODO_TOOLS".into(), "1".into()),
            ("CLAUDE_CODE_ENABLE_TASKS".into(), "0".into()),
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

# The mock's model has no catalog metadata, so codex leaves out its plan tool unless asked.
[tools.update_plan]
enabled = true
"#
    )
}

/// The two framings baton speaks; it answers in the one the client used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length: N\r\n\r\n` headers, as language servers use.
    Lsp,
    /// One JSON object per line.
    Ndjson,
}

/// What the stdout reader task hands over.
enum Incoming {
    Message(Value),
    /// baton broke the protocol (bad framing or bad JSON); the reader stops after this.
    Broken(String),
}

/// The real baton binary, spoken to over stdio.
pub struct Baton {
    child: Child,
    pid: u32,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    /// Set once the reader task has reported end of file.
    closed: bool,
    framing: Framing,
    next_id: i64,
    /// Messages read from the pipe and not yet delivered by `read_message`, `request`,
    /// `next_server_request` or `wait_event`, in arrival order.
    queue: VecDeque<Value>,
    /// Server->client requests not yet taken by `next_server_request` or `read_message`.
    server_requests: VecDeque<Value>,
    /// Every `thread/event` params ever read, in arrival order.
    events: Vec<Value>,
    stderr_path: PathBuf,
}

impl Baton {
    /// Spawns `baton <args>` in `env.work` with `env.baton_env()`; stderr goes to a file in
    /// `env.root`. The process is killed when the value drops.
    pub async fn spawn(env: &TestEnv, args: &[&str], framing: Framing) -> Baton {
        Baton::spawn_with_env(env, args, framing, &[]).await
    }

    /// [`Baton::spawn`] with `extra` environment variables set after (so over) `env.baton_env()`.
    pub async fn spawn_with_env(
        env: &TestEnv,
        args: &[&str],
        framing: Framing,
        extra: &[(&str, &str)],
    ) -> Baton {
        let stderr_path = unique_path(env.root.path(), "baton", "stderr");
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_baton"))
            .args(args)
            .envs(env.baton_env())
            .envs(extra.iter().copied())
            .current_dir(&env.work)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not spawn baton: {e}"));
        let pid = child.id().expect("a just-spawned child has a pid");
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, incoming) = mpsc::unbounded_channel();
        tokio::spawn(read_messages(BufReader::new(stdout), framing, tx));
        Baton {
            child,
            pid,
            stdin,
            incoming,
            closed: false,
            framing,
            next_id: 1000,
            queue: VecDeque::new(),
            server_requests: VecDeque::new(),
            events: Vec::new(),
            stderr_path,
        }
    }

    /// baton's process id (still valid after it exited, for descendant checks).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The last 40 lines baton wrote to stderr.
    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Writes bytes to baton's stdin exactly as given (for malformed-input tests).
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            panic!("send_raw after close_stdin");
        };
        if let Err(e) = async {
            stdin.write_all(bytes).await?;
            stdin.flush().await
        }
        .await
        {
            panic!(
                "could not write to baton's stdin ({e}); did it exit?\n{}",
                self.stderr_section()
            );
        }
    }

    async fn send(&mut self, msg: Value) {
        let body = serde_json::to_vec(&msg).unwrap();
        let mut bytes = Vec::with_capacity(body.len() + 32);
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

    /// Takes one message from the reader task (bounded by `timeout`) and files it: into the
    /// queue, the event log, and the server-request queue as it applies. None on timeout or EOF.
    async fn pull(&mut self, timeout: Duration) -> Option<Value> {
        if self.closed {
            return None;
        }
        let msg = match tokio::time::timeout(timeout, self.incoming.recv()).await {
            Err(_) => return None,
            Ok(None) => {
                self.closed = true;
                return None;
            }
            Ok(Some(Incoming::Broken(why))) => {
                panic!("baton broke the protocol: {why}\n{}", self.stderr_section())
            }
            Ok(Some(Incoming::Message(msg))) => msg,
        };
        if msg["method"] == "thread/event" {
            self.events.push(msg["params"].clone());
        }
        if msg.get("method").is_some() && msg.get("id").is_some() {
            self.server_requests.push_back(msg.clone());
        }
        self.queue.push_back(msg.clone());
        Some(msg)
    }

    /// The next message of any kind not yet delivered (queued ones first), or None when nothing
    /// arrives within `timeout` or baton closed stdout.
    pub async fn read_message(&mut self, timeout: Duration) -> Option<Value> {
        if self.queue.is_empty() {
            self.pull(timeout).await?;
        }
        let msg = self.queue.pop_front()?;
        // A server request delivered here must not be delivered again by next_server_request.
        if let Some(i) = self.server_requests.iter().position(|r| r == &msg) {
            self.server_requests.remove(i);
        }
        Some(msg)
    }

    /// Sends a request with a fresh id and waits (30 s) for its response; other messages that
    /// arrive meanwhile stay buffered. Ok(result) or Err(the error object).
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.request_within(method, params, REQUEST_TIMEOUT).await
    }

    /// [`Baton::request`] with its own bound (a request that spawns a slow agent, e.g. a Node
    /// ACP agent on a loaded machine, may take longer than 30 s).
    pub async fn request_within(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(msg) = self.pull(left).await else {
                let why = if self.closed {
                    format!("baton closed its stdout ({})", self.exit_status())
                } else {
                    format!("nothing within {timeout:?}")
                };
                panic!(
                    "no response to {method} (id {id}): {why}\n{}",
                    self.stderr_section()
                );
            };
            if msg["id"] != id || msg.get("method").is_some() {
                continue;
            }
            // It is ours: take it out of the queue, where pull just put it.
            self.queue.pop_back();
            assert_eq!(msg["jsonrpc"], "2.0", "response without jsonrpc 2.0: {msg}");
            return match (msg.get("result"), msg.get("error")) {
                (Some(r), None) => Ok(r.clone()),
                (None, Some(e)) => Err(e.clone()),
                _ => panic!("a response must carry exactly one of result and error: {msg}"),
            };
        }
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// `initialize` (with empty initializationOptions) then `initialized`; returns the result.
    pub async fn initialize(&mut self) -> Value {
        self.initialize_with(json!({})).await
    }

    /// `initialize` with the given initializationOptions, then `initialized`.
    pub async fn initialize_with(&mut self, options: Value) -> Value {
        self.initialize_as("baton-tests", options).await
    }

    /// `initialize` as an editor whose `clientInfo.name` is `client` (several windows tell
    /// each other apart by it), then `initialized`.
    pub async fn initialize_as(&mut self, client: &str, options: Value) -> Value {
        let r = self
            .request(
                "initialize",
                json!({"processId": std::process::id(), "clientInfo": {"name": client}, "capabilities": {}, "initializationOptions": options}),
            )
            .await
            .unwrap_or_else(|e| panic!("initialize failed: {e}"));
        self.notify("initialized", json!({})).await;
        r
    }

    /// Returns the earliest `thread/event` params seen so far that matches `pred`, reading more
    /// messages until one arrives. Already-seen events count, so waiting for something that
    /// arrived during an earlier `request` works; to wait for a *later* occurrence, make `pred`
    /// specific (a turn id, or a `seq` above one already seen). Server->client requests that
    /// arrive meanwhile stay queued for `next_server_request`.
    pub async fn wait_event(&mut self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut checked = 0;
        loop {
            while checked < self.events.len() {
                let e = &self.events[checked];
                checked += 1;
                if pred(e) {
                    let e = e.clone();
                    // Delivered: read_message will not hand this notification out again.
                    self.queue
                        .retain(|m| !(m["method"] == "thread/event" && m["params"] == e));
                    return e;
                }
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.pull(left).await.is_none() {
                let why = if self.closed {
                    format!("baton closed its stdout ({})", self.exit_status())
                } else {
                    format!("nothing matched within {timeout:?}")
                };
                panic!(
                    "expected event did not arrive: {why}; events seen ({}):\n{}\n{}",
                    self.events.len(),
                    self.events
                        .iter()
                        .map(|e| format!("  {} {} {}", e["threadId"], e["type"], e["data"]))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    self.stderr_section()
                );
            }
        }
    }

    /// Every `thread/event` params seen so far, in arrival order.
    pub fn events(&self) -> Vec<Value> {
        self.events.clone()
    }

    /// The next server->client request `{jsonrpc, id, method, params}` not yet taken.
    pub async fn next_server_request(&mut self, timeout: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(r) = self.server_requests.pop_front() {
                if let Some(i) = self.queue.iter().position(|m| m == &r) {
                    self.queue.remove(i);
                }
                return r;
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if self.pull(left).await.is_none() {
                let why = if self.closed {
                    format!("baton closed its stdout ({})", self.exit_status())
                } else {
                    format!("nothing within {timeout:?}")
                };
                panic!(
                    "expected a server->client request: {why}\n{}",
                    self.stderr_section()
                );
            }
        }
    }

    /// Answers a server->client request.
    pub async fn respond(&mut self, id: Value, result: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "result": result}))
            .await;
    }

    /// Answers a server->client request with an error.
    pub async fn respond_error(&mut self, id: Value, code: i64, message: &str) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}))
            .await;
    }

    /// Closes baton's stdin (EOF), as an editor that quits does.
    pub async fn close_stdin(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.shutdown().await;
        }
    }

    /// Waits for the process to exit and returns its exit code: None on timeout or when it was
    /// killed by a signal. stdin is left as it is, so a test that expects baton to exit by itself
    /// (after `exit`, say) really tests that; stdout keeps being drained by the reader task.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            Ok(Err(e)) => panic!("waiting for baton failed: {e}"),
            Err(_) => None,
        }
    }

    /// SIGKILL, as a crash or an OOM kill would do; baton gets no chance to clean up.
    pub fn kill9(&mut self) {
        let _ = self.child.start_kill();
    }

    fn exit_status(&mut self) -> String {
        match self.child.try_wait() {
            Ok(Some(status)) => format!("it exited: {status}"),
            Ok(None) => "it is still running".into(),
            Err(e) => format!("its status is unknown: {e}"),
        }
    }

    fn stderr_section(&self) -> String {
        format!(
            "--- baton stderr ({}), last lines ---\n{}",
            self.stderr_path.display(),
            self.stderr_tail()
        )
    }
}

/// A path in `dir` no other call in this test process returns.
fn unique_path(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!("{stem}-{n}.{ext}"))
}

/// The stdout reader task: parses messages in either framing and checks baton used `expected`.
async fn read_messages(
    mut r: BufReader<impl AsyncRead + Unpin>,
    expected: Framing,
    tx: mpsc::UnboundedSender<Incoming>,
) {
    loop {
        let item = match read_frame(&mut r).await {
            Ok(None) => return,
            Ok(Some((framing, body))) if framing != expected => Incoming::Broken(format!(
                "it answered in {framing:?} framing to a client speaking {expected:?}: {}",
                String::from_utf8_lossy(&body)
            )),
            Ok(Some((_, body))) => match serde_json::from_slice::<Value>(&body) {
                Ok(v) if v.is_object() => Incoming::Message(v),
                Ok(v) => Incoming::Broken(format!("it wrote a non-object message: {v}")),
                Err(e) => Incoming::Broken(format!(
                    "it wrote invalid JSON ({e}): {}",
                    String::from_utf8_lossy(&body)
                )),
            },
            Err(why) => Incoming::Broken(why),
        };
        let broken = matches!(item, Incoming::Broken(_));
        if tx.send(item).is_err() || broken {
            return;
        }
    }
}

/// One message from stdout and the framing it came in; Ok(None) at a clean end of file.
/// Public for the harness's own tests.
pub async fn read_frame(
    r: &mut BufReader<impl AsyncRead + Unpin>,
) -> Result<Option<(Framing, Vec<u8>)>, String> {
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading stdout failed: {e}"))?;
        if n == 0 {
            return Ok(None);
        }
        if !line.trim_ascii().is_empty() {
            break;
        }
    }
    let first = String::from_utf8_lossy(&line).into_owned();
    if !first.to_ascii_lowercase().starts_with("content-length:") {
        return Ok(Some((Framing::Ndjson, line.trim_ascii().to_vec())));
    }
    // LSP: headers up to an empty line, then exactly Content-Length bytes of body.
    let mut length = first["content-length:".len()..]
        .trim()
        .parse::<usize>()
        .ok();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading stdout failed: {e}"))?
            == 0
        {
            return Err("stdout ended inside LSP headers".into());
        }
        let header = String::from_utf8_lossy(&line);
        let header = header.trim();
        if header.is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().ok();
        }
    }
    let length = length.ok_or_else(|| format!("bad Content-Length header: {}", first.trim()))?;
    let mut body = vec![0; length];
    r.read_exact(&mut body)
        .await
        .map_err(|e| format!("stdout ended inside a {length}-byte LSP body: {e}"))?;
    Ok(Some((Framing::Lsp, body)))
}

// Helpers shared by the provider tests.

/// True for an event of `thread` with type `ty`.
pub fn is(ev: &Value, thread: &str, ty: &str) -> bool {
    ev["threadId"] == thread && ev["type"] == ty
}

/// `thread/start` with the provider, cwd = the work directory, and `extra` params; the thread.
pub async fn start_thread(b: &mut Baton, env: &TestEnv, provider: &str, extra: Value) -> Value {
    let mut params = json!({"provider": provider, "cwd": env.work.to_str().unwrap()});
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    b.request("thread/start", params)
        .await
        .unwrap_or_else(|e| panic!("thread/start failed: {e}"))["thread"]
        .clone()
}

/// `turn/start` with one text input; the turn id.
pub async fn turn(b: &mut Baton, thread: &str, text: &str) -> String {
    let r = b
        .request(
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
        )
        .await
        .unwrap_or_else(|e| panic!("turn/start failed: {e}"));
    r["turnId"].as_str().unwrap().to_string()
}

/// Waits (60 s) for `turn.completed` of the given turn.
pub async fn wait_turn_end(b: &mut Baton, thread: &str, turn_id: &str) -> Value {
    let t = thread.to_string();
    let u = turn_id.to_string();
    b.wait_event(Duration::from_secs(60), move |e| {
        is(e, &t, "turn.completed") && e["turnId"] == u.as_str()
    })
    .await
}

/// The provider processes among `baton_pid`'s descendants whose command line contains `marker`.
/// The npm packages' binaries may be node launchers for the native binary: the native process,
/// the one doing the work, is counted, not its launcher.
pub fn native_pids(baton_pid: u32, marker: &str) -> Vec<u32> {
    descendants(baton_pid)
        .into_iter()
        .filter(|pid| {
            let cmd = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let argv0 = cmd.split('\0').next().unwrap_or("");
            cmd.contains(marker) && !argv0.ends_with("node")
        })
        .collect()
}

/// All live descendants of `pid` (children, grandchildren, ...), from the ppid links in
/// /proc/*/stat. Zombies do not count: they are already dead.
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
            let Some((_, rest)) = stat.rsplit_once(')') else {
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

/// Live processes whose command line contains `marker` and whose environment holds
/// `env_marker` (e.g. `CODEX_HOME=<this test's>`), whoever their parent is: after a baton was
/// killed, its orphaned providers are found here.
pub fn processes_with(marker: &str, env_marker: &str) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        if !cmd.contains(marker) || !process_alive(pid) {
            continue;
        }
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        if String::from_utf8_lossy(&environ).contains(env_marker) {
            out.push(pid);
        }
    }
    out
}
