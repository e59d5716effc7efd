//! Session config options and modes: the provider, the model and the approval policy.
//!
//! - `provider` (a select of every available provider): setting it is `thread/switch` with the
//!   automatic handoff; its progress streams into the session as it happens.
//! - `model` (category `model`): the thread's model plus the models the provider lists (a
//!   `models` array in its `provider/list` entry, when it has one) and, for Claude Code, its
//!   model aliases; setting it is an in-session model change (`thread/switch` to the same
//!   provider with a model).
//! - `approval_policy` (category `mode`), also offered as ACP modes for clients that use
//!   `session/set_mode`: baton's approval presets; setting one is `thread/update`, which applies
//!   from the next provider session (the live one is soft-stopped and resumed on the next turn).

use std::sync::Arc;

use agent_client_protocol_schema::v1::{
    ConfigOptionUpdate, CurrentModeUpdate, SessionConfigOption, SessionConfigOptionCategory,
    SessionConfigSelectOption, SessionMode, SessionModeId, SessionModeState, SessionUpdate,
    SetSessionConfigOptionRequest, SetSessionConfigOptionResponse, SetSessionModeRequest,
    SetSessionModeResponse,
};
use serde_json::{Value, json};

use super::{Acp, not_found, parse, to_value};
use crate::rpc::RpcError;

pub const PROVIDER: &str = "provider";
pub const MODEL: &str = "model";
pub const APPROVAL: &str = "approval_policy";

/// The provider a new session starts on: `--provider`, else `BATON_DEFAULT_PROVIDER`, else
/// `codex`. (When baton gets a config file with `default_provider`, it belongs here.)
pub fn default_provider(flag: Option<String>) -> String {
    flag.filter(|p| !p.trim().is_empty())
        .or_else(|| {
            std::env::var("BATON_DEFAULT_PROVIDER")
                .ok()
                .filter(|p| !p.trim().is_empty())
        })
        .unwrap_or_else(|| "codex".into())
}

/// baton's approval presets: (policy, name, description).
const PRESETS: [(&str, &str, &str); 3] = [
    (
        "untrusted",
        "Ask",
        "Ask before running anything not known to be safe",
    ),
    ("on-request", "On request", "The agent decides when to ask"),
    ("never", "Never ask", "Run without asking for approval"),
];

/// The value shown while a thread has no policy of its own (the provider's configuration).
const DEFAULT_POLICY: &str = "default";

/// Claude Code's model aliases, accepted by `claude --model` and `set_model`.
const CLAUDE_ALIASES: [&str; 3] = ["sonnet", "opus", "haiku"];

/// What the options of one session are built from.
pub struct Current<'a> {
    pub provider: &'a str,
    pub model: Option<&'a str>,
    pub approval_policy: Option<&'a str>,
}

fn select(value: &str, name: &str) -> SessionConfigSelectOption {
    SessionConfigSelectOption::new(value.to_string(), name.to_string())
}

/// The config options of a session, from the cached `provider/list` entries.
pub fn options(providers: &[Value], cur: &Current<'_>) -> Vec<SessionConfigOption> {
    let mut provider_opts: Vec<SessionConfigSelectOption> = providers
        .iter()
        .filter(|p| p["available"].as_bool() == Some(true) || p["id"] == cur.provider)
        .filter_map(|p| {
            let id = p["id"].as_str()?;
            let name = match p["version"].as_str() {
                Some(v) => format!("{id} {v}"),
                None => id.to_string(),
            };
            Some(select(id, &name))
        })
        .collect();
    if !provider_opts.iter().any(|o| &*o.value.0 == cur.provider) {
        provider_opts.push(select(cur.provider, cur.provider));
    }

    let mut models: Vec<String> = Vec::new();
    let mut add = |m: &str| {
        if !m.is_empty() && !models.iter().any(|x| x == m) {
            models.push(m.to_string());
        }
    };
    if let Some(m) = cur.model {
        add(m);
    }
    let entry = providers.iter().find(|p| p["id"] == cur.provider);
    if let Some(list) = entry.and_then(|p| p["models"].as_array()) {
        for m in list {
            if let Some(m) = m.as_str().or_else(|| m["id"].as_str()) {
                add(m);
            }
        }
    }
    if cur.provider == "claude" {
        CLAUDE_ALIASES.iter().for_each(|m| add(m));
    }
    let model_value = cur.model.unwrap_or(DEFAULT_POLICY).to_string();
    let mut model_opts: Vec<SessionConfigSelectOption> =
        models.iter().map(|m| select(m, m)).collect();
    if cur.model.is_none() {
        model_opts.insert(0, select(DEFAULT_POLICY, "Provider default"));
    }

    let policy = cur.approval_policy.unwrap_or(DEFAULT_POLICY);
    vec![
        SessionConfigOption::select(PROVIDER, "Agent", cur.provider.to_string(), provider_opts)
            .description(
                "The coding agent this conversation runs on; switching hands the conversation over with its context".to_string(),
            )
            .category(SessionConfigOptionCategory::Other("_baton_provider".into())),
        SessionConfigOption::select(MODEL, "Model", model_value, model_opts)
            .category(SessionConfigOptionCategory::Model),
        SessionConfigOption::select(APPROVAL, "Approvals", policy.to_string(), policy_options(policy))
            .description("When the agent asks before acting".to_string())
            .category(SessionConfigOptionCategory::Mode),
    ]
}

