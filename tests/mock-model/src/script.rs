//! The scripted "model": reads the conversation out of a request and decides what to answer.

use serde_json::Value;

use crate::Api;

/// One message of the conversation, reduced to text.
#[derive(Debug, Clone)]
pub struct Msg {
    /// `user`, `assistant`, or `tool` (a tool result).
    pub role: String,
    pub text: String,
}

/// What the model does in this response.
#[derive(Debug, Clone, PartialEq)]
pub enum Plan {
    Text(String),
    Slow,
    /// Many one-character deltas: `FLOOD` sends 3000, 1 ms apart (a provider that outpaces its
    /// consumer); `FLOOD:<n>` sends `n` back to back, as fast as the client reads (benchmarks).
    Flood {
        deltas: usize,
        paced: bool,
    },
    Shell(String),
    WriteFile {
        path: String,
        content: String,
    },
    Fail,
    Hang,
    /// Updates the model's plan: codex `update_plan`, claude `TodoWrite`. The first step is
    /// in progress, the others pending.
    Steps(Vec<String>),
    /// Asks the user one question with these options: codex `request_user_input`, claude
    /// `AskUserQuestion`.
    AskUser {
        question: String,
        options: Vec<String>,
    },
    /// Reasoning (`thought`) streamed before the answer `text`.
    Reason {
        thought: String,
        text: String,
    },
}

