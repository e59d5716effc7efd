//! Store scale: 10k threads and ~1M events, seeded from the events of real codex turns run
//! through baton (so row sizes are real), then `thread/list`, `thread/read` of 1k events and
//! start -> `initialize` against that file.

use std::time::Duration;

use anyhow::{Result, anyhow};
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::cold;
use crate::env::{Env, median, ms};
use crate::proc::Proc;

const TIMEOUT: Duration = Duration::from_secs(60);
pub const THREADS: usize = 10_000;
const PER_THREAD: usize = 100;
const BIG: usize = 1_000;

struct Template {
    ty: String,
    data: String,
    turn_id: Option<String>,
    item_id: Option<String>,
}

pub struct Results {
    pub events: i64,
    pub threads: i64,
    pub file_bytes: u64,
    pub data_bytes: i64,
    pub start_init: Vec<f64>,
    pub list_first: Vec<f64>,
    pub list_next: Vec<f64>,
    pub list_cwd: Vec<f64>,
    pub read_big: Vec<f64>,
    pub read_events: usize,
    pub seed_secs: f64,
}

/// A few real turns through baton and codex give the rows the seed copies.
fn templates(env: &Env, db: &std::path::Path) -> Result<Vec<Template>> {
    let mut p = Proc::spawn("baton", &mut env.baton(db, &[]))?;
    p.call("initialize", cold::baton_params(), TIMEOUT)?;
    let (r, _) = p.call(
        "thread/start",
        json!({"provider": "codex", "cwd": env.work()}),
        TIMEOUT,
    )?;
    let id = r
        .pointer("/thread/id")
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no thread id"))?
        .to_string();
    for text in [
        "hello there",
        "REASON: the user wants a greeting",
        "and now a somewhat longer question about the code base",
    ] {
        p.request(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": text}]}),
        )?;
        p.wait(TIMEOUT, |l| l.text.contains("\"type\":\"turn.completed\""))?;
    }
    p.close(Duration::from_secs(5));
    let c = Connection::open(db)?;
    let mut stmt = c.prepare(
        "SELECT type, data, turn_id, item_id FROM events WHERE thread_id = ?1 ORDER BY seq",
    )?;
    let rows = stmt
        .query_map([&id], |r| {
            Ok(Template {
                ty: r.get(0)?,
                data: r.get(1)?,
                turn_id: r.get(2)?,
                item_id: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn seed(db: &std::path::Path, templates: &[Template], work: &str) -> Result<(String, String)> {
    let mut c = Connection::open(db)?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "OFF")?;
    let tx = c.transaction()?;
    let now: i64 = 1_800_000_000_000;
    let (mut big, mut big_cwd) = (String::new(), String::new());
    {
        let mut thread = tx.prepare(
            "INSERT INTO threads (id, provider, model, cwd, title, status, provider_thread_id,
               created_at, updated_at, last_seq, last_seen_at)
             VALUES (?1, 'codex', 'mock-model', ?2, ?3, 'stopped', ?4, ?5, ?6, ?7, ?6)",
        )?;
        let mut event = tx.prepare(
            "INSERT INTO events (thread_id, seq, type, at, provider, turn_id, item_id, data)
             VALUES (?1, ?2, ?3, ?4, 'codex', ?5, ?6, ?7)",
        )?;
        for t in 0..THREADS {
            let id = format!("0190{t:04x}-0000-7000-8000-{t:012x}");
            let cwd = if t % 100 == 0 {
                work.to_string()
            } else {
                format!("/home/user/project-{}", t % 100)
            };
            let n = if t == THREADS / 2 { BIG } else { PER_THREAD };
            if t == THREADS / 2 {
                big = id.clone();
                big_cwd = cwd.clone();
            }
            let at = now + (t as i64) * 1000;
            thread.execute(params![
                id,
                cwd,
                format!("thread number {t}"),
                format!("0190aaaa-{t:04x}-7000-8000-000000000000"),
                at - 3_600_000,
                at,
                n as i64
            ])?;
            for seq in 0..n {
                let tpl = &templates[seq % templates.len()];
                event.execute(params![
                    id,
                    (seq + 1) as i64,
                    tpl.ty,
                    at - 1000 + seq as i64,
                    tpl.turn_id,
                    tpl.item_id,
                    tpl.data
                ])?;
            }
        }
    }
    tx.commit()?;
    c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok((big, big_cwd))
}

pub fn run(env: &Env, runs: usize) -> Result<Results> {
    let db = env.tmp.join("scale.db");
    let tpl = templates(env, &db)?;
    if tpl.is_empty() {
        return Err(anyhow!("no template events"));
    }
    let t0 = std::time::Instant::now();
    let (big, big_cwd) = seed(&db, &tpl, &env.work())?;
    let seed_secs = t0.elapsed().as_secs_f64();
    let c = Connection::open(&db)?;
    let events: i64 = c.query_row("SELECT count(*) FROM events", [], |r| r.get(0))?;
    let threads: i64 = c.query_row("SELECT count(*) FROM threads", [], |r| r.get(0))?;
    let data_bytes: i64 = c.query_row("SELECT sum(length(data)) FROM events", [], |r| r.get(0))?;
    drop(c);
    let file_bytes = std::fs::metadata(&db)?.len();
    let mut start_init = Vec::new();
    for _ in 0..runs {
        start_init.push(cold::once("baton", env.baton(&db, &[]), cold::baton_params())?.0);
    }
    let mut p = Proc::spawn("baton", &mut env.baton(&db, &[]))?;
    p.call("initialize", cold::baton_params(), TIMEOUT)?;
    let mut r = Results {
        events,
        threads,
        file_bytes,
        data_bytes,
        start_init,
        list_first: vec![],
        list_next: vec![],
        list_cwd: vec![],
        read_big: vec![],
        read_events: 0,
        seed_secs,
    };
    for _ in 0..runs {
        let (page, t) = p.call("thread/list", json!({"limit": 50}), TIMEOUT)?;
        r.list_first.push(ms(t));
        let cursor = page.get("nextCursor").cloned().unwrap_or(Value::Null);
        let (_, t) = p.call(
            "thread/list",
            json!({"limit": 50, "cursor": cursor}),
            TIMEOUT,
        )?;
        r.list_next.push(ms(t));
        let (_, t) = p.call("thread/list", json!({"limit": 50, "cwd": big_cwd}), TIMEOUT)?;
        r.list_cwd.push(ms(t));
        let (read, t) = p.call("thread/read", json!({"threadId": big}), TIMEOUT)?;
        r.read_big.push(ms(t));
        r.read_events = read
            .get("events")
            .and_then(Value::as_array)
            .map(Vec::len)
            .unwrap_or(0);
    }
    p.close(Duration::from_secs(5));
    Ok(r)
}

pub fn print(r: &Results, runs: usize) {
    println!(
        "\n## Store scale: {} threads, {} events (seeded in {:.1} s from real codex turns), {runs} runs each\n",
        r.threads, r.events, r.seed_secs
    );
    println!("| measure | median | target |");
    println!("|---|---:|---:|");
    println!(
        "| start -> `initialize` on this file | {:.1} ms | <= 20 ms |",
        median(&r.start_init)
    );
    println!(
        "| `thread/list` first page (50) | {:.2} ms | <= 5 ms |",
        median(&r.list_first)
    );
    println!(
        "| `thread/list` next page (cursor) | {:.2} ms | <= 5 ms |",
        median(&r.list_next)
    );
    println!(
        "| `thread/list {{cwd}}` page | {:.2} ms | <= 5 ms |",
        median(&r.list_cwd)
    );
    println!(
        "| `thread/read` of {} events | {:.2} ms | <= 10 ms |",
        r.read_events,
        median(&r.read_big)
    );
    println!(
        "| bytes on disk per event (file / events) | {:.0} B | |",
        r.file_bytes as f64 / r.events as f64
    );
    println!(
        "| of which the event's `data` JSON | {:.0} B | |",
        r.data_bytes as f64 / r.events as f64
    );
}
