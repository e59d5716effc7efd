//! Stable JSON-RPC error codes. The standard ones come from JSON-RPC 2.0 and LSP; baton's own
//! codes live in -32010..=-32099 so that editors can match on them.

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The message is not a valid request object (also: batches, which baton does not accept).
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters; the message names the offending field.
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;
/// A request other than `initialize` arrived before `initialize` (LSP: ServerNotInitialized).
pub const SERVER_NOT_INITIALIZED: i64 = -32002;
/// The request was cancelled by `$/cancelRequest` (LSP: RequestCancelled).
pub const REQUEST_CANCELLED: i64 = -32800;

/// No thread with that id exists.
pub const THREAD_NOT_FOUND: i64 = -32010;
/// A turn is already running on the thread.
pub const TURN_IN_PROGRESS: i64 = -32011;
/// No turn is running on the thread.
pub const NO_ACTIVE_TURN: i64 = -32012;
/// The provider is unknown, not installed, or failed to start; the message says which.
pub const PROVIDER_UNAVAILABLE: i64 = -32013;
/// The provider rejected or failed the operation; the message carries its error text.
pub const PROVIDER_ERROR: i64 = -32014;
/// The operation conflicts with the thread's state (e.g. an approval is pending).
pub const THREAD_BUSY: i64 = -32015;
/// Another live baton process (another editor window on the same database) drives the thread;
/// `data` is a [`crate::ThreadLeasedData`] naming it. `thread/takeover` moves the thread here.
pub const THREAD_LEASED: i64 = -32016;
/// The store (SQLite) failed.
pub const STORE_ERROR: i64 = -32017;
