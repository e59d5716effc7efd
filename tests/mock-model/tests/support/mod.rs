//! Shared helpers of the mock-model integration tests: finding the pinned CLIs, driving a
//! child that speaks one JSON object per line, and a bare HTTP client.
//!
//! Every wait is bounded; a failed wait panics with what it was waiting for, the messages seen
//! so far and the tail of the child's stderr, so a red test explains itself.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::mpsc;

/// How long one expected message may take to arrive.
pub const WAIT: Duration = Duration::from_secs(30);

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A pinned CLI: `$var` if set, else the copy `scripts/install-tools` put under `.tools`.
/// A missing binary fails the test: these tests exist to check the mock against the real thing.
pub fn tool_bin(var: &str, name: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.exists(),
            "{var} names {}, which does not exist",
            p.display()
        );
        return p;
    }
    let p = workspace().join(".tools/npm/node_modules/.bin").join(name);
    assert!(
        p.exists(),
        "the real `{name}` CLI is not installed (looked for {}); run scripts/install-tools or set {var}",
        p.display()
    );
    p
}

pub fn codex_bin() -> PathBuf {
    tool_bin("BATON_CODEX_BIN", "codex")
}

pub fn claude_bin() -> PathBuf {
    tool_bin("BATON_CLAUDE_BIN", "claude")
}

/// A random version-4 UUID (good enough for a session id; no extra dependency).
pub fn uuid_v4() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut x =
        nanos ^ (u128::from(std::process::id()) << 64) ^ 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
    // A few rounds of xorshift so that close timestamps give unrelated ids.
    for _ in 0..4 {
        x ^= x << 23;
        x ^= x >> 17;
        x ^= x << 41;
    }
    let h = format!("{x:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// A child process that reads and writes one JSON object per line.
pub struct JsonlChild {
    pub child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::UnboundedReceiver<Value>,
    /// Everything received, in order (for assertions and failure messages).
    pub seen: Vec<Value>,
    stderr_path: PathBuf,
    name: String,
}

impl JsonlChild {
    /// Spawns `cmd` with piped stdin/stdout; stderr goes to a file under `dir`.
    pub fn spawn(name: &str, mut cmd: Command, dir: &Path) -> JsonlChild {
        let stderr_path = dir.join(format!("{name}.stderr"));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {name}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let (tx, incoming) = mpsc::unbounded_channel();
        let label = name.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).is_err() {
                            return;
                        }
                    }
                    // Both CLIs may print a stray non-JSON line; it is not part of the protocol.
                    Err(_) => eprintln!("{label} printed a non-JSON line: {line}"),
                }
            }
        });
        JsonlChild {
            child,
            stdin,
            incoming,
            seen: Vec::new(),
            stderr_path,
            name: name.to_string(),
        }
    }

    pub async fn send(&mut self, msg: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        let mut line = msg.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text[text.floor_char_boundary(start)..].to_string()
    }

    fn recent(&self) -> String {
        let n = self.seen.len();
        self.seen[n.saturating_sub(15)..]
            .iter()
            .map(|v| {
                let s = v.to_string();
                s.chars().take(400).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits up to `timeout` for a message matching `pred`, returning it; earlier messages are
    /// kept in `seen`.
    pub async fn wait_for_within(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some(v)) => {
                    self.seen.push(v.clone());
                    if pred(&v) {
                        return v;
                    }
                }
                Ok(None) => panic!(
                    "{} closed its stdout while we waited for {what}\nlast messages:\n{}\nstderr:\n{}",
                    self.name,
                    self.recent(),
                    self.stderr_tail()
                ),
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for {what} from {}\nlast messages:\n{}\nstderr:\n{}",
                    self.name,
                    self.recent(),
                    self.stderr_tail()
                ),
            }
        }
    }

    pub async fn wait_for(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for_within(what, WAIT, pred).await
    }

    /// Waits for the process to exit (bounded), returning its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => panic!(
                "{} did not exit within {timeout:?}\nstderr:\n{}",
                self.name,
                self.stderr_tail()
            ),
        }
    }
}

/// One raw HTTP exchange with the mock: the status code and the whole response body.
pub async fn http(port: u16, method: &str, path: &str, body: &str) -> (u16, String) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    http_raw(port, request.as_bytes()).await
}

/// Sends `request` as is and reads until the server closes the connection.
pub async fn http_raw(port: u16, request: &[u8]) -> (u16, String) {
    tokio::time::timeout(WAIT, async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        s.write_all(request).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .expect("the mock did not answer in time")
}

/// The `data:` payloads of an SSE body, paired with their event names.
pub fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter_map(|block| {
            let mut name = String::new();
            let mut data = None;
            for line in block.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_string();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).ok();
                }
            }
            data.map(|d| (name, d))
        })
        .collect()
}
