//! One ACP session of a baton thread: starting it (new, resume, load, or fresh with a warning),
//! and the handle the thread's actor drives (prompt, cancel, `/compact`, model, close).
//!
//! The session's messages (updates, permission and fs requests) are routed by the shared host to
//! the session's own task ([`super::task`]); a prompt runs as a task of its own too, because
//! `session/prompt` answers only when the turn is over.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_client_protocol_schema::v1::{
    CancelNotification, CloseSessionRequest, ContentBlock, LoadSessionRequest, NewSessionRequest,
    PromptRequest, ResumeSessionRequest, SessionConfigKind, SessionConfigOption,
    SessionConfigOptionCategory, SetSessionConfigOptionRequest,
};
use baton_protocol::{EventBody, Item, ItemType, TurnMode, TurnStarted};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::agent::{AcpAgent, Facts};
use super::mapping::Mapper;
use super::task::{self, Control};
use crate::provider::host::{Connection, Routed};
use crate::provider::{EventSink, ProviderError, ProviderEvent, SessionConfig, Started};

/// How long session-level requests may take (not prompts: a prompt lasts as long as its turn).
const SESSION_TIMEOUT: Duration = Duration::from_secs(120);

/// What the handle and the session's task share.
pub(super) struct Shared {
    pub session_id: String,
    pub cwd: PathBuf,
    pub mapper: Mutex<Mapper>,
    /// True while `session/load` replays history: nothing of it is emitted again.
    pub replay: AtomicBool,
    /// Permission requests not answered yet: (flag set by whoever answers first, answer).
    pub pending: Mutex<Vec<task::PendingPermission>>,
    pub include_raw: Arc<AtomicBool>,
    /// Where what this session shows of the agent is remembered for the provider.
    pub learned: Arc<super::Learned>,
}

