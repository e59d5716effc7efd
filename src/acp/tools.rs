//! baton items (commands, file changes, tool calls) as ACP tool calls.
//!
//! The item id is the tool call id. Kinds follow ACP's list (`execute`, `edit`, `delete`, `read`,
//! `search`, `fetch`, `think`, `other`); file changes carry `diff` content, reconstructed from the
//! unified diff baton stores (the hunks' old and new lines), and their paths as locations.

use agent_client_protocol_schema::v1::{
    ContentBlock, Diff, ToolCall, ToolCallContent, ToolCallId, ToolCallLocation, ToolCallStatus,
    ToolCallUpdate, ToolCallUpdateFields, ToolKind,
};
use baton_protocol::{FileChange, Item, ItemType};
use serde_json::{Value, json};

/// Largest command output put into a tool call (the tail is kept: that is where errors are).
const MAX_OUTPUT: usize = 32 * 1024;

/// Items shown as tool calls (messages, reasoning, plans and compactions are not).
pub fn is_tool(t: ItemType) -> bool {
    !matches!(
        t,
        ItemType::UserMessage
            | ItemType::AssistantMessage
            | ItemType::Reasoning
            | ItemType::Plan
            | ItemType::Compaction
    )
}

fn one_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_string()
    }
}

pub fn kind(item: &Item) -> ToolKind {
    match item.item_type {
        ItemType::Command => ToolKind::Execute,
        ItemType::FileChange => {
            let changes = item.changes.as_deref().unwrap_or_default();
            if !changes.is_empty() && changes.iter().all(|c| c.kind == "delete") {
                ToolKind::Delete
            } else {
                ToolKind::Edit
            }
        }
        ItemType::WebSearch => ToolKind::Fetch,
        ItemType::Subagent => ToolKind::Think,
        ItemType::ToolCall => match item.tool.as_deref().unwrap_or("") {
            "Read" | "NotebookRead" | "LS" | "view_image" => ToolKind::Read,
            "Grep" | "Glob" | "ToolSearch" => ToolKind::Search,
            "WebFetch" | "WebSearch" => ToolKind::Fetch,
            "Task" | "Agent" => ToolKind::Think,
            _ => ToolKind::Other,
        },
        _ => ToolKind::Other,
    }
}

pub fn title(item: &Item) -> String {
    match item.item_type {
        ItemType::Command => format!(
            "Run `{}`",
            one_line(item.command.as_deref().unwrap_or(""), 120)
        ),
        ItemType::FileChange => {
            let changes = item.changes.as_deref().unwrap_or_default();
            let verb = |c: &FileChange| match c.kind.as_str() {
                "add" => "Create",
                "delete" => "Delete",
                _ => "Edit",
            };
            match changes {
                [] => "Edit files".into(),
                [one] => format!("{} {}", verb(one), one.path),
                many => format!("Edit {} files", many.len()),
            }
        }
        ItemType::McpToolCall => format!(
            "{}/{}",
            item.server.as_deref().unwrap_or("mcp"),
            item.tool.as_deref().unwrap_or("tool")
        ),
        ItemType::WebSearch => match item.text.as_deref() {
            Some(q) => format!("Web search: {}", one_line(q, 100)),
            None => "Web search".into(),
        },
        ItemType::Subagent => format!("Sub-agent: {}", item.tool.as_deref().unwrap_or("task")),
        _ => item
            .tool
            .clone()
            .or_else(|| item.text.as_deref().map(|t| one_line(t, 100)))
            .unwrap_or_else(|| "Tool".into()),
    }
}

/// The old and new text of a change, from its unified diff: context and removed lines make the
/// old text, context and added lines the new. Headers before the first hunk are skipped.
pub fn diff_texts(diff: &str) -> (String, String) {
    let has_hunks = diff.lines().any(|l| l.starts_with("@@"));
    let mut in_hunk = !has_hunks;
    let (mut old, mut new) = (String::new(), String::new());
    for line in diff.lines() {
        if line.starts_with("@@") {
            in_hunk = true;
            continue;
        }
        if !in_hunk || line.starts_with('\\') {
            continue;
        }
        match line.split_at_checked(1) {
            Some(("+", rest)) => {
                new.push_str(rest);
                new.push('\n');
            }
            Some(("-", rest)) => {
                old.push_str(rest);
                old.push('\n');
            }
            Some((" ", rest)) => {
                old.push_str(rest);
                old.push('\n');
                new.push_str(rest);
                new.push('\n');
            }
            _ => {
                old.push_str(line);
                old.push('\n');
                new.push_str(line);
                new.push('\n');
            }
        }
    }
    (old, new)
}

fn diffs(item: &Item) -> Vec<ToolCallContent> {
    change_diffs(item.changes.as_deref().unwrap_or_default())
}

/// `diff` content for file changes.
pub fn change_diffs(changes: &[FileChange]) -> Vec<ToolCallContent> {
    changes
        .iter()
        .map(|c| {
            let (old, new) = diff_texts(c.diff.as_deref().unwrap_or(""));
            let d = match c.kind.as_str() {
                "add" => Diff::new(&c.path, new),
                "delete" => Diff::new(&c.path, String::new()).old_text(old),
                _ => Diff::new(&c.path, new).old_text(old),
            };
            ToolCallContent::Diff(d)
        })
        .collect()
}

fn locations(item: &Item) -> Vec<ToolCallLocation> {
    item.changes
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|c| ToolCallLocation::new(&c.path))
        .collect()
}

