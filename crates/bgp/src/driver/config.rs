//! Configuration of one peer: transport (address, port, source, MD5, TTL) and session.

use std::net::{IpAddr, Ipv4Addr};

use crate::session::SessionConfig;

use super::sockopt::MD5_MAX_KEY_LEN;

/// A TCP MD5 password (RFC 2385). Never printed: `Debug` shows `Password(<redacted>)`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(Vec<u8>);

/// A password that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    /// Empty password.
    #[error("the password is empty")]
    Empty,
    /// Longer than the kernel accepts.
    #[error("the password is {0} bytes long; TCP MD5 allows at most {MD5_MAX_KEY_LEN}")]
    TooLong(usize),
}

impl Password {
    /// Wraps a password; 1 to 80 bytes.
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, PasswordError> {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Err(PasswordError::Empty);
        }
        if bytes.len() > MD5_MAX_KEY_LEN {
            return Err(PasswordError::TooLong(bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// The key bytes (for the socket option only).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Everything about one BGP peer. Build with [`PeerConfig::new`], then set fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerConfig {
    /// The peer's address; the key of the peer in a [`Speaker`](super::Speaker).
    pub address: IpAddr,
    /// The peer's TCP port (179).
    pub port: u16,
    /// Source address of outbound connections (`None`: chosen by the kernel).
    pub local_address: Option<IpAddr>,
    /// TCP MD5 password; set on the connecting socket and on every listener for this peer.
    pub password: Option<Password>,
    /// GTSM (RFC 5082): send with TTL 255 and drop packets with TTL below 254.
    pub ttl_security: bool,
    /// TTL for eBGP multihop. `None`: 1 for eBGP (directly connected), 255 for iBGP.
    pub ebgp_multihop: Option<u8>,
    /// The BGP session: ASes, router id, hold time, timers, passive, families, capabilities.
    pub session: SessionConfig,
}

impl PeerConfig {
    /// A peer on port 179 with the session defaults of [`SessionConfig::new`] (hold time 90 s,
    /// IPv4 and IPv6 unicast, 4-octet AS, route refresh) plus Extended Message offered.
    pub fn new(address: IpAddr, local_as: u32, peer_as: u32, router_id: Ipv4Addr) -> Self {
        let mut session = SessionConfig::new(local_as, peer_as, router_id);
        session.extended_message = true;
        Self {
            address,
            port: 179,
            local_address: None,
            password: None,
            ttl_security: false,
            ebgp_multihop: None,
            session,
        }
    }

    /// The session configuration the driver runs: with a random jitter seed (RFC 4271 §10)
    /// unless one is set, so the peers of different processes never retry in lock step.
    pub(crate) fn session_with_jitter(&self) -> SessionConfig {
        use std::hash::{BuildHasher, Hasher};
        let mut s = self.session.clone();
        if s.jitter_seed.is_none() {
            let seed = std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish();
            s.jitter_seed = Some(seed);
        }
        s
    }

    /// Whether a session running with `self` must be reset to run with `other`: the
    /// transport (address, port, source, password, TTL) or the OPEN changes. Timers and the
    /// maximum-prefix limit are applied to the running session.
    pub fn needs_reset_for(&self, other: &PeerConfig) -> bool {
        self.address != other.address
            || self.port != other.port
            || self.local_address != other.local_address
            || self.password != other.password
            || self.ttl_security != other.ttl_security
            || self.ebgp_multihop != other.ebgp_multihop
            || self.session.needs_reset_for(&other.session)
    }

    /// Whether the peer is in another AS.
    pub fn is_ebgp(&self) -> bool {
        !self.session.is_ibgp()
    }

    /// The TTL our packets carry.
    pub(crate) fn send_ttl(&self) -> u32 {
        if self.ttl_security {
            return super::sockopt::GTSM_SEND_TTL;
        }
        match (self.is_ebgp(), self.ebgp_multihop) {
            (true, Some(ttl)) => u32::from(ttl),
            (true, None) => 1,
            (false, _) => 64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn base() -> PeerConfig {
        PeerConfig::new(
            "10.255.0.1".parse().unwrap(),
            65001,
            65000,
            Ipv4Addr::new(10, 255, 0, 2),
        )
    }

    #[test]
    fn transport_and_open_changes_need_a_reset_timers_and_limits_do_not() {
        let resets: [fn(&mut PeerConfig); 7] = [
            |c| c.port = 1179,
            |c| c.local_address = Some("10.255.0.3".parse().unwrap()),
            |c| c.password = Some(Password::new("s3cret").unwrap()),
            |c| c.ttl_security = true,
            |c| c.ebgp_multihop = Some(4),
            |c| c.session.hold_time = 30,
            |c| c.session.local_as = 65009,
        ];
        for (i, change) in resets.iter().enumerate() {
            let mut other = base();
            change(&mut other);
            assert!(base().needs_reset_for(&other), "change {i}: {other:?}");
        }
        let live: [fn(&mut PeerConfig); 4] = [
            |c| c.session.max_prefixes = Some(5),
            |c| c.session.max_prefixes_cease = true,
            |c| c.session.connect_retry = Duration::from_secs(9),
            |c| c.session.quick_retry = Some(Duration::from_millis(80)),
        ];
        for (i, change) in live.iter().enumerate() {
            let mut other = base();
            change(&mut other);
            assert_ne!(base(), other);
            assert!(!base().needs_reset_for(&other), "change {i}: {other:?}");
        }
    }
}
