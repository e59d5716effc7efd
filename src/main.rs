//! `baton`: a JSON-RPC sidecar through which any editor drives coding agents.
//!
//! With no subcommand it serves one editor over stdin/stdout (LSP `Content-Length` framing, or
//! newline-delimited JSON when the first byte is `{`). stdout carries the protocol only; logs go
//! to stderr and optionally to a file.

mod acp;
mod cli;
mod config;
mod doctor;
mod editor;
mod follow;
mod json;
mod provider;
mod rpc;
mod scan;
mod server;
mod session;
mod stdio;
mod store;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Command line of `baton`.
#[derive(Debug, Parser)]
#[command(
    name = "baton",
    version,
    about = "A JSON-RPC sidecar that lets any editor drive coding agents."
)]
struct Cli {
    /// SQLite database of threads and events (default: $XDG_DATA_HOME/baton/baton.db).
    #[arg(long, env = "BATON_DB", global = true)]
    db: Option<PathBuf>,
    /// Log level for stderr (overridden by RUST_LOG).
    #[arg(long, default_value = "info", global = true)]
    log_level: String,
    /// Also append logs to this file.
    #[arg(long, global = true)]
    log_file: Option<PathBuf>,
    /// Soft-stop provider sessions idle for this many seconds (0 = never).
    #[arg(long, default_value_t = 1800, global = true)]
    idle_timeout: u64,
    /// Live provider sessions kept at most; beyond it the least recently used idle ones are
    /// soft-stopped (resumed on their next turn). 0 = no limit. Default: the config file's
    /// `max_live_sessions`, else 8.
    #[arg(long, global = true)]
    max_live_sessions: Option<usize>,
    /// Fail a running turn whose provider sent nothing for this many seconds (0 = never).
    #[arg(long, default_value_t = 600, global = true)]
    turn_inactivity_timeout: u64,
    /// The codex binary (default: `codex` on PATH).
    #[arg(long, env = "BATON_CODEX_BIN", global = true)]
    codex_bin: Option<String>,
    /// The claude binary (default: `claude` on PATH).
    #[arg(long, env = "BATON_CLAUDE_BIN", global = true)]
    claude_bin: Option<String>,
    /// The config file (default: $XDG_CONFIG_HOME/baton/config.toml, else ~/.config/baton/config.toml).
    #[arg(long, env = "BATON_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Largest JSON-RPC message accepted from the editor or a provider, in bytes; a bigger
    /// request is answered with an error (-32600) and skipped.
    #[arg(long, env = "BATON_MAX_MESSAGE_BYTES", default_value_t = rpc::DEFAULT_MAX_MESSAGE_BYTES, global = true)]
    max_message_bytes: usize,
    /// Accepted for editors that pass it to every language server (vscode-languageclient); stdio is the only transport.
    #[arg(long, hide = true)]
    stdio: bool,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Report the providers found, the database, and any problem; exit 1 on problems.
    Doctor,
    /// Run one turn and render it for a person (approvals are asked on the terminal).
    Exec {
        /// A provider id (for a new thread, default: the config's default_provider, else codex;
        /// with --thread, switches the thread).
        #[arg(long)]
        provider: Option<String>,
        #[arg(long)]
        model: Option<String>,
        /// Working directory of a new thread (default: the current directory).
        #[arg(long)]
        cwd: Option<String>,
        /// Continue this thread.
        #[arg(long)]
        thread: Option<String>,
        /// Print the raw events as JSON lines.
        #[arg(long)]
        json: bool,
        prompt: String,
    },
    /// An offline tour: a scripted model on 127.0.0.1 and the real codex and claude CLIs.
    Demo,
    /// Serve one Agent Client Protocol client on stdio (Zed, JetBrains, CodeCompanion, avante…):
    /// baton's threads, providers and handoff behind ACP.
    Acp {
        /// The provider new sessions start on (default: BATON_DEFAULT_PROVIDER, else the config's
        /// default_provider, else codex).
        #[arg(long)]
        provider: Option<String>,
    },
}

fn init_logging(cli: &Cli) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cli.log_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false);
    match &cli.log_file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            builder
                .with_writer(std::io::stderr.and(Arc::new(file)))
                .try_init()
                .map_err(|e| anyhow::anyhow!("{e}"))
        }
        None => builder
            .with_writer(std::io::stderr)
            .try_init()
            .map_err(|e| anyhow::anyhow!("{e}")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    rpc::set_max_message_bytes(cli.max_message_bytes);
    if let Err(e) = init_logging(&cli) {
        // Logging is not up, so this is the one place that reports on stderr directly.
        #[allow(clippy::print_stderr)]
        {
            eprintln!("baton: cannot set up logging: {e:#}");
        }
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async {
        match &cli.command {
            Some(Sub::Doctor) => doctor::run(&cli).await,
            Some(Sub::Exec {
                provider,
                model,
                cwd,
                thread,
                json,
                prompt,
            }) => {
                let args = cli::exec::ExecArgs {
                    provider: provider.clone(),
                    model: model.clone(),
                    cwd: cwd.clone(),
                    thread: thread.clone(),
                    json: *json,
                    prompt: prompt.clone(),
                };
                cli::exec::run(server_args(&cli), args).await
            }
            Some(Sub::Demo) => cli::demo::run(cli.codex_bin.clone(), cli.claude_bin.clone()).await,
            Some(Sub::Acp { provider }) => serve_acp(&cli, provider.clone()).await,
            None => serve(&cli).await,
        }
    });
    // Provider processes still running are killed when their handles drop with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    ExitCode::from(code)
}