fn policy_options(current: &str) -> Vec<SessionConfigSelectOption> {
    let mut out: Vec<SessionConfigSelectOption> = PRESETS
        .iter()
        .map(|(id, name, desc)| select(id, name).description(desc.to_string()))
        .collect();
    if current == DEFAULT_POLICY {
        out.insert(
            0,
            select(DEFAULT_POLICY, "Provider default")
                .description("As the provider is configured".to_string()),
        );
    }
    out
}

/// The approval presets as ACP modes.
pub fn modes(policy: Option<&str>) -> SessionModeState {
    let current = policy.unwrap_or(DEFAULT_POLICY);
    let mut available: Vec<SessionMode> = PRESETS
        .iter()
        .map(|(id, name, desc)| {
            SessionMode::new(id.to_string(), name.to_string()).description(desc.to_string())
        })
        .collect();
    if current == DEFAULT_POLICY {
        available.insert(0, SessionMode::new(DEFAULT_POLICY, "Provider default"));
    }
    SessionModeState::new(current.to_string(), available)
}

/// The options of an attached session, as they are now.
pub fn session_options(acp: &Acp, session: &str) -> Result<Vec<SessionConfigOption>, RpcError> {
    let providers = acp.providers();
    let sessions = acp.sessions();
    let s = sessions.get(session).ok_or_else(|| not_found(session))?;
    Ok(options(
        &providers,
        &Current {
            provider: &s.provider,
            model: s.model.as_deref(),
            approval_policy: s.approval_policy.as_deref(),
        },
    ))
}

/// Takes a thread as baton returned it into the session's view.
pub fn adopt_thread(acp: &Acp, session: &str, thread: &Value) {
    if let Some(s) = acp.sessions().get_mut(session) {
        if let Some(p) = thread["provider"].as_str() {
            s.provider = p.to_string();
        }
        s.model = thread["model"]
            .as_str()
            .map(str::to_string)
            .or(s.model.take());
        s.approval_policy = thread["approvalPolicy"].as_str().map(str::to_string);
        s.title = thread["title"].as_str().map(str::to_string);
    }
}

fn session_field(
    acp: &Acp,
    session: &str,
    f: impl Fn(&super::Session) -> String,
) -> Result<String, RpcError> {
    acp.sessions()
        .get(session)
        .map(f)
        .ok_or_else(|| not_found(session))
}

/// Refuses a provider the server does not list (before baton is asked, so the error is the
/// same whatever baton's own check says).
pub fn check_provider(acp: &Acp, provider: &str) -> Result<(), RpcError> {
    let providers = acp.providers();
    if providers.iter().any(|p| p["id"] == provider) {
        return Ok(());
    }
    let known: Vec<&str> = providers.iter().filter_map(|p| p["id"].as_str()).collect();
    Err(RpcError::invalid_params(format!(
        "invalid params: unknown provider {provider:?} (known: {})",
        known.join(", ")
    )))
}

