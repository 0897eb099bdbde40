//! lttng-live URLs, parsed as babeltrace2 2.0's `bt_common_parse_lttng_live_url` parses them:
//! `net[4|6]://RELAYHOST[:PORT][/host/TARGET_HOSTNAME[/SESSION_NAME]]`.
//!
//! One extension: `.../host/TARGET_HOSTNAME` without a session name (an error in babeltrace2)
//! lists that host's sessions. No name resolution here.

use std::fmt;

/// The relay daemon's default live port.
pub const DEFAULT_LIVE_PORT: u16 = 5344;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveUrl {
    /// The URL as the user wrote it (babeltrace2 builds the listing's URLs from it).
    pub text: String,
    pub relay_host: String,
    pub port: u16,
    pub target_hostname: Option<String>,
    pub session_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    pub url: String,
    pub reason: String,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid live URL `{}`: {}", self.url, self.reason)
    }
}

impl std::error::Error for UrlError {}

impl LiveUrl {
    pub fn parse(url: &str) -> Result<LiveUrl, UrlError> {
        let err = |reason: String| UrlError {
            url: url.to_owned(),
            reason,
        };
        let (proto, rest) = match url.find(':') {
            Some(i) if i > 0 => (&url[..i], &url[i..]),
            _ => return Err(err("missing protocol".into())),
        };
        if !matches!(proto, "net" | "net4" | "net6") {
            return Err(err(format!(
                "unknown protocol `{proto}` (expected net, net4 or net6)"
            )));
        }
        let rest = rest
            .strip_prefix("://")
            .ok_or_else(|| err("expecting `://` after protocol".into()))?;
        let host_end = rest.find([':', '/']).unwrap_or(rest.len());
        let relay_host = &rest[..host_end];
        if relay_host.is_empty() {
            return Err(err("missing hostname".into()));
        }
        let mut rest = &rest[host_end..];
        let mut port = DEFAULT_LIVE_PORT;
        if let Some(p) = rest.strip_prefix(':') {
            let end = p.find('/').unwrap_or(p.len());
            let digits = &p[..end];
            if digits.is_empty() {
                return Err(err("missing port".into()));
            }
            port = digits
                .parse::<u16>()
                .map_err(|_| err(format!("invalid port: `{digits}`")))?;
            rest = &p[end..];
        }
        let mut out = LiveUrl {
            text: url.to_owned(),
            relay_host: relay_host.to_owned(),
            port,
            target_hostname: None,
            session_name: None,
        };
        if rest.is_empty() {
            return Ok(out);
        }
        let rest = rest
            .strip_prefix("/host/")
            .ok_or_else(|| err("expecting `/host/` after hostname or port".into()))?;
        let (target, session) = match rest.find('/') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        if target.is_empty() {
            return Err(err("missing target hostname".into()));
        }
        out.target_hostname = Some(target.to_owned());
        if let Some(s) = session {
            if s.is_empty() {
                return Err(err("missing session name".into()));
            }
            if s.contains('/') {
                return Err(err("unexpected `/` after session name".into()));
            }
            out.session_name = Some(s.to_owned());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let u = LiveUrl::parse("net://localhost").unwrap();
        assert_eq!((u.relay_host.as_str(), u.port), ("localhost", 5344));
        assert_eq!(u.target_hostname, None);
        let u = LiveUrl::parse("net4://127.0.0.1:1234/host/vm/live1").unwrap();
        assert_eq!(u.port, 1234);
        assert_eq!(u.target_hostname.as_deref(), Some("vm"));
        assert_eq!(u.session_name.as_deref(), Some("live1"));
        let u = LiveUrl::parse("net://h/host/vm").unwrap();
        assert_eq!(
            (u.target_hostname.as_deref(), u.session_name),
            (Some("vm"), None)
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (url, reason) in [
            ("tcp://h", "unknown protocol"),
            ("h", "missing protocol"),
            ("net:/h", "expecting `://`"),
            ("net://", "missing hostname"),
            ("net://h:", "missing port"),
            ("net://h:99999", "invalid port"),
            ("net://h/x", "expecting `/host/`"),
            ("net://h/host/", "missing target hostname"),
            ("net://h/host/a/", "missing session name"),
            ("net://h/host/a/b/c", "unexpected `/`"),
        ] {
            let e = LiveUrl::parse(url).unwrap_err();
            assert!(e.reason.contains(reason), "{url}: {e}");
        }
    }
}
