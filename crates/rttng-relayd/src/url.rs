//! The relay's listening URLs (`tcp://HOST[:PORT]`, `tcp6://[HOST][:PORT]`, parsed by
//! `rttng_relay_proto::url`), resolved to the addresses to listen on. No sockets here.

use anyhow::{bail, Context, Result};
use rttng_relay_proto::url::parse_tcp;
pub use rttng_relay_proto::url::{
    DEFAULT_CONTROL_PORT as CONTROL_PORT, DEFAULT_DATA_PORT as DATA_PORT,
    DEFAULT_LIVE_PORT as LIVE_PORT,
};
use std::net::{SocketAddr, ToSocketAddrs};

/// The addresses to listen on for a URL.
pub fn parse(url: &str, default_port: u16) -> Result<Vec<SocketAddr>> {
    let u = parse_tcp(url, default_port)?;
    let addrs: Vec<SocketAddr> = (u.host.as_str(), u.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {:?}", u.host))?
        .filter(|a| a.is_ipv6() == u.v6)
        .collect();
    if addrs.is_empty() {
        bail!(
            "{:?} has no {} address",
            u.host,
            if u.v6 { "IPv6" } else { "IPv4" }
        );
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_resolves() {
        assert!(super::parse("tcp://127.0.0.1:0", 1).unwrap()[0]
            .ip()
            .is_loopback());
        assert!(super::parse("tcp6://[::1]:0", 1).unwrap()[0].is_ipv6());
    }
}
