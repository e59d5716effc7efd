#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use baton_protocol::{ProviderId, ProviderKind};
use serde_json::json;

use super::*;

fn parse(text: &str) -> Config {
    Config::parse(text, Path::new("/etc/baton.toml"))
}

#[test]
fn no_file_gives_the_builtins() {
    let c = Config::default();
    let ids: Vec<_> = c.providers.keys().map(|p| p.as_str().to_string()).collect();
    assert_eq!(ids, ["claude", "codex"]);
    assert_eq!(c.default_provider, ProviderId::codex());
    assert!(c.errors.is_empty());
}

#[test]
fn declares_acp_agents_and_overrides_builtins() {
    let c = parse(
        r#"
default_provider = "gemini"
max_live_sessions = 3

[providers.codex]
command = ["/opt/codex", "--some-flag"]
env = { CODEX_HOME = "/tmp/ch" }

[providers.gemini]
kind = "acp"
command = ["gemini", "--acp"]
env = { GEMINI_API_KEY = "k" }
fs = { read_text_file = false }
"#,
    );
    assert_eq!(c.errors, []);
    assert_eq!(c.default_provider, ProviderId::new("gemini"));
    assert_eq!(c.max_live_sessions, Some(3));
    let g = &c.providers[&ProviderId::new("gemini")];
    assert_eq!(g.kind, ProviderKind::Acp);
    assert_eq!(
        g.command.as_deref(),
        Some(&["gemini".to_string(), "--acp".to_string()][..])
    );
    assert_eq!(g.env["GEMINI_API_KEY"], "k");
    assert!(!g.fs.read_text_file);
    assert!(g.fs.write_text_file);
    let codex = &c.providers[&ProviderId::codex()];
    assert_eq!(codex.kind, ProviderKind::Codex);
    assert_eq!(
        codex.command.as_ref().map(|c| c[0].as_str()),
        Some("/opt/codex")
    );
    assert_eq!(codex.env["CODEX_HOME"], "/tmp/ch");
    assert!(
        c.providers.contains_key(&ProviderId::claude()),
        "built-ins stay"
    );
}

#[test]
fn a_bad_entry_names_file_line_and_key_and_the_rest_still_loads() {
    let c = parse(
        r#"
[providers.good]
kind = "acp"
command = ["good-agent"]

[providers.nokind]
command = ["x"]

[providers.typo]
kind = "acp"
comand = ["x"]

[providers.empty]
kind = "acp"
command = []
"#,
    );
    assert!(c.providers.contains_key(&ProviderId::new("good")));
    for bad in ["nokind", "typo", "empty"] {
        assert!(!c.providers.contains_key(&ProviderId::new(bad)), "{bad}");
    }
    let shown: Vec<String> = c.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(c.errors.len(), 3, "{shown:#?}");
    assert!(
        shown[0].starts_with("/etc/baton.toml:6: `providers.nokind.kind`: missing"),
        "{shown:#?}"
    );
    assert!(
        shown[1].starts_with("/etc/baton.toml:9: `providers.typo`: unknown field `comand`"),
        "{shown:#?}"
    );
    assert_eq!(
        shown[2],
        "/etc/baton.toml:15: `providers.empty.command`: expected [program, args...]"
    );
}

#[test]
fn syntax_errors_keep_the_builtins_and_say_where() {
    let c = parse("default_provider = \"codex\"\n[providers.x\nkind = 1\n");
    assert_eq!(c.errors.len(), 1);
    assert_eq!(c.errors[0].line, Some(2));
    assert!(
        c.errors[0].to_string().starts_with("/etc/baton.toml:2: "),
        "{}",
        c.errors[0]
    );
    assert_eq!(c.providers.len(), 2);
}

#[test]
fn builtins_keep_their_kind_and_unknown_defaults_fall_back() {
    let c = parse(
        "default_provider = \"nope\"\nunknown = 1\n[providers.claude]\nkind = \"acp\"\n[providers.other]\nkind = \"codex\"\ncommand=[\"x\"]\n",
    );
    let keys: Vec<_> = c
        .errors
        .iter()
        .map(|e| (e.key.clone().unwrap_or_default(), e.line))
        .collect();
    assert_eq!(
        keys,
        [
            ("unknown".to_string(), Some(2)),
            ("providers.claude.kind".to_string(), Some(4)),
            ("providers.other.kind".to_string(), Some(6)),
            ("default_provider".to_string(), Some(1)),
        ]
    );
    assert_eq!(c.default_provider, ProviderId::codex());
    assert_eq!(
        c.providers[&ProviderId::claude()].kind,
        ProviderKind::Claude
    );
}

#[test]
fn an_explicit_missing_file_is_an_error_and_the_default_missing_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::load(Some(&dir.path().join("missing.toml")));
    assert_eq!(c.errors.len(), 1);
    assert!(
        c.errors[0].message.contains("cannot read"),
        "{:?}",
        c.errors
    );
    let p = dir.path().join("c.toml");
    std::fs::write(&p, "[providers.a]\nkind=\"acp\"\ncommand=[\"a\"]\n").unwrap();
    let c = Config::load(Some(&p));
    assert!(c.errors.is_empty());
    assert!(c.providers.contains_key(&ProviderId::new("a")));
}

#[test]
fn initialization_options_overlay_adds_and_overrides_for_one_session() {
    let base = parse("[providers.a]\nkind=\"acp\"\ncommand=[\"a\"]\n");
    let c = base.overlay(&json!({
        "a": {"kind": "acp", "command": ["a2", "--x"]},
        "b": {"kind": "acp", "command": ["b"], "fs": {"readTextFile": true}},
        "c": {"kind": "acp", "command": ["c"], "fs": {"read_text_file": false}},
    }));
    assert_eq!(
        c.providers[&ProviderId::new("a")].command.as_ref().unwrap()[0],
        "a2"
    );
    assert!(
        !c.providers.contains_key(&ProviderId::new("b")),
        "unknown fs key is refused"
    );
    assert!(!c.providers[&ProviderId::new("c")].fs.read_text_file);
    assert_eq!(c.errors.len(), 1);
    assert_eq!(c.errors[0].key.as_deref(), Some("b"));
    assert!(base.providers.len() == 3, "the base is untouched");
}
