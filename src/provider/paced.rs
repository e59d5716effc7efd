//! A provider's stdout, read at a paced rate while the provider streams.
//!
//! Agents write their stream a line or two at a time: codex writes 15-20 thousand deltas a
//! second in a fast turn, each one its own `write`. Read as soon as it is readable, every line
//! woke baton's event loop, which then ran the whole path (parse, route, append, commit, frame)
//! for that one line; the wake-ups cost more than the work.
//!
//! [`Paced`] wraps the pipe. Once reads bring [`STREAK_LINES`] lines within [`WINDOW`] (8,000
//! lines a second or more), the provider is streaming, and the next read waits until
//! [`READ_PACE`] after the last one, then takes in everything that came meanwhile. The stream
//! goes on while each paced read brings at least [`STREAM_LINES`] lines; a read that fills half
//! the caller's buffer means the provider is ahead, and the next read does not wait. Nothing
//! before a stream is held back: not the first lines after a pause, so a turn's first token
//! waits for nothing; not a short burst (the few lines that start a turn or an item); not a
//! provider that writes a line every few hundred microseconds. Nothing is buffered here: while
//! a read waits, the pipe holds the data, and a provider that outruns baton blocks in `write`
//! as before.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The span in which [`STREAK_LINES`] lines make a stream.
pub const WINDOW: Duration = Duration::from_millis(2);

/// The lines that make a stream when they come within [`WINDOW`]. A provider's short bursts
/// (the few lines that start a turn or an item, just before its first delta) bring fewer, so
/// the line after them is never paced.
pub const STREAK_LINES: usize = 16;

/// The fewest lines a paced read brings for the stream to go on (at 1-2 ms a read, thousands
/// of lines a second); fewer, and reads are no longer paced.
pub const STREAM_LINES: usize = 8;

/// The shortest time between two reads while the provider streams. The runtime's timers count
/// whole milliseconds, so a paced read comes 1-2 ms after the one before: at 20,000 deltas a
/// second one read takes in 20-40 lines, which the actor then relays as one event.
pub const READ_PACE: Duration = Duration::from_millis(1);

pub struct Paced<R> {
    inner: R,
    /// When the last read returned data.
    last: Option<Instant>,
    /// When the current window began, and the lines read in it (before the stream).
    window: Option<Instant>,
    window_lines: usize,
    /// Whether the provider streams: reads are paced.
    streaming: bool,
    /// The last read filled half the buffer: the next one does not wait.
    behind: bool,
    /// The wait of a paced read; made on first use and reset after that.
    pace: Option<Pin<Box<Sleep>>>,
    waiting: bool,
}

impl<R> Paced<R> {
    pub fn new(inner: R) -> Self {
        Paced {
            inner,
            last: None,
            window: None,
            window_lines: 0,
            streaming: false,
            behind: false,
            pace: None,
            waiting: false,
        }
    }

    /// Polls the wait of a paced read: ready once [`READ_PACE`] has passed since the last read.
    fn poll_pace(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.waiting {
            let due = self.last.map(|l| l + READ_PACE);
            let Some(due) = due.filter(|d| *d > Instant::now()) else {
                return Poll::Ready(());
            };
            match &mut self.pace {
                Some(s) => s.as_mut().reset(due),
                None => self.pace = Some(Box::pin(tokio::time::sleep_until(due))),
            }
            self.waiting = true;
        }
        if let Some(s) = &mut self.pace {
            ready!(s.as_mut().poll(cx));
        }
        self.waiting = false;
        Poll::Ready(())
    }

    /// Works out from a read of `data` (with `room` bytes of buffer before it) that returned at
    /// `now` whether the next read is paced.
    fn after_read(&mut self, now: Instant, data: &[u8], room: usize) {
        self.last = Some(now);
        self.behind = data.len() * 2 >= room;
        let lines = data.iter().filter(|b| **b == b'\n').count();
        if self.streaming {
            self.streaming = self.behind || lines >= STREAM_LINES;
            if !self.streaming {
                self.window = None;
            }
            return;
        }
        if self.window.is_none_or(|w| now - w > WINDOW) {
            self.window = Some(now);
            self.window_lines = 0;
        }
        self.window_lines += lines;
        self.streaming = self.window_lines >= STREAK_LINES;
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Paced<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.streaming && !this.behind {
            ready!(this.poll_pace(cx));
        }
        let (before, room) = (buf.filled().len(), buf.remaining());
        let result = ready!(Pin::new(&mut this.inner).poll_read(cx, buf));
        if result.is_ok() && buf.filled().len() > before {
            this.after_read(Instant::now(), &buf.filled()[before..], room);
        }
        Poll::Ready(result)
    }
}

#[cfg(test)]
#[path = "paced_tests.rs"]
mod tests;
