//! Per-protocol session adapters: each translates between one connection's protocol and the
//! protocol-neutral hub.

pub mod text;