/// Switches provider and/or model; the handoff's updates are sent before this returns.
pub async fn switch(
    acp: &Acp,
    session: &str,
    provider: &str,
    model: Option<&str>,
) -> Result<Value, RpcError> {
    check_provider(acp, provider)?;
    let mut params = json!({"threadId": session, "provider": provider, "handoff": "auto"});
    if let Some(m) = model {
        params["model"] = json!(m);
    }
    let r = acp.call("thread/switch", params).await?;
    adopt_thread(acp, session, &r["thread"]);
    acp.wait_routed(session, r["thread"]["lastSeq"].as_i64().unwrap_or(0))
        .await;
    Ok(r)
}

/// Sets the thread's approval policy.
async fn set_policy(acp: &Acp, session: &str, policy: &str) -> Result<(), RpcError> {
    if !PRESETS.iter().any(|(id, _, _)| *id == policy) {
        return Err(RpcError::invalid_params(format!(
            "invalid params: unknown approval policy {policy:?} (one of untrusted, on-request, never)"
        )));
    }
    let r = acp
        .call(
            "thread/update",
            json!({"threadId": session, "approvalPolicy": policy}),
        )
        .await?;
    adopt_thread(acp, session, &r["thread"]);
    Ok(())
}

pub async fn set_config_option(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: SetSessionConfigOptionRequest = parse(params)?;
    let session = p.session_id.0.to_string();
    let value = p
        .value
        .as_value_id()
        .map(|v| v.0.to_string())
        .ok_or_else(|| RpcError::invalid_params("invalid params: value must be a value id"))?;
    let provider = session_field(acp, &session, |s| s.provider.clone())?;
    match &*p.config_id.0 {
        PROVIDER => {
            if value != provider {
                switch(acp, &session, &value, None).await?;
            }
        }
        MODEL => {
            let model = session_field(acp, &session, |s| s.model.clone().unwrap_or_default())?;
            if value != model && value != DEFAULT_POLICY {
                switch(acp, &session, &provider, Some(&value)).await?;
            }
        }
        APPROVAL => {
            set_policy(acp, &session, &value).await?;
            acp.update(
                &session,
                SessionUpdate::CurrentModeUpdate(CurrentModeUpdate::new(value.clone())),
            )
            .await;
        }
        other => {
            return Err(RpcError::invalid_params(format!(
                "invalid params: unknown config option {other:?}"
            )));
        }
    }
    to_value(SetSessionConfigOptionResponse::new(session_options(
        acp, &session,
    )?))
}

pub async fn set_mode(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: SetSessionModeRequest = parse(params)?;
    let session = p.session_id.0.to_string();
    let mode: SessionModeId = p.mode_id;
    session_field(acp, &session, |_| String::new())?;
    set_policy(acp, &session, &mode.0).await?;
    let options = session_options(acp, &session)?;
    acp.update(
        &session,
        SessionUpdate::ConfigOptionUpdate(ConfigOptionUpdate::new(options)),
    )
    .await;
    to_value(SetSessionModeResponse::new())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn options_list_available_providers_models_and_policies() {
        let providers = vec![
            json!({"id": "codex", "available": true, "version": "0.169.0"}),
            json!({"id": "claude", "available": true, "version": "2.1.328"}),
            json!({"id": "gemini", "available": false}),
        ];
        let opts = options(
            &providers,
            &Current {
                provider: "claude",
                model: Some("mock-model"),
                approval_policy: None,
            },
        );
        let v = serde_json::to_value(&opts).unwrap();
        assert_eq!(v[0]["id"], "provider");
        assert_eq!(v[0]["currentValue"], "claude");
        let ids: Vec<&str> = v[0]["options"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["value"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["codex", "claude"]);
        assert_eq!(v[1]["category"], "model");
        assert_eq!(v[1]["currentValue"], "mock-model");
        assert_eq!(v[1]["options"].as_array().unwrap().len(), 4);
        assert_eq!(v[2]["category"], "mode");
        assert_eq!(v[2]["currentValue"], "default");
        assert_eq!(v[2]["options"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn modes_mirror_the_policy() {
        let m = serde_json::to_value(modes(Some("never"))).unwrap();
        assert_eq!(m["currentModeId"], "never");
        assert_eq!(m["availableModes"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn default_provider_prefers_the_flag() {
        assert_eq!(default_provider(Some("claude".into())), "claude");
    }
}
