//! The server's `approval/request` and `input/request` as ACP `session/request_permission`.
//!
//! Approvals offer allow_once (`accept`), allow_always (`acceptForSession`) and reject_once
//! (`decline`); a `cancelled` outcome (the client cancelled the prompt) is `cancel`, and an error
//! or a vanished client is `decline`, as baton's own rules say.
//!
//! ACP has no stable way to ask the user a question, so the agent's questions (`input/request`)
//! are asked one at a time as permission requests whose options are the question's choices,
//! plus "Skip". A question that wants free text cannot be answered that way: it is left
//! unanswered and the user sees a `[baton]` note saying so. When nothing was answered, the agent
//! is told the user declined (baton's cancel), and the turn goes on.

use std::collections::BTreeMap;

use agent_client_protocol_schema::v1::{
    ContentBlock, PermissionOption, PermissionOptionKind, RequestPermissionOutcome,
    RequestPermissionRequest, RequestPermissionResponse, ToolCallContent, ToolCallStatus,
    ToolCallUpdate, ToolCallUpdateFields, ToolKind,
};
use baton_protocol::{ApprovalKind, ApprovalRequestParams, InputQuestion, InputRequestParams};
use serde_json::{Value, json};

use super::updates::note;
use super::{Acp, tools};
use crate::rpc::RpcError;

fn option(id: &str, name: &str, kind: PermissionOptionKind) -> PermissionOption {
    PermissionOption::new(id.to_string(), name.to_string(), kind)
}

/// Asks the client; `None` when the user cancelled, `Some(option id)` when one was picked.
/// Errors (including a client that went away) are `Err`.
async fn ask(
    acp: &Acp,
    session: &str,
    tool_call: ToolCallUpdate,
    options: Vec<PermissionOption>,
) -> Result<Option<String>, RpcError> {
    let req = RequestPermissionRequest::new(session.to_string(), tool_call, options);
    let v = acp
        .client
        .request("session/request_permission", req)
        .await?;
    let r: RequestPermissionResponse = serde_json::from_value(v)
        .map_err(|e| RpcError::internal(format!("bad session/request_permission answer: {e}")))?;
    Ok(match r.outcome {
        RequestPermissionOutcome::Selected(s) => Some(s.option_id.0.to_string()),
        _ => None,
    })
}

fn attached(acp: &Acp, session: &str) -> bool {
    acp.sessions().contains_key(session)
}

pub async fn approval(acp: &Acp, params: Value) -> Result<Value, RpcError> {
    let p: ApprovalRequestParams = serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("invalid params: {e}")))?;
    if !attached(acp, &p.thread_id) {
        // Nobody on this connection looks at that session.
        return Ok(json!({"decision": "decline"}));
    }
    let kind = match p.kind {
        ApprovalKind::Command => ToolKind::Execute,
        ApprovalKind::FileChange => ToolKind::Edit,
        _ => ToolKind::Other,
    };
    let mut content: Vec<ToolCallContent> = Vec::new();
    if let Some(cmd) = &p.command {
        content.push(ContentBlock::from(cmd.clone()).into());
    }
    if let Some(changes) = &p.changes {
        content.extend(tools::change_diffs(changes));
    }
    if let Some(reason) = &p.reason {
        content.push(ContentBlock::from(format!("Reason: {reason}")).into());
    }
    let fields = ToolCallUpdateFields::new()
        .title(p.title.clone())
        .kind(kind)
        .status(ToolCallStatus::Pending)
        .content(content)
        .raw_input(json!({
            "command": p.command,
            "cwd": p.cwd,
            "changes": p.changes,
            "reason": p.reason,
        }));
    let call = ToolCallUpdate::new(format!("approval-{}", p.request_id), fields);
    let options = vec![
        option("allow", "Allow", PermissionOptionKind::AllowOnce),
        option(
            "allow_session",
            "Allow for this session",
            PermissionOptionKind::AllowAlways,
        ),
        option("reject", "Reject", PermissionOptionKind::RejectOnce),
    ];
    let decision = match ask(acp, &p.thread_id, call, options).await {
        Ok(Some(id)) if id == "allow" => "accept",
        Ok(Some(id)) if id == "allow_session" => "acceptForSession",
        Ok(Some(_)) => "decline",
        Ok(None) => "cancel",
        Err(e) => {
            tracing::debug!("permission request failed, declining: {}", e.message);
            "decline"
        }
    };
    Ok(json!({"decision": decision}))
}

fn question_call(request: &str, q: &InputQuestion) -> ToolCallUpdate {
    let mut text = String::new();
    if let Some(h) = &q.header {
        text.push_str(&format!("{h}\n"));
    }
    text.push_str(&q.question);
    for o in &q.options {
        match &o.description {
            Some(d) => text.push_str(&format!("\n- {}: {d}", o.label)),
            None => text.push_str(&format!("\n- {}", o.label)),
        }
    }
    let fields = ToolCallUpdateFields::new()
        .title(format!("Question: {}", q.question))
        .kind(ToolKind::Other)
        .status(ToolCallStatus::Pending)
        .content(vec![ContentBlock::from(text).into()])
        .raw_input(json!({"question": q}));
    ToolCallUpdate::new(format!("question-{request}-{}", q.id), fields)
}

pub async fn input(acp: &Acp, params: Value) -> Result<Value, RpcError> {
    let p: InputRequestParams = serde_json::from_value(params)
        .map_err(|e| RpcError::invalid_params(format!("invalid params: {e}")))?;
    if !attached(acp, &p.thread_id) {
        return Ok(json!({"cancelled": true}));
    }
    let mut answers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for q in &p.questions {
        if q.options.is_empty() {
            acp.update(
                &p.thread_id,
                note(
                    "question",
                    &format!(
                        "The agent asked “{}”, which needs a typed answer; ACP clients can only pick from choices, so the agent is told you did not answer.",
                        q.question
                    ),
                ),
            )
            .await;
            continue;
        }
        let mut options: Vec<PermissionOption> = q
            .options
            .iter()
            .enumerate()
            .map(|(i, o)| option(&format!("o{i}"), &o.label, PermissionOptionKind::AllowOnce))
            .collect();
        options.push(option("skip", "Skip", PermissionOptionKind::RejectOnce));
        match ask(acp, &p.thread_id, question_call(&p.request_id, q), options).await {
            Ok(Some(id)) => {
                let picked = id
                    .strip_prefix('o')
                    .and_then(|n| n.parse::<usize>().ok())
                    .and_then(|n| q.options.get(n));
                if let Some(o) = picked {
                    answers.insert(q.id.clone(), vec![o.label.clone()]);
                }
            }
            // Cancelled (the prompt is being cancelled) or failed: stop asking.
            Ok(None) | Err(_) => return Ok(json!({"cancelled": true})),
        }
    }
    if answers.is_empty() {
        return Ok(json!({"cancelled": true}));
    }
    Ok(json!({"answers": answers}))
}