fn text_content(text: &str) -> ToolCallContent {
    ToolCallContent::from(ContentBlock::from(text.to_string()))
}

fn tail(s: &str) -> &str {
    if s.len() <= MAX_OUTPUT {
        return s;
    }
    let mut start = s.len() - MAX_OUTPUT;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// What the item produced: diffs for file changes, output or error text for the rest.
fn result_content(item: &Item) -> Vec<ToolCallContent> {
    if item.item_type == ItemType::FileChange {
        return diffs(item);
    }
    let mut out = Vec::new();
    if let Some(o) = item.output.as_deref().filter(|o| !o.is_empty()) {
        out.push(text_content(tail(o)));
    }
    if let Some(e) = item.error.as_deref().filter(|e| !e.is_empty()) {
        out.push(text_content(e));
    }
    out
}

fn failed(item: &Item) -> bool {
    item.error.is_some()
        || item.exit_code.is_some_and(|c| c != 0)
        || matches!(
            item.status.as_deref(),
            Some("failed" | "declined" | "error" | "rejected")
        )
}

fn raw_input(item: &Item) -> Value {
    let mut v = json!({ "itemType": item.item_type });
    for (key, value) in [
        ("command", item.command.as_deref()),
        ("cwd", item.cwd.as_deref()),
        ("tool", item.tool.as_deref()),
        ("server", item.server.as_deref()),
    ] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    if let Some(c) = &item.changes {
        v["changes"] = json!(c);
    }
    v
}

fn raw_output(item: &Item) -> Value {
    json!({
        "exitCode": item.exit_code,
        "status": item.status,
        "error": item.error,
    })
}

/// `tool_call` for an item that started.
pub fn started(id: &str, item: &Item) -> ToolCall {
    let content = if item.item_type == ItemType::FileChange {
        diffs(item)
    } else {
        vec![]
    };
    ToolCall::new(ToolCallId::new(id), title(item))
        .kind(kind(item))
        .status(ToolCallStatus::InProgress)
        .content(content)
        .locations(locations(item))
        .raw_input(raw_input(item))
}

fn final_status(item: &Item) -> ToolCallStatus {
    if failed(item) {
        ToolCallStatus::Failed
    } else {
        ToolCallStatus::Completed
    }
}

/// `tool_call_update` for a started item that completed.
pub fn completed(id: &str, item: &Item) -> ToolCallUpdate {
    let mut fields = ToolCallUpdateFields::new()
        .status(final_status(item))
        .title(title(item))
        .raw_output(raw_output(item));
    let content = result_content(item);
    if !content.is_empty() {
        fields = fields.content(content);
    }
    if item.item_type == ItemType::FileChange {
        fields = fields.locations(locations(item));
    }
    ToolCallUpdate::new(ToolCallId::new(id), fields)
}

/// A whole `tool_call` for an item seen only when it completed.
pub fn finished(id: &str, item: &Item) -> ToolCall {
    ToolCall::new(ToolCallId::new(id), title(item))
        .kind(kind(item))
        .status(final_status(item))
        .content(result_content(item))
        .locations(locations(item))
        .raw_input(raw_input(item))
        .raw_output(raw_output(item))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn diff_texts_from_a_git_diff_and_from_bare_lines() {
        let git = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n keep\n-old\n+new\n--- dashes\n\\ No newline at end of file\n";
        assert_eq!(
            diff_texts(git),
            ("keep\nold\n-- dashes\n".into(), "keep\nnew\n".into())
        );
        // Claude's Write/Edit items carry bare +/- lines without headers.
        assert_eq!(diff_texts("-a\n+b\n+c\n"), ("a\n".into(), "b\nc\n".into()));
    }

    #[test]
    fn file_changes_are_edits_with_diffs_and_locations() {
        let item = Item {
            changes: Some(vec![FileChange {
                path: "/w/a.txt".into(),
                kind: "add".into(),
                diff: Some("+hello\n".into()),
            }]),
            ..Item::new(ItemType::FileChange)
        };
        let v = serde_json::to_value(started("i1", &item)).unwrap();
        assert_eq!(v["kind"], "edit");
        assert_eq!(v["title"], "Create /w/a.txt");
        assert_eq!(v["status"], "in_progress");
        assert_eq!(
            v["content"],
            json!([{"type": "diff", "path": "/w/a.txt", "newText": "hello\n"}])
        );
        assert_eq!(v["locations"], json!([{"path": "/w/a.txt"}]));
    }

    #[test]
    fn commands_execute_and_fail_on_a_nonzero_exit() {
        let item = Item {
            command: Some("ls /nope".into()),
            exit_code: Some(2),
            output: Some("no such file".into()),
            ..Item::new(ItemType::Command)
        };
        let v = serde_json::to_value(completed("c1", &item)).unwrap();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["title"], "Run `ls /nope`");
        assert_eq!(
            v["content"],
            json!([{"type": "content", "content": {"type": "text", "text": "no such file"}}])
        );
        assert_eq!(kind(&item), ToolKind::Execute);
        let ok = Item {
            exit_code: Some(0),
            ..item
        };
        assert_eq!(final_status(&ok), ToolCallStatus::Completed);
    }

    #[test]
    fn long_output_keeps_its_tail() {
        let s = format!("{}END", "é".repeat(MAX_OUTPUT));
        let t = tail(&s);
        assert!(t.len() <= MAX_OUTPUT && t.ends_with("END"));
    }
}
