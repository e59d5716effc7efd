//! baton's own path, provider line in -> event persisted -> framed bytes out, with a provider
//! that costs nothing ([`crate::fake_codex`]): deltas per second for a burst (baton joins the
//! deltas it reads together, so fewer events carry them), and the latency each delta gains at
//! a steady rate (wall clock at the editor minus wall clock at the provider).

use std::time::Duration;

use anyhow::{Result, anyhow};
use serde_json::{Value, json};

use crate::env::{Env, delta_text, median, percentile};
use crate::proc::{Line, Proc};

const TIMEOUT: Duration = Duration::from_secs(300);

/// The pace of a Codex turn streaming flat out through baton (15-20k deltas/s on the benchmark
/// machine): what baton costs per event when deltas arrive a few at a time, as in the relay,
/// but without codex's own run-to-run swings.
const STEADY_RATE: u64 = 20_000;

/// The provider's stamps in a delta event line (`"delta":"t<ns>;"`, or `"t<ns>;t<ns>;..."`
/// when baton joined deltas it read together).
fn stamps(line: &Line) -> Vec<u128> {
    delta_text(&line.text)
        .into_iter()
        .flat_map(|t| t.split(';'))
        .filter_map(|s| s.strip_prefix('t')?.parse().ok())
        .collect()
}

pub struct Results {
    pub burst: usize,
    pub rates: Vec<f64>,
    /// The `content.delta` events that carried the last burst's deltas.
    pub burst_events: usize,
    /// baton's CPU time per delta over the bursts (user + system, every thread), µs.
    pub cpu_us_per_event: f64,
    pub paced: usize,
    pub per_second: u64,
    pub latencies_us: Vec<f64>,
    /// baton's CPU time per delta at `per_second`, µs: each delta alone, nothing to batch.
    pub paced_cpu_us_per_event: f64,
    /// baton's CPU time per delta at a steady [`STEADY_RATE`] deltas/s, µs.
    pub steady_cpu_us_per_event: f64,
    pub threads: usize,
    pub parallel_rate: f64,
}

fn turn(p: &mut Proc, thread: &str, text: &str) -> Result<(Vec<(u128, u128)>, usize)> {
    p.request(
        "turn/start",
        json!({"threadId": thread, "input": [{"type": "text", "text": text}]}),
    )?;
    collect(p, 1)
}

/// (provider stamp, editor receipt) of every delta until `turns` turns completed, and how many
/// `content.delta` events carried them.
fn collect(p: &mut Proc, turns: usize) -> Result<(Vec<(u128, u128)>, usize)> {
    let mut seen = Vec::new();
    let mut events = 0;
    let mut done = 0;
    p.wait(TIMEOUT, |l| {
        let found = stamps(l);
        if !found.is_empty() {
            events += 1;
            seen.extend(found.into_iter().map(|s| (s, l.wall_ns)));
        } else if l.text.contains("\"type\":\"turn.completed\"") {
            done += 1;
        }
        done == turns
    })?;
    Ok((seen, events))
}

fn rate(seen: &[(u128, u128)]) -> f64 {
    let first = seen.iter().map(|s| s.0).min().unwrap_or(0);
    let last = seen.iter().map(|s| s.1).max().unwrap_or(0);
    seen.len() as f64 / ((last.saturating_sub(first)) as f64 / 1e9)
}

