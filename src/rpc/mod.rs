//! The one JSON-RPC 2.0 peer of baton, used towards the editor (stdin/stdout) and towards
//! JSON-RPC providers (`codex app-server`).
//!
//! [`codec`] frames messages (LSP `Content-Length` or newline-delimited JSON), [`message`] holds
//! ids and errors, and [`peer`] runs one reader task (`reader`) and one writer task (`writer`)
//! per connection, with a map of pending outgoing requests so both sides can send requests to
//! each other.
//!
//! Nothing here knows baton's methods: the owner gets [`Incoming`] messages from a channel and
//! answers with [`Peer::respond`], which keeps the transport testable over in-memory pipes.

pub mod codec;
mod head;
pub mod message;
mod params;
pub mod peer;
mod reader;
mod writer;

use std::sync::atomic::{AtomicUsize, Ordering};

pub use message::{RequestId, RpcError};
pub use params::Params;
pub use peer::{Deferred, Incoming, Peer, PeerOptions, ReadFraming, spawn};

/// Error code used when the other side went away before answering.
pub const DISCONNECTED: i64 = -32098;

/// The default of `--max-message-bytes`: what the largest legitimate message needs (a resumed
/// Codex thread comes back as one response of many megabytes).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024 * 1024;

/// The size limit of every peer in this process. A process-wide setting because it is one
/// command-line flag that holds for every connection, including the ones provider code opens.
static MAX_MESSAGE_BYTES: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_MESSAGE_BYTES);

/// Sets the limit for peers created from now on (called once, from the command line).
pub fn set_max_message_bytes(limit: usize) {
    MAX_MESSAGE_BYTES.store(limit.max(1), Ordering::Relaxed);
}

/// The largest message a peer accepts, in bytes.
pub fn max_message_bytes() -> usize {
    MAX_MESSAGE_BYTES.load(Ordering::Relaxed)
}
