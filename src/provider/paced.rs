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
//!
//! While the provider streams, the pipe is taken off the runtime's poller: Linux wakes an
//! edge-triggered poller at every write to a pipe, so a watched pipe would still wake the event
//! loop once per line between two paced reads. Paced reads read the (non-blocking) pipe
//! directly; a paced read that finds nothing, or too little to go on streaming, puts the pipe
//! back under watch.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::net::unix::pipe;
use tokio::process::ChildStdout;
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

/// Where the reads go.
enum Source {
    /// Registered with the runtime: a read waits for the pipe to be readable.
    Watched(pipe::Receiver),
    /// Off the runtime while the provider streams: paced reads read it directly.
    Unwatched(File),
    /// A move between the two failed (the runtime refused the pipe): reads fail.
    Lost,
}

pub struct Paced {
    source: Source,
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

impl Paced {
    /// Reads an agent's stdout.
    pub fn new(stdout: ChildStdout) -> io::Result<Paced> {
        Paced::from_fd(stdout.into_owned_fd()?)
    }

    /// Reads the pipe `fd`.
    pub fn from_fd(fd: OwnedFd) -> io::Result<Paced> {
        Ok(Paced::with_source(Source::Watched(
            pipe::Receiver::from_owned_fd(fd)?,
        )))
    }

    fn with_source(source: Source) -> Paced {
        Paced {
            source,
            last: None,
            window: None,
            window_lines: 0,
            streaming: false,
            behind: false,
            pace: None,
            waiting: false,
        }
    }

    /// Takes the pipe off the runtime's poller (a stream began).
    fn unwatch(&mut self) {
        if let Source::Watched(rx) = std::mem::replace(&mut self.source, Source::Lost) {
            match rx.into_nonblocking_fd() {
                Ok(fd) => self.source = Source::Unwatched(File::from(fd)),
                Err(e) => tracing::error!("cannot take a provider's stdout off the poller: {e}"),
            }
        }
    }

    /// Puts the pipe back under the runtime's poller (the stream ended).
    fn watch(&mut self) {
        if let Source::Unwatched(file) = std::mem::replace(&mut self.source, Source::Lost) {
            // Already a non-blocking pipe, as `from_fd` checked and made it.
            match pipe::Receiver::from_owned_fd_unchecked(OwnedFd::from(file)) {
                Ok(rx) => self.source = Source::Watched(rx),
                Err(e) => tracing::error!("cannot watch a provider's stdout again: {e}"),
            }
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

    /// Reads are no longer paced; a new stream needs a whole new window.
    fn end_stream(&mut self) {
        self.streaming = false;
        self.window = None;
    }

    /// Works out from a read of `data` (with `room` bytes of buffer before it) that returned at
    /// `now` whether the next read is paced.
    fn after_read(&mut self, now: Instant, data: &[u8], room: usize) {
        self.last = Some(now);
        self.behind = data.len() * 2 >= room;
        let lines = data.iter().filter(|b| **b == b'\n').count();
        if self.streaming {
            if !self.behind && lines < STREAM_LINES {
                self.end_stream();
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

impl AsyncRead for Paced {
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
        loop {
            match &mut this.source {
                Source::Watched(rx) => {
                    let result = ready!(Pin::new(rx).poll_read(cx, buf));
                    if result.is_ok() && buf.filled().len() > before {
                        this.after_read(Instant::now(), &buf.filled()[before..], room);
                        if this.streaming {
                            this.unwatch();
                        }
                    }
                    return Poll::Ready(result);
                }
                Source::Unwatched(file) => match file.read(buf.initialize_unfilled()) {
                    Ok(n) => {
                        buf.advance(n);
                        if n > 0 {
                            this.after_read(Instant::now(), &buf.filled()[before..], room);
                            if !this.streaming {
                                this.watch();
                            }
                        }
                        return Poll::Ready(Ok(()));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        // Nothing came for a whole pace: the stream paused. Wait for the pipe.
                        this.end_stream();
                        this.watch();
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                },
                Source::Lost => {
                    return Poll::Ready(Err(io::Error::other(
                        "the provider's stdout could not be polled any more",
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "paced_tests.rs"]
mod tests;