/// The global flags a child server started by `exec` inherits.
fn server_args(cli: &Cli) -> Vec<String> {
    let mut args = vec![
        "--log-level".to_string(),
        "warn".to_string(),
        "--max-message-bytes".to_string(),
        cli.max_message_bytes.to_string(),
    ];
    if let Some(db) = &cli.db {
        args.extend(["--db".to_string(), db.display().to_string()]);
    }
    if let Some(b) = &cli.codex_bin {
        args.extend(["--codex-bin".to_string(), b.clone()]);
    }
    if let Some(b) = &cli.claude_bin {
        args.extend(["--claude-bin".to_string(), b.clone()]);
    }
    if let Some(c) = &cli.config {
        args.extend(["--config".to_string(), c.display().to_string()]);
    }
    args
}

fn db_path(cli: &Cli) -> Option<PathBuf> {
    cli.db.clone().or_else(store::Store::default_path)
}

/// The provider settings: `--codex-bin`/`--claude-bin` (and their env vars) win over the config
/// file's `command`, whose further arguments and `env` apply either way.
fn provider_settings(
    cli: &Cli,
    config: &config::Config,
    include_raw: Arc<AtomicBool>,
) -> provider::ProviderSettings {
    let entry = |id: baton_protocol::ProviderId| config.providers.get(&id);
    let program = |id| {
        entry(id)
            .and_then(|e| e.command.as_ref())
            .and_then(|c| c.first().cloned())
    };
    provider::ProviderSettings {
        codex_bin: cli
            .codex_bin
            .clone()
            .or_else(|| program(baton_protocol::ProviderId::codex())),
        claude_bin: cli
            .claude_bin
            .clone()
            .or_else(|| program(baton_protocol::ProviderId::claude())),
        codex_extra: provider::ChildExtra::from_entry(entry(baton_protocol::ProviderId::codex())),
        claude_extra: provider::ChildExtra::from_entry(entry(baton_protocol::ProviderId::claude())),
        process_idle_timeout: Duration::from_secs(cli.idle_timeout.max(1)),
        include_raw,
    }
}

/// The store (recovered) and providers, as `baton` and `baton acp` both serve them.
async fn server_config(cli: &Cli) -> Option<(server::ServerConfig, PathBuf)> {
    let Some(path) = db_path(cli) else {
        tracing::error!("no database path: set --db, BATON_DB, XDG_DATA_HOME or HOME");
        return None;
    };
    let store = match store::Store::open(&path) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(path = %path.display(), "cannot open the database: {e}");
            return None;
        }
    };
    // Queued first, answered later: every store command of the server comes after it, so the
    // server can start while it runs (nothing waits for it but the log line).
    let recovery = store.recover(store::Holder::current(None));
    tokio::spawn(async move {
        match recovery.await {
            Ok(recovered) if !recovered.is_empty() => {
                tracing::info!(
                    threads = recovered.len(),
                    "recovered threads left running by a previous baton"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::error!("recovery failed: {e}"),
        }
    });
    let include_raw = Arc::new(AtomicBool::new(false));
    let file = config::Config::load(cli.config.as_deref());
    if let Some(p) = &file.path {
        tracing::info!(config = %p.display(), providers = file.providers.len(), "config read");
    }
    for e in &file.errors {
        tracing::warn!("config: {e}");
    }
    let max_live_sessions = cli
        .max_live_sessions
        .or(file.max_live_sessions)
        .unwrap_or(8);
    let config = server::ServerConfig {
        store,
        providers: provider::Providers::with_config(
            provider_settings(cli, &file, include_raw.clone()),
            file,
        ),
        include_raw,
        idle_timeout: Duration::from_secs(cli.idle_timeout),
        max_live_sessions,
        turn_inactivity_timeout: Duration::from_secs(cli.turn_inactivity_timeout),
    };
    Some((config, path))
}

async fn serve(cli: &Cli) -> u8 {
    let Some((config, path)) = server_config(cli).await else {
        return 1;
    };
    tracing::info!(db = %path.display(), version = env!("CARGO_PKG_VERSION"), "baton serving on stdio");
    let code = server::run(config, stdio::input(), stdio::output()).await;
    u8::try_from(code).unwrap_or(1)
}

/// `baton acp`: the same server, in-process, behind an ACP translator on stdio.
async fn serve_acp(cli: &Cli, provider: Option<String>) -> u8 {
    let Some((config, path)) = server_config(cli).await else {
        return 1;
    };
    let configured = config.providers.config().default_provider.to_string();
    let default_provider = acp::default_provider(provider, &configured);
    tracing::info!(db = %path.display(), %default_provider, version = env!("CARGO_PKG_VERSION"), "baton serving ACP on stdio");
    let code = acp::run(config, default_provider).await;
    u8::try_from(code).unwrap_or(1)
}
