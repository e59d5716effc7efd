//! A tiny ACP client for tests: newline-delimited JSON-RPC 2.0 with a real agent process over
//! stdio, every read bounded by a timeout.
//!
//! While it waits for something, it answers the agent's own requests: `session/request_permission`
//! with the option of the kind [`AcpClient::permission`] names, `fs/write_text_file` and
//! `fs/read_text_file` inside the session's cwd (anything else is refused), and anything else with
//! -32601. Every message in either direction is kept in [`AcpClient::transcript`] so a test can
//! save it as a fixture.
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

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin};
use tokio::sync::mpsc;

use crate::acp_agents::AcpAgent;

/// How long one request may take unless the caller says otherwise.
pub const WAIT: Duration = Duration::from_secs(90);

/// Which option a permission request is answered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    AllowOnce,
    RejectOnce,
}

/// One line of a transcript: which way it went, which agent process (1 = first spawn), the message.
#[derive(Debug, Clone)]
pub struct Line {
    pub dir: &'static str,
    pub process: usize,
    pub msg: Value,
}

/// Transcript lines of every process of one agent, shared across restarts.
#[derive(Debug, Default)]
pub struct Transcript {
    pub lines: Vec<Line>,
    pub processes: usize,
}

pub struct AcpClient {
    child: Child,
    stdin: Option<ChildStdin>,
    incoming: mpsc::Receiver<Value>,
    next_id: i64,
    /// The cwd the client serves fs requests in (canonical).
    pub cwd: PathBuf,
    pub permission: Permission,
    /// Every `session/update` params received, in order.
    pub updates: Vec<Value>,
    /// Every request the agent sent us (method, params), in order.
    pub agent_requests: Vec<Value>,
    pub transcript: Transcript,
    process: usize,
    stderr_path: PathBuf,
    name: String,
    spawned: Instant,
}

