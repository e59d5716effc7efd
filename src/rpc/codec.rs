//! Message framing over `AsyncBufRead` / `AsyncWrite`: the LSP base protocol
//! (`Content-Length: N\r\n\r\n` + body, what editors speak) and newline-delimited JSON (what
//! `codex app-server` speaks).
//!
//! Reading is bounded: a message over the limit is reported as soon as that is known, with its
//! first bytes (so the peer can still tell whose request it was and answer it), and the rest of it
//! is discarded by the next read instead of being buffered, so a runaway peer can neither exhaust
//! memory nor make the editor wait for the end of a message that never ends.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::scan;

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
    /// A message over the limit. `declared` is its length when the framing says it (LSP); `head`
    /// holds its first bytes (at most [`HEAD_BYTES`]). The rest is discarded by the next read.
    TooLarge {
        declared: Option<usize>,
        head: Vec<u8>,
    },
    Eof,
}

/// Longest header line accepted in LSP framing.
const MAX_HEADER_LINE: usize = 8 * 1024;

/// How much of an oversized message is kept: enough for `jsonrpc`, `id` and `method`, which
/// clients write before `params`.
pub const HEAD_BYTES: usize = 4 * 1024;

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

/// What is left of an oversized message, to discard before the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    Nothing,
    Bytes(usize),
    /// Up to and including the next `\n`.
    Line,
}

/// Reads the messages of one connection in one framing, at most `max` bytes each.
#[derive(Debug)]
pub struct Decoder {
    framing: Framing,
    max: usize,
    discard: Discard,
}

impl Decoder {
    pub fn new(framing: Framing, max: usize) -> Self {
        Decoder {
            framing,
            max,
            discard: Discard::Nothing,
        }
    }

    /// The next message. An `Err` means the framing is broken (bad LSP headers, or EOF inside a
    /// message): there is no telling where the next message starts, so the connection is over.
    pub async fn read<R: AsyncBufRead + Unpin>(&mut self, r: &mut R) -> io::Result<ReadOutcome> {
        match std::mem::replace(&mut self.discard, Discard::Nothing) {
            Discard::Nothing => {}
            Discard::Bytes(n) => skip_exact(r, n).await?,
            Discard::Line => {
                if !skip_line(r).await? {
                    return Ok(ReadOutcome::Eof);
                }
            }
        }
        match self.framing {
            Framing::Lsp => self.read_lsp(r).await,
            Framing::Ndjson => loop {
                match read_line(r, self.max).await? {
                    // Blank lines between messages are allowed and skipped.
                    Line::Done(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                    Line::Done(line) => return Ok(ReadOutcome::Message(line)),
                    Line::TooLong { head, ended } => {
                        if !ended {
                            self.discard = Discard::Line;
                        }
                        return Ok(ReadOutcome::TooLarge {
                            declared: None,
                            head,
                        });
                    }
                    Line::Eof => return Ok(ReadOutcome::Eof),
                }
            },
        }
    }

    async fn read_lsp<R: AsyncBufRead + Unpin>(&mut self, r: &mut R) -> io::Result<ReadOutcome> {
        let Some(length) = read_lsp_headers(r).await? else {
            return Ok(ReadOutcome::Eof);
        };
        if length > self.max {
            let mut head = Vec::new();
            read_body(r, length.min(HEAD_BYTES), &mut head).await?;
            self.discard = Discard::Bytes(length - head.len());
            return Ok(ReadOutcome::TooLarge {
                declared: Some(length),
                head,
            });
        }
        let mut body = Vec::new();
        read_body(r, length, &mut body).await?;
        Ok(ReadOutcome::Message(body))
    }
}

/// Reads the header block of one LSP message and returns its `Content-Length`; `None` at a
/// clean EOF before any header.
async fn read_lsp_headers<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<Option<usize>> {
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let mut length: Option<usize> = None;
    let mut first = true;
    loop {
        let line = match read_line(r, MAX_HEADER_LINE).await? {
            Line::Eof if first => return Ok(None),
            Line::Eof => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF inside LSP headers",
                ));
            }
            Line::TooLong { .. } => return Err(bad("LSP header line too long".into())),
            Line::Done(line) => line,
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
            return Err(bad(format!("bad LSP header: {}", excerpt(&text))));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            // Digits only: `usize::from_str` would also take a sign.
            let value = value.trim();
            let n = value
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| value.parse::<usize>().ok())
                .flatten()
                .ok_or_else(|| bad(format!("bad Content-Length: {}", excerpt(value))))?;
            if length.is_some_and(|l| l != n) {
                return Err(bad("conflicting Content-Length headers".into()));
            }
            length = Some(n);
        }
    }
    length
        .map(Some)
        .ok_or_else(|| bad("LSP message without Content-Length".into()))
}

