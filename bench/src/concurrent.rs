//! Several threads streaming at once, the way a laptop runs a few agents side by side: `threads`
//! Codex threads on one `codex app-server` each run a `FLOOD` turn (3000 one-character deltas,
//! 1 ms apart: a fast model) at the same time, read straight from codex and through baton,
//! alternating run by run. Reports the time until every turn completed and what baton's process
//! spent meanwhile.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::json;

use crate::env::{Env, delta_text, median, ms, percentile};
use crate::relay::Side;

const TIMEOUT: Duration = Duration::from_secs(300);
/// The mock's `FLOOD` without a count: 3000 deltas, 1 ms apart.
const PROMPT: &str = "FLOOD";
const DELTAS_PER_TURN: usize = 3000;

pub struct Results {
    pub threads: usize,
    pub wall_direct: Vec<f64>,
    pub wall_baton: Vec<f64>,
    /// baton's CPU time (user + system, every thread) per delta, µs, one value per run.
    pub baton_cpu_us_per_delta: Vec<f64>,
    /// baton's CPU time over the run's wall time, % of one core, one value per run.
    pub baton_core_pct: Vec<f64>,
    /// The `content.delta` events of baton's last run, all threads.
    pub events_baton: usize,
}

/// Starts one turn on each of `threads` new threads at once; returns the time until the last
/// turn completed and the delta messages that carried the deltas, checking every delta arrived
/// (counted by their text).
fn run_side(side: &mut Side, cwd: &str, threads: usize) -> Result<(Duration, usize)> {
    let mut ids = Vec::with_capacity(threads);
    for _ in 0..threads {
        ids.push(side.thread(cwd)?.0);
    }
    let (delta, done) = side.markers();
    let mut t0: Option<Instant> = None;
    for id in &ids {
        let (_, at) = side.p.request(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": PROMPT}]}),
        )?;
        t0.get_or_insert(at);
    }
    let (mut deltas, mut events, mut completed) = (0usize, 0usize, 0usize);
    let end = side.p.wait(TIMEOUT, |l| {
        if l.text.contains(delta) {
            deltas += delta_text(&l.text).map_or(0, |t| t.chars().count());
            events += 1;
            return false;
        }
        completed += usize::from(l.text.contains(done));
        completed == threads
    })?;
    if deltas != threads * DELTAS_PER_TURN {
        bail!(
            "{} saw {deltas} deltas of {}",
            if side.baton { "baton" } else { "codex" },
            threads * DELTAS_PER_TURN
        );
    }
    Ok((end.at - t0.unwrap_or(end.at), events))
}

pub fn run(env: &Env, runs: usize, threads: usize) -> Result<Results> {
    let cwd = env.work();
    let mut direct = Side::direct(env)?;
    let mut baton = Side::baton(env)?;
    // Warm-up on each side: codex loads its model metadata on the first turn, and baton
    // spawns codex app-server at its first thread.
    for side in [&mut direct, &mut baton] {
        let (t, _) = side.thread(&cwd)?;
        side.turn(&t, "warm up")?;
    }
    let mut r = Results {
        threads,
        wall_direct: vec![],
        wall_baton: vec![],
        baton_cpu_us_per_delta: vec![],
        baton_core_pct: vec![],
        events_baton: 0,
    };
    for i in 0..runs {
        let order: [&mut Side; 2] = if i % 2 == 0 {
            [&mut direct, &mut baton]
        } else {
            [&mut baton, &mut direct]
        };
        for side in order {
            let pid = side.p.pid();
            let cpu_before = crate::proc::cpu_secs(pid);
            let (wall, events) = run_side(side, &cwd, threads)?;
            if side.baton {
                let cpu = crate::proc::cpu_secs(pid) - cpu_before;
                r.wall_baton.push(ms(wall));
                r.baton_cpu_us_per_delta
                    .push(cpu * 1e6 / (threads * DELTAS_PER_TURN) as f64);
                r.baton_core_pct
                    .push(cpu * 100.0 / wall.as_secs_f64().max(1e-9));
                r.events_baton = events;
            } else {
                r.wall_direct.push(ms(wall));
            }
        }
    }
    direct.p.close(Duration::from_secs(2));
    baton.p.close(Duration::from_secs(5));
    Ok(r)
}

pub fn print(r: &Results, runs: usize) {
    let n = r.threads * DELTAS_PER_TURN;
    println!(
        "\n## Several threads at once: {} Codex threads each stream a turn of {DELTAS_PER_TURN} deltas 1 ms apart, together ({runs} runs each, alternating)\n",
        r.threads
    );
    println!("| read | median ms until every turn completed | min ms | max ms |");
    println!("|---|---:|---:|---:|");
    for (name, xs) in [
        ("codex app-server 0.169.0 directly", &r.wall_direct),
        ("through baton", &r.wall_baton),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.0} |",
            median(xs),
            percentile(xs, 0.0),
            percentile(xs, 100.0)
        );
    }
    let (d, b) = (median(&r.wall_direct), median(&r.wall_baton));
    println!(
        "\nbaton overhead: {:+.1}% ({} deltas a run, {} `content.delta` events in baton's last run)",
        (b / d - 1.0) * 100.0,
        n,
        r.events_baton
    );
    println!(
        "baton's CPU per delta (all its threads, user + system): median {:.2} µs; baton's process used a median {:.1}% of one core while the {} threads streamed",
        median(&r.baton_cpu_us_per_delta),
        median(&r.baton_core_pct),
        r.threads
    );
}