impl AcpClient {
    /// Spawns `agent` in `cwd`; its stderr goes to `<log_dir>/<name>-<n>.stderr`. `transcript`
    /// carries the lines of earlier processes of the same agent.
    pub fn spawn(
        agent: &AcpAgent,
        cwd: &Path,
        log_dir: &Path,
        transcript: Transcript,
    ) -> AcpClient {
        let mut transcript = transcript;
        transcript.processes += 1;
        let process = transcript.processes;
        let stderr_path = log_dir.join(format!("{}-{process}.stderr", agent.name));
        let stderr = std::fs::File::create(&stderr_path).unwrap();
        let mut cmd = agent.command();
        cmd.current_dir(cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .process_group(0);
        let spawned = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", agent.name));
        let stdout = child.stdout.take().unwrap();
        let stdin = child.stdin.take();
        let (tx, incoming) = mpsc::channel(4096);
        let label = agent.name.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => {
                        if tx.send(v).await.is_err() {
                            return;
                        }
                    }
                    Err(_) => eprintln!("{label} printed a non-JSON line: {line}"),
                }
            }
        });
        AcpClient {
            child,
            stdin,
            incoming,
            next_id: 0,
            cwd: cwd.to_path_buf(),
            permission: Permission::AllowOnce,
            updates: Vec::new(),
            agent_requests: Vec::new(),
            transcript,
            process,
            stderr_path,
            name: agent.name.to_string(),
            spawned,
        }
    }

    /// Time since the process was spawned.
    pub fn age(&self) -> Duration {
        self.spawned.elapsed()
    }

    pub fn stderr_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr_path).unwrap_or_default();
        let start = text.len().saturating_sub(3000);
        text[text.floor_char_boundary(start)..].to_string()
    }

    async fn send(&mut self, msg: Value) {
        self.transcript.lines.push(Line {
            dir: "in",
            process: self.process,
            msg: msg.clone(),
        });
        let stdin = self.stdin.as_mut().expect("stdin closed");
        let mut line = msg.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    }

    /// Sends a request and returns its id without waiting.
    pub async fn start_request(&mut self, method: &str, params: Value) -> i64 {
        self.next_id += 1;
        let id = self.next_id;
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    pub async fn notify(&mut self, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "method": method, "params": params}))
            .await;
    }

    /// A request and its outcome: `Ok(result)` or `Err(error)`.
    pub async fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.request_within(method, params, WAIT).await
    }

    pub async fn request_within(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, Value> {
        let id = self.start_request(method, params).await;
        self.response(id, method, timeout).await
    }

    /// Waits for the response to request `id`, serving the agent meanwhile.
    pub async fn response(
        &mut self,
        id: i64,
        what: &str,
        timeout: Duration,
    ) -> Result<Value, Value> {
        let msg = self
            .wait_for(&format!("the response to {what}"), timeout, |m| {
                m.get("id") == Some(&json!(id)) && m.get("method").is_none()
            })
            .await;
        match msg.get("error") {
            Some(e) => Err(e.clone()),
            None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
        }
    }

    /// Waits for a `session/update` whose `update` matches `pred`.
    pub async fn wait_update(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let msg = self
            .wait_for(what, timeout, |m| {
                m.get("method").and_then(Value::as_str) == Some("session/update")
                    && pred(&m["params"]["update"])
            })
            .await;
        msg["params"]["update"].clone()
    }

    /// Reads messages until one matches `pred` (returned), answering agent requests meanwhile.
    pub async fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = match tokio::time::timeout(left, self.incoming.recv()).await {
                Ok(Some(m)) => m,
                Ok(None) => panic!(
                    "{} closed its stdout while we waited for {what}\nstderr:\n{}",
                    self.name,
                    self.stderr_tail()
                ),
                Err(_) => panic!(
                    "timed out after {timeout:?} waiting for {what} from {}\nlast messages:\n{}\nstderr:\n{}",
                    self.name,
                    self.recent(),
                    self.stderr_tail()
                ),
            };
            self.transcript.lines.push(Line {
                dir: "out",
                process: self.process,
                msg: msg.clone(),
            });
            if msg.get("method").and_then(Value::as_str) == Some("session/update") {
                self.updates.push(msg["params"].clone());
            }
            if msg.get("method").is_some() && msg.get("id").is_some() {
                self.agent_requests.push(msg.clone());
                let reply = self.serve(&msg);
                self.send(reply).await;
                if pred(&msg) {
                    return msg;
                }
                continue;
            }
            if pred(&msg) {
                return msg;
            }
        }
    }

    fn recent(&self) -> String {
        let n = self.transcript.lines.len();
        self.transcript.lines[n.saturating_sub(12)..]
            .iter()
            .map(|l| {
                let s = format!("{} {}", l.dir, l.msg);
                s.chars().take(400).collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn inside_cwd(&self, path: &str) -> bool {
        let p = Path::new(path);
        p.is_absolute() && !path.contains("/../") && p.starts_with(&self.cwd)
    }

    /// The answer to one agent request.
    fn serve(&self, msg: &Value) -> Value {
        let id = msg["id"].clone();
        let params = &msg["params"];
        let ok = |result: Value| json!({"jsonrpc": "2.0", "id": id, "result": result});
        let err = |code: i64, message: String| json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}});
        match msg["method"].as_str().unwrap_or("") {
            "session/request_permission" => {
                let kind = match self.permission {
                    Permission::AllowOnce => "allow_once",
                    Permission::RejectOnce => "reject_once",
                };
                let option = params["options"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|o| o["kind"] == kind)
                    .and_then(|o| o["optionId"].as_str());
                match option {
                    Some(o) => ok(json!({"outcome": {"outcome": "selected", "optionId": o}})),
                    None => ok(json!({"outcome": {"outcome": "cancelled"}})),
                }
            }
            "fs/write_text_file" => {
                let path = params["path"].as_str().unwrap_or("");
                if !self.inside_cwd(path) {
                    return err(
                        -32602,
                        format!("refused: {path} is outside the session cwd"),
                    );
                }
                let path = Path::new(path);
                if let Some(dir) = path.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                match std::fs::write(path, params["content"].as_str().unwrap_or("")) {
                    Ok(()) => ok(Value::Null),
                    Err(e) => err(-32603, e.to_string()),
                }
            }
            "fs/read_text_file" => {
                let path = params["path"].as_str().unwrap_or("");
                if !self.inside_cwd(path) {
                    return err(
                        -32602,
                        format!("refused: {path} is outside the session cwd"),
                    );
                }
                match std::fs::read_to_string(path) {
                    Ok(content) => ok(json!({"content": content})),
                    Err(e) => err(-32002, format!("Resource not found: {path}: {e}")),
                }
            }
            other => err(-32601, format!("method not found: {other}")),
        }
    }

    /// The concatenated text of the `agent_message_chunk`s received since update number `from`.
    pub fn message_text_since(&self, from: usize) -> String {
        self.chunk_text_since(from, "agent_message_chunk")
    }

    pub fn chunk_text_since(&self, from: usize, kind: &str) -> String {
        self.updates[from.min(self.updates.len())..]
            .iter()
            .filter(|u| u["update"]["sessionUpdate"] == kind)
            .filter_map(|u| u["update"]["content"]["text"].as_str())
            .collect()
    }

    /// Kills the agent's process group and waits for it (bounded); returns the transcript.
    pub async fn kill(mut self) -> Transcript {
        if let Some(pid) = self.child.id() {
            // The agents spawn helpers (claude's CLI, gemini's shells) in their process group:
            // end every member. Positive pids only: procps 4.0's `kill` mishandles `-PGID`
            // (it took the whole session down here).
            let members = group_members(pid);
            if !members.is_empty() {
                // A member may exit meanwhile ("No such process"): fine.
                let _ = std::process::Command::new("kill")
                    .arg("-KILL")
                    .args(members.iter().map(u32::to_string))
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        std::mem::take(&mut self.transcript)
    }
}

/// The pids whose process group is `pgid` (from /proc/<pid>/stat; field 5 is the group).
fn group_members(pgid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // `pid (comm) state ppid pgrp …`; comm may hold spaces and parentheses.
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(2) == Some(pgid.to_string().as_str())
        })
        .filter(|pid| *pid > 1)
        .collect()
}