/// At most 80 characters of a bad header, for error messages.
fn excerpt(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// Reads exactly `n` body bytes into `out`, growing it only as bytes arrive: a `Content-Length`
/// under the limit but never followed by that much data costs no more than the data sent.
async fn read_body<R: AsyncBufRead + Unpin>(
    r: &mut R,
    n: usize,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let got = r.take(n as u64).read_to_end(out).await?;
    if got < n {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("EOF inside an LSP body ({got} of {n} bytes)"),
        ));
    }
    Ok(())
}

/// One line read by [`read_line`].
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// A whole line, without `\n` and a trailing `\r`.
    Done(Vec<u8>),
    /// Over the limit: its first bytes, and whether the whole line (with its `\n`) was consumed.
    TooLong {
        head: Vec<u8>,
        ended: bool,
    },
    Eof,
}

/// Reads up to and including `\n`, bounded by `max`; a last line without `\n` counts. A line
/// over `max` is reported once its first [`HEAD_BYTES`] arrived (or it ended).
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<Line> {
    let mut out = Vec::new();
    let mut seen = false;
    let mut over = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if !seen {
                return Ok(Line::Eof);
            }
            if over {
                return Ok(Line::TooLong {
                    head: out,
                    ended: true,
                });
            }
            break;
        }
        seen = true;
        let (len, ended) = match scan::find_byte(buf, b'\n') {
            Some(i) => (i, true),
            None => (buf.len(), false),
        };
        over = over || out.len() + len > max;
        let keep = if over {
            HEAD_BYTES.saturating_sub(out.len()).min(len)
        } else {
            len
        };
        out.extend_from_slice(&buf[..keep]);
        r.consume(if ended { len + 1 } else { len });
        if over && (ended || out.len() >= HEAD_BYTES) {
            return Ok(Line::TooLong { head: out, ended });
        }
        if ended {
            break;
        }
    }
    if out.last() == Some(&b'\r') {
        out.pop();
    }
    Ok(Line::Done(out))
}

/// A line of a line-oriented stream that is not JSON-RPC (an agent's stderr, Claude's
/// stream-json stdout), read by [`read_whole_line`].
#[derive(Debug, PartialEq, Eq)]
pub enum WholeLine {
    /// The line, without `\n` and a trailing `\r`.
    Message(Vec<u8>),
    /// A line of this many bytes was skipped, never buffered, for being over the limit.
    TooLarge(usize),
    Eof,
}

/// Reads up to and including `\n`, bounded by `max`: an oversized line is consumed to its end
/// and only its size is kept, so the next call starts at the next line.
pub async fn read_whole_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: usize,
) -> io::Result<WholeLine> {
    let mut out = Vec::new();
    let mut total = 0usize;
    let mut skipping = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            if total == 0 {
                return Ok(WholeLine::Eof);
            }
            break;
        }
        let (chunk, done) = match scan::find_byte(buf, b'\n') {
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
        return Ok(WholeLine::TooLarge(total));
    }
    if out.last() == Some(&b'\r') {
        out.pop();
    }
    Ok(WholeLine::Message(out))
}

