//! baton's own stdin and stdout as async streams.
//!
//! Editors start baton with pipes (Neovim, most terminals' tools) or socket pairs (libuv, and
//! so Node and VS Code) on its stdio. Both are read and written through the runtime's event loop
//! here, without a thread in between: tokio's `stdin()`/`stdout()` hand every read and every
//! write to a blocking thread, which costs a thread wake-up per flush of the notification
//! stream. Anything else (a file, a terminal) keeps tokio's blocking streams.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileTypeExt;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::UnixStream;
use tokio::net::unix::pipe;

enum Kind {
    Pipe,
    Socket,
    Other,
}

/// What `fd` is, from a duplicate of it (which the stream then owns).
fn kind(fd: BorrowedFd<'_>) -> (Kind, Option<OwnedFd>) {
    let Ok(owned) = fd.try_clone_to_owned() else {
        return (Kind::Other, None);
    };
    let file = File::from(owned);
    let kind = match file.metadata().map(|m| m.file_type()) {
        Ok(t) if t.is_fifo() => Kind::Pipe,
        Ok(t) if t.is_socket() => Kind::Socket,
        _ => Kind::Other,
    };
    (kind, Some(OwnedFd::from(file)))
}

fn socket(fd: OwnedFd) -> std::io::Result<UnixStream> {
    let std = std::os::unix::net::UnixStream::from(fd);
    std.set_nonblocking(true)?;
    UnixStream::from_std(std)
}

/// stdin, read through the event loop when it is a pipe or a socket.
pub fn input() -> Box<dyn AsyncRead + Unpin + Send> {
    let stdin = std::io::stdin();
    let fd = stdin.as_fd();
    let direct = match kind(fd) {
        (Kind::Pipe, Some(fd)) => pipe::Receiver::from_file(File::from(fd))
            .map(|r| Box::new(r) as Box<dyn AsyncRead + Unpin + Send>),
        (Kind::Socket, Some(fd)) => {
            socket(fd).map(|s| Box::new(s) as Box<dyn AsyncRead + Unpin + Send>)
        }
        _ => return Box::new(tokio::io::stdin()),
    };
    direct.unwrap_or_else(|e| {
        tracing::debug!("stdin is read through a thread: {e}");
        Box::new(tokio::io::stdin())
    })
}

/// stdout, written through the event loop when it is a pipe or a socket.
pub fn output() -> Box<dyn AsyncWrite + Unpin + Send> {
    let stdout = std::io::stdout();
    let fd = stdout.as_fd();
    let direct = match kind(fd) {
        (Kind::Pipe, Some(fd)) => pipe::Sender::from_file(File::from(fd))
            .map(|w| Box::new(w) as Box<dyn AsyncWrite + Unpin + Send>),
        (Kind::Socket, Some(fd)) => {
            socket(fd).map(|s| Box::new(s) as Box<dyn AsyncWrite + Unpin + Send>)
        }
        _ => return Box::new(tokio::io::stdout()),
    };
    direct.unwrap_or_else(|e| {
        tracing::debug!("stdout is written through a thread: {e}");
        Box::new(tokio::io::stdout())
    })
}
