//! `baton exec "prompt"`: one turn through the same machinery an editor uses, for a person.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::client::{Message, Server};
use super::render::Renderer;

/// What `baton exec` was asked to do.
pub struct ExecArgs {
    pub provider: Option<String>,
    pub model: Option<String>,
    pub cwd: Option<String>,
    pub thread: Option<String>,
    pub json: bool,
    pub prompt: String,
}

/// Longest silence from the agent before exec gives up.
const QUIET_LIMIT: Duration = Duration::from_secs(600);

pub async fn run(server_args: Vec<String>, args: ExecArgs) -> u8 {
    match exec(server_args, args).await {
        Ok(code) => code,
        Err(e) => {
            println!("baton exec: {e:#}");
            1
        }
    }
}

async fn exec(server_args: Vec<String>, args: ExecArgs) -> anyhow::Result<u8> {
    let mut server = Server::spawn(&server_args, &[]).await?;
    let mut out = Renderer::new(args.json);
    let thread_id = match &args.thread {
        Some(id) => id.clone(),
        None => {
            let cwd = match &args.cwd {
                Some(c) => std::fs::canonicalize(c)?.display().to_string(),
                None => std::env::current_dir()?.display().to_string(),
            };
            // Without --provider the server's default (the config's default_provider) applies.
            let mut params = json!({"cwd": cwd});
            if let Some(p) = &args.provider {
                params["provider"] = json!(p);
            }
            if let Some(m) = &args.model {
                params["model"] = json!(m);
            }
            let r = server.request("thread/start", params).await?;
            r["thread"]["id"].as_str().unwrap_or_default().to_string()
        }
    };
    let mut params =
        json!({"threadId": thread_id, "input": [{"type": "text", "text": args.prompt}]});
    if args.thread.is_some() {
        if let Some(p) = &args.provider {
            params["provider"] = json!(p);
        }
        if let Some(m) = &args.model {
            params["model"] = json!(m);
        }
    }
    let started = server.request("turn/start", params).await?;
    let turn_id = started["turnId"].as_str().unwrap_or_default().to_string();
    let (state, usage) = follow_turn(&mut server, &mut out, &turn_id).await;
    if !args.json {
        if let Some(u) = usage {
            println!(
                "· tokens: {} in, {} out{}",
                u["inputTokens"],
                u["outputTokens"],
                u["costUsd"]
                    .as_f64()
                    .map(|c| format!(", ${c:.4}"))
                    .unwrap_or_default()
            );
        }
        println!("· thread {thread_id} (continue with: baton exec --thread {thread_id} \"…\")");
    }
    server.close().await;
    Ok(if state == "completed" { 0 } else { 1 })
}

/// Renders events until the turn ends; returns its state and its last usage.
pub async fn follow_turn(
    server: &mut Server,
    out: &mut Renderer,
    turn_id: &str,
) -> (String, Option<Value>) {
    let mut usage = None;
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    loop {
        match server.next(QUIET_LIMIT).await {
            None => {
                out.note("! baton went quiet or away before the turn ended");
                return ("failed".into(), usage);
            }
            Some(Message::Event(ev)) => {
                out.event(&ev);
                if ev["turnId"] == turn_id && ev["type"] == "usage.updated" {
                    usage = Some(ev["data"].clone());
                }
                if ev["turnId"] == turn_id && ev["type"] == "turn.completed" {
                    return (
                        ev["data"]["state"].as_str().unwrap_or("failed").to_string(),
                        usage,
                    );
                }
            }
            Some(Message::Approval { id, params }) => {
                out.note(&format!(
                    "? {} — [a]ccept, accept for [s]ession, anything else declines:",
                    params["title"].as_str().unwrap_or("approve?")
                ));
                let answer = stdin.next_line().await.ok().flatten().unwrap_or_default();
                let decision = match answer.trim() {
                    "a" | "accept" | "y" | "yes" => "accept",
                    "s" | "session" => "acceptForSession",
                    _ => "decline",
                };
                out.note(&format!("  → {decision}"));
                let _ = server
                    .peer
                    .respond(id, Ok(json!({"decision": decision})))
                    .await;
            }
        }
    }
}
