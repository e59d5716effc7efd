//! Wire types of the baton protocol: everything an editor sends to or receives from `baton`.
//!
//! Methods are named `resource/verb`, fields are camelCase, unions are tagged with `type`.
//! One module per resource; [`schema::generate`] turns every type into the committed JSON Schema
//! (`protocol/schema/baton.schema.json`), whose staleness is checked by a test.
//! Doc comments on the types become the schema's descriptions, so the protocol is documented once.

pub mod approval;
pub mod errors;
pub mod event;
pub mod input;
pub mod item;
pub mod lease;
pub mod lifecycle;
pub mod provider;
pub mod schema;
pub mod status;
pub mod thread;
pub mod turn;

pub use approval::*;
pub use event::*;
pub use input::*;
pub use item::*;
pub use lease::*;
pub use lifecycle::*;
pub use provider::*;
pub use status::*;
pub use thread::*;
pub use turn::*;

/// The protocol version baton speaks; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;
