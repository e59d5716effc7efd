//! Rendering events for a person on a terminal.

use std::io::Write;

use serde_json::Value;

/// Renders events as they stream; remembers whether a line of streamed text is open.
#[derive(Default)]
pub struct Renderer {
    open_line: bool,
    json: bool,
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

impl Renderer {
    /// A renderer; `json` prints raw events as JSON lines instead.
    pub fn new(json: bool) -> Self {
        Renderer {
            open_line: false,
            json,
        }
    }

    fn close_line(&mut self) {
        if self.open_line {
            println!();
            self.open_line = false;
        }
    }

    pub fn note(&mut self, text: &str) {
        self.close_line();
        println!("{text}");
    }

    pub fn event(&mut self, ev: &Value) {
        if self.json {
            println!("{ev}");
            return;
        }
        let data = &ev["data"];
        let provider = s(ev, "provider");
        match s(ev, "type") {
            "content.delta" if data["stream"] == "assistant" => {
                if !self.open_line {
                    print!("  {provider}> ");
                    self.open_line = true;
                }
                print!("{}", s(data, "delta"));
                let _ = std::io::stdout().flush();
            }
            "item.started" if data["itemType"] == "command" => {
                self.note(&format!("  $ {}", s(data, "command")))
            }
            "item.completed" => match s(data, "itemType") {
                "command" => {
                    let code = data["exitCode"]
                        .as_i64()
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "?".into());
                    self.note(&format!("    (exit {code})"));
                }
                "file_change" => {
                    let paths: Vec<&str> = data["changes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| s(c, "path"))
                        .collect();
                    self.note(&format!(
                        "  ~ changed {} [{}]",
                        paths.join(", "),
                        s(data, "status")
                    ));
                }
                "assistant_message" if !self.open_line => {
                    self.note(&format!("  {provider}> {}", s(data, "text")))
                }
                _ => self.close_line(),
            },
            "session.started" => {
                let how = if data["resumed"] == true {
                    "resumed"
                } else {
                    "started"
                };
                self.note(&format!(
                    "· {provider} session {how} ({})",
                    s(data, "providerThreadId")
                ));
            }
            "session.exited" => self.note(&format!(
                "· {provider} session ended: {}",
                s(data, "reason")
            )),
            "compaction.started" => self.note(&format!("· compacting on {provider}…")),
            "compaction.completed" => {
                let summary = s(data, "summary");
                let short: String = summary.chars().take(160).collect();
                self.note(&format!(
                    "· compacted ({} chars): {short}",
                    summary.chars().count()
                ));
            }
            "compaction.failed" => self.note(&format!("! compaction failed: {}", s(data, "error"))),
            "handoff.started" => self.note(&format!(
                "· handing over {} → {} ({})",
                s(data, "from"),
                s(data, "to"),
                s(data, "strategy")
            )),
            "handoff.completed" => self.note(&format!(
                "· handed over {} → {} ({}, {} chars)",
                s(data, "from"),
                s(data, "to"),
                s(data, "strategy"),
                data["summaryChars"]
            )),
            "handoff.failed" => self.note(&format!("! handoff failed: {}", s(data, "error"))),
            "usage.updated" => {}
            "turn.completed" => {
                self.close_line();
                if data["state"] != "completed" {
                    println!("! turn {}: {}", s(data, "state"), s(data, "error"));
                }
            }
            "runtime.warning" => self.note(&format!("! {}", s(data, "message"))),
            "runtime.error" => self.note(&format!("! error: {}", s(data, "message"))),
            _ => {}
        }
    }
}
