#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use super::*;

/// A pipe whose read end is paced; the write end is returned for a thread to write.
fn pipe() -> (Paced, std::io::PipeWriter) {
    let (r, w) = std::io::pipe().unwrap();
    (Paced::from_fd(std::os::fd::OwnedFd::from(r)).unwrap(), w)
}

/// One read (whatever one `read` returns), bounded in time.
async fn read_some(p: &mut Paced) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let n = tokio::time::timeout(Duration::from_secs(10), p.read(&mut buf))
        .await
        .expect("a read within 10 s")
        .unwrap();
    buf.truncate(n);
    buf
}

/// Writes `lines` lines of `line`, one `write` each, one every `gap`.
fn stream(mut w: std::io::PipeWriter, lines: usize, gap: Duration, line: &'static [u8]) {
    let start = Instant::now();
    for i in 0..lines {
        while start.elapsed() < gap * i as u32 {
            std::hint::spin_loop();
        }
        w.write_all(line).unwrap();
    }
}

#[tokio::test]
async fn every_byte_arrives_in_order_then_eof() {
    let (mut p, mut w) = pipe();
    let writer = std::thread::spawn(move || {
        for i in 0..20_000 {
            writeln!(w, "{{\"n\":{i}}}").unwrap();
        }
    });
    let mut all = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), p.read_to_end(&mut all))
        .await
        .expect("EOF within 20 s")
        .unwrap();
    writer.join().unwrap();
    let expected: String = (0..20_000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
    assert_eq!(String::from_utf8(all).unwrap(), expected);
}

#[tokio::test]
async fn a_stream_is_read_in_chunks_of_many_lines() {
    let (mut p, w) = pipe();
    const LINES: usize = 4_000;
    // A line every 25 µs for 100 ms, each its own write, like an agent streaming deltas.
    let writer =
        std::thread::spawn(move || stream(w, LINES, Duration::from_micros(25), b"delta\n"));
    let (mut reads, mut bytes, mut unwatched) = (0, 0, 0);
    while bytes < LINES * 6 {
        bytes += read_some(&mut p).await.len();
        reads += 1;
        unwatched += usize::from(matches!(p.source, Source::Unwatched(_)));
    }
    writer.join().unwrap();
    assert_eq!(bytes, LINES * 6);
    assert!(
        unwatched > 0,
        "the pipe leaves the poller while the provider streams"
    );
    // Read as it comes, nearly every line would be a read of its own; paced at 1-2 ms, the
    // 100 ms stream takes 50-100 reads. The bound leaves room for a slow machine.
    assert!(
        reads < LINES / 10,
        "{reads} reads for {LINES} lines streamed over ~100 ms"
    );
}

#[tokio::test]
async fn a_provider_writing_every_few_hundred_microseconds_is_not_held_back() {
    let (mut p, w) = pipe();
    const LINES: usize = 200;
    let writer = std::thread::spawn(move || stream(w, LINES, Duration::from_micros(500), b"x\n"));
    let (mut bytes, mut paced) = (0, 0);
    while bytes < LINES * 2 {
        // A read that waits for its pace reads the pipe off the poller.
        paced += usize::from(matches!(p.source, Source::Unwatched(_)));
        bytes += read_some(&mut p).await.len();
    }
    writer.join().unwrap();
    // Paced, nearly every read would be. A stall of the test's own thread long enough for 16
    // lines to pile up (8 ms) may pace one or two reads; the bound leaves room for a few.
    assert!(
        paced < LINES / 10,
        "{paced} of the reads of {LINES} lines 500 µs apart were paced"
    );
}

#[tokio::test]
async fn the_first_line_after_a_stream_pauses_is_not_held_back() {
    let (mut p, w) = pipe();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        let mut w = w;
        for _ in 0..200 {
            w.write_all(b"x\n").unwrap();
            std::thread::sleep(Duration::from_micros(20));
        }
        // A pause, then one line once the reader has caught up.
        rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let sent = Instant::now();
        w.write_all(b"first\n").unwrap();
        sent
    });
    let mut seen = 0;
    while seen < 400 {
        seen += read_some(&mut p).await.len();
    }
    tx.send(()).unwrap();
    assert_eq!(read_some(&mut p).await, b"first\n");
    assert!(
        matches!(p.source, Source::Watched(_)),
        "back under the poller once the stream paused"
    );
    let latency = writer.join().unwrap().elapsed();
    // A paced read would come 1-2 ms after the last; this one is not paced, and the bound
    // only keeps a loaded machine from failing the test.
    assert!(latency < Duration::from_millis(50), "{latency:?}");
}

/// The rules, read for read, with made-up times.
mod rules {
    use super::*;
    use tokio::time::Instant;

    const ROOM: usize = 64 * 1024;

    /// The rules only: no pipe behind it.
    fn paced() -> Paced {
        Paced::with_source(Source::Lost)
    }

    /// Up to `n` reads of one line, `gap` apart, from `t`, until they make a stream (the read
    /// after that would be a paced one); returns the time after them.
    fn reads(p: &mut Paced, mut t: Instant, n: usize, gap: Duration) -> Instant {
        for _ in 0..n {
            p.after_read(t, b"line\n", ROOM);
            t += gap;
            if p.streaming {
                break;
            }
        }
        t
    }

    #[test]
    fn a_short_burst_is_not_a_stream() {
        let mut p = paced();
        // Ten lines within 1 ms, like the lines that start a turn, just before its first delta.
        reads(&mut p, Instant::now(), 10, Duration::from_micros(100));
        assert!(!p.streaming);
    }

    #[test]
    fn a_provider_writing_a_line_every_500_us_is_not_a_stream() {
        let mut p = paced();
        reads(&mut p, Instant::now(), 1000, Duration::from_micros(500));
        assert!(!p.streaming);
    }

    #[test]
    fn enough_lines_within_the_window_make_a_stream() {
        let mut p = paced();
        let t = reads(
            &mut p,
            Instant::now(),
            STREAK_LINES - 1,
            Duration::from_micros(50),
        );
        assert!(!p.streaming, "one line short");
        reads(&mut p, t, 1, Duration::from_micros(50));
        assert!(p.streaming);
        // One read of many lines (a provider caught up on them) counts them all.
        let mut p = paced();
        p.after_read(
            Instant::now(),
            b"delta\n".repeat(STREAK_LINES).as_slice(),
            ROOM,
        );
        assert!(p.streaming);
    }

    #[test]
    fn a_stream_goes_on_while_paced_reads_bring_enough_lines() {
        let mut p = paced();
        let t = reads(&mut p, Instant::now(), 100, Duration::from_micros(50));
        assert!(p.streaming);
        let many = b"delta\n".repeat(STREAM_LINES);
        p.after_read(t, &many, ROOM);
        assert!(p.streaming && !p.behind);
        let few = b"delta\n".repeat(STREAM_LINES - 1);
        p.after_read(t, &few, ROOM);
        assert!(
            !p.streaming,
            "a provider that slowed down is read as it comes"
        );
        // And a new stream needs a whole new count.
        p.after_read(t, b"x\n", ROOM);
        assert!(!p.streaming);
    }

    #[test]
    fn a_read_that_fills_half_the_buffer_is_followed_at_once() {
        let mut p = paced();
        let t = reads(&mut p, Instant::now(), 100, Duration::from_micros(50));
        p.after_read(t, &vec![b'x'; ROOM / 2], ROOM);
        assert!(p.streaming && p.behind);
        p.after_read(t, b"delta\n".repeat(STREAM_LINES).as_slice(), ROOM);
        assert!(!p.behind);
    }
}
