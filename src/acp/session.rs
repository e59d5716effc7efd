//! `initialize` and the session lifecycle: `session/new`, `session/load` (with replay),
//! `session/resume`, `session/list`, `session/close`, `session/delete`.
//!
//! An ACP session id is the baton thread id, so a session outlives this process: after a
//! restart `session/load` replays the thread's persisted events and the next prompt resumes the
//! same provider thread.

use std::path::Path;
use std::sync::Arc;

use agent_client_protocol_schema::ProtocolVersion;
use agent_client_protocol_schema::v1::{
    AgentCapabilities, AvailableCommand, AvailableCommandInput, AvailableCommandsUpdate,
    CloseSessionRequest, CloseSessionResponse, DeleteSessionRequest, DeleteSessionResponse,
    Implementation, InitializeRequest, InitializeResponse, ListSessionsRequest,
    ListSessionsResponse, LoadSessionRequest, LoadSessionResponse, NewSessionRequest,
    NewSessionResponse, PromptCapabilities, ResumeSessionRequest, ResumeSessionResponse,
    SessionCapabilities, SessionCloseCapabilities, SessionDeleteCapabilities, SessionInfo,
    SessionListCapabilities, SessionResumeCapabilities, SessionUpdate, UnstructuredCommandInput,
};
use baton_protocol::Event;
use serde_json::{Value, json};

use super::config;
use super::updates::{Mapper, Mode};
use super::{Acp, ClientCaps, Session, parse, to_value};
use crate::rpc::RpcError;

/// Events read per `thread/read` page when replaying.
const PAGE: u32 = 1000;

/// Initialises the in-process server and caches its providers.
pub async fn initialize_server(acp: &Acp) -> Result<(), RpcError> {
    let r = acp
        .baton
        .request(
            "initialize",
            json!({"clientInfo": {"name": "baton-acp", "version": env!("CARGO_PKG_VERSION")}}),
        )
        .await?;
    if let Some(list) = r["providers"].as_array() {
        *crate::sync::lock(&acp.providers) = list.clone();
    }
    acp.baton.notify("initialized", json!({})).await
}

pub async fn initialize(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: InitializeRequest = parse(params)?;
    let session_caps = p.client_capabilities.session.as_ref();
    *crate::sync::lock(&acp.caps) = ClientCaps {
        compaction: session_caps.is_some_and(|s| s.compaction.is_some()),
        notices: session_caps.is_some_and(|s| s.notices.is_some()),
    };
    if let Some(info) = &p.client_info {
        tracing::info!(client = %info.name, version = %info.version, "ACP client connected");
    }
    let caps = AgentCapabilities::new()
        .load_session(true)
        // Providers take text; embedded resources and resource links are turned into text.
        .prompt_capabilities(PromptCapabilities::new().embedded_context(true))
        .session_capabilities(
            SessionCapabilities::new()
                .list(SessionListCapabilities::new())
                .resume(SessionResumeCapabilities::new())
                .close(SessionCloseCapabilities::new())
                .delete(SessionDeleteCapabilities::new()),
        );
    to_value(
        InitializeResponse::new(ProtocolVersion::V1)
            .agent_capabilities(caps)
            .agent_info(
                Implementation::new("baton", env!("CARGO_PKG_VERSION")).title("baton".to_string()),
            ),
    )
}

