//! Message framing as free functions over `AsyncBufRead` / bytes: the LSP base protocol
//! (`Content-Length: N\r\n\r\n` + body) and newline-delimited JSON.
//!
//! Readers are bounded: a message larger than the limit is skipped (the framing says where it
//! ends) instead of being buffered, so a runaway peer cannot exhaust memory.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How messages are delimited on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Lsp,
    Ndjson,
}

/// One read.
#[derive(Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    Message(Vec<u8>),
    /// A message of this many bytes was skipped for being over the limit.
    TooLarge(usize),
    Eof,
}

/// Longest header line accepted in LSP framing.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// Decides the framing from the first non-whitespace byte: `{` or `[` means NDJSON, anything
/// else LSP. Returns `None` at EOF. Leading whitespace is consumed.
pub async fn detect<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<Framing>> {
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(None);
        }
        let skip = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if skip < buf.len() {
            let first = buf[skip];
            r.consume(skip);
            return Ok(Some(if first == b'{' || first == b'[' {
                Framing::Ndjson
            } else {
                Framing::Lsp
            }));
        }
        let n = buf.len();
        r.consume(n);
    }
}

/// Reads one message in the given framing.
pub async fn read<R: AsyncBufRead + Unpin>(
    r: &mut R,
    framing: Framing,
    max: usize,
) -> io::Result<ReadOutcome> {
    match framing {
        Framing::Lsp => read_lsp(r, max).await,
        Framing::Ndjson => loop {
            // Blank lines between messages are allowed and skipped.
            match read_line(r, max).await? {
                ReadOutcome::Message(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                other => return Ok(other),
            }
        },
    }
}

/// Reads up to and including `\n` (stripped, with a trailing `\r`), bounded by `max`.
pub async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<ReadOutcome> {
    let mut out = Vec::new();
    let mut total = 0usize;
    let mut skipping = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if total == 0 {
                return Ok(ReadOutcome::Eof);
            }
            break;
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        total += chunk.len();
        if !skipping && total > max {
            skipping = true;
            out = Vec::new();
        }
        if !skipping {
            out.extend_from_slice(chunk);
        }
        let consumed = done.unwrap_or(buf.len());
        r.consume(consumed);
        if done.is_some() {
            break;
        }
    }
    if skipping {
        return Ok(ReadOutcome::TooLarge(total));
    }
    if out.last() == Some(&b'\r') {
        out.pop();
    }
    Ok(ReadOutcome::Message(out))
}

async fn read_lsp<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<ReadOutcome> {
    let mut length: Option<usize> = None;
    let mut first = true;
    loop {
        let line = match read_line(r, MAX_HEADER_LINE).await? {
            ReadOutcome::Eof if first => return Ok(ReadOutcome::Eof),
            ReadOutcome::Eof => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside LSP headers",
                ));
            }
            ReadOutcome::TooLarge(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "LSP header line too long",
                ));
            }
            ReadOutcome::Message(line) => line,
        };
        if line.is_empty() {
            if first {
                // Stray blank line between messages.
                continue;
            }
            break;
        }
        first = false;
        let text = String::from_utf8_lossy(&line);
        let Some((name, value)) = text.split_once(':') else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad LSP header: {text}"),
            ));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n = value.trim().parse::<usize>().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad Content-Length: {text}"),
                )
            })?;
            length = Some(n);
        }
    }
    let Some(length) = length else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "LSP message without Content-Length",
        ));
    };
    if length > max {
        skip_exact(r, length).await?;
        return Ok(ReadOutcome::TooLarge(length));
    }
    let mut body = vec![0u8; length];
    tokio::io::AsyncReadExt::read_exact(r, &mut body).await?;
    Ok(ReadOutcome::Message(body))
}

async fn skip_exact<R: AsyncBufRead + Unpin>(r: &mut R, mut n: usize) -> io::Result<()> {
    while n > 0 {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF inside an LSP body",
            ));
        }
        let take = buf.len().min(n);
        r.consume(take);
        n -= take;
    }
    Ok(())
}

/// Frames one message body.
pub fn encode(framing: Framing, body: &[u8]) -> Vec<u8> {
    match framing {
        Framing::Lsp => {
            let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
            out.extend_from_slice(body);
            out
        }
        Framing::Ndjson => {
            let mut out = Vec::with_capacity(body.len() + 1);
            out.extend_from_slice(body);
            out.push(b'\n');
            out
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use tokio::io::BufReader;

    async fn all(bytes: &[u8], framing: Framing, max: usize) -> Vec<ReadOutcome> {
        let mut r = BufReader::new(bytes);
        let mut out = Vec::new();
        loop {
            let m = read(&mut r, framing, max).await.unwrap();
            if m == ReadOutcome::Eof {
                return out;
            }
            out.push(m);
        }
    }

    #[tokio::test]
    async fn lsp_round_trip_and_header_variants() {
        let mut bytes = encode(Framing::Lsp, b"{\"a\":1}");
        bytes.extend(b"content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}");
        let got = all(&bytes, Framing::Lsp, 1024).await;
        assert_eq!(
            got,
            vec![
                ReadOutcome::Message(b"{\"a\":1}".to_vec()),
                ReadOutcome::Message(b"{}".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn ndjson_round_trip_skips_blank_lines_and_crlf() {
        let bytes = b"{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}";
        let got = all(bytes, Framing::Ndjson, 1024).await;
        assert_eq!(
            got,
            vec![
                ReadOutcome::Message(b"{\"a\":1}".to_vec()),
                ReadOutcome::Message(b"{\"b\":2}".to_vec()),
                ReadOutcome::Message(b"{\"c\":3}".to_vec()),
            ]
        );
    }

    #[tokio::test]
    async fn oversized_messages_are_skipped_and_the_next_one_read() {
        let mut bytes = encode(Framing::Lsp, &[b'x'; 100]);
        bytes.extend(encode(Framing::Lsp, b"{}"));
        let got = all(&bytes, Framing::Lsp, 10).await;
        assert_eq!(
            got,
            vec![
                ReadOutcome::TooLarge(100),
                ReadOutcome::Message(b"{}".to_vec())
            ]
        );
        let mut bytes = vec![b'y'; 100];
        bytes.extend(b"\n{}\n");
        let got = all(&bytes, Framing::Ndjson, 10).await;
        assert_eq!(
            got,
            vec![
                ReadOutcome::TooLarge(100),
                ReadOutcome::Message(b"{}".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn detection_by_first_byte() {
        let mut r = BufReader::new(&b"  \n{\"a\":1}\n"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Ndjson));
        assert_eq!(
            read(&mut r, Framing::Ndjson, 100).await.unwrap(),
            ReadOutcome::Message(b"{\"a\":1}".to_vec())
        );
        let mut r = BufReader::new(&b"Content-Length: 2\r\n\r\n{}"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Lsp));
        let mut r = BufReader::new(&b""[..]);
        assert_eq!(detect(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn missing_content_length_is_an_error() {
        let mut r = BufReader::new(&b"Content-Type: x\r\n\r\n{}"[..]);
        assert!(read(&mut r, Framing::Lsp, 100).await.is_err());
    }
}