/// Discards up to and including the next `\n`; false when EOF came first.
async fn skip_line<R: AsyncBufRead + Unpin>(r: &mut R) -> io::Result<bool> {
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(false);
        }
        match scan::find_byte(buf, b'\n') {
            Some(i) => {
                r.consume(i + 1);
                return Ok(true);
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

async fn skip_exact<R: AsyncBufRead + Unpin>(r: &mut R, mut n: usize) -> io::Result<()> {
    while n > 0 {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "EOF inside an oversized LSP body",
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
    use proptest::prelude::*;
    use tokio::io::BufReader;

    /// Frames one body into bytes, through the same `write` the peer uses.
    pub(crate) async fn encode(framing: Framing, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, framing, body).await.unwrap();
        out
    }

    /// Every outcome up to EOF or the first error (returned last, as its message).
    async fn all_with(
        bytes: &[u8],
        framing: Framing,
        max: usize,
        capacity: usize,
    ) -> (Vec<ReadOutcome>, Option<String>) {
        let mut r = BufReader::with_capacity(capacity, bytes);
        let mut d = Decoder::new(framing, max);
        let mut out = Vec::new();
        loop {
            match d.read(&mut r).await {
                Ok(ReadOutcome::Eof) => return (out, None),
                Ok(m) => out.push(m),
                Err(e) => return (out, Some(e.to_string())),
            }
        }
    }

    async fn all(bytes: &[u8], framing: Framing, max: usize) -> Vec<ReadOutcome> {
        let (out, err) = all_with(bytes, framing, max, 8 * 1024).await;
        assert_eq!(err, None);
        out
    }

    fn msg(b: &[u8]) -> ReadOutcome {
        ReadOutcome::Message(b.to_vec())
    }

    fn too_large(declared: Option<usize>, head: &[u8]) -> ReadOutcome {
        ReadOutcome::TooLarge {
            declared,
            head: head.to_vec(),
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
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
    async fn oversized_messages_are_reported_with_their_head_and_the_next_one_read() {
        let mut bytes = encode(Framing::Lsp, &[b'x'; 100]).await;
        bytes.extend(encode(Framing::Lsp, b"{}").await);
        let got = all(&bytes, Framing::Lsp, 10).await;
        assert_eq!(got, vec![too_large(Some(100), &[b'x'; 100]), msg(b"{}")]);
        let mut bytes = vec![b'y'; 100_000];
        bytes.extend(b"\n{}\n");
        // A small buffer makes the skipped line span many reads.
        let (got, err) = all_with(&bytes, Framing::Ndjson, 10, 16).await;
        assert_eq!(err, None);
        assert_eq!(got, vec![too_large(None, &[b'y'; HEAD_BYTES]), msg(b"{}")]);
    }

    #[tokio::test]
    async fn an_oversized_message_is_reported_before_its_end_arrives() {
        // The editor must hear about it at once, not after the (possibly endless) rest.
        let body = format!("{{\"id\":1,\"params\":\"{}", "x".repeat(HEAD_BYTES));
        let lsp = format!("Content-Length: 1000000\r\n\r\n{body}");
        for (framing, start) in [
            (Framing::Lsp, lsp.as_bytes()),
            (Framing::Ndjson, body.as_bytes()),
        ] {
            let (mut client, server) = tokio::io::duplex(64 * 1024);
            tokio::io::AsyncWriteExt::write_all(&mut client, start)
                .await
                .unwrap();
            let mut r = BufReader::new(server);
            let mut d = Decoder::new(framing, 16);
            let got = tokio::time::timeout(std::time::Duration::from_secs(5), d.read(&mut r))
                .await
                .unwrap()
                .unwrap();
            assert!(
                matches!(&got, ReadOutcome::TooLarge { head, .. } if head.starts_with(b"{\"id\":1,")),
                "{framing:?}: {got:?}"
            );
            drop(client);
        }
    }

    #[tokio::test]
    async fn detection_by_first_byte() {
        let mut r = BufReader::new(&b"  \r\n{\"a\":1}\n"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Ndjson));
        let mut d = Decoder::new(Framing::Ndjson, 100);
        assert_eq!(d.read(&mut r).await.unwrap(), msg(b"{\"a\":1}"));
        let mut r = BufReader::new(&b"\n[1]\n"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Ndjson));
        let mut r = BufReader::new(&b"Content-Length: 2\r\n\r\n{}"[..]);
        assert_eq!(detect(&mut r).await.unwrap(), Some(Framing::Lsp));
        let mut d = Decoder::new(Framing::Lsp, 100);
        assert_eq!(d.read(&mut r).await.unwrap(), msg(b"{}"));
        let mut r = BufReader::new(&b" \n "[..]);
        assert_eq!(detect(&mut r).await.unwrap(), None);
    }

    #[tokio::test]
    async fn broken_lsp_framing_is_an_error() {
        let cases: [&[u8]; 10] = [
            b"Content-Type: x\r\n\r\n{}",
            b"Content-Length: two\r\n\r\n{}",
            b"{\"not\":\"a header\"}\r\n\r\n",
            b"Content-Length: 5\r\n",
            b"Content-Length: 5\r\n\r\n{}",
            b"Content-Length: -5\r\n\r\n{}",
            b"Content-Length: +2\r\n\r\n{}",
            b"Content-Length: 99999999999999999999999999\r\n\r\n{}",
            b"Content-Length: \r\n\r\n{}",
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        ];
        for bytes in cases {
            let (_, err) = all_with(bytes, Framing::Lsp, 100, 64).await;
            assert!(err.is_some(), "{}", String::from_utf8_lossy(bytes));
        }
    }

    /// How many cases each property runs: enough to reach the odd corners, few enough that the
    /// whole module takes about a second.
    const CASES: u32 = 512;

    /// A body for NDJSON: any bytes but `\n`, sometimes longer than the limit.
    fn line_body() -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(
            any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
            1..200,
        )
        .prop_filter("not blank", |v| !v.iter().all(u8::is_ascii_whitespace))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(CASES))]

        /// Any sequence of bodies, some over the limit, framed either way and read through a
        /// buffer of any size, comes back in order: the small ones whole, the big ones as their
        /// head; nothing is lost and nothing runs together.
        #[test]
        fn framed_bodies_come_back_in_order(
            bodies in prop::collection::vec(line_body(), 0..12),
            max in 1usize..150,
            capacity in 1usize..64,
            lsp in any::<bool>(),
        ) {
            let framing = if lsp { Framing::Lsp } else { Framing::Ndjson };
            let (got, err) = block_on(async {
                let mut bytes = Vec::new();
                for b in &bodies {
                    bytes.extend(encode(framing, b).await);
                }
                all_with(&bytes, framing, max, capacity).await
            });
            prop_assert_eq!(err, None);
            let expected: Vec<ReadOutcome> = bodies
                .iter()
                .map(|b| {
                    if b.len() > max {
                        let declared = (framing == Framing::Lsp).then_some(b.len());
                        return too_large(declared, &b[..b.len().min(HEAD_BYTES)]);
                    }
                    // A trailing \r is part of the NDJSON line ending, not of the body.
                    match (framing, b.last()) {
                        (Framing::Ndjson, Some(b'\r')) => msg(&b[..b.len() - 1]),
                        _ => msg(b),
                    }
                })
                .collect();
            prop_assert_eq!(got, expected);
        }

        /// Arbitrary bytes never panic the decoder, every read makes progress (the loop ends), and
        /// nothing it returns is over the limit.
        #[test]
        fn garbage_is_bounded_and_ends(
            bytes in prop::collection::vec(any::<u8>(), 0..600),
            max in 1usize..100,
            capacity in 1usize..32,
            lsp in any::<bool>(),
        ) {
            let framing = if lsp { Framing::Lsp } else { Framing::Ndjson };
            let (got, _) = block_on(all_with(&bytes, framing, max, capacity));
            prop_assert!(got.len() <= bytes.len());
            for m in got {
                match m {
                    ReadOutcome::Message(b) => prop_assert!(b.len() <= max),
                    ReadOutcome::TooLarge { head, .. } => prop_assert!(head.len() <= HEAD_BYTES),
                    ReadOutcome::Eof => prop_assert!(false, "Eof is never collected"),
                }
            }
        }

        /// After any garbage line, NDJSON resynchronises on the next line.
        #[test]
        fn ndjson_resynchronises_after_any_bad_line(
            garbage in prop::collection::vec(line_body(), 1..6),
            max in 1usize..300,
        ) {
            let mut bytes = Vec::new();
            for g in &garbage {
                bytes.extend(g);
                bytes.push(b'\n');
            }
            bytes.extend(b"{\"ok\":1}\n");
            let (got, err) = block_on(all_with(&bytes, Framing::Ndjson, max.max(8), 16));
            prop_assert_eq!(err, None);
            prop_assert_eq!(got.last(), Some(&msg(b"{\"ok\":1}")));
        }

        /// Any Content-Length value that is not plain digits is an error, never a panic or a
        /// guess; plain digits over the limit are skipped.
        #[test]
        fn content_length_values(value in "[-+ 0-9a-zA-Z.]{0,30}") {
            let bytes = format!("Content-Length: {value}\r\n\r\n{{}}").into_bytes();
            let (got, err) = block_on(all_with(&bytes, Framing::Lsp, 100, 64));
            let trimmed = value.trim();
            let digits = !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit());
            match trimmed.parse::<usize>() {
                Ok(2) if digits => prop_assert_eq!(got, vec![msg(b"{}")]),
                Ok(n) if digits && n > 100 => {
                    // Reported as too large, or (the 2 bytes sent being shorter than the head the
                    // decoder reads of an oversized body) an EOF error; never a message.
                    let declared = matches!(got.first(), Some(ReadOutcome::TooLarge { declared: Some(d), .. }) if *d == n);
                    prop_assert!(declared || got.is_empty(), "{:?}", got);
                    prop_assert!(err.is_some(), "the body is shorter than declared");
                }
                _ if digits => {
                    // A length that does not match the 2 bytes sent: EOF or a bad next header.
                    prop_assert!(err.is_some() || got.len() == 1);
                }
                _ => prop_assert!(err.is_some(), "{value:?} accepted"),
            }
        }
    }
}