/// How many commands of an `available_commands_update` a fixture keeps (besides `compact`), and
/// how long their descriptions may be.
const FIXTURE_COMMANDS: usize = 3;
const FIXTURE_DESCRIPTION: usize = 100;

/// Keeps fixtures small: an `available_commands_update` keeps its first few commands and
/// `compact`, with shortened descriptions, and `_meta.fixtureTruncatedFrom` says how many there
/// were (claude-agent-acp lists dozens of skills, twice per process).
fn shrink(msg: &Value) -> Value {
    let mut msg = msg.clone();
    if let Some(update) = msg.pointer_mut("/params/update")
        && update["sessionUpdate"] == "available_commands_update"
        && let Some(list) = update["availableCommands"].as_array_mut()
        && list.len() > FIXTURE_COMMANDS
    {
        let n = list.len();
        let mut kept: Vec<Value> = list
            .iter()
            .enumerate()
            .filter(|(i, c)| *i < FIXTURE_COMMANDS || c["name"] == "compact")
            .map(|(_, c)| c.clone())
            .collect();
        for c in &mut kept {
            if let Some(d) = c["description"].as_str()
                && d.chars().count() > FIXTURE_DESCRIPTION
            {
                let short: String = d.chars().take(FIXTURE_DESCRIPTION).collect();
                c["description"] = json!(format!("{short}…"));
            }
        }
        *list = kept;
        update["_meta"] = json!({"fixtureTruncatedFrom": n});
    }
    msg
}

/// Writes `transcript` as JSON lines `{"dir","process","msg"}` to `path`, with the absolute
/// paths in `replace` (longest first) turned into their placeholders.
pub fn write_fixture(path: &Path, transcript: &Transcript, replace: &[(String, &str)]) {
    // opencode also shows paths without their leading slash (tool titles): replace those too.
    let stripped: Vec<(String, &str)> = replace
        .iter()
        .map(|(p, to)| (p.trim_start_matches('/').to_string(), *to))
        .collect();
    let mut pairs: Vec<&(String, &str)> = replace
        .iter()
        .chain(&stripped)
        .filter(|(p, _)| !p.is_empty())
        .collect();
    pairs.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
    let mut out = String::new();
    for line in &transcript.lines {
        let msg = shrink(&line.msg);
        let mut text = json!({"dir": line.dir, "process": line.process, "msg": msg}).to_string();
        for (from, to) in &pairs {
            text = text.replace(from.as_str(), to);
        }
        out.push_str(&text);
        out.push('\n');
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, out).unwrap();
}
