//! Spawning provider CLIs as child processes: piped stdio, stderr into the log, killed with baton.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

/// Resolves a binary: an explicit path (from an env var or flag) wins, else a search of PATH.
pub fn resolve_bin(explicit: Option<&str>, name: &str) -> Option<PathBuf> {
    if let Some(p) = explicit.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(p);
        if path.components().count() > 1 {
            return path.is_file().then_some(path);
        }
        return search_path(p);
    }
    search_path(name)
}

fn search_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Spawns `bin args` with piped stdio in `cwd`. The child is killed if its handle is dropped, so a
/// crashing baton never leaves a provider behind; an orderly stop closes stdin first.
pub fn spawn(bin: &PathBuf, args: &[String], cwd: Option<&str>) -> std::io::Result<Child> {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.spawn()
}

/// Forwards a child's stderr to the log, line by line, at debug level (providers are chatty there).
pub fn log_stderr(name: &'static str, stderr: ChildStderr) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            tracing::debug!(target: "baton::provider::stderr", provider = name, "{line}");
        }
    });
}
