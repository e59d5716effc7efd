//! `baton-bench`: prints the tables of BENCHMARKS.md. Run it through `scripts/bench`, which
//! builds the release binaries first.
//!
//! Every comparison runs its peers side by side in the same run, alternating, and reports
//! medians. `baton-bench app-server` is the no-op provider of the micro benchmark.

// This program's output is its report.
#![allow(clippy::print_stdout)]

mod cold;
mod concurrent;
mod env;
mod fake_codex;
mod memory;
mod micro;
mod proc;
mod relay;
mod scale;

use anyhow::Result;

struct Args {
    runs: usize,
    only: Vec<String>,
    deltas: usize,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        runs: 10,
        only: vec![],
        deltas: 20_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => args.runs = it.next().unwrap_or_default().parse()?,
            "--deltas" => args.deltas = it.next().unwrap_or_default().parse()?,
            "--only" => {
                args.only = it
                    .next()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::to_string)
                    .collect()
            }
            other => anyhow::bail!(
                "unknown argument {other}; usage: baton-bench [--runs N] [--deltas N] \
                 [--only cold,relay,concurrent,micro,scale,memory]"
            ),
        }
    }
    Ok(args)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .unwrap_or(0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores available, {:.0} GiB RAM, Linux {}",
        mem as f64 / 1024.0 / 1024.0,
        kernel.trim()
    )
}

fn main() -> Result<()> {
    if std::env::args().nth(1).as_deref() == Some("app-server") {
        return fake_codex::run();
    }
    let args = parse_args()?;
    let want = |s: &str| args.only.is_empty() || args.only.iter().any(|o| o == s);
    let env = env::Env::new()?;
    println!("# baton benchmarks\n");
    println!("machine: {}", machine());
    println!(
        "baton {} (release), codex {}, claude {}; --runs {}",
        env!("CARGO_PKG_VERSION"),
        env.codex.display(),
        env.claude.display(),
        args.runs
    );
    if want("cold") {
        let rows = cold::run(&env, args.runs * 2)?;
        cold::print(&rows, args.runs * 2);
    }
    if want("relay") {
        // A flood turn takes about a second and a first token 40 ms, against run-to-run swings
        // of 10-20% on a shared machine: many samples are cheap and keep the medians steady.
        let (floods, ttft) = (args.runs * 2, args.runs * 8);
        let r = relay::run(&env, floods, ttft, args.deltas)?;
        relay::print(&r, floods, ttft);
    }
    if want("concurrent") {
        // Each run streams for ~3 s on both sides; a few runs keep the whole bench short.
        let runs = args.runs.div_ceil(2).max(3);
        let r = concurrent::run(&env, runs, 4)?;
        concurrent::print(&r, runs);
    }
    if want("micro") {
        // BENCH_MICRO_BURST: a smaller burst, for runs under valgrind (instruction counts).
        let burst = std::env::var("BENCH_MICRO_BURST")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(100_000);
        let r = micro::run(&env, args.runs.max(3), burst, 5_000, 2_000)?;
        micro::print(&r);
    }
    if want("scale") {
        let r = scale::run(&env, args.runs)?;
        scale::print(&r, args.runs);
    }
    if want("memory") {
        memory::run_and_print(&env, 20, 50)?;
    }
    Ok(())
}
