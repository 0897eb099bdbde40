//! LTTng live mode, viewer side: the viewer protocol's messages ([`proto`], shared with the
//! relay daemon's live port), lttng-live URLs ([`url`]), one connection to a relay ([`client`])
//! and a live session that follows streams and metadata as a packet source for
//! `rttng_reader::live` ([`viewer`]).
//!
//! Decoding and ordering are `rttng_reader`'s and `rttng_ctf`'s (the file reader's decoder);
//! printing is the caller's.
#![forbid(unsafe_code)]

pub mod client;
pub mod proto;
pub mod url;
pub mod viewer;
