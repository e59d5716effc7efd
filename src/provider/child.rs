//! Spawning an agent CLI as a child process, and making sure it never outlives baton.
//!
//! Every agent gets its own process group (so a stop can kill it together with the shells and
//! tools it started), and on Linux a parent-death signal (`PR_SET_PDEATHSIG`, SIGKILL), so that a
//! baton killed with SIGKILL leaves no agent behind. stderr is logged at debug level and its last
//! lines are kept for error messages. [`ChildHandle`] watches the exit and stops the process in
//! order: stdin closed first, a grace period, then SIGKILL to the whole group.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::BufReader;
use tokio::process::{Child, ChildStderr, ChildStdin, Command};
use tokio::sync::{Notify, watch};

use super::paced::Paced;
use crate::rpc::codec::{WholeLine, read_whole_line};
use crate::sync::lock;

/// How many of the last stderr lines are kept for error messages.
const TAIL_LINES: usize = 64;
/// How many bytes of stderr are kept at most (the oldest lines go first).
const TAIL_BYTES: usize = 16 * 1024;
/// A single stderr line longer than this is not kept (nor logged) whole.
const MAX_STDERR_LINE: usize = 8 * 1024;

/// What to run.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Names the agent in logs.
    pub name: &'static str,
    pub bin: PathBuf,
    pub args: Vec<String>,
    pub cwd: Option<String>,
    /// Extra environment variables on top of baton's own (ACP agents take per-agent env).
    pub env: Vec<(String, String)>,
}

impl ChildSpec {
    pub fn new(name: &'static str, bin: PathBuf, args: Vec<String>) -> Self {
        ChildSpec {
            name,
            bin,
            args,
            cwd: None,
            env: Vec::new(),
        }
    }
}

/// A spawned agent: its pipes, and the handle that watches and stops it.
pub struct Spawned {
    pub stdin: ChildStdin,
    /// Read at a paced rate while the agent streams (see [`super::paced`]).
    pub stdout: Paced,
    pub handle: ChildHandle,
}

/// A running (or exited) agent process. Cheap to clone.
#[derive(Clone)]
pub struct ChildHandle {
    inner: Arc<Inner>,
}

struct Inner {
    name: &'static str,
    pid: Option<u32>,
    /// `Some(status)` once the process has exited.
    exit: watch::Receiver<Option<String>>,
    kill: Notify,
    tail: Arc<Mutex<Tail>>,
    /// Resolves when stderr reached EOF (its last words are in the tail).
    stderr_done: watch::Receiver<bool>,
}

/// Spawns the agent with piped stdio in its own process group, killed when baton dies.
pub fn spawn(spec: &ChildSpec) -> std::io::Result<Spawned> {
    let mut cmd = Command::new(&spec.bin);
    cmd.args(&spec.args)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A last resort should every handle be dropped without a stop.
        .kill_on_drop(true);
    if let Some(dir) = &spec.cwd {
        cmd.current_dir(dir);
    }
    #[cfg(unix)]
    cmd.process_group(0);
    #[cfg(target_os = "linux")]
    die_with_parent(&mut cmd);
    let mut child = cmd.spawn()?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(std::io::Error::other("the child's stdio was not piped"));
    };
    let stdout = Paced::new(stdout)?;
    let tail = Arc::new(Mutex::new(Tail::default()));
    let (done_tx, done_rx) = watch::channel(false);
    tokio::spawn(collect_stderr(spec.name, stderr, tail.clone(), done_tx));
    let (exit_tx, exit_rx) = watch::channel(None);
    let inner = Arc::new(Inner {
        name: spec.name,
        pid: child.id(),
        exit: exit_rx,
        kill: Notify::new(),
        tail,
        stderr_done: done_rx,
    });
    tokio::spawn(watch_exit(child, inner.clone(), exit_tx));
    Ok(Spawned {
        stdin,
        stdout,
        handle: ChildHandle { inner },
    })
}

/// Asks Linux to SIGKILL the child when the thread that spawned it dies. baton spawns from
/// tokio worker threads, which live as long as the runtime, i.e. as long as baton.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: getpid is async-signal-safe and called here, before the fork.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the hook runs in the forked child before exec and calls only async-signal-safe
    // functions (prctl, getppid, _exit); it touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // baton may have died between fork and prctl: then nobody would send the signal.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Sends SIGKILL to the whole process group led by `pid`.