pub fn run(env: &Env, runs: usize, burst: usize, paced: usize, per_second: u64) -> Result<Results> {
    let db = env.tmp.join("micro.db");
    let mut cmd = env.baton(&db, &[]);
    cmd.env("BATON_CODEX_BIN", &env.bench);
    let mut p = Proc::spawn("baton", &mut cmd)?;
    p.call("initialize", crate::cold::baton_params(), TIMEOUT)?;
    let cwd = env.work();
    let start = |p: &mut Proc| -> Result<String> {
        let (r, _) = p.call(
            "thread/start",
            json!({"provider": "codex", "cwd": cwd}),
            TIMEOUT,
        )?;
        r.pointer("/thread/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| anyhow!("no thread id"))
    };
    let thread = start(&mut p)?;
    turn(&mut p, &thread, "BURST 1000")?;
    let mut rates = Vec::new();
    let mut burst_events = 0;
    let cpu_before = crate::proc::cpu_secs(p.pid());
    for _ in 0..runs {
        let (seen, events) = turn(&mut p, &thread, &format!("BURST {burst}"))?;
        burst_events = events;
        if seen.len() != burst {
            return Err(anyhow!("saw {} of {burst} deltas", seen.len()));
        }
        rates.push(rate(&seen));
    }
    let cpu_us_per_event =
        (crate::proc::cpu_secs(p.pid()) - cpu_before) * 1e6 / (runs * burst).max(1) as f64;
    let cpu_before = crate::proc::cpu_secs(p.pid());
    let (seen, _) = turn(&mut p, &thread, &format!("PACED {paced} {per_second}"))?;
    let paced_cpu_us_per_event =
        (crate::proc::cpu_secs(p.pid()) - cpu_before) * 1e6 / seen.len().max(1) as f64;
    let latencies_us = seen
        .iter()
        .map(|(s, r)| r.saturating_sub(*s) as f64 / 1000.0)
        .collect();
    let cpu_before = crate::proc::cpu_secs(p.pid());
    let (steady, _) = turn(
        &mut p,
        &thread,
        &format!("PACED {STEADY_RATE} {STEADY_RATE}"),
    )?;
    let steady_cpu_us_per_event =
        (crate::proc::cpu_secs(p.pid()) - cpu_before) * 1e6 / steady.len().max(1) as f64;
    // Several threads streaming at once.
    let threads = 4;
    let ids: Vec<String> = (0..threads).map(|_| start(&mut p)).collect::<Result<_>>()?;
    for id in &ids {
        p.request(
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": format!("BURST {}", burst / threads)}]}),
        )?;
    }
    let (seen, _) = collect(&mut p, threads)?;
    let parallel_rate = rate(&seen);
    p.close(Duration::from_secs(5));
    Ok(Results {
        burst,
        rates,
        burst_events,
        cpu_us_per_event,
        paced,
        per_second,
        latencies_us,
        paced_cpu_us_per_event,
        steady_cpu_us_per_event,
        threads,
        parallel_rate,
    })
}

pub fn print(r: &Results) {
    println!(
        "\n## baton's own path: provider line in -> persisted -> framed bytes out (no-op provider, persistence on)\n"
    );
    println!("| measure | value |");
    println!("|---|---:|");
    println!(
        "| burst of {} deltas on one thread, median of {} | {:.0} deltas/s |",
        r.burst,
        r.rates.len(),
        median(&r.rates)
    );
    println!(
        "| `content.delta` events that carried the last burst | {} |",
        r.burst_events
    );
    println!(
        "| baton's CPU time per delta in those bursts (all threads, user + system) | {:.2} µs |",
        r.cpu_us_per_event
    );
    println!(
        "| {} threads bursting {} deltas each at once | {:.0} deltas/s |",
        r.threads,
        r.burst / r.threads,
        r.parallel_rate
    );
    println!(
        "| added latency at {}/s ({} deltas): p50 | {:.0} µs |",
        r.per_second,
        r.paced,
        median(&r.latencies_us)
    );
    println!("| p99 | {:.0} µs |", percentile(&r.latencies_us, 99.0));
    println!("| max | {:.0} µs |", percentile(&r.latencies_us, 100.0));
    println!(
        "| baton's CPU time per delta at {}/s (each delta alone) | {:.2} µs |",
        r.per_second, r.paced_cpu_us_per_event
    );
    println!(
        "| baton's CPU time per delta at a steady {STEADY_RATE}/s ({STEADY_RATE} deltas, the relay's pace) | {:.2} µs |",
        r.steady_cpu_us_per_event
    );
    println!(
        "\ntargets: >= 200k events/s (here: the provider's deltas, each a line in), p99 added latency <= 1 ms"
    );
}
