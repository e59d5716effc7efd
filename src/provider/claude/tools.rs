//! Claude Code tool uses -> baton items: the item a `tool_use` block starts (by tool name), the
//! text and exit code of the `tool_result` that completes it, and the structured inputs of the
//! tools baton shows specially (`AskUserQuestion` questions, the `TodoWrite` plan).
//!
//! Split from [`super::mapping`], which walks the stdout messages and calls these.

use baton_protocol::{
    FileChange, InputQuestion, Item, ItemType, PlanStep, PlanStepStatus, TurnPlan,
};
use serde_json::Value;

use super::mapping::s;

/// The item a tool use starts, by tool name.
pub fn tool_item(name: &str, input: &Value) -> Item {
    match name {
        "Bash" => Item {
            command: s(input, "command"),
            ..Item::new(ItemType::Command)
        },
        "Write" | "Edit" | "MultiEdit" | "NotebookEdit" => {
            let path = s(input, "file_path")
                .or_else(|| s(input, "notebook_path"))
                .unwrap_or_default();
            let diff = match name {
                "Write" => {
                    s(input, "content").map(|c| c.lines().map(|l| format!("+{l}\n")).collect())
                }
                "Edit" => match (s(input, "old_string"), s(input, "new_string")) {
                    (Some(old), Some(new)) => Some(format!(
                        "{}{}",
                        old.lines().map(|l| format!("-{l}\n")).collect::<String>(),
                        new.lines().map(|l| format!("+{l}\n")).collect::<String>()
                    )),
                    _ => None,
                },
                _ => None,
            };
            Item {
                changes: Some(vec![FileChange {
                    path,
                    kind: if name == "Write" {
                        "add".into()
                    } else {
                        "update".into()
                    },
                    diff,
                }]),
                tool: Some(name.to_string()),
                ..Item::new(ItemType::FileChange)
            }
        }
        "WebSearch" => Item {
            text: s(input, "query"),
            ..Item::new(ItemType::WebSearch)
        },
        other => Item {
            tool: Some(other.to_string()),
            text: Some(input.to_string()),
            ..Item::new(ItemType::ToolCall)
        },
    }
}

pub(super) fn tool_result_text(block: &Value) -> String {
    match block.get("content") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The questions of an `AskUserQuestion` tool use (`{questions:[{question, header, options,
/// multiSelect}]}`); Claude keys answers by question text, baton by an id made from the index.
pub fn ask_user_questions(input: &Value) -> Vec<InputQuestion> {
    input
        .get("questions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, q)| InputQuestion {
            id: format!("q{}", i + 1),
            question: s(q, "question").unwrap_or_default(),
            header: s(q, "header"),
            options: crate::provider::input_options(q.get("options")),
            multi_select: q
                .get("multiSelect")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            // Claude's question UI always offers "Other" with free text.
            allow_other: true,
            secret: false,
        })
        .collect()
}

/// The todo list of a `TodoWrite` tool use as a plan.
pub fn todo_plan(input: &Value) -> TurnPlan {
    let steps = input
        .get("todos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|t| PlanStep {
            text: s(t, "content").unwrap_or_default(),
            status: match t.get("status").and_then(Value::as_str) {
                Some("completed") => PlanStepStatus::Completed,
                Some("in_progress") => PlanStepStatus::InProgress,
                _ => PlanStepStatus::Pending,
            },
        })
        .collect();
    TurnPlan {
        steps,
        explanation: None,
    }
}

pub(super) fn bash_exit_code(result: Option<&Value>, is_error: bool) -> Option<i64> {
    let r = result?;
    if let Some(code) = r
        .get("exitCode")
        .or_else(|| r.get("exit_code"))
        .and_then(Value::as_i64)
    {
        return Some(code);
    }
    // Claude reports a finished command by its output; a non-error result ran to completion.
    (r.get("stdout").is_some()
        && !is_error
        && r.get("interrupted").and_then(Value::as_bool) != Some(true))
    .then_some(0)
}
