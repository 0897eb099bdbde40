//! Who may talk to this session daemon, as pure decisions over credentials (the kernel's
//! SO_PEERCRED and the peer's groups from /proc), so they are tested without sockets. Not here:
//! reading the credentials (`sys.rs`, `rttng_proto::sock`), session ownership (a client sees
//! only its own sessions: `rttng-session`).

/// May a client with `peer_uid` (member of `peer_groups`) send requests? A user's daemon
/// serves that user only (not even root: each user controls only their own daemon); the root
/// daemon serves root and the members of its tracing group (`root_group`, when it exists).
pub fn client_allowed(
    daemon_uid: u32,
    peer_uid: u32,
    root_group: Option<u32>,
    peer_groups: &[u32],
) -> bool {
    peer_uid == daemon_uid
        || (daemon_uid == 0 && root_group.is_some_and(|g| peer_groups.contains(&g)))
}

/// May an application of `peer_uid` register? The root daemon traces every user's apps; a
/// user's daemon only that user's.
pub fn app_allowed(daemon_uid: u32, peer_uid: u32) -> bool {
    daemon_uid == 0 || peer_uid == daemon_uid
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACING: u32 = 990;

    #[test]
    fn a_users_daemon_serves_that_user_only() {
        assert!(client_allowed(1000, 1000, None, &[]));
        assert!(!client_allowed(1000, 1001, None, &[]));
        assert!(!client_allowed(1000, 0, None, &[0]), "not even root");
        // A group does not open a user's daemon.
        assert!(!client_allowed(1000, 1001, Some(TRACING), &[TRACING]));
    }

    #[test]
    fn the_root_daemon_serves_root_and_its_group() {
        assert!(client_allowed(0, 0, Some(TRACING), &[]));
        assert!(client_allowed(0, 0, None, &[]));
        assert!(client_allowed(0, 1000, Some(TRACING), &[100, TRACING]));
        assert!(!client_allowed(0, 1000, Some(TRACING), &[100]));
        assert!(
            !client_allowed(0, 1000, None, &[TRACING]),
            "no such group on this host"
        );
    }

    #[test]
    fn apps_register_with_their_users_daemon_or_root() {
        assert!(app_allowed(0, 1000));
        assert!(app_allowed(1000, 1000));
        assert!(!app_allowed(1000, 1001));
        assert!(!app_allowed(1000, 0));
    }
}
