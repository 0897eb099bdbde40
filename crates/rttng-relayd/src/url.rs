//! lttng-relayd's listening URLs: `tcp://HOST[:PORT]` and `tcp6://[HOST][:PORT]` (also
//! `net://`/`net6://`, which lttng accepts for its relay URLs), with each port's default.
//! Pure parsing plus name resolution; no sockets are opened here.

use anyhow::{anyhow, bail, Context, Result};
use std::net::{SocketAddr, ToSocketAddrs};

pub const CONTROL_PORT: u16 = 5342;
pub const DATA_PORT: u16 = 5343;
pub const LIVE_PORT: u16 = 5344;

/// The (host, port) of a URL, the port defaulting to `default_port`.
pub fn split(url: &str, default_port: u16) -> Result<(String, u16, bool)> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| anyhow!("expected tcp://HOST[:PORT]"))?;
    let v6 = match scheme {
        "tcp" | "net" => false,
        "tcp6" | "net6" => true,
        other => bail!("unsupported scheme {other:?} (tcp or tcp6)"),
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(|| anyhow!("unclosed '['"))?;
        (h.to_string(), after.strip_prefix(':'))
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h.to_string(), Some(p)),
            _ => (rest.to_string(), None),
        }
    };
    if host.is_empty() {
        bail!("no host");
    }
    let port = match port {
        None => default_port,
        Some(p) => p.parse().with_context(|| format!("bad port {p:?}"))?,
    };
    Ok((host, port, v6))
}

/// The addresses to listen on for a URL.
pub fn parse(url: &str, default_port: u16) -> Result<Vec<SocketAddr>> {
    let (host, port, v6) = split(url, default_port)?;
    let addrs: Vec<SocketAddr> = (host.as_str(), port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {host:?}"))?
        .filter(|a| a.is_ipv6() == v6)
        .collect();
    if addrs.is_empty() {
        bail!(
            "{host:?} has no {} address",
            if v6 { "IPv6" } else { "IPv4" }
        );
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_as_lttng_relayd_takes_them() {
        assert_eq!(
            split("tcp://0.0.0.0:5342", 1).unwrap(),
            ("0.0.0.0".into(), 5342, false)
        );
        assert_eq!(
            split("tcp://localhost", 5344).unwrap(),
            ("localhost".into(), 5344, false)
        );
        assert_eq!(split("tcp6://[::1]:7", 1).unwrap(), ("::1".into(), 7, true));
        assert_eq!(split("tcp6://[::]", 9).unwrap(), ("::".into(), 9, true));
        for bad in [
            "0.0.0.0:5342",
            "udp://x:1",
            "tcp://:1",
            "tcp://h:99999",
            "tcp6://[::1",
        ] {
            assert!(split(bad, 1).is_err(), "{bad}");
        }
        assert!(parse("tcp://127.0.0.1:0", 1).unwrap()[0].ip().is_loopback());
    }
}
