//! `session/prompt`, `session/cancel`, and the slash commands `/compact` and `/switch`.
//!
//! A prompt is a baton turn: the waiter is registered before `turn/start` (the turn's events can
//! overtake its response), the router streams the turn's updates and hands over the turn's end,
//! and the answer's `stopReason` follows from it (`completed` -> `end_turn`, `interrupted` ->
//! `cancelled`; a failed turn is an error with the provider's message). One prompt per session
//! at a time; a second one is refused with -32600.

use std::sync::Arc;

use agent_client_protocol_schema::v1::{
    CancelNotification, ConfigOptionUpdate, ContentBlock, EmbeddedResourceResource, PromptRequest,
    PromptResponse, SessionInfoUpdate, SessionUpdate, StopReason,
};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::updates::note;
use super::{Acp, TurnEnd, config, not_found, parse, to_value};
use crate::rpc::RpcError;

/// Longest title taken from a first prompt.
const TITLE_CHARS: usize = 80;

/// The prompt as the text a provider takes. Links and embedded text resources are inlined;
/// images and audio are refused (they are not advertised).
pub fn prompt_text(blocks: &[ContentBlock]) -> Result<String, RpcError> {
    let mut parts = Vec::new();
    for b in blocks {
        match b {
            ContentBlock::Text(t) => parts.push(t.text.clone()),
            ContentBlock::ResourceLink(l) => parts.push(format!("@{}", l.uri)),
            ContentBlock::Resource(r) => match &r.resource {
                EmbeddedResourceResource::TextResourceContents(t) => parts.push(format!(
                    "<context uri=\"{}\">\n{}\n</context>",
                    t.uri, t.text
                )),
                EmbeddedResourceResource::BlobResourceContents(b) => {
                    parts.push(format!("@{} (binary, not inlined)", b.uri));
                }
                _ => {}
            },
            _ => {
                return Err(RpcError::invalid_params(
                    "invalid params: baton accepts text, resource links and embedded text resources (no images or audio)",
                ));
            }
        }
    }
    Ok(parts.join("\n"))
}

/// A slash command baton handles itself.
#[derive(Debug, PartialEq)]
pub enum Slash {
    Compact(Option<String>),
    Switch {
        provider: String,
        model: Option<String>,
    },
}

pub fn slash(text: &str) -> Option<Result<Slash, String>> {
    let t = text.trim();
    let (cmd, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
    let rest = rest.trim();
    match cmd {
        "/compact" => Some(Ok(Slash::Compact(
            Some(rest.to_string()).filter(|r| !r.is_empty()),
        ))),
        "/switch" => {
            let mut words = rest.split_whitespace();
            Some(match words.next() {
                Some(provider) => Ok(Slash::Switch {
                    provider: provider.to_string(),
                    model: words.next().map(str::to_string),
                }),
                None => Err("usage: /switch <provider> [model]".to_string()),
            })
        }
        _ => None,
    }
}

/// Clears the session's prompt state however the prompt ends.
struct Active<'a> {
    acp: &'a Acp,
    id: String,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.acp.sessions().get_mut(&self.id) {
            s.prompt_active = false;
            s.prompt = None;
            s.cancel_requested = false;
        }
    }
}

/// Registers the prompt; refused when the session is unknown or already prompting.
fn begin<'a>(acp: &'a Acp, id: &str) -> Result<(Active<'a>, oneshot::Receiver<TurnEnd>), RpcError> {
    let mut sessions = acp.sessions();
    let s = sessions.get_mut(id).ok_or_else(|| not_found(id))?;
    if s.prompt_active {
        return Err(RpcError::invalid_request(
            "a prompt is already running in this session; cancel it or wait for it to end",
        ));
    }
    let (tx, rx) = oneshot::channel();
    s.prompt_active = true;
    s.cancel_requested = false;
    s.prompt = Some(tx);
    Ok((
        Active {
            acp,
            id: id.to_string(),
        },
        rx,
    ))
}

fn cancel_requested(acp: &Acp, id: &str) -> bool {
    acp.sessions().get(id).is_some_and(|s| s.cancel_requested)
}

/// Waits for the turn's end and turns it into the answer.
async fn finish(acp: &Acp, id: &str, rx: oneshot::Receiver<TurnEnd>) -> Result<Value, RpcError> {
    let end = match rx.await {
        Ok(end) => end,
        // The session was closed or deleted under the prompt.
        Err(_) => return to_value(PromptResponse::new(StopReason::Cancelled)),
    };
    let reason = match end.state.as_str() {
        "completed" => StopReason::EndTurn,
        "interrupted" => StopReason::Cancelled,
        _ if cancel_requested(acp, id) => StopReason::Cancelled,
        _ => {
            return Err(RpcError::internal(format!(
                "the turn failed: {}",
                end.error.as_deref().unwrap_or("unknown error")
            )));
        }
    };
    to_value(PromptResponse::new(reason))
}

