//! A minimal HTTP/1.1 server: one request per connection, SSE or JSON responses, then close.
//!
//! Closing after every response keeps the server trivial (no keep-alive bookkeeping) and both
//! CLIs simply open a new connection per model call. Request bodies may come with a
//! `Content-Length` or chunked.

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use crate::{Api, RecordedRequest, State, chat, gemini, lock, messages, responses};

const MAX_BODY: usize = 256 * 1024 * 1024;

pub async fn serve(listener: TcpListener, state: State) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Running out of file descriptors is the usual cause; give the others a moment.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let state = state.clone();
        tokio::spawn(async move {
            // A client that goes away mid-response is normal (interrupts), not an error.
            let _ = handle(stream, state).await;
        });
    }
}

/// Counts a model response as active for as long as it lives.
struct ActiveGuard(State);

impl ActiveGuard {
    fn new(state: &State) -> ActiveGuard {
        state.active.fetch_add(1, Ordering::SeqCst);
        ActiveGuard(state.clone())
    }
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> anyhow::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((name, value)) = h.split_once(':') {
            let name = name.trim().to_ascii_lowercase();
            let value = value.trim();
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            } else if name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16)?;
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end).await?;
                break;
            }
            anyhow::ensure!(body.len() + n <= MAX_BODY, "body too large");
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).await?;
            chunk.truncate(n);
            body.extend(chunk);
        }
    } else {
        anyhow::ensure!(length <= MAX_BODY, "body too large");
        body = vec![0; length];
        reader.read_exact(&mut body).await?;
    }
    Ok(Some(Request { method, path, body }))
}

async fn handle(stream: TcpStream, state: State) -> anyhow::Result<()> {
    let mut reader = BufReader::new(stream);
    let Some(req) = read_request(&mut reader).await? else {
        return Ok(());
    };
    let mut stream = reader.into_inner();
    let path_only = req.path.split('?').next().unwrap_or("").to_string();
    if path_only == "/_mock/requests" {
        let all: Vec<Value> = lock(&state)
            .iter()
            .map(|r| json!({"api": format!("{:?}", r.api), "path": r.path, "body": r.body}))
            .collect();
        return json_response(&mut stream, 200, &Value::Array(all)).await;
    }
    if path_only == "/_mock/reset" {
        lock(&state).clear();
        return json_response(&mut stream, 200, &json!({})).await;
    }
    let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
    let api = if req.method == "POST" && path_only.ends_with("/responses") {
        Api::Responses
    } else if req.method == "POST" && path_only.ends_with("/v1/messages") {
        Api::Messages
    } else if req.method == "POST" && path_only.ends_with("/chat/completions") {
        Api::ChatCompletions
    } else if req.method == "POST"
        && (path_only.ends_with(":streamGenerateContent")
            || path_only.ends_with(":generateContent"))
    {
        Api::Gemini
    } else {
        Api::Other
    };
    lock(&state).push(RecordedRequest {
        api,
        path: req.path.clone(),
        body: body.clone(),
    });
    if api != Api::Other
        && let Some(fault) = crate::script::fault(&crate::script::conversation(api, &body))
    {
        let _active = ActiveGuard::new(&state);
        return crate::faults::respond(&mut stream, api, fault).await;
    }
    match api {
        Api::Responses => {
            let _active = ActiveGuard::new(&state);
            responses::respond(&mut stream, &body).await
        }
        Api::Messages => {
            let _active = ActiveGuard::new(&state);
            messages::respond(&mut stream, &body).await
        }
        Api::ChatCompletions => {
            let _active = ActiveGuard::new(&state);
            chat::respond(&mut stream, &body).await
        }
        Api::Gemini => {
            let _active = ActiveGuard::new(&state);
            gemini::respond(&mut stream, &path_only, &body).await
        }
        // Connectivity probes must succeed, and a HEAD answer has no body.
        Api::Other if req.method == "HEAD" => {
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .await?;
            Ok(())
        }
        Api::Other if path_only.ends_with("/count_tokens") => {
            json_response(&mut stream, 200, &json!({"input_tokens": 10})).await
        }
        Api::Other if path_only.ends_with(":countTokens") => {
            json_response(&mut stream, 200, &json!({"totalTokens": 10})).await
        }
        Api::Other => {
            json_response(
                &mut stream,
                404,
                &json!({"type": "error", "error": {"type": "not_found_error", "message": format!("mock-model does not serve {} {}", req.method, req.path)}}),
            )
            .await
        }
    }
}

pub async fn json_response(
    stream: &mut TcpStream,
    status: u16,
    body: &Value,
) -> anyhow::Result<()> {
    json_response_with(stream, status, &[], body).await
}

/// A JSON response with extra headers (name, value).
pub async fn json_response_with(
    stream: &mut TcpStream,
    status: u16,
    headers: &[(&str, &str)],
    body: &Value,
) -> anyhow::Result<()> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        404 => "Not Found",
        400 => "Bad Request",
        500 => "Internal Server Error",
        529 => "Overloaded",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n",
        text.len(),
        headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}\r\n"))
            .collect::<String>()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(text.as_bytes()).await?;
    stream.flush().await?;
    Ok(())
}

/// Writes SSE events; stops (with an error) when the client went away.
pub struct Sse<'a> {
    stream: &'a mut TcpStream,
}

impl<'a> Sse<'a> {
    /// Sends the response head, with `headers` (name, value) besides the usual ones.
    pub async fn start(
        stream: &'a mut TcpStream,
        headers: &[(&str, String)],
    ) -> anyhow::Result<Sse<'a>> {
        let mut head = String::from(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n",
        );
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).await?;
        Ok(Sse { stream })
    }

    pub async fn event(&mut self, name: &str, data: &Value) -> anyhow::Result<()> {
        let text = format!("event: {name}\ndata: {data}\n\n");
        self.stream.write_all(text.as_bytes()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// A nameless event (`data: <json>`), as the chat-completions and Gemini streams use.
    pub async fn data(&mut self, data: &Value) -> anyhow::Result<()> {
        let text = format!("data: {data}\n\n");
        self.stream.write_all(text.as_bytes()).await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// The chat-completions end-of-stream marker, `data: [DONE]`.
    pub async fn done(&mut self) -> anyhow::Result<()> {
        self.stream.write_all(b"data: [DONE]\n\n").await?;
        self.stream.flush().await?;
        Ok(())
    }

    /// Waits `d` between two events, failing at once when the client disconnects meanwhile, so
    /// an interrupted slow stream stops instead of writing into a dead socket for seconds.
    pub async fn pause(&mut self, d: Duration) -> anyhow::Result<()> {
        tokio::select! {
            () = tokio::time::sleep(d) => Ok(()),
            () = closed(self.stream) => anyhow::bail!("the client disconnected"),
        }
    }
}

/// Seconds since the Unix epoch, `ahead` seconds from now (rate-limit reset times).
pub fn unix_in(ahead: u64) -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
        + ahead
}

/// Resolves when the peer has closed the connection. The request has been read completely, so
/// anything still arriving is ignored. Cancel-safe: it only reads.
async fn closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Sleeps for up to `d`, returning early when the client closed the connection.
pub async fn hang(stream: &mut TcpStream, d: Duration) {
    let _ = tokio::time::timeout(d, closed(stream)).await;
}
