//! Cold start: spawn -> `initialize` response, with an existing database and both CLIs
//! installed, against the ACP adapters of the same agents, alternating run by run.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use crate::env::{Env, median, ms, percentile};
use crate::proc::{Proc, rss_kb};

const TIMEOUT: Duration = Duration::from_secs(30);

/// One spawn -> initialize; returns (ms, RSS kB after the answer).
pub fn once(name: &str, mut cmd: Command, params: serde_json::Value) -> Result<(f64, u64)> {
    let mut p = Proc::spawn(name, &mut cmd)?;
    let (id, _) = p.request("initialize", params)?;
    let (line, _) = p.response(id, TIMEOUT)?;
    let t = ms(line.at - p.spawned);
    let rss = rss_kb(p.pid());
    p.close(Duration::from_millis(500));
    Ok((t, rss))
}

pub fn baton_params() -> serde_json::Value {
    json!({"clientInfo": {"name": "baton-bench"}})
}

fn acp_params() -> serde_json::Value {
    json!({"protocolVersion": 1, "clientCapabilities": {"fs": {"readTextFile": false, "writeTextFile": false}, "terminal": false}})
}

/// Creates the database a cold start finds: migrated, with the provider probes cached (the
/// first start probes after answering and says so with `provider/changed`).
pub fn prepare_db(env: &Env, db: &Path) -> Result<()> {
    let mut p = Proc::spawn("baton", &mut env.baton(db, &[]))?;
    p.call("initialize", baton_params(), TIMEOUT)?;
    p.wait(TIMEOUT, |l| l.text.contains("\"provider/changed\""))?;
    p.close(Duration::from_secs(5));
    Ok(())
}

pub struct Row {
    pub name: String,
    pub times: Vec<f64>,
    pub rss: u64,
}

pub fn run(env: &Env, runs: usize) -> Result<Vec<Row>> {
    let db = env.tmp.join("cold.db");
    prepare_db(env, &db)?;
    let mut rows = vec![Row {
        name: "baton (codex + claude installed)".into(),
        times: vec![],
        rss: 0,
    }];
    if env.codex_acp.is_some() {
        rows.push(Row {
            name: "codex-acp 0.16.0".into(),
            times: vec![],
            rss: 0,
        });
    }
    if env.claude_acp.is_some() {
        rows.push(Row {
            name: "claude-agent-acp (Claude ACP adapter)".into(),
            times: vec![],
            rss: 0,
        });
    }
    for _ in 0..runs {
        let (t, rss) = once("baton", env.baton(&db, &[]), baton_params())?;
        rows[0].times.push(t);
        rows[0].rss = rss;
        let mut i = 1;
        if let Some(bin) = &env.codex_acp {
            let mut cmd = Command::new(bin);
            env.apply(&mut cmd);
            let (t, rss) = once("codex-acp", cmd, acp_params())?;
            rows[i].times.push(t);
            rows[i].rss = rss;
            i += 1;
        }
        if let Some(bin) = &env.claude_acp {
            let mut cmd = Command::new(bin);
            env.apply(&mut cmd);
            cmd.env("CLAUDE_CODE_EXECUTABLE", &env.claude);
            let (t, rss) = once("claude-agent-acp", cmd, acp_params())?;
            rows[i].times.push(t);
            rows[i].rss = rss;
        }
    }
    Ok(rows)
}

pub fn print(rows: &[Row], runs: usize) {
    println!("\n## Cold start: spawn -> `initialize` response ({runs} runs each, alternating)\n");
    println!("| process | median ms | p90 ms | min ms | RSS after initialize |");
    println!("|---|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {:.1} | {:.1} | {:.1} | {:.1} MiB |",
            r.name,
            median(&r.times),
            percentile(&r.times, 90.0),
            percentile(&r.times, 0.0),
            r.rss as f64 / 1024.0
        );
    }
    if let (Some(b), Some(c)) = (rows.first(), rows.get(1)) {
        println!(
            "\nbaton vs {}: {:.1}x faster (target: median <= 5 ms and >= 4x faster)",
            c.name,
            median(&c.times) / median(&b.times)
        );
    }
}
