//! The environment every benchmark runs in: release binaries of this workspace, the pinned CLIs,
//! the mock model on 127.0.0.1, and private HOME/CODEX_HOME directories under one temp dir.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};

pub struct Env {
    pub tmp: PathBuf,
    pub baton: PathBuf,
    pub bench: PathBuf,
    pub codex: PathBuf,
    pub claude: PathBuf,
    pub codex_acp: Option<PathBuf>,
    pub claude_acp: Option<PathBuf>,
    pub home: PathBuf,
    pub codex_home: PathBuf,
    pub work: PathBuf,
    pub port: u16,
    _mock: MockModel,
}

/// The mock-model binary; killed on drop.
struct MockModel(std::process::Child);

impl Drop for MockModel {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn existing(p: PathBuf) -> Option<PathBuf> {
    p.exists().then_some(p)
}

impl Env {
    pub fn new() -> Result<Env> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .ok_or_else(|| anyhow!("no workspace root"))?
            .to_path_buf();
        let release = root.join("target/release");
        let bin = root.join(".tools/npm/node_modules/.bin");
        let pick = |var: &str, default: PathBuf| {
            std::env::var_os(var).map(PathBuf::from).unwrap_or(default)
        };
        let codex = pick("BATON_CODEX_BIN", bin.join("codex"));
        let claude = pick("BATON_CLAUDE_BIN", bin.join("claude"));
        for p in [&codex, &claude] {
            if !p.exists() {
                bail!("{} is missing: run scripts/install-tools", p.display());
            }
        }
        let tmp = std::env::temp_dir().join(format!("baton-bench-{}", std::process::id()));
        let (home, codex_home, work) = (tmp.join("home"), tmp.join("codex_home"), tmp.join("work"));
        for d in [&home, &codex_home, &work] {
            std::fs::create_dir_all(d)?;
        }
        let mut mock = Command::new(release.join("mock-model"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot start target/release/mock-model")?;
        let mut first = String::new();
        let stdout = mock.stdout.take().ok_or_else(|| anyhow!("mock stdout"))?;
        std::io::BufReader::new(stdout).read_line(&mut first)?;
        let v: serde_json::Value = serde_json::from_str(&first)?;
        let port = v
            .get("port")
            .and_then(serde_json::Value::as_u64)
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| anyhow!("mock-model did not say its port"))?;
        std::fs::write(
            codex_home.join("config.toml"),
            format!(
                "model = \"mock-model\"\nmodel_provider = \"mock\"\napproval_policy = \"never\"\n\
                 sandbox_mode = \"read-only\"\ncheck_for_update_on_startup = false\n\
                 [analytics]\nenabled = false\n[model_providers.mock]\nname = \"mock\"\n\
                 base_url = \"http://127.0.0.1:{port}/v1\"\nwire_api = \"responses\"\n\
                 request_max_retries = 0\nstream_max_retries = 0\n"
            ),
        )?;
        let acp = root.join(".tools");
        Ok(Env {
            baton: std::env::var_os("BATON_BENCH_BATON")
                .map(PathBuf::from)
                .unwrap_or_else(|| release.join("baton")),
            bench: release.join("baton-bench"),
            codex,
            claude,
            codex_acp: existing(
                acp.join("bench/node_modules/@zed-industries/codex-acp-linux-x64/bin/codex-acp"),
            ),
            claude_acp: existing(acp.join("acp/bin/claude-agent-acp")),

            tmp,
            home,
            codex_home,
            work,
            port,
            _mock: MockModel(mock),
        })
    }

    /// Environment of every child: private HOME and CODEX_HOME, the model on 127.0.0.1.
    pub fn apply(&self, cmd: &mut Command) {
        for var in ["ANTHROPIC_AUTH_TOKEN", "CLAUDE_CONFIG_DIR", "RUST_LOG"] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", &self.home)
            .env("CODEX_HOME", &self.codex_home)
            .env(
                "ANTHROPIC_BASE_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("ANTHROPIC_API_KEY", "dummy")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("CLAUDE_CODE_MAX_RETRIES", "0");
    }

    /// `baton` on `db`, with both CLIs installed.
    pub fn baton(&self, db: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(&self.baton);
        self.apply(&mut cmd);
        cmd.args(["--log-level", "error", "--db"])
            .arg(db)
            .args(extra)
            .env("BATON_CODEX_BIN", &self.codex)
            .env("BATON_CLAUDE_BIN", &self.claude);
        cmd
    }

    pub fn codex_app_server(&self) -> Command {
        let mut cmd = Command::new(&self.codex);
        self.apply(&mut cmd);
        cmd.arg("app-server");
        cmd
    }

    pub fn work(&self) -> String {
        self.work.display().to_string()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// The text of a delta line's `"delta":"..."`, up to its closing quote: the benchmarks' deltas
/// (flood characters, time stamps) need no escapes. The same cheap scan for codex's lines and
/// baton's notifications.
pub fn delta_text(line: &str) -> Option<&str> {
    const KEY: &str = "\"delta\":\"";
    let rest = &line[line.find(KEY)? + KEY.len()..];
    Some(&rest[..rest.find('"')?])
}

pub fn median(xs: &[f64]) -> f64 {
    percentile(xs, 50.0)
}

pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}

pub fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