impl Shared {
    /// Remembers for the provider whether this session offers `/compact` and a model choice.
    pub fn learn(&self) {
        let mapper = lock(&self.mapper);
        if mapper.commands.iter().any(|c| c == "compact") {
            self.learned
                .compact
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if mapper
            .config_options
            .as_ref()
            .and_then(model_option)
            .is_some()
        {
            self.learned
                .model
                .store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

pub(super) use crate::sync::lock;

/// The live ACP session of one baton thread. Cheap to clone.
#[derive(Clone)]
pub struct AcpSession {
    conn: Arc<Connection>,
    shared: Arc<Shared>,
    ctl: mpsc::Sender<Control>,
    sink: EventSink,
    facts: Facts,
    provider: String,
}

fn to_value(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The session's model option (category `model`), if the agent offers one.
fn model_option(options: &Value) -> Option<(String, String)> {
    let options: Vec<SessionConfigOption> = serde_json::from_value(options.clone()).ok()?;
    options.into_iter().find_map(|o| {
        if o.category != Some(SessionConfigOptionCategory::Model) {
            return None;
        }
        match o.kind {
            SessionConfigKind::Select(s) => Some((o.id.to_string(), s.current_value.to_string())),
            _ => None,
        }
    })
}

/// Starts (or resumes) the session of a thread on a connected agent.
pub(super) async fn start(
    provider: &str,
    conn: Arc<Connection>,
    agent: Arc<AcpAgent>,
    config: SessionConfig,
    sink: EventSink,
    include_raw: Arc<AtomicBool>,
    learned: Arc<super::Learned>,
) -> Result<(AcpSession, Started), ProviderError> {
    let facts = agent.facts().unwrap_or_default();
    let cwd = PathBuf::from(&config.cwd);
    let mut warning = None;
    let mut resumed: Option<(String, Value, mpsc::Receiver<Routed>, bool)> = None;
    if let Some(cursor) = config.resume.clone() {
        let (method, params, replays) = if facts.resume {
            let p = to_value(ResumeSessionRequest::new(cursor.clone(), cwd.clone()));
            ("session/resume", p, false)
        } else if facts.load_session {
            let p = to_value(LoadSessionRequest::new(cursor.clone(), cwd.clone()));
            ("session/load", p, true)
        } else {
            ("", Value::Null, false)
        };
        if method.is_empty() {
            warning = Some(format!(
                "{provider} cannot resume sessions (it advertises neither session/resume nor session/load); started a fresh session without the history of {cursor}"
            ));
        } else {
            // Routed before the request, so that a load's replay reaches this session (and is
            // dropped there) instead of being taken for someone else's.
            let rx = conn.register(&cursor);
            match conn.request(method, params, Some(SESSION_TIMEOUT)).await {
                Ok(result) => resumed = Some((cursor, result, rx, replays)),
                Err(ProviderError::Failed(msg)) => {
                    conn.unregister(&cursor);
                    warning = Some(format!(
                        "{provider} could not {method} {cursor} ({msg}); started a fresh session without its history"
                    ));
                }
                Err(e) => {
                    conn.unregister(&cursor);
                    return Err(e);
                }
            }
        }
    }
    let was_resumed = resumed.is_some();
    let (session_id, result, rx, replays) = match resumed {
        Some(r) => r,
        None => {
            let result = conn
                .request(
                    "session/new",
                    to_value(NewSessionRequest::new(cwd.clone())),
                    Some(SESSION_TIMEOUT),
                )
                .await?;
            let id = result
                .get("sessionId")
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    ProviderError::Failed(format!("{provider} session/new returned no sessionId"))
                })?
                .to_string();
            let rx = conn.register(&id);
            (id, result, rx, false)
        }
    };
    let mut mapper = Mapper::default();
    mapper.config_options = result.get("configOptions").cloned();
    let shared = Arc::new(Shared {
        session_id: session_id.clone(),
        cwd,
        mapper: Mutex::new(mapper),
        replay: AtomicBool::new(replays),
        pending: Mutex::new(Vec::new()),
        include_raw,
        learned,
    });
    shared.learn();
    let early = agent.take_early(&session_id);
    let (ctl_tx, ctl_rx) = mpsc::channel(16);
    tokio::spawn(task::run(task::Task {
        conn: conn.clone(),
        agent,
        shared: shared.clone(),
        sink: sink.clone(),
        routes: rx,
        control: ctl_rx,
        early,
    }));
    let session = AcpSession {
        conn,
        shared,
        ctl: ctl_tx,
        sink,
        facts,
        provider: provider.to_string(),
    };
    if replays {
        // Everything the load replayed is in (or on its way to) the task: let it settle, then
        // what follows is live.
        let (ack, done) = oneshot::channel();
        if session.ctl.send(Control::EndReplay(ack)).await.is_ok() {
            let _ = done.await;
        }
    }
    let mut model = session.model();
    if let Some(wanted) = config.model.filter(|m| Some(m) != model.as_ref()) {
        match session.set_model(&wanted).await {
            Ok(()) => model = Some(wanted),
            Err(e) => {
                let note = format!("{provider} kept its own model: {e}");
                warning = Some(match warning {
                    Some(w) => format!("{w}; {note}"),
                    None => note,
                });
            }
        }
    }
    Ok((
        session,
        Started {
            native_id: session_id,
            resumed: was_resumed,
            model,
            warning,
        },
    ))
}

impl AcpSession {
    /// The current value of the session's model option, when it has one.
    pub fn model(&self) -> Option<String> {
        let mapper = lock(&self.shared.mapper);
        mapper
            .config_options
            .as_ref()
            .and_then(model_option)
            .map(|(_, v)| v)
    }

    /// Whether the agent offers `/compact` to this session.
    pub fn can_compact(&self) -> bool {
        lock(&self.shared.mapper)
            .commands
            .iter()
            .any(|c| c == "compact")
    }

    /// Whether the agent offers a model choice to this session.
    pub fn can_set_model(&self) -> bool {
        let mapper = lock(&self.shared.mapper);
        mapper
            .config_options
            .as_ref()
            .and_then(model_option)
            .is_some()
    }

    async fn prompt(&self, text: String, compaction: bool) -> Result<(), ProviderError> {
        let params = to_value(PromptRequest::new(
            self.shared.session_id.clone(),
            vec![ContentBlock::from(text)],
        ));
        let conn = self.conn.clone();
        let ctl = self.ctl.clone();
        tokio::spawn(async move {
            // No timeout: a prompt lasts as long as its turn; the process exiting ends it.
            let result = conn.request("session/prompt", params, None).await;
            let _ = ctl.send(Control::PromptDone { result, compaction }).await;
        });
        Ok(())
    }

    /// Sends the user's text as a new turn; `turn.completed` follows when `session/prompt`
    /// answers with its stop reason.
    pub async fn send_turn(
        &self,
        text: String,
        model: Option<String>,
        mode: TurnMode,
    ) -> Result<(), ProviderError> {
        if mode == TurnMode::Plan {
            return Err(ProviderError::Failed(format!(
                "{} has no plan mode in baton (ACP modes are not driven yet)",
                self.provider
            )));
        }
        if let Some(m) = model.filter(|m| Some(m) != self.model().as_ref())
            && self.can_set_model()
        {
            self.set_model(&m).await?;
        }
        lock(&self.shared.mapper).begin_turn();
        let started = EventBody::TurnStarted(TurnStarted {
            model: self.model(),
        });
        self.sink.send(event(started)).await;
        // The prompt as the thread's log shows it (ACP agents echo it only on session/load).
        let user = Item {
            text: Some(text.clone()),
            ..Item::new(ItemType::UserMessage)
        };
        let user_id = Some(format!("user-{}", uuid::Uuid::now_v7()));
        for body in [
            EventBody::ItemStarted(user.clone()),
            EventBody::ItemCompleted(user),
        ] {
            self.sink
                .send(ProviderEvent::Event {
                    body,
                    native_turn: None,
                    item_id: user_id.clone(),
                    raw: None,
                })
                .await;
        }
        self.prompt(text, false).await
    }

    /// `session/cancel`; permission requests still open are answered `cancelled`, as ACP asks.
    pub async fn interrupt(&self) -> Result<(), ProviderError> {
        task::cancel_pending(&self.conn, &self.shared).await;
        self.conn
            .notify(
                "session/cancel",
                to_value(CancelNotification::new(self.shared.session_id.clone())),
            )
            .await
    }

    /// The agent's own `/compact` command, when it offers one.
    pub async fn compact(&self, instructions: Option<String>) -> Result<(), ProviderError> {
        if !self.can_compact() {
            return Err(ProviderError::Failed(format!(
                "compaction is not supported by this provider ({} offers no /compact command)",
                self.provider
            )));
        }
        let started = lock(&self.shared.mapper).begin_compaction();
        self.sink
            .send(event(EventBody::TurnStarted(TurnStarted {
                model: self.model(),
            })))
            .await;
        self.sink.send(event(started)).await;
        let text = match instructions {
            Some(i) => format!("/compact {i}"),
            None => "/compact".into(),
        };
        self.prompt(text, true).await
    }

    /// `session/set_config_option` on the session's model option.
    pub async fn set_model(&self, model: &str) -> Result<(), ProviderError> {
        let option = {
            let mapper = lock(&self.shared.mapper);
            mapper.config_options.as_ref().and_then(model_option)
        };
        let Some((config_id, _)) = option else {
            return Err(ProviderError::Failed(format!(
                "{} offers no model choice for its sessions",
                self.provider
            )));
        };
        let params = to_value(SetSessionConfigOptionRequest::new(
            self.shared.session_id.clone(),
            config_id,
            model,
        ));
        let result = self
            .conn
            .request("session/set_config_option", params, Some(SESSION_TIMEOUT))
            .await?;
        if let Some(options) = result.get("configOptions") {
            lock(&self.shared.mapper).config_options = Some(options.clone());
        }
        Ok(())
    }

    /// Ends the session softly: `session/close` when the agent has it; the agent keeps the
    /// session either way, so the cursor stays good.
    pub async fn stop(&self) {
        task::cancel_pending(&self.conn, &self.shared).await;
        self.conn.unregister(&self.shared.session_id);
        let _ = self.ctl.send(Control::Stop).await;
        if self.facts.close {
            let params = to_value(CloseSessionRequest::new(self.shared.session_id.clone()));
            if let Err(e) = self
                .conn
                .request("session/close", params, Some(Duration::from_secs(10)))
                .await
            {
                tracing::debug!(provider = %self.provider, "session/close failed: {e}");
            }
        }
    }
}

fn event(body: EventBody) -> ProviderEvent {
    ProviderEvent::Event {
        body,
        native_turn: None,
        item_id: None,
        raw: None,
    }
}
