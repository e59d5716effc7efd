//! The same Codex turns read straight from `codex app-server` and through baton, alternating
//! run by run on one process each: a 20k-delta turn (relay cost), time to the first streamed
//! token, and `thread/start` on an already running codex.

use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use crate::env::{Env, delta_text, median, ms, percentile};
use crate::proc::Proc;

const TIMEOUT: Duration = Duration::from_secs(300);

/// What one side of the comparison speaks.
pub struct Side {
    pub p: Proc,
    pub baton: bool,
}

pub struct Turn {
    pub first_delta: Duration,
    pub done: Duration,
    /// The agent's deltas that arrived, counted by their text: the flood's deltas are one
    /// character each, and baton joins deltas it reads together into one event.
    pub deltas: usize,
    /// The delta messages that carried them.
    pub messages: usize,
}

impl Side {
    pub fn direct(env: &Env) -> Result<Side> {
        let mut p = Proc::spawn("codex app-server", &mut env.codex_app_server())?;
        p.call(
            "initialize",
            json!({"clientInfo": {"name": "baton-bench", "title": "baton-bench", "version": "0"},
                   "capabilities": {"experimentalApi": true}}),
            TIMEOUT,
        )?;
        p.notify("initialized", json!({}))?;
        Ok(Side { p, baton: false })
    }

    pub fn baton(env: &Env) -> Result<Side> {
        let db = env.tmp.join("relay.db");
        let mut p = Proc::spawn("baton", &mut env.baton(&db, &[]))?;
        p.call("initialize", crate::cold::baton_params(), TIMEOUT)?;
        Ok(Side { p, baton: true })
    }

    /// Starts a thread; returns its id and the round trip.
    pub fn thread(&mut self, cwd: &str) -> Result<(String, Duration)> {
        // The same settings on both sides: codex does more per turn under `untrusted` (baton's
        // default) than under `never`, which would be charged to baton.
        let mut params = json!({"cwd": cwd, "approvalPolicy": "never", "sandbox": "read-only"});
        if self.baton {
            params["provider"] = json!("codex");
        }
        let (r, t) = self.p.call("thread/start", params, TIMEOUT)?;
        let id = r
            .pointer("/thread/id")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("thread/start without an id: {r}"))?;
        self.p.drain();
        Ok((id.to_string(), t))
    }

    /// What marks a delta line and a turn's end on this side.
    pub fn markers(&self) -> (&'static str, &'static str) {
        if self.baton {
            ("\"type\":\"content.delta\"", "\"type\":\"turn.completed\"")
        } else {
            (
                "\"method\":\"item/agentMessage/delta\"",
                "\"method\":\"turn/completed\"",
            )
        }
    }

    /// Runs one turn and times it from the moment `turn/start` was written.
    pub fn turn(&mut self, thread: &str, text: &str) -> Result<Turn> {
        let (delta, done) = self.markers();
        let (_, t0) = self.p.request(
            "turn/start",
            json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
        )?;
        let mut first: Option<Instant> = None;
        let (mut deltas, mut messages) = (0usize, 0usize);
        let end = self.p.wait(TIMEOUT, |l| {
            if l.text.contains(delta) {
                deltas += delta_text(&l.text).map_or(0, |t| t.chars().count());
                messages += 1;
                first.get_or_insert(l.at);
                return false;
            }
            l.text.contains(done)
        })?;
        Ok(Turn {
            first_delta: first.map(|f| f - t0).unwrap_or_default(),
            done: end.at - t0,
            deltas,
            messages,
        })
    }
}

pub struct Results {
    pub deltas: usize,
    pub flood_direct: Vec<f64>,
    pub flood_baton: Vec<f64>,
    pub counted_direct: usize,
    pub counted_baton: usize,
    /// The `content.delta` events of baton's last flood turn.
    pub events_baton: usize,
    pub ttft_direct: Vec<f64>,
    pub ttft_baton: Vec<f64>,
    pub thread_direct: Vec<f64>,
    pub thread_baton: Vec<f64>,
    pub thread_baton_cold: f64,
    /// baton's CPU time (user + system, every thread) per delta of its flood turns, µs.
    pub baton_cpu_us_per_delta: f64,
}

