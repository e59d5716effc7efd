//! Faults a test asks for by keyword (`FAIL_400`, `FAIL_500`, `DROP`), answered alike for every
//! API before its own script runs: an HTTP error with the API's error body, or a stream that
//! starts and then breaks off (the connection closes before the response's end event).

use serde_json::{Value, json};
use tokio::net::TcpStream;

use crate::Api;
use crate::http::{Sse, json_response};
use crate::script::Fault;

/// Answers the request with `fault`.
pub async fn respond(stream: &mut TcpStream, api: Api, fault: Fault) -> anyhow::Result<()> {
    match fault {
        Fault::Status(status) => json_response(stream, status, &error_body(api, status)).await,
        Fault::Drop => drop_stream(stream, api).await,
    }
}

/// The API's own shape of an error body.
fn error_body(api: Api, status: u16) -> Value {
    let message = format!("mock model failure (FAIL_{status})");
    let bad_request = status == 400;
    match api {
        Api::Messages => {
            let ty = if bad_request {
                "invalid_request_error"
            } else {
                "api_error"
            };
            json!({"type": "error", "error": {"type": ty, "message": message}})
        }
        Api::Gemini => {
            let st = if bad_request {
                "INVALID_ARGUMENT"
            } else {
                "INTERNAL"
            };
            json!({"error": {"code": status, "message": message, "status": st}})
        }
        Api::Responses | Api::ChatCompletions | Api::Other => {
            let ty = if bad_request {
                "invalid_request_error"
            } else {
                "server_error"
            };
            json!({"error": {"message": message, "type": ty, "code": null}})
        }
    }
}

/// The partial text a dropped stream sends before it breaks off.
const PARTIAL: &str = "partial answer, then the ";

/// Starts a streamed answer with one text delta, then closes the connection without the
/// stream's end (`response.completed`, `message_stop`, `[DONE]`, a final Gemini chunk).
async fn drop_stream(stream: &mut TcpStream, api: Api) -> anyhow::Result<()> {
    let mut sse = Sse::start(stream, &[]).await?;
    match api {
        Api::Responses => {
            sse.event(
                "response.created",
                &json!({"type": "response.created", "response": {"id": "resp_drop"}}),
            )
            .await?;
            sse.event("response.output_item.added", &json!({"type": "response.output_item.added", "output_index": 0,
                    "item": {"type": "message", "role": "assistant", "id": "msg_drop", "content": []}}))
                .await?;
            sse.event(
                "response.output_text.delta",
                &json!({"type": "response.output_text.delta", "item_id": "msg_drop",
                    "output_index": 0, "content_index": 0, "delta": PARTIAL}),
            )
            .await?;
        }
        Api::Messages => {
            sse.event("message_start", &json!({"type": "message_start", "message": {"id": "msg_drop", "type": "message",
                    "role": "assistant", "model": "mock-model", "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": {"input_tokens": 10, "output_tokens": 1}}}))
                .await?;
            sse.event(
                "content_block_start",
                &json!({"type": "content_block_start", "index": 0,
                    "content_block": {"type": "text", "text": ""}}),
            )
            .await?;
            sse.event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": PARTIAL}}),
            )
            .await?;
        }
        Api::ChatCompletions => {
            sse.data(&json!({"id": "chatcmpl_drop", "object": "chat.completion.chunk", "created": 0, "model": "mock-model",
                    "choices": [{"index": 0, "delta": {"role": "assistant", "content": PARTIAL}, "finish_reason": null}]}))
                .await?;
        }
        Api::Gemini => {
            sse.data(&json!({"candidates": [{"content": {"role": "model", "parts": [{"text": PARTIAL}]}, "index": 0}]}))
                .await?;
        }
        Api::Other => {}
    }
    // Returning closes the connection: the client sees the stream end before its end event.
    Ok(())
}
