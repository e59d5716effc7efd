//! Terminal front ends: `baton exec` (one turn, rendered for a person) and `baton demo` (an
//! offline tour). Both drive a child `baton` server over stdio exactly as an editor would, so
//! what a person sees here is what editors get.

// These commands talk to a person on a terminal: stdout is their output, not a protocol.
#![allow(clippy::print_stdout)]

pub mod client;
pub mod demo;
pub mod exec;
pub mod render;
