//! Message framing as free functions over `AsyncBufRead` / `AsyncWrite`: the LSP base protocol
//! (`Content-Length: N\r\n\r\n` + body, what editors speak) and newline-delimited JSON (what
//! `codex app-server` speaks).
//!
//! Readers are bounded: a message larger than the limit is skipped (the framing says where it
//! ends) instead of being buffered, so a runaway peer cannot exhaust memory.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

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

/// Writes one framed message body. Nothing is flushed: the caller decides when, so that a
/// burst of messages costs one flush.
pub async fn write<W: AsyncWrite + Unpin>(
    w: &mut W,
    framing: Framing,
    body: &[u8],
) -> io::Result<()> {
    match framing {
        Framing::Lsp => {
            let header = format!("Content-Length: {}\r\n\r\n", body.len());
            w.write_all(header.as_bytes()).await?;
            w.write_all(body).await
        }
        Framing::Ndjson => {
            w.write_all(body).await?;
            w.write_all(b"\n").await
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use pretty_assertions::assert_eq;
    use tokio::io::BufReader;

    /// Frames one body into bytes, through the same `write` the peer uses.
    pub(crate) async fn encode(framing: Framing, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, framing, body).await.unwrap();
        out
    }

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

    fn msg(b: &[u8]) -> ReadOutcome {
        ReadOutcome::Message(b.to_vec())
    }

    #[tokio::test]
    async fn writes_both_framings() {
        assert_eq!(
            encode(Framing::Lsp, b"{}").await,
            b"Content-Length: 2\r\n\r\n{}".to_vec()
        );
        assert_eq!(encode(Framing::Ndjson, b"{}").await, b"{}\n".to_vec());
    }

    #[tokio::test]
    async fn both_framings_round_trip() {
        let bodies: [&[u8]; 3] = [b"{\"a\":1}", b"{\"text\":\"line\\nbreak \xc3\xa9\"}", b"[]"];
        for framing in [Framing::Lsp, Framing::Ndjson] {
            let mut bytes = Vec::new();
            for b in bodies {
                bytes.extend(encode(framing, b).await);
            }
            let got = all(&bytes, framing, 1024).await;
            assert_eq!(got, Vec::from(bodies.map(msg)), "{framing:?}");
        }
    }

    #[tokio::test]
    async fn lsp_headers_are_case_insensitive_and_content_type_is_ignored() {
        let bytes = b"content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}\
            CONTENT-LENGTH:3\r\n\r\n[1]";
        let got = all(bytes, Framing::Lsp, 1024).await;
        assert_eq!(got, vec![msg(b"{}"), msg(b"[1]")]);
    }

    #[tokio::test]
    async fn ndjson_skips_blank_lines_and_crlf_and_reads_an_unterminated_last_line() {
        let bytes = b"{\"a\":1}\n\n  \n{\"b\":2}\r\n{\"c\":3}";
        let got = all(bytes, Framing::Ndjson, 1024).await;
        assert_eq!(
            got,
            vec![msg(b"{\"a\":1}"), msg(b"{\"b\":2}"), msg(b"{\"c\":3}")]
        );
    }

    #[tokio::test]
    async fn oversized_messages_are_skipped_and_the_next_one_read() {
        let mut bytes = encode(Framing::Lsp, &[b'x'; 100]).await;
        bytes.extend(encode(Framing::Lsp, b"{}").await);
        let got = all(&bytes, Framing::Lsp, 10).await;
        assert_eq!(got, vec![ReadOutcome::TooLarge(100), msg(b"{}")]);
        let mut bytes = vec![b'y'; 100_000];
        bytes.extend(b"\n{}\n");
        // A small buffer makes the skipped line span many reads.
        let mut r = BufReader::with_capacity(16, &bytes[..]);
        assert_eq!(
            read(&mut r, Framing::Ndjson, 10).await.unwrap(),
            ReadOutcome::TooLarge(100_000)
        );
        assert_eq!(read(&mut r, Framing::Ndjson, 10).await.unwrap(), msg(b"{}"));
    }

    #[tokio::test]
    async fn detection_by_first_byte() {
        let mut r = BufReader::new(&b"  \r\n{\"a\":1}\n"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Ndjson));
        assert_eq!(
            read(&mut r, Framing::Ndjson, 100).await.unwrap(),
            msg(b"{\"a\":1}")
        );
        let mut r = BufReader::new(&b"\n[1]\n"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Ndjson));
        let mut r = BufReader::new(&b"Content-Length: 2\r\n\r\n{}"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Lsp));
        assert_eq!(read(&mut r, Framing::Lsp, 100).await.unwrap(), msg(b"{}"));
        let mut r = BufReader::new(&b" \n "[..]);
        assert_eq!(detect(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn broken_lsp_framing_is_an_error() {
        let cases: [&[u8]; 5] = [
            b"Content-Type: x\r\n\r\n{}",
            b"Content-Length: two\r\n\r\n{}",
            b"{\"not\":\"a header\"}\r\n\r\n",
            b"Content-Length: 5\r\n",
            b"Content-Length: 5\r\n\r\n{}",
        ];
        for bytes in cases {
            let mut r = BufReader::new(bytes);
            assert!(
                read(&mut r, Framing::Lsp, 100).await.is_err(),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}
