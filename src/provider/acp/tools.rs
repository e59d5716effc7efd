//! Tool calls as baton items: `execute` -> command, `edit` / `delete` / `move` -> file change with
//! a unified diff, anything else -> tool call; and how their content accumulates.

use agent_client_protocol_schema::v1::{ToolCallContent, ToolKind};
use baton_protocol::{FileChange, Item, ItemType};
use serde_json::Value;

use super::mapping::block_text;

/// What is known of a tool call between its start and its end.
pub(super) struct Tool {
    pub kind: ToolKind,
    pub title: String,
    pub name: Option<String>,
    pub raw_input: Option<Value>,
    pub content: Vec<ToolCallContent>,
    pub started: bool,
}

/// Takes a tool call's new content; diffs already known stay when the new content has none (an
/// agent may send the diff first and only the result text at the end).
pub(super) fn merge_content(content: &mut Vec<ToolCallContent>, new: Vec<ToolCallContent>) {
    let is_diff = |c: &ToolCallContent| matches!(c, ToolCallContent::Diff(_));
    if new.iter().any(is_diff) {
        *content = new;
    } else {
        content.retain(is_diff);
        content.extend(new);
    }
}

/// The text of a tool call's content blocks (its output so far).
fn content_text(content: &[ToolCallContent]) -> Option<String> {
    let text: Vec<String> = content
        .iter()
        .filter_map(|c| match c {
            ToolCallContent::Content(c) => Some(block_text(&c.content)),
            _ => None,
        })
        .filter(|t| !t.is_empty())
        .collect();
    (!text.is_empty()).then(|| text.join("\n"))
}

fn str_field(v: Option<&Value>, keys: &[&str]) -> Option<String> {
    let v = v?;
    keys.iter().find_map(|k| match v.get(*k)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(
            a.iter()
                .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    })
}

pub(super) fn tool_item(tool: &Tool, raw_output: Option<&Value>) -> Item {
    let output = content_text(&tool.content).or_else(|| {
        raw_output.and_then(|o| match o {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => str_field(Some(other), &["output", "stdout", "content"]),
        })
    });
    match tool.kind {
        ToolKind::Execute => {
            let mut item = Item::new(ItemType::Command);
            item.command = str_field(tool.raw_input.as_ref(), &["command", "cmd"])
                .or_else(|| Some(tool.title.clone()));
            item.cwd = str_field(tool.raw_input.as_ref(), &["cwd", "workdir", "dir_path"]);
            item.output = output;
            item.exit_code = raw_output.and_then(|o| {
                o.get("exitCode")
                    .or_else(|| o.get("exit_code"))
                    .and_then(Value::as_i64)
            });
            item
        }
        ToolKind::Edit | ToolKind::Delete | ToolKind::Move => {
            let mut item = Item::new(ItemType::FileChange);
            item.text = Some(tool.title.clone());
            let changes = file_changes(tool);
            item.changes = (!changes.is_empty()).then_some(changes);
            item.output = output;
            item
        }
        _ => {
            let mut item = Item::new(ItemType::ToolCall);
            item.tool = tool.name.clone().or_else(|| {
                serde_json::to_value(tool.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
            });
            item.text = Some(tool.title.clone());
            item.output = output;
            item
        }
    }
}

fn file_changes(tool: &Tool) -> Vec<FileChange> {
    let diffs: Vec<FileChange> = tool
        .content
        .iter()
        .filter_map(|c| match c {
            ToolCallContent::Diff(d) => {
                let path = d.path.display().to_string();
                // A new file comes as no old text, or (gemini-cli) as an empty one.
                let old = d.old_text.as_deref().filter(|o| !o.is_empty());
                let kind = match (old, tool.kind) {
                    (_, ToolKind::Delete) => "delete",
                    (None, _) => "add",
                    (Some(_), _) => "update",
                };
                let diff = unified_diff(&path, old, &d.new_text);
                Some(FileChange {
                    path,
                    kind: kind.into(),
                    diff: Some(diff),
                })
            }
            _ => None,
        })
        .collect();
    if !diffs.is_empty() || tool.kind != ToolKind::Delete {
        return diffs;
    }
    // A delete without diff content names its file in the input.
    str_field(tool.raw_input.as_ref(), &["path", "file_path", "filePath"])
        .map(|path| {
            vec![FileChange {
                path,
                kind: "delete".into(),
                diff: None,
            }]
        })
        .unwrap_or_default()
}

/// A small unified diff of one file: the common leading and trailing lines are context, the
/// middle is shown as removed and added (enough to review an agent's edit).
pub fn unified_diff(path: &str, old: Option<&str>, new: &str) -> String {
    let old_lines: Vec<&str> = old.map(|o| o.lines().collect()).unwrap_or_default();
    let new_lines: Vec<&str> = new.lines().collect();
    let prefix = old_lines
        .iter()
        .zip(&new_lines)
        .take_while(|(a, b)| a == b)
        .count();
    let suffix = old_lines[prefix..]
        .iter()
        .rev()
        .zip(new_lines[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let removed = &old_lines[prefix..old_lines.len() - suffix];
    let added = &new_lines[prefix..new_lines.len() - suffix];
    let rel = path.trim_start_matches('/');
    let from = if old.is_some() {
        format!("a/{rel}")
    } else {
        "/dev/null".into()
    };
    let mut out = format!("--- {from}\n+++ b/{rel}\n");
    out.push_str(&format!(
        "@@ -{},{} +{},{} @@\n",
        prefix + usize::from(!removed.is_empty()),
        removed.len(),
        prefix + usize::from(!added.is_empty()),
        added.len()
    ));
    for l in removed {
        out.push_str(&format!("-{l}\n"));
    }
    for l in added {
        out.push_str(&format!("+{l}\n"));
    }
    out
}
