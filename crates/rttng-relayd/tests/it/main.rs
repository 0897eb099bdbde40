//! Integration tests of `rttng-relayd`, one binary: a replayed LTTng trace through the
//! protocol (`replay`), bad peers on both ports (`malformed`), and a real LTTng 2.13 session
//! daemon streaming into the relay (`lttng`). babeltrace2 judges every stored trace.

mod cli;
mod client;
mod lttng;
mod malformed;
mod netns;
mod replay;
mod rttng_net;
mod support;
mod world;
