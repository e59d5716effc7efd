//! Claude's `can_use_tool` requests: approvals for tools, and `AskUserQuestion` as a question to
//! the editor. Both go through the round trip of [`crate::provider::ask`].

use baton_protocol::{ApprovalDecision, InputResponse};
use serde_json::{Value, json};

use super::{ClaudeSession, coverage, lock, mapping};
use crate::provider::{ApprovalAsk, ask};

impl ClaudeSession {
    /// `raw` is the control request line, when the editor asked for raw messages.
    pub(super) async fn on_can_use_tool(
        &self,
        request_id: String,
        request: Value,
        raw: Option<Value>,
    ) {
        let tool = request
            .get("tool_name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let input = request.get("input").cloned().unwrap_or(json!({}));
        if tool == coverage::ASK_USER_TOOL {
            // A question, not an approval: asked even when the policy allows everything.
            return self.ask_user(request_id, input, raw).await;
        }
        let allow = json!({"behavior": "allow", "updatedInput": input});
        if self.inner.auto_allow || lock(&self.inner.allowed_tools).contains(&tool) {
            return self.answer(&request_id, allow).await;
        }
        let ask = tool_ask(&tool, &input, &request);
        let session = self.clone();
        let answer = move |decision: ApprovalDecision| async move {
            let response = match decision {
                ApprovalDecision::Accept => allow,
                ApprovalDecision::AcceptForSession => {
                    lock(&session.inner.allowed_tools).insert(tool);
                    allow
                }
                ApprovalDecision::Decline => {
                    json!({"behavior": "deny", "message": "The user declined this action."})
                }
                ApprovalDecision::Cancel => {
                    json!({"behavior": "deny", "message": "The user declined this action and stopped the turn.", "interrupt": true})
                }
            };
            session.answer(&request_id, response).await;
        };
        ask::approval(&self.inner.sink, ask, None, raw, answer).await;
    }

    /// `AskUserQuestion`: the questions go to the editor as `input/request`. Answered, the tool
    /// is allowed with the answers added to its input (keyed by question text, as the tool
    /// expects); cancelled, it is denied so the agent knows the user did not answer.
    async fn ask_user(&self, request_id: String, input: Value, raw: Option<Value>) {
        let questions = mapping::ask_user_questions(&input);
        let asked = questions.clone();
        let session = self.clone();
        let answer = move |response: Option<InputResponse>| async move {
            let response = match response {
                Some(r) => {
                    let mut answers = serde_json::Map::new();
                    for q in &asked {
                        if let Some(a) = r.answers.get(&q.id).filter(|a| !a.is_empty()) {
                            answers.insert(q.question.clone(), json!(a.join(", ")));
                        }
                    }
                    let mut updated = input;
                    if let Some(obj) = updated.as_object_mut() {
                        obj.insert("answers".into(), Value::Object(answers));
                    }
                    json!({"behavior": "allow", "updatedInput": updated})
                }
                None => {
                    json!({"behavior": "deny", "message": "The user declined to answer these questions."})
                }
            };
            session.answer(&request_id, response).await;
        };
        ask::input(&self.inner.sink, questions, None, raw, answer).await;
    }
}

/// What the editor is shown for a tool claude wants to use.
fn tool_ask(tool: &str, input: &Value, request: &Value) -> ApprovalAsk {
    ApprovalAsk {
        cwd: None,
        reason: request
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_string),
        ..ApprovalAsk::for_item(mapping::tool_item(tool, input), Some(tool))
    }
}
