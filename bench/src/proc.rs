//! Driving one child process over newline-delimited JSON-RPC: a reader thread stamps every line
//! of its stdout the moment it arrives, so timings do not include the bench's own parsing.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::{Value, json};

/// One line of output with the time it was read.
pub struct Line {
    pub at: Instant,
    /// Wall clock (ns since the epoch), comparable with stamps written by another process.
    pub wall_ns: u128,
    pub text: String,
}

pub fn wall_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub struct Proc {
    pub child: Child,
    stdin: Option<ChildStdin>,
    /// Lines in batches: the reader sends what it read each time its buffer ran dry, so the
    /// harness costs one wake-up per batch rather than per line (it shares the cores it measures).
    rx: Receiver<Vec<Line>>,
    /// Lines received but not yet looked at.
    held: std::collections::VecDeque<Line>,
    next_id: i64,
    /// When `spawn` was called.
    pub spawned: Instant,
    name: String,
}

impl Proc {
    /// Spawns with piped stdin/stdout; stderr goes to `/dev/null` (logs are not measured).
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc> {
        let spawned = Instant::now();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot spawn {name}"))?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let stdin = child.stdin.take();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 16, stdout);
            let mut buf = String::new();
            let mut batch = Vec::new();
            loop {
                buf.clear();
                match r.read_line(&mut buf) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(batch);
                        return;
                    }
                    Ok(_) => {
                        batch.push(Line {
                            at: Instant::now(),
                            wall_ns: wall_ns(),
                            text: buf.trim_end().to_string(),
                        });
                        // Nothing more is buffered: the next read may block, so hand over now.
                        if r.buffer().is_empty() && tx.send(std::mem::take(&mut batch)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Proc {
            child,
            stdin,
            rx,
            held: Default::default(),
            next_id: 0,
            spawned,
            name: name.to_string(),
        })
    }

    pub fn send(&mut self, v: &Value) -> Result<Instant> {
        let mut bytes = serde_json::to_vec(v)?;
        bytes.push(b'\n');
        let stdin = self.stdin.as_mut().ok_or_else(|| anyhow!("stdin closed"))?;
        let at = Instant::now();
        stdin.write_all(&bytes)?;
        stdin.flush()?;
        Ok(at)
    }

    /// Sends a request; returns its id and when it was written.
    pub fn request(&mut self, method: &str, params: Value) -> Result<(i64, Instant)> {
        self.next_id += 1;
        let id = self.next_id;
        let at =
            self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        Ok((id, at))
    }

    pub fn notify(&mut self, method: &str, params: Value) -> Result<()> {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}))?;
        Ok(())
    }

    /// The next line satisfying `pred`, skipping others; fails after `timeout`.
    pub fn wait(&mut self, timeout: Duration, mut pred: impl FnMut(&Line) -> bool) -> Result<Line> {
        let deadline = Instant::now() + timeout;
        loop {
            while let Some(line) = self.held.pop_front() {
                if pred(&line) {
                    return Ok(line);
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("{}: timed out", self.name);
            }
            match self.rx.recv_timeout(left) {
                Ok(lines) => self.held.extend(lines),
                Err(RecvTimeoutError::Timeout) => bail!("{}: timed out", self.name),
                Err(RecvTimeoutError::Disconnected) => bail!("{}: output closed", self.name),
            }
        }
    }

    /// Waits for the response to `id`; an error response is an error.
    pub fn response(&mut self, id: i64, timeout: Duration) -> Result<(Line, Value)> {
        let needle = format!("\"id\":{id}");
        let mut found = None;
        let line = self.wait(timeout, |l| {
            if !l.text.contains(&needle) {
                return false;
            }
            match serde_json::from_str::<Value>(&l.text) {
                Ok(v) if v.get("id") == Some(&json!(id)) && v.get("method").is_none() => {
                    found = Some(v);
                    true
                }
                _ => false,
            }
        })?;
        let v = found.ok_or_else(|| anyhow!("no response"))?;
        if let Some(e) = v.get("error") {
            bail!("{}: error response: {e}", self.name);
        }
        Ok((line, v.get("result").cloned().unwrap_or(Value::Null)))
    }

    /// Request and response in one; returns the result and the round trip.
    pub fn call(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<(Value, Duration)> {
        let (id, at) = self.request(method, params)?;
        let (line, v) = self.response(id, timeout)?;
        Ok((v, line.at - at))
    }

    /// Drops lines already read.
    pub fn drain(&mut self) {
        self.held.clear();
        while self.rx.try_recv().is_ok() {}
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Closes stdin and waits (bounded) for the exit; kills after `grace`.
    pub fn close(mut self, grace: Duration) {
        self.stdin = None;
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process and all its descendants, in kB.
pub fn tree_rss_kb(pid: u32) -> u64 {
    let mut total = rss_kb(pid);
    for child in children(pid) {
        total += tree_rss_kb(child);
    }
    total
}

pub fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// Direct children of `pid` (from /proc/<pid>/task/*/children).
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    out
}

/// All descendants whose command line contains `needle`.
pub fn descendants_matching(pid: u32, needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for c in children(pid) {
        let cmd = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmd).contains(needle) {
            out.push(c);
        }
        out.extend(descendants_matching(c, needle));
    }
    out
}

/// CPU time `pid` has used so far (user + system, all its threads), in seconds.
pub fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) start after its ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // utime and stime are fields 14 and 15 of stat(5), so 11 and 12 after the state (field 3).
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    ticks as f64 / clock_ticks()
}

/// `getconf CLK_TCK`, which is 100 on every Linux this runs on.
fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}
