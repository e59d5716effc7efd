//! The one JSON-RPC 2.0 peer of baton, used towards the editor (stdin/stdout) and towards
//! JSON-RPC providers (`codex app-server`).
//!
//! [`codec`] frames messages (LSP `Content-Length` or newline-delimited JSON), [`message`] holds
//! ids and errors, and [`peer`] runs one reader task and one writer task per connection, with a
//! map of pending outgoing requests so both sides can send requests to each other.
//!
//! Nothing here knows baton's methods: the owner gets [`Incoming`] messages from a channel and
//! answers with [`Peer::respond`], which keeps the transport testable over in-memory pipes.

pub mod codec;
pub mod message;
pub mod peer;

pub use message::{RequestId, RpcError};
pub use peer::{Incoming, PROVIDER_MAX_MESSAGE_BYTES, Peer, PeerOptions, ReadFraming, spawn};

/// Error code used when the other side went away before answering.
pub const DISCONNECTED: i64 = -32098;