/// The slash commands, sent after a session is attached.
pub async fn announce_commands(acp: &Acp, session: &str) {
    let commands = vec![
        AvailableCommand::new(
            "compact",
            "Compact the conversation's context on the current agent",
        )
        .input(AvailableCommandInput::Unstructured(
            UnstructuredCommandInput::new("optional instructions for the summary"),
        )),
        AvailableCommand::new(
            "switch",
            "Hand the conversation over to another agent (codex, claude, …), optionally with a model",
        )
        .input(AvailableCommandInput::Unstructured(
            UnstructuredCommandInput::new("<provider> [model]"),
        )),
    ];
    acp.update(
        session,
        SessionUpdate::AvailableCommandsUpdate(AvailableCommandsUpdate::new(commands)),
    )
    .await;
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Registers a session for a thread as baton returned it; `mapper` carries what was learnt.
fn attach(acp: &Acp, thread: &Value, mapper: Mapper) -> String {
    let id = thread["id"].as_str().unwrap_or_default().to_string();
    let session = Session {
        provider: thread["provider"].as_str().unwrap_or_default().to_string(),
        model: thread["model"]
            .as_str()
            .map(str::to_string)
            .or(mapper.model.clone()),
        approval_policy: thread["approvalPolicy"].as_str().map(str::to_string),
        title: thread["title"].as_str().map(str::to_string),
        mapper,
        prompt: None,
        prompt_active: false,
        cancel_requested: false,
        routed_seq: thread["lastSeq"].as_i64().unwrap_or(0),
    };
    acp.sessions().insert(id.clone(), session);
    id
}

/// Reads events of a thread from `since`, page by page, handing each page to `f`.
async fn read_events(
    acp: &Acp,
    thread: &str,
    mut since: i64,
    mut f: impl FnMut(Vec<Event>) -> Vec<SessionUpdate>,
) -> Result<(Value, Vec<SessionUpdate>), RpcError> {
    let mut out = Vec::new();
    loop {
        let r = acp
            .call(
                "thread/read",
                json!({"threadId": thread, "sinceSeq": since, "limit": PAGE}),
            )
            .await?;
        let events: Vec<Event> = serde_json::from_value(r["events"].clone())
            .map_err(|e| RpcError::internal(format!("cannot read the thread's events: {e}")))?;
        let n = events.len();
        since = events.last().map_or(since, |e| e.seq);
        out.extend(f(events));
        if n < PAGE as usize {
            return Ok((r["thread"].clone(), out));
        }
    }
}

fn current_options(
    acp: &Acp,
    id: &str,
) -> Result<
    (
        Vec<agent_client_protocol_schema::v1::SessionConfigOption>,
        agent_client_protocol_schema::v1::SessionModeState,
    ),
    RpcError,
> {
    let options = config::session_options(acp, id)?;
    let policy = acp
        .sessions()
        .get(id)
        .and_then(|s| s.approval_policy.clone());
    Ok((options, config::modes(policy.as_deref())))
}

pub async fn new(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: NewSessionRequest = parse(params)?;
    if !p.mcp_servers.is_empty() {
        tracing::info!(
            count = p.mcp_servers.len(),
            "the client offered MCP servers; baton's providers use their own MCP configuration"
        );
    }
    // Extras ride in `_meta.baton`: a provider and an approval policy to start with.
    let extra = p
        .meta
        .as_ref()
        .and_then(|m| m.get("baton"))
        .cloned()
        .unwrap_or(Value::Null);
    let provider = extra["provider"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| acp.default_provider.clone());
    config::check_provider(acp, &provider)?;
    let mut start = json!({"provider": provider, "cwd": path_str(&p.cwd)});
    if let Some(policy) = extra["approvalPolicy"].as_str() {
        start["approvalPolicy"] = json!(policy);
    }
    let r = acp.call("thread/start", start).await?;
    let thread = r["thread"].clone();
    let tid = thread["id"].as_str().unwrap_or_default().to_string();
    // The model is only known from the session's first events.
    let mut mapper = Mapper::new(Mode::Live, &acp.caps());
    let (thread, _) = read_events(acp, &tid, 0, |events| {
        for ev in &events {
            mapper.map(ev);
        }
        vec![]
    })
    .await?;
    let id = attach(acp, &thread, mapper);
    let (options, modes) = current_options(acp, &id)?;
    to_value(
        NewSessionResponse::new(id)
            .config_options(options)
            .modes(modes),
    )
}

pub async fn load(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: LoadSessionRequest = parse(params)?;
    let id = p.session_id.0.to_string();
    if acp.sessions().get(&id).is_some_and(|s| s.prompt_active) {
        return Err(RpcError::invalid_request(
            "the session has a prompt running; load it when it is done",
        ));
    }
    let caps = acp.caps();
    let mut replay = Mapper::new(Mode::Replay, &caps);
    let (thread, mut updates) = read_events(acp, &id, 0, |events| {
        events.iter().flat_map(|ev| replay.map(ev)).collect()
    })
    .await?;
    updates.extend(replay.flush());
    // Replayed before the answer, as ACP asks: the client redraws the whole conversation.
    for u in updates {
        acp.update(&id, u).await;
    }
    let mut live = Mapper::new(Mode::Live, &caps);
    live.model = replay.model.clone();
    attach(acp, &thread, live);
    let (options, modes) = current_options(acp, &id)?;
    to_value(
        LoadSessionResponse::new()
            .config_options(options)
            .modes(modes),
    )
}

pub async fn resume(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: ResumeSessionRequest = parse(params)?;
    let id = p.session_id.0.to_string();
    let mut mapper = Mapper::new(Mode::Live, &acp.caps());
    let head = acp
        .call("thread/read", json!({"threadId": id, "sinceSeq": i64::MAX}))
        .await?;
    // Only the recent events, to learn the model; nothing is replayed.
    let since = (head["thread"]["lastSeq"].as_i64().unwrap_or(0) - 2000).max(0);
    let (thread, _) = read_events(acp, &id, since, |events| {
        for ev in &events {
            mapper.map(ev);
        }
        vec![]
    })
    .await?;
    let prompt_active = acp.sessions().get(&id).is_some_and(|s| s.prompt_active);
    if !prompt_active {
        attach(acp, &thread, mapper);
    }
    let (options, modes) = current_options(acp, &id)?;
    to_value(
        ResumeSessionResponse::new()
            .config_options(options)
            .modes(modes),
    )
}

/// RFC 3339 UTC time of milliseconds since the Unix epoch.
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

pub async fn list(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: ListSessionsRequest = parse(params)?;
    let mut q = json!({"limit": 50});
    if let Some(cwd) = &p.cwd {
        q["cwd"] = json!(path_str(cwd));
    }
    if let Some(c) = &p.cursor {
        q["cursor"] = json!(c);
    }
    let r = acp.call("thread/list", q).await?;
    let sessions = r["threads"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|t| {
            let mut meta = agent_client_protocol_schema::v1::Meta::new();
            meta.insert(
                "baton".into(),
                json!({"provider": t["provider"], "status": t["status"], "model": t["model"]}),
            );
            SessionInfo::new(
                t["id"].as_str().unwrap_or_default().to_string(),
                t["cwd"].as_str().unwrap_or_default().to_string(),
            )
            .title(t["title"].as_str().map(str::to_string))
            .updated_at(t["updatedAt"].as_i64().map(rfc3339))
            .meta(meta)
        })
        .collect();
    to_value(
        ListSessionsResponse::new(sessions)
            .next_cursor(r["nextCursor"].as_str().map(str::to_string)),
    )
}

pub async fn close(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: CloseSessionRequest = parse(params)?;
    let id = p.session_id.0.to_string();
    let running = acp.sessions().get(&id).is_some_and(|s| s.prompt_active);
    if running {
        let _ = acp.call("turn/interrupt", json!({"threadId": id})).await;
    }
    // Soft stop: the provider session ends, the resume cursor stays for a later load.
    acp.call("thread/stop", json!({"threadId": id})).await?;
    acp.sessions().remove(&id);
    to_value(CloseSessionResponse::new())
}

pub async fn delete(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: DeleteSessionRequest = parse(params)?;
    let id = p.session_id.0.to_string();
    acp.call("thread/delete", json!({"threadId": id})).await?;
    acp.sessions().remove(&id);
    to_value(DeleteSessionResponse::new())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn rfc3339_formats_epoch_milliseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_390_000_001), "2026-11-22T23:26:40.001Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
