//! lttng's relay URLs, parsed without resolving anything: `net://HOST[:CTRL[:DATA]][/BASE]`
//! (and `net6://[HOST]...`), the form `create --set-url` takes, and `tcp://HOST[:PORT]`
//! (`tcp6://[HOST][:PORT]`), the form of `create -C/-D` and of the relay's listening options.
//! Hosts are bounded and limited to the characters of host names and IP addresses.

use crate::names::check_relative_path;

/// The relay's default control port.
pub const DEFAULT_CONTROL_PORT: u16 = 5342;
/// The relay's default data port.
pub const DEFAULT_DATA_PORT: u16 = 5343;
/// The relay's default live port.
pub const DEFAULT_LIVE_PORT: u16 = 5344;
/// Longest host in a URL.
pub const MAX_HOST_BYTES: usize = 255;

/// Why a URL is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UrlError(pub String);

impl std::fmt::Display for UrlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UrlError {}

fn bad(s: impl Into<String>) -> UrlError {
    UrlError(s.into())
}

/// A `tcp://` endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpUrl {
    pub host: String,
    pub port: u16,
    pub v6: bool,
}

/// A `net://` relay destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetUrl {
    pub host: String,
    pub control_port: u16,
    pub data_port: u16,
    pub v6: bool,
    /// Relative, possibly empty: the session's directory under `HOST/` on the relay.
    pub base_path: String,
}

impl std::fmt::Display for NetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, host) = if self.v6 {
            ("net6", format!("[{}]", self.host))
        } else {
            ("net", self.host.clone())
        };
        write!(
            f,
            "{scheme}://{host}:{}:{}",
            self.control_port, self.data_port
        )?;
        if !self.base_path.is_empty() {
            write!(f, "/{}", self.base_path)?;
        }
        Ok(())
    }
}

fn check_host(h: &str) -> Result<(), UrlError> {
    if h.is_empty() {
        return Err(bad("no host"));
    }
    if h.len() > MAX_HOST_BYTES {
        return Err(bad(format!("host longer than {MAX_HOST_BYTES} bytes")));
    }
    if !h
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'))
    {
        return Err(bad(format!("bad host {h:?}")));
    }
    Ok(())
}

/// Splits `rest` (after `://`) into host and what follows it.
fn split_host(rest: &str, v6: bool) -> Result<(String, &str), UrlError> {
    if let Some(r) = rest.strip_prefix('[') {
        let (h, after) = r.split_once(']').ok_or_else(|| bad("unclosed '['"))?;
        check_host(h)?;
        return Ok((h.to_string(), after));
    }
    if v6 {
        return Err(bad("an IPv6 host goes in brackets: [HOST]"));
    }
    let end = rest.find([':', '/']).unwrap_or(rest.len());
    let h = &rest[..end];
    check_host(h)?;
    Ok((h.to_string(), &rest[end..]))
}

fn port(p: &str) -> Result<u16, UrlError> {
    p.parse().map_err(|_| bad(format!("bad port {p:?}")))
}

/// `tcp://HOST[:PORT]` or `tcp6://[HOST][:PORT]`; a missing port is `default_port`.
pub fn parse_tcp(url: &str, default_port: u16) -> Result<TcpUrl, UrlError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected tcp://HOST[:PORT]"))?;
    let v6 = match scheme {
        "tcp" => false,
        "tcp6" => true,
        other => return Err(bad(format!("unsupported scheme {other:?} (tcp or tcp6)"))),
    };
    let (host, after) = split_host(rest.trim_end_matches('/'), v6)?;
    let port = match after {
        "" => default_port,
        a => port(
            a.strip_prefix(':')
                .ok_or_else(|| bad(format!("unexpected {a:?}")))?,
        )?,
    };
    Ok(TcpUrl { host, port, v6 })
}

/// `net://HOST[:CTRL[:DATA]][/BASE]` or `net6://[HOST][:CTRL[:DATA]][/BASE]`.
pub fn parse_net(url: &str) -> Result<NetUrl, UrlError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("expected net://HOST[:CTRL_PORT[:DATA_PORT]][/PATH]"))?;
    let v6 = match scheme {
        "net" => false,
        "net6" => true,
        other => return Err(bad(format!("unsupported scheme {other:?} (net or net6)"))),
    };
    let (host, after) = split_host(rest, v6)?;
    let (ports, base) = match after.split_once('/') {
        Some((p, b)) => (p, b.trim_end_matches('/')),
        None => (after, ""),
    };
    let (control_port, data_port) = match ports {
        "" => (DEFAULT_CONTROL_PORT, DEFAULT_DATA_PORT),
        p => {
            let p = p
                .strip_prefix(':')
                .ok_or_else(|| bad(format!("unexpected {p:?}")))?;
            match p.split_once(':') {
                Some((c, d)) => (port(c)?, port(d)?),
                None => (port(p)?, DEFAULT_DATA_PORT),
            }
        }
    };
    check_relative_path(base, crate::MAX_BASE_PATH_BYTES - 1, true, "base path")
        .map_err(|e| bad(e.to_string()))?;
    Ok(NetUrl {
        host,
        control_port,
        data_port,
        v6,
        base_path: base.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn net_urls_as_lttng_takes_them() {
        let u = parse_net("net://collector").unwrap();
        assert_eq!(
            (u.host.as_str(), u.control_port, u.data_port),
            ("collector", 5342, 5343)
        );
        let u = parse_net("net://10.0.0.1:6000:6001/my/base").unwrap();
        assert_eq!(
            (u.control_port, u.data_port, u.base_path.as_str()),
            (6000, 6001, "my/base")
        );
        assert_eq!(u.to_string(), "net://10.0.0.1:6000:6001/my/base");
        let u = parse_net("net://h:7000").unwrap();
        assert_eq!((u.control_port, u.data_port), (7000, 5343));
        let u = parse_net("net6://[::1]:1:2").unwrap();
        assert_eq!((u.host.as_str(), u.v6), ("::1", true));
        assert_eq!(u.to_string(), "net6://[::1]:1:2");
        for bad in [
            "collector",
            "file:///x",
            "net://",
            "net://h:x",
            "net://h:1:2:3",
            "net://h/../x",
            "net://a b",
            "net6://::1",
        ] {
            assert!(parse_net(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tcp_urls_as_lttng_takes_them() {
        assert_eq!(
            parse_tcp("tcp://0.0.0.0:5342", 1).unwrap(),
            TcpUrl {
                host: "0.0.0.0".into(),
                port: 5342,
                v6: false
            }
        );
        assert_eq!(parse_tcp("tcp://localhost", 5344).unwrap().port, 5344);
        assert_eq!(parse_tcp("tcp6://[::]:9", 1).unwrap().host, "::");
        for bad in [
            "0.0.0.0:5342",
            "udp://x:1",
            "tcp://:1",
            "tcp://h:99999",
            "tcp6://[::1",
            "tcp://h/x",
        ] {
            assert!(parse_tcp(bad, 1).is_err(), "{bad}");
        }
    }
}