pub fn run(env: &Env, runs: usize, ttft_runs: usize, deltas: usize) -> Result<Results> {
    let cwd = env.work();
    let mut direct = Side::direct(env)?;
    let mut baton = Side::baton(env)?;
    let mut r = Results {
        deltas,
        flood_direct: vec![],
        flood_baton: vec![],
        counted_direct: 0,
        counted_baton: 0,
        events_baton: 0,
        ttft_direct: vec![],
        ttft_baton: vec![],
        thread_direct: vec![],
        thread_baton: vec![],
        thread_baton_cold: 0.0,
        baton_cpu_us_per_delta: 0.0,
    };
    let (mut baton_cpu, mut baton_deltas) = (0.0, 0);
    // The first baton thread spawns codex app-server; every later one reuses it.
    let (_, cold) = baton.thread(&cwd)?;
    r.thread_baton_cold = ms(cold);
    let (_, _) = direct.thread(&cwd)?;
    let text = format!("FLOOD:{deltas}");
    // Warm-up turn on each side (codex loads its model metadata on the first turn).
    for side in [&mut direct, &mut baton] {
        let (t, _) = side.thread(&cwd)?;
        side.turn(&t, "warm up")?;
    }
    for i in 0..runs {
        let order: [&mut Side; 2] = if i % 2 == 0 {
            [&mut direct, &mut baton]
        } else {
            [&mut baton, &mut direct]
        };
        for side in order {
            let (t, start) = side.thread(&cwd)?;
            let cpu_before = crate::proc::cpu_secs(side.p.pid());
            let turn = side.turn(&t, &text)?;
            if side.baton {
                baton_cpu += crate::proc::cpu_secs(side.p.pid()) - cpu_before;
                baton_deltas += turn.deltas;
                r.thread_baton.push(ms(start));
                r.flood_baton.push(ms(turn.done));
                r.counted_baton = turn.deltas;
                r.events_baton = turn.messages;
            } else {
                r.thread_direct.push(ms(start));
                r.flood_direct.push(ms(turn.done));
                r.counted_direct = turn.deltas;
            }
        }
    }
    r.baton_cpu_us_per_delta = baton_cpu * 1e6 / baton_deltas.max(1) as f64;
    let (td, _) = direct.thread(&cwd)?;
    let (tb, _) = baton.thread(&cwd)?;
    for i in 0..ttft_runs {
        let prompt = format!("hello {i}");
        if i % 2 == 0 {
            r.ttft_direct
                .push(ms(direct.turn(&td, &prompt)?.first_delta));
            r.ttft_baton.push(ms(baton.turn(&tb, &prompt)?.first_delta));
        } else {
            r.ttft_baton.push(ms(baton.turn(&tb, &prompt)?.first_delta));
            r.ttft_direct
                .push(ms(direct.turn(&td, &prompt)?.first_delta));
        }
    }
    direct.p.close(Duration::from_secs(2));
    baton.p.close(Duration::from_secs(5));
    Ok(r)
}

fn overhead(base: f64, x: f64) -> String {
    format!("{:+.1}%", (x / base - 1.0) * 100.0)
}

pub fn print(r: &Results, runs: usize, ttft_runs: usize) {
    let (fd, fb) = (median(&r.flood_direct), median(&r.flood_baton));
    println!(
        "\n## Relay: a Codex turn of {} deltas, turn/start -> turn completed ({runs} runs each, alternating, new thread per run)\n",
        r.deltas
    );
    println!("| read | median ms | min ms | max ms | deltas seen | deltas/s |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, xs, n) in [
        (
            "codex app-server 0.169.0 directly",
            &r.flood_direct,
            r.counted_direct,
        ),
        ("through baton", &r.flood_baton, r.counted_baton),
    ] {
        let m = median(xs);
        println!(
            "| {name} | {m:.0} | {:.0} | {:.0} | {n} | {:.0} |",
            percentile(xs, 0.0),
            percentile(xs, 100.0),
            n as f64 / (m / 1000.0)
        );
    }
    println!(
        "\nbaton relayed the last flood's {} deltas in {} `content.delta` events (deltas it reads together are joined, after an item's first 32)",
        r.counted_baton, r.events_baton
    );
    println!(
        "baton overhead on the 20k-delta turn: {} (target: within +10%)",
        overhead(fd, fb)
    );
    println!(
        "baton's CPU time per delta of those turns (all threads, user + system): {:.2} µs",
        r.baton_cpu_us_per_delta
    );
    let (td, tb) = (median(&r.ttft_direct), median(&r.ttft_baton));
    println!(
        "\n## Time to first streamed token: turn/start -> first delta ({ttft_runs} turns each, alternating)\n"
    );
    println!("| read | median ms | p90 ms |");
    println!("|---|---:|---:|");
    println!(
        "| codex app-server directly | {td:.1} | {:.1} |",
        percentile(&r.ttft_direct, 90.0)
    );
    println!(
        "| through baton | {tb:.1} | {:.1} |",
        percentile(&r.ttft_baton, 90.0)
    );
    println!("\noverhead: {} (target: <= 5%)", overhead(td, tb));
    println!(
        "\n## New thread on an already running codex: `thread/start` round trip ({runs} each)\n"
    );
    println!("| read | median ms | max ms |");
    println!("|---|---:|---:|");
    println!(
        "| codex app-server directly (`thread/start`) | {:.1} | {:.1} |",
        median(&r.thread_direct),
        percentile(&r.thread_direct, 100.0)
    );
    println!(
        "| baton `thread/start` (codex running) | {:.1} | {:.1} |",
        median(&r.thread_baton),
        percentile(&r.thread_baton, 100.0)
    );
    println!(
        "| baton `thread/start`, first (spawns codex app-server) | {:.1} | |",
        r.thread_baton_cold
    );
    println!("\ntarget: a new thread on a running codex ready in <= 20 ms");
}
