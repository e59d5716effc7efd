//! The config file: which providers baton offers and how each is run.
//!
//! `$XDG_CONFIG_HOME/baton/config.toml`, else `~/.config/baton/config.toml`, or `--config PATH`:
//!
//! ```toml
//! default_provider = "codex"
//! max_live_sessions = 8
//!
//! [providers.codex]                 # override a built-in: binary, leading args, env
//! command = ["/opt/codex/bin/codex"]
//!
//! [providers.gemini]                # any ACP agent
//! kind = "acp"
//! command = ["gemini", "--acp"]
//! env = { GEMINI_API_KEY = "..." }
//! fs = { read_text_file = false }   # client capabilities advertised to the agent
//! ```
//!
//! A file that cannot be read or parsed, or an entry that is wrong, never stops baton: each problem
//! becomes a [`ConfigError`] naming the file, line and key, and baton starts with every provider
//! that is valid (the built-in `codex` and `claude` always exist). `initializationOptions.providers`
//! (same shape, as JSON) adds or overrides entries for one editor session ([`Config::overlay`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use baton_protocol::{ProviderId, ProviderKind};
use serde::Deserialize;

/// One problem found in the config, as shown by the log, `provider/list`, `baton doctor` and
/// `:checkhealth baton`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `initializationOptions`) the problem is in.
    pub source: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key at fault, e.g. `providers.gemini.command`.
    pub key: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Which client capabilities baton advertises to an ACP agent (`fs.readTextFile` must be off for
/// Gemini CLI, which then cannot create files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FsCapabilities {
    pub read_text_file: bool,
    pub write_text_file: bool,
}

impl Default for FsCapabilities {
    fn default() -> Self {
        FsCapabilities {
            read_text_file: true,
            write_text_file: true,
        }
    }
}

/// How one provider id is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEntry {
    pub id: ProviderId,
    pub kind: ProviderKind,
    /// The program and its leading arguments. For `codex` and `claude` baton appends its own
    /// arguments (`app-server`, `-p …`); `None` means the default binary found on PATH.
    pub command: Option<Vec<String>>,
    /// Extra environment for the process (on top of baton's own).
    pub env: BTreeMap<String, String>,
    pub fs: FsCapabilities,
}

impl ProviderEntry {
    /// The built-in entry of `codex` or `claude`.
    pub fn builtin(kind: ProviderKind) -> Self {
        let id = match kind {
            ProviderKind::Claude => ProviderId::claude(),
            ProviderKind::Codex | ProviderKind::Acp => ProviderId::codex(),
        };
        ProviderEntry {
            id,
            kind,
            command: None,
            env: BTreeMap::new(),
            fs: FsCapabilities::default(),
        }
    }
}

/// The raw shape of a `[providers.<id>]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    kind: Option<ProviderKind>,
    command: Option<Vec<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    fs: FsCapabilities,
}

/// Everything the config says, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The file that was read, if any.
    pub path: Option<PathBuf>,
    pub default_provider: ProviderId,
    /// Soft-stop the least recently used idle sessions beyond this many live ones.
    pub max_live_sessions: Option<usize>,
    /// Every provider, built-ins first, then the declared ids in order.
    pub providers: BTreeMap<ProviderId, ProviderEntry>,
    pub errors: Vec<ConfigError>,
}

impl Default for Config {
    fn default() -> Self {
        let mut providers = BTreeMap::new();
        for kind in [ProviderKind::Codex, ProviderKind::Claude] {
            let e = ProviderEntry::builtin(kind);
            providers.insert(e.id.clone(), e);
        }
        Config {
            path: None,
            default_provider: ProviderId::codex(),
            max_live_sessions: None,
            providers,
            errors: Vec::new(),
        }
    }
}

