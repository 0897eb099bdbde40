//! LTTng live mode: the viewer protocol's messages ([`proto`]), lttng-live URLs ([`url`]); the
//! viewer side — one connection to a relay ([`client`]) and a live session that follows
//! streams and metadata as a packet source for `rttng_reader::live` ([`viewer`]); the relay
//! side — a live port serving viewers from a [`server::LiveRelay`] ([`server`]), and one over
//! trace directories on disk ([`dir`]).
//!
//! Decoding and ordering are `rttng_reader`'s and `rttng_ctf`'s (the file reader's decoder);
//! printing is the caller's.
#![forbid(unsafe_code)]

pub mod client;
pub mod dir;
pub mod proto;
pub mod server;
pub mod url;
pub mod viewer;
