//! `turn/start`, `turn/interrupt`.

use baton_protocol::{
    EmptyResponse, InputItem, TurnInterruptParams, TurnStartParams, TurnStartResponse,
};
use serde_json::Value;

use super::params;
use crate::rpc::RpcError;
use crate::session::{Command, Sessions};

pub async fn start(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: TurnStartParams = params::parse(p)?;
    let text = p
        .input
        .iter()
        .map(|i| match i {
            InputItem::Text { text } => text.as_str(),
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    if text.trim().is_empty() {
        return Err(params::invalid("input", "input must contain some text"));
    }
    params::known_provider(&sessions.context().providers, p.provider.as_ref())?;
    let turn_id = sessions
        .call(&p.thread_id, |reply| Command::StartTurn {
            text,
            provider: p.provider,
            model: p.model,
            mode: p.mode.unwrap_or_default(),
            reply,
        })
        .await?;
    params::to_value(TurnStartResponse { turn_id })
}

pub async fn interrupt(sessions: Sessions, p: Value) -> Result<Value, RpcError> {
    let p: TurnInterruptParams = params::parse(p)?;
    sessions
        .call(&p.thread_id, |reply| Command::Interrupt { reply })
        .await?;
    params::to_value(EmptyResponse {})
}