impl Config {
    /// The default location: `$XDG_CONFIG_HOME/baton/config.toml`, else `~/.config/baton/config.toml`.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".config"))
            })?;
        Some(base.join("baton").join("config.toml"))
    }

    /// Loads `explicit`, else the default path. A missing default file is no error; a missing
    /// explicit one is.
    pub fn load(explicit: Option<&Path>) -> Config {
        let (path, must_exist) = match explicit {
            Some(p) => (Some(p.to_path_buf()), true),
            None => (Self::default_path(), false),
        };
        let Some(path) = path else {
            return Config::default();
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => Config::parse(&text, &path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Config::default(),
            Err(e) => Config {
                path: Some(path.clone()),
                errors: vec![ConfigError {
                    source: path.display().to_string(),
                    line: None,
                    key: None,
                    message: format!("cannot read the config file: {e}"),
                }],
                ..Config::default()
            },
        }
    }

    /// Parses the text of a config file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Config {
        let source = path.display().to_string();
        let mut config = Config {
            path: Some(path.to_path_buf()),
            ..Config::default()
        };
        let table: toml::Spanned<toml::Table> = match toml::from_str(text) {
            Ok(t) => t,
            Err(e) => {
                config.errors.push(ConfigError {
                    source,
                    line: e.span().map(|s| line_of(text, s.start)),
                    key: None,
                    message: e.message().to_string(),
                });
                return config;
            }
        };
        let spans = KeySpans::new(text);
        let err = |key: &str, message: String| ConfigError {
            source: source.clone(),
            line: spans.line(key),
            key: Some(key.to_string()),
            message,
        };
        let mut default_provider = None;
        for (key, value) in table.into_inner() {
            match key.as_str() {
                "default_provider" => match value.as_str().and_then(ProviderId::parse) {
                    Some(id) => default_provider = Some(id),
                    None => config.errors.push(err(
                        "default_provider",
                        "expected a provider id (a string such as \"codex\")".into(),
                    )),
                },
                "max_live_sessions" => match value.as_integer() {
                    Some(n) if n >= 1 => config.max_live_sessions = usize::try_from(n).ok(),
                    _ => config.errors.push(err(
                        "max_live_sessions",
                        "expected a positive integer".into(),
                    )),
                },
                "providers" => match value {
                    toml::Value::Table(providers) => {
                        for (id, entry) in providers {
                            let key = format!("providers.{id}");
                            match entry_from(&id, entry.try_into()) {
                                Ok(e) => {
                                    config.providers.insert(e.id.clone(), e);
                                }
                                Err((sub, message)) => {
                                    let key = sub.map_or(key.clone(), |s| format!("{key}.{s}"));
                                    let line = spans
                                        .line(&key)
                                        .or_else(|| spans.line(&format!("providers.{id}")));
                                    config.errors.push(ConfigError {
                                        line,
                                        ..err(&key, message)
                                    });
                                }
                            }
                        }
                    }
                    _ => config
                        .errors
                        .push(err("providers", "expected a table of providers".into())),
                },
                other => config
                    .errors
                    .push(err(other, format!("unknown key `{other}`"))),
            }
        }
        // Errors in file order, as a person reads the file.
        config.errors.sort_by_key(|e| e.line.unwrap_or(usize::MAX));
        if let Some(id) = default_provider {
            if config.providers.contains_key(&id) {
                config.default_provider = id;
            } else {
                config.errors.push(err(
                    "default_provider",
                    format!("`{id}` is not a configured provider; using codex"),
                ));
            }
        }
        config
    }

    /// Adds or overrides entries from `initializationOptions.providers` (a JSON object of the same
    /// shape as the file's `[providers]` table), for one editor session. Bad entries are reported
    /// and skipped.
    pub fn overlay(&self, providers: &serde_json::Value) -> Config {
        let mut config = self.clone();
        let source = "initializationOptions.providers".to_string();
        let Some(map) = providers.as_object() else {
            config.errors.push(ConfigError {
                source,
                line: None,
                key: None,
                message: "expected an object of providers".into(),
            });
            return config;
        };
        for (id, entry) in map {
            let raw = serde_json::from_value::<RawEntry>(entry.clone()).map_err(|e| e.to_string());
            match entry_from(id, raw) {
                Ok(e) => {
                    config.providers.insert(e.id.clone(), e);
                }
                Err((sub, message)) => config.errors.push(ConfigError {
                    source: source.clone(),
                    line: None,
                    key: Some(sub.map_or(id.clone(), |s| format!("{id}.{s}"))),
                    message,
                }),
            }
        }
        config
    }
}

/// Validates one entry; the error names the sub-key at fault when there is one.
fn entry_from<E: std::fmt::Display>(
    id: &str,
    raw: Result<RawEntry, E>,
) -> Result<ProviderEntry, (Option<&'static str>, String)> {
    let Some(pid) = ProviderId::parse(id) else {
        return Err((
            None,
            "a provider id is letters, digits, `-`, `_` and `.` (at most 64)".into(),
        ));
    };
    let raw = raw.map_err(|e| (None, e.to_string()))?;
    let builtin = match id {
        ProviderId::CODEX => Some(ProviderKind::Codex),
        ProviderId::CLAUDE => Some(ProviderKind::Claude),
        _ => None,
    };
    let kind = match (raw.kind, builtin) {
        (Some(k), Some(b)) if k != b => {
            return Err((
                Some("kind"),
                format!("`{id}` is built in as kind \"{}\"", b.as_str()),
            ));
        }
        (Some(k), _) => k,
        (None, Some(b)) => b,
        (None, None) => {
            return Err((
                Some("kind"),
                "missing: say how baton talks to this agent (kind = \"acp\")".into(),
            ));
        }
    };
    if kind != ProviderKind::Acp && builtin.is_none() {
        return Err((
            Some("kind"),
            format!(
                "kind \"{}\" is only for the built-in `{}`; other agents use kind = \"acp\"",
                kind.as_str(),
                kind.as_str()
            ),
        ));
    }
    match &raw.command {
        Some(c) if c.is_empty() || c[0].trim().is_empty() => {
            return Err((Some("command"), "expected [program, args...]".into()));
        }
        None if kind == ProviderKind::Acp => {
            return Err((
                Some("command"),
                "missing: the program that speaks ACP on stdio, e.g. [\"gemini\", \"--acp\"]"
                    .into(),
            ));
        }
        _ => {}
    }
    Ok(ProviderEntry {
        id: pid,
        kind,
        command: raw.command,
        env: raw.env,
        fs: raw.fs,
    })
}

/// 1-based line of a byte offset.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Where each dotted key is written in the file (first occurrence), for error lines. A small
/// scan of `[table]` headers and `key =` lines is enough for the shapes this file has.
struct KeySpans {
    lines: BTreeMap<String, usize>,
}

impl KeySpans {
    fn new(text: &str) -> Self {
        let mut lines = BTreeMap::new();
        let mut table = String::new();
        for (n, line) in text.lines().enumerate() {
            let t = line.trim();
            if let Some(header) = t.strip_prefix('[').and_then(|h| h.split(']').next()) {
                table = header.trim().trim_matches('"').to_string();
                lines.entry(table.clone()).or_insert(n + 1);
                continue;
            }
            if let Some((key, _)) = t.split_once('=') {
                let key = key.trim().trim_matches('"');
                if key.is_empty() || key.starts_with('#') {
                    continue;
                }
                let full = if table.is_empty() {
                    key.to_string()
                } else {
                    format!("{table}.{key}")
                };
                lines.entry(full).or_insert(n + 1);
            }
        }
        KeySpans { lines }
    }

    fn line(&self, key: &str) -> Option<usize> {
        self.lines.get(key).copied()
    }
}

#[cfg(test)]
mod tests;
