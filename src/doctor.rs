//! `baton doctor`: a human-readable report of what baton finds on this machine.

// This subcommand talks to a person on a terminal, not to an editor: stdout is its output.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::Cli;

pub async fn run(cli: &Cli) -> u8 {
    let mut problems = 0;
    println!("baton {}", env!("CARGO_PKG_VERSION"));
    let config = crate::config::Config::load(cli.config.as_deref());
    let providers = crate::provider::Providers::with_config(
        crate::provider_settings(cli, &config, Arc::new(AtomicBool::new(false))),
        config.clone(),
    );
    println!("\nConfig:");
    match &config.path {
        Some(p) => println!("  {}", p.display()),
        None => println!("  (none: built-in providers only)"),
    }
    for e in &config.errors {
        println!("  problem: {e}");
        problems += 1;
    }
    // ACP agents tell their version only by running: start each once.
    let failed = providers.probe_acp().await;
    println!("\nProviders:");
    for mut p in providers.list().await {
        if let Some((_, e)) = failed.iter().find(|(id, _)| *id == p.id) {
            p.available = false;
            p.error = Some(e.clone());
        }
        let status = if p.available { "ok" } else { "unavailable" };
        println!(
            "  {:<10} {:<12} version {:<10} {}",
            p.id.as_str(),
            status,
            p.version.as_deref().unwrap_or("-"),
            p.path.as_deref().unwrap_or("-"),
        );
        if let Some(e) = &p.error {
            println!("             problem: {e}");
            // codex is the default provider; a configured ACP agent that fails was asked for.
            if p.id == baton_protocol::ProviderId::CODEX
                || p.kind == baton_protocol::ProviderKind::Acp
            {
                problems += 1;
            }
        }
    }
    println!("\nDatabase:");
    match crate::db_path(cli) {
        None => {
            println!("  problem: no database path (set --db, BATON_DB, XDG_DATA_HOME or HOME)");
            problems += 1;
        }
        Some(path) => match crate::store::Store::open(&path) {
            Ok(store) => match store.list_threads(None, 500, None).await {
                Ok((threads, more)) => println!(
                    "  {}  ok, {}{} threads",
                    path.display(),
                    threads.len(),
                    if more.is_some() { "+" } else { "" }
                ),
                Err(e) => {
                    println!("  {}  problem: {e}", path.display());
                    problems += 1;
                }
            },
            Err(e) => {
                println!("  {}  problem: cannot open: {e}", path.display());
                problems += 1;
            }
        },
    }
    if problems == 0 {
        println!("\nNo problems found.");
        0
    } else {
        println!("\n{problems} problem(s) found.");
        1
    }
}