pub fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => {
                    let ty = p.get("type").and_then(Value::as_str).unwrap_or("");
                    match ty {
                        "text" | "input_text" | "output_text" => {
                            p.get("text").and_then(Value::as_str).map(str::to_string)
                        }
                        "tool_result" => Some(text_of(p.get("content").unwrap_or(&Value::Null))),
                        _ => None,
                    }
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// The conversation of a request, oldest first.
pub fn conversation(api: Api, body: &Value) -> Vec<Msg> {
    let mut out = Vec::new();
    match api {
        Api::ChatCompletions => return crate::chat::conversation(body),
        Api::Gemini => return crate::gemini::conversation(body),
        Api::Responses => {
            for item in body
                .get("input")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let ty = item
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("message");
                match ty {
                    "message" => {
                        let role = item.get("role").and_then(Value::as_str).unwrap_or("");
                        if role == "user" || role == "assistant" {
                            let text = text_of(item.get("content").unwrap_or(&Value::Null));
                            // Codex adds its environment context as user messages; they are not the user's words.
                            if !text.trim_start().starts_with("<environment_context>")
                                && !text.trim_start().starts_with("# AGENTS.md")
                            {
                                out.push(Msg {
                                    role: role.into(),
                                    text,
                                });
                            }
                        }
                    }
                    "function_call_output" | "custom_tool_call_output" => {
                        let output = item.get("output").cloned().unwrap_or(Value::Null);
                        let text = match &output {
                            Value::String(s) => s.clone(),
                            other => text_of(other.get("content").unwrap_or(other)),
                        };
                        out.push(Msg {
                            role: "tool".into(),
                            text,
                        });
                    }
                    _ => {}
                }
            }
        }
        Api::Messages | Api::Other => {
            for m in body
                .get("messages")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let role = m.get("role").and_then(Value::as_str).unwrap_or("");
                let content = m.get("content").unwrap_or(&Value::Null);
                let is_tool_result = content.as_array().is_some_and(|parts| {
                    parts
                        .iter()
                        .any(|p| p.get("type").and_then(Value::as_str) == Some("tool_result"))
                });
                match role {
                    "user" if is_tool_result => {
                        let errored = content
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|p| p.get("is_error").and_then(Value::as_bool) == Some(true));
                        let mut text = text_of(content);
                        if errored {
                            text = format!("ERROR: {text}");
                        }
                        out.push(Msg {
                            role: "tool".into(),
                            text,
                        });
                    }
                    // Claude merges consecutive user messages into one and adds
                    // `<system-reminder>` blocks: each real text block is its own message.
                    "user" => match content.as_array() {
                        Some(blocks) => {
                            for b in blocks {
                                let text = text_of(&Value::Array(vec![b.clone()]));
                                if !text.is_empty()
                                    && !text.trim_start().starts_with("<system-reminder>")
                                {
                                    out.push(Msg {
                                        role: "user".into(),
                                        text,
                                    });
                                }
                            }
                        }
                        None => out.push(Msg {
                            role: "user".into(),
                            text: text_of(content),
                        }),
                    },
                    // A turn that only called a tool has no text; it is not part of what
                    // the conversation reads like.
                    "assistant" => {
                        let text = text_of(content);
                        if !text.is_empty() {
                            out.push(Msg {
                                role: role.into(),
                                text,
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    out
}

/// The command's own output inside a tool result. Codex's `exec_command` results start with a
/// header (`Chunk ID: …`, `Wall time: …`, `Process exited with code N`, …) and put the output
/// after an `Output:` line; other results are the output itself.
fn output_of(result: &str) -> &str {
    match result.split_once("\nOutput:\n") {
        Some((_, output)) if output.trim().is_empty() => "(no output)",
        Some((_, output)) => output,
        None if result.trim().is_empty() => "(no output)",
        None => result,
    }
}

fn first_line(s: &str) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    line.chars().take(120).collect()
}

/// Decides the answer to a conversation.
pub fn plan(conv: &[Msg]) -> Plan {
    let Some(last) = conv.last() else {
        return Plan::Text("mock reply to: (nothing)".into());
    };
    if last.role == "tool" {
        let previous_user = conv
            .iter()
            .rev()
            .find(|m| m.role == "user")
            .map(|m| m.text.as_str())
            .unwrap_or("");
        if previous_user.contains("PLAN:") {
            return Plan::Text("plan noted".into());
        }
        if previous_user.contains("ASK_USER:") {
            let line = last
                .text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("");
            let line: String = line.chars().take(200).collect();
            return Plan::Text(format!("user answered: {line}"));
        }
        if previous_user.contains("WRITE_FILE:") {
            let lower = last.text.to_ascii_lowercase();
            let failed = ["error", "denied", "rejected", "declined", "not "]
                .iter()
                .any(|w| lower.contains(w));
            return Plan::Text(if failed {
                "file not written".into()
            } else {
                "file written".into()
            });
        }
        let lower = last.text.to_ascii_lowercase();
        let refused = [
            "rejected",
            "declined",
            "denied",
            "refused",
            "canceled by the user",
            "doesn't want to proceed",
        ]
        .iter()
        .any(|w| lower.contains(w));
        let verb = if refused { "rejected" } else { "finished" };
        return Plan::Text(format!(
            "command {verb}: {}",
            first_line(output_of(&last.text))
        ));
    }
    let text = &last.text;
    if text.contains("CONTEXT CHECKPOINT COMPACTION")
        || text.contains("create a detailed summary of the conversation")
    {
        let users: Vec<&Msg> = conv.iter().filter(|m| m.role == "user").collect();
        let real: Vec<&&Msg> = users
            .iter()
            .filter(|m| {
                !m.text.contains("CONTEXT CHECKPOINT COMPACTION")
                    && !m.text.contains("detailed summary of the conversation")
            })
            .collect();
        // Like a real summary, it carries every user message forward (earlier summaries
        // included), so facts survive repeated compactions and handoffs.
        let said: Vec<String> = real
            .iter()
            .map(|m| {
                let flat = m.text.split_whitespace().collect::<Vec<_>>().join(" ");
                flat.chars().take(300).collect()
            })
            .collect();
        let last = said.last().cloned().unwrap_or_default();
        return Plan::Text(format!(
            "MOCK SUMMARY: {} earlier user messages; last: {last}; they said: {}",
            real.len(),
            said.join(" | ")
        ));
    }
    if let Some(rest) = after(text, "RUN_CMD:") {
        return Plan::Shell(rest);
    }
    if let Some(rest) = after(text, "WRITE_FILE:") {
        let (path, content) = rest.split_once(' ').unwrap_or((rest.as_str(), ""));
        return Plan::WriteFile {
            path: path.to_string(),
            content: content.to_string(),
        };
    }
    if let Some(rest) = after(text, "PLAN:") {
        let steps: Vec<String> = rest
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return Plan::Steps(steps);
    }
    if let Some(rest) = after(text, "ASK_USER:") {
        let mut parts = rest.split('|').map(str::trim);
        let question = parts.next().unwrap_or("").to_string();
        let options = parts
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        return Plan::AskUser { question, options };
    }
    if let Some(thought) = after(text, "REASON:") {
        let short: String = text.chars().take(60).collect();
        return Plan::Reason {
            thought,
            text: format!("mock reply to: {short}"),
        };
    }
    if text.contains("FAIL_529") {
        return Plan::Fail;
    }
    if text.contains("HANG") {
        return Plan::Hang;
    }
    if text.contains("SLOW") {
        return Plan::Slow;
    }
    if let Some(i) = text.find("FLOOD") {
        let count = text[i + "FLOOD".len()..]
            .strip_prefix(':')
            .map(|rest| {
                rest.chars()
                    .take_while(char::is_ascii_digit)
                    .collect::<String>()
            })
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| *n > 0);
        return match count {
            Some(deltas) => Plan::Flood {
                deltas,
                paced: false,
            },
            None => Plan::Flood {
                deltas: 3000,
                paced: true,
            },
        };
    }
    let short: String = text.chars().take(60).collect();
    Plan::Text(format!("mock reply to: {short}"))
}

/// A fault the test asks for instead of an answer (see [`crate::faults`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `FAIL_400` / `FAIL_500`: that HTTP status with the API's error body.
    Status(u16),
    /// `DROP`: the stream starts, then the connection closes before its end.
    Drop,
}

/// The fault the last user message asks for, if it is the last message (tool follow-ups of
/// that turn are answered normally).
pub fn fault(conv: &[Msg]) -> Option<Fault> {
    let last = conv.last().filter(|m| m.role == "user")?;
    let text = &last.text;
    if text.contains("FAIL_400") {
        Some(Fault::Status(400))
    } else if text.contains("FAIL_500") {
        Some(Fault::Status(500))
    } else if text.contains("DROP") {
        Some(Fault::Drop)
    } else {
        None
    }
}

/// Whether the responses to this conversation carry rate-limit headers: the last user message
/// says `RATE_LIMIT` (tool follow-ups of that turn included).
pub fn rate_limited(conv: &[Msg]) -> bool {
    conv.iter()
        .rev()
        .find(|m| m.role == "user")
        .is_some_and(|m| m.text.contains("RATE_LIMIT"))
}

/// The rest of the line after `key`.
fn after(text: &str, key: &str) -> Option<String> {
    let i = text.find(key)?;
    let rest = &text[i + key.len()..];
    Some(rest.lines().next().unwrap_or("").trim().to_string())
}

/// Splits text into `n`-ish pieces for streaming.
pub fn chunks(text: &str, pieces: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(pieces.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(t: &str) -> Msg {
        Msg {
            role: "user".into(),
            text: t.into(),
        }
    }

    #[test]
    fn keywords_choose_the_plan() {
        assert_eq!(
            plan(&[user("RUN_CMD: touch a.txt\nthanks")]),
            Plan::Shell("touch a.txt".into())
        );
        assert_eq!(
            plan(&[user("WRITE_FILE: out.txt hello world")]),
            Plan::WriteFile {
                path: "out.txt".into(),
                content: "hello world".into()
            }
        );
        assert_eq!(plan(&[user("SLOW please")]), Plan::Slow);
        assert_eq!(
            plan(&[user("FLOOD")]),
            Plan::Flood {
                deltas: 3000,
                paced: true
            }
        );
        assert_eq!(
            plan(&[user("FLOOD:20000 now")]),
            Plan::Flood {
                deltas: 20000,
                paced: false
            }
        );
        assert_eq!(plan(&[user("hi")]), Plan::Text("mock reply to: hi".into()));
        let tool = Msg {
            role: "tool".into(),
            text: "created\n".into(),
        };
        assert_eq!(
            plan(&[user("RUN_CMD: x"), tool]),
            Plan::Text("command finished: created".into())
        );
    }

    fn tool(t: &str) -> Msg {
        Msg {
            role: "tool".into(),
            text: t.into(),
        }
    }

    #[test]
    fn plan_keyword_splits_steps() {
        assert_eq!(
            plan(&[user("PLAN: first step; second step;third step ;\nmore")]),
            Plan::Steps(vec![
                "first step".into(),
                "second step".into(),
                "third step".into()
            ])
        );
        assert_eq!(
            plan(&[user("PLAN: a; b"), tool("Plan updated")]),
            Plan::Text("plan noted".into())
        );
    }

    #[test]
    fn ask_user_keyword_splits_question_and_options() {
        assert_eq!(
            plan(&[user("please ASK_USER: Which color? | red | blue")]),
            Plan::AskUser {
                question: "Which color?".into(),
                options: vec!["red".into(), "blue".into()]
            }
        );
        assert_eq!(
            plan(&[user("ASK_USER: Which color?")]),
            Plan::AskUser {
                question: "Which color?".into(),
                options: vec![]
            }
        );
        let long = format!("\n\n  {}\nsecond", "x".repeat(300));
        assert_eq!(
            plan(&[user("ASK_USER: Q? | a | b"), tool(&long)]),
            Plan::Text(format!("user answered: {}", "x".repeat(200)))
        );
        assert_eq!(
            plan(&[
                user("ASK_USER: Q? | a | b"),
                tool(r#"{"answers":{"q1":{"answers":["b"]}}}"#)
            ]),
            Plan::Text(r#"user answered: {"answers":{"q1":{"answers":["b"]}}}"#.into())
        );
    }

    #[test]
    fn reason_keyword_carries_the_thought() {
        assert_eq!(
            plan(&[user("REASON: some thought")]),
            Plan::Reason {
                thought: "some thought".into(),
                text: "mock reply to: REASON: some thought".into()
            }
        );
    }

    #[test]
    fn rate_limit_follows_the_last_user_message() {
        assert!(rate_limited(&[user("RATE_LIMIT hi")]));
        assert!(rate_limited(&[user("RATE_LIMIT RUN_CMD: ls"), tool("x")]));
        assert!(!rate_limited(&[user("RATE_LIMIT"), user("hi")]));
        assert!(!rate_limited(&[]));
    }

    #[test]
    fn fault_keywords_apply_to_the_last_user_message_only() {
        assert_eq!(fault(&[user("FAIL_400 now")]), Some(Fault::Status(400)));
        assert_eq!(fault(&[user("FAIL_500 now")]), Some(Fault::Status(500)));
        assert_eq!(fault(&[user("DROP it")]), Some(Fault::Drop));
        assert_eq!(fault(&[user("FAIL_529")]), None);
        assert_eq!(fault(&[user("DROP"), user("hi")]), None);
        assert_eq!(fault(&[user("DROP"), tool("x")]), None);
        assert_eq!(fault(&[]), None);
    }

    #[test]
    fn chunks_cover_the_text() {
        let c = chunks("mock reply to: hi", 4);
        assert!(c.len() >= 3);
        assert_eq!(c.concat(), "mock reply to: hi");
    }
}
