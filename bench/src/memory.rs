//! Agent memory: the resident memory of baton and every provider process under it, with many
//! threads that each ran one turn; Claude with and without the live-session budget, and Codex
//! (one shared `codex app-server` for every thread).

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use crate::env::Env;
use crate::proc::{Proc, descendants_matching, tree_rss_kb};

const TIMEOUT: Duration = Duration::from_secs(120);

pub struct Row {
    pub label: String,
    pub threads: usize,
    pub processes: usize,
    pub rss_kb: u64,
    pub secs: f64,
}

/// `threads` threads of `provider`, one short turn each, then the tree's RSS.
fn run_one(env: &Env, provider: &str, threads: usize, budget: usize, marker: &str) -> Result<Row> {
    let db = env.tmp.join(format!("memory-{provider}-{budget}.db"));
    let budget_arg = budget.to_string();
    let mut p = Proc::spawn(
        "baton",
        &mut env.baton(&db, &["--max-live-sessions", &budget_arg]),
    )?;
    p.call("initialize", crate::cold::baton_params(), TIMEOUT)?;
    let t0 = Instant::now();
    for i in 0..threads {
        let (r, _) = p.call(
            "thread/start",
            json!({"provider": provider, "cwd": env.work()}),
            TIMEOUT,
        )?;
        let id = r
            .pointer("/thread/id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("no thread id"))?
            .to_string();
        let (r, _) = p.call(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": format!("hello {i}")}]}),
            TIMEOUT,
        )?;
        let turn = r
            .get("turnId")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        p.wait(TIMEOUT, |l| {
            l.text.contains("\"type\":\"turn.completed\"") && l.text.contains(&turn)
        })?;
    }
    let secs = t0.elapsed().as_secs_f64();
    // Sessions stopped for the budget exit within a moment; let them.
    std::thread::sleep(Duration::from_secs(2));
    let processes = native(p.pid(), marker).len();
    let rss_kb = tree_rss_kb(p.pid());
    p.close(Duration::from_secs(10));
    Ok(Row {
        label: String::new(),
        threads,
        processes,
        rss_kb,
        secs,
    })
}

/// The provider's own processes (not their node launchers).
fn native(pid: u32, marker: &str) -> Vec<u32> {
    descendants_matching(pid, marker)
        .into_iter()
        .filter(|c| {
            let cmd = std::fs::read(format!("/proc/{c}/cmdline")).unwrap_or_default();
            let argv0 = String::from_utf8_lossy(&cmd)
                .split('\0')
                .next()
                .unwrap_or("")
                .to_string();
            !argv0.ends_with("node")
        })
        .collect()
}

pub fn run_and_print(env: &Env, claude_threads: usize, codex_threads: usize) -> Result<()> {
    let mut rows = Vec::new();
    for (label, provider, n, budget, marker) in [
        (
            "claude, no budget (--max-live-sessions 0)",
            "claude",
            claude_threads,
            0,
            "claude",
        ),
        (
            "claude, maxLiveSessions 8 (default)",
            "claude",
            claude_threads,
            8,
            "claude",
        ),
        (
            "codex, maxLiveSessions 0",
            "codex",
            codex_threads,
            0,
            "app-server",
        ),
    ] {
        let mut r = run_one(env, provider, n, budget, marker)?;
        r.label = label.to_string();
        rows.push(r);
    }
    println!(
        "\n## Agent memory: threads that each ran one turn, baton and all its provider processes\n"
    );
    println!("| setup | threads | live provider processes | total RSS | time for all turns |");
    println!("|---|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {:.0} MiB | {:.1} s |",
            r.label,
            r.threads,
            r.processes,
            r.rss_kb as f64 / 1024.0,
            r.secs
        );
    }
    Ok(())
}