/// Names the thread after its first prompt, so `session/list` shows something a person knows.
async fn title_from(acp: &Acp, id: &str, text: &str) {
    let untitled = acp.sessions().get(id).is_some_and(|s| s.title.is_none());
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if !untitled || line.is_empty() {
        return;
    }
    let title: String = if line.chars().count() > TITLE_CHARS {
        format!("{}…", line.chars().take(TITLE_CHARS).collect::<String>())
    } else {
        line.to_string()
    };
    match acp
        .call("thread/update", json!({"threadId": id, "title": title}))
        .await
    {
        Ok(_) => {
            if let Some(s) = acp.sessions().get_mut(id) {
                s.title = Some(title.clone());
            }
            acp.update(
                id,
                SessionUpdate::SessionInfoUpdate(SessionInfoUpdate::new().title(title)),
            )
            .await;
        }
        Err(e) => tracing::debug!("cannot title the thread: {e}"),
    }
}

pub async fn prompt(acp: &Arc<Acp>, params: Value) -> Result<Value, RpcError> {
    let p: PromptRequest = parse(params)?;
    let id = p.session_id.0.to_string();
    let text = prompt_text(&p.prompt)?;
    if text.trim().is_empty() {
        return Err(RpcError::invalid_params(
            "invalid params: the prompt is empty",
        ));
    }
    let (_active, rx) = begin(acp, &id)?;
    match slash(&text) {
        Some(Err(usage)) => {
            acp.update(&id, note("command", &usage)).await;
            to_value(PromptResponse::new(StopReason::EndTurn))
        }
        Some(Ok(Slash::Compact(instructions))) => {
            acp.call(
                "thread/compact/start",
                json!({"threadId": id, "instructions": instructions}),
            )
            .await?;
            finish(acp, &id, rx).await
        }
        Some(Ok(Slash::Switch { provider, model })) => {
            config::switch(acp, &id, &provider, model.as_deref()).await?;
            let options = config::session_options(acp, &id)?;
            acp.update(
                &id,
                SessionUpdate::ConfigOptionUpdate(ConfigOptionUpdate::new(options)),
            )
            .await;
            to_value(PromptResponse::new(StopReason::EndTurn))
        }
        None => {
            title_from(acp, &id, &text).await;
            acp.call(
                "turn/start",
                json!({"threadId": id, "input": [{"type": "text", "text": text}]}),
            )
            .await?;
            // A cancel that arrived before the turn existed could not interrupt it.
            if cancel_requested(acp, &id) {
                let _ = acp.call("turn/interrupt", json!({"threadId": id})).await;
            }
            finish(acp, &id, rx).await
        }
    }
}

pub async fn cancel(acp: &Arc<Acp>, params: Value) {
    let p: CancelNotification = match parse(params) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!("ignoring a malformed session/cancel: {}", e.message);
            return;
        }
    };
    let id = p.session_id.0.to_string();
    let active = match acp.sessions().get_mut(&id) {
        Some(s) if s.prompt_active => {
            s.cancel_requested = true;
            true
        }
        _ => false,
    };
    if active && let Err(e) = acp.call("turn/interrupt", json!({"threadId": id})).await {
        tracing::debug!("interrupt after session/cancel: {}", e.message);
        // No turn is running (it has not started yet, or it already ended): answer the prompt now
        // rather than let it wait for a turn end that may never come. A turn that starts after
        // this is interrupted by the prompt itself, which sees `cancel_requested`.
        let code = e.data.as_ref().and_then(|d| d["batonCode"].as_i64());
        if code == Some(baton_protocol::errors::NO_ACTIVE_TURN) {
            let waiter = acp.sessions().get_mut(&id).and_then(|s| s.prompt.take());
            if let Some(tx) = waiter {
                let _ = tx.send(TurnEnd {
                    state: "interrupted".into(),
                    error: None,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn slash_commands_parse() {
        assert_eq!(slash("/compact"), Some(Ok(Slash::Compact(None))));
        assert_eq!(
            slash(" /compact keep the names "),
            Some(Ok(Slash::Compact(Some("keep the names".into()))))
        );
        assert_eq!(
            slash("/switch claude opus"),
            Some(Ok(Slash::Switch {
                provider: "claude".into(),
                model: Some("opus".into())
            }))
        );
        assert!(matches!(slash("/switch"), Some(Err(_))));
        assert_eq!(slash("/compaction is great"), None);
        assert_eq!(slash("hello /compact"), None);
    }

    #[test]
    fn prompt_blocks_become_text() {
        let blocks: Vec<ContentBlock> = serde_json::from_value(json!([
            {"type": "text", "text": "look at"},
            {"type": "resource_link", "name": "a.rs", "uri": "file:///w/a.rs"},
            {"type": "resource", "resource": {"uri": "file:///w/b.rs", "text": "fn b() {}"}}
        ]))
        .unwrap();
        assert_eq!(
            prompt_text(&blocks).unwrap(),
            "look at\n@file:///w/a.rs\n<context uri=\"file:///w/b.rs\">\nfn b() {}\n</context>"
        );
        let image: Vec<ContentBlock> = serde_json::from_value(
            json!([{"type": "image", "data": "AA==", "mimeType": "image/png"}]),
        )
        .unwrap();
        assert_eq!(prompt_text(&image).unwrap_err().code, -32602);
    }
}