#[cfg(unix)]
#[allow(unsafe_code)]
fn kill_group(pid: u32) {
    let Ok(pgid) = libc::pid_t::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) with a negative pid signals the process group; it is called only while
    // the group leader is not yet reaped (see watch_exit), so the group id cannot be reused.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

async fn watch_exit(mut child: Child, inner: Arc<Inner>, exit: watch::Sender<Option<String>>) {
    let status = tokio::select! {
        s = child.wait() => s,
        _ = inner.kill.notified() => {
            // The leader is not reaped yet, so its pid still names the group.
            #[cfg(unix)]
            if let Some(pid) = inner.pid {
                kill_group(pid);
            }
            let _ = child.start_kill();
            child.wait().await
        }
    };
    let status = status
        .map(|s| s.to_string())
        .unwrap_or_else(|e| format!("cannot wait for it: {e}"));
    tracing::debug!(agent = inner.name, %status, "agent process exited");
    let _ = exit.send(Some(status));
}

impl ChildHandle {
    pub fn pid(&self) -> Option<u32> {
        self.inner.pid
    }

    /// The exit status, once the process has exited.
    pub fn exit_status(&self) -> Option<String> {
        self.inner.exit.borrow().clone()
    }

    /// Resolves with the exit status when the process exits.
    pub async fn exited(&self) -> String {
        let mut rx = self.inner.exit.clone();
        match rx.wait_for(Option::is_some).await {
            Ok(s) => s.clone().unwrap_or_default(),
            // The watcher is gone only if the runtime is shutting down.
            Err(_) => "unknown".into(),
        }
    }

    /// Kills the whole process group now (SIGKILL) and waits for the leader's exit, briefly.
    pub async fn kill(&self) {
        self.inner.kill.notify_one();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.exited()).await;
    }

    /// The orderly stop: `close_stdin` runs first (the agent exits on EOF), then the process
    /// gets `grace` to exit before its whole group is killed.
    pub async fn stop(&self, close_stdin: impl Future<Output = ()>, grace: Duration) {
        close_stdin.await;
        if tokio::time::timeout(grace, self.exited()).await.is_err() {
            tracing::debug!(
                agent = self.inner.name,
                "agent did not exit after its stdin closed; killing its process group"
            );
            self.kill().await;
        }
    }

    /// The last lines the agent wrote to stderr, oldest first, joined by newlines.
    pub fn stderr_tail(&self) -> String {
        lock(&self.inner.tail).text()
    }

    /// Waits (at most `limit`) until stderr reached EOF, so its last words are in the tail.
    pub async fn stderr_drained(&self, limit: Duration) {
        let mut rx = self.inner.stderr_done.clone();
        let _ = tokio::time::timeout(limit, rx.wait_for(|d| *d)).await;
    }

    /// A one-line account of the exit for errors: `<name> exited (<status>): <stderr tail>`.
    pub fn exit_message(&self) -> String {
        let status = self.exit_status().unwrap_or_else(|| "still running".into());
        let tail = self.stderr_tail();
        if tail.is_empty() {
            format!("{} exited ({status})", self.inner.name)
        } else {
            format!("{} exited ({status}): {tail}", self.inner.name)
        }
    }
}

/// The bounded tail of stderr.
#[derive(Default)]
struct Tail {
    lines: VecDeque<String>,
    bytes: usize,
}

impl Tail {
    fn push(&mut self, line: String) {
        self.bytes += line.len();
        self.lines.push_back(line);
        while self.lines.len() > TAIL_LINES || self.bytes > TAIL_BYTES {
            match self.lines.pop_front() {
                Some(old) => self.bytes -= old.len(),
                None => break,
            }
        }
    }

    fn text(&self) -> String {
        self.lines.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

async fn collect_stderr(
    name: &'static str,
    stderr: ChildStderr,
    tail: Arc<Mutex<Tail>>,
    done: watch::Sender<bool>,
) {
    let mut r = BufReader::new(stderr);
    loop {
        let line = match read_whole_line(&mut r, MAX_STDERR_LINE).await {
            Ok(WholeLine::Message(l)) => String::from_utf8_lossy(&l).into_owned(),
            Ok(WholeLine::TooLarge(n)) => format!("[a stderr line of {n} bytes was left out]"),
            Ok(WholeLine::Eof) | Err(_) => break,
        };
        tracing::debug!(target: "baton::provider::stderr", agent = name, "{line}");
        lock(&tail).push(line);
    }
    let _ = done.send(true);
}

#[cfg(test)]
#[path = "child_tests.rs"]
mod tests;
