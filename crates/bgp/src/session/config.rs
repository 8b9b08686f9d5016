//! Session configuration and its validation.

use crate::wire::{Capability, Family, GracefulRestart, Open};
use std::net::Ipv4Addr;
use std::time::Duration;

/// Configuration of one BGP session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionConfig {
    /// Our AS number (4-octet; AS_TRANS goes in OPEN's My AS when it exceeds 65535).
    pub local_as: u32,
    /// The AS the peer must announce in its OPEN.
    pub peer_as: u32,
    /// Our BGP identifier; must not be 0.0.0.0.
    pub router_id: Ipv4Addr,
    /// Hold time we propose, seconds: 0 (no keepalives) or at least 3. Default 90.
    pub hold_time: u16,
    /// Keepalive interval, seconds; default (`None`) is a third of the negotiated hold time.
    /// Never more than a third of the negotiated hold time.
    pub keepalive: Option<u16>,
    /// First connect-retry interval; doubles after each failed attempt. Default 5 s.
    pub connect_retry: Duration,
    /// Cap of the connect-retry backoff (never below `connect_retry`). Default 60 s.
    pub connect_retry_max: Duration,
    /// Quick reconnect: the first wait after a failed connection attempt of a (re)started
    /// session, doubling (with jitter) after each failure until it reaches `connect_retry`,
    /// from where the connect-retry backoff goes on. For a peer that refuses for a moment after
    /// a NOTIFICATION (a reset). An attempt in progress is still given `connect_retry` before it
    /// is abandoned. `None` (default): the first wait is `connect_retry`.
    pub quick_retry: Option<Duration>,
    /// Idle hold time after a session error before restarting automatically (damping); doubles
    /// on each error until the session stays up longer than `idle_hold_max`. Default 1 s.
    pub idle_hold: Duration,
    /// Cap of the idle hold time (never below `idle_hold`). Default 60 s.
    pub idle_hold_max: Duration,
    /// Hold time while waiting for the peer's OPEN (RFC 4271 suggests 4 minutes).
    pub open_hold_time: Duration,
    /// Never connect; wait for the peer to connect.
    pub passive: bool,
    /// Families offered with the Multiprotocol capability. Default IPv4 and IPv6 unicast.
    pub families: Vec<Family>,
    /// Offer the 4-octet AS capability (RFC 6793). Default true.
    pub four_octet_as: bool,
    /// Offer Route Refresh (RFC 2918). Default true.
    pub route_refresh: bool,
    /// Offer Extended Message (RFC 8654). Default false.
    pub extended_message: bool,
    /// Offer the Graceful Restart capability (RFC 4724). With the default `restart_time` 0 it
    /// only says we can help the peer (we keep no stale routes of ours at the peer). Default true.
    pub graceful_restart: bool,
    /// Restart time offered as a restarting speaker, seconds (0-4095): how long the peer keeps
    /// our routes as stale after the session drops without Hard Reset. Non-zero also sets the
    /// N flag (RFC 8538) and lists every offered family. Default 0 (helper only).
    pub restart_time: u16,
    /// Set the Forwarding State flag (F) for every family listed: the forwarding of what we
    /// announce does not depend on this process (RFC 4724 §3). Default false.
    pub forwarding_state: bool,
    /// Set the Restart State flag (R, RFC 4724 §3) with a non-zero `restart_time`: the caller
    /// knows this start is a restart (the peer then does not wait for our End-of-RIB before
    /// sending its own routes). Default false.
    pub restart_state: bool,
    /// Hand every received UPDATE to the caller in [`UpdateSummary::update`](super::UpdateSummary)
    /// (looking-glass and collector use; the speaker itself never installs received routes).
    /// Default false.
    pub keep_updates: bool,
    /// Maximum number of prefixes per family accepted from the peer (maximum-prefix); past it
    /// a warning is logged, the count becomes an estimate and no memory is spent on the
    /// peer's routes. `None`: no limit (every prefix is held as a key to count it exactly).
    /// Default [`DEFAULT_MAX_PREFIXES`].
    pub max_prefixes: Option<u32>,
    /// Past `max_prefixes`, also close the session with Cease/Maximum Number of Prefixes
    /// Reached (6/1, RFC 4486 §4) instead of only warning. Default false.
    pub max_prefixes_cease: bool,
    /// Seed of the RFC 4271 §10 jitter: ConnectRetry, keepalive and idle-hold intervals are
    /// multiplied by a random factor in 0.75..=1.0. `None` (the default) keeps them exact
    /// in a bare [`Session`](super::Session); the driver gives every session it runs a random
    /// seed when none is set.
    pub jitter_seed: Option<u64>,
}

/// Default maximum-prefix limit per family: a load balancer's peers (top-of-rack routers)
/// normally send a default route or a few fabric routes, never a full table.
pub const DEFAULT_MAX_PREFIXES: u32 = 10_000;

/// An invalid [`SessionConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Hold time 1 or 2.
    #[error("hold-time {0}: must be 0 or at least 3 seconds")]
    HoldTime(u16),
    /// Keepalive of 0.
    #[error("keepalive {0}: must be at least 1 second")]
    Keepalive(u16),
    /// Router id 0.0.0.0.
    #[error("router-id {0}: must not be 0.0.0.0")]
    RouterId(Ipv4Addr),
    /// AS 0.
    #[error("{field} {value}: AS 0 is reserved")]
    AsZero {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: u32,
    },
    /// A 4-octet AS without the 4-octet AS capability.
    #[error("local-as {0}: needs the 4-octet AS capability (four_octet_as = true)")]
    FourOctetAsDisabled(u32),
    /// No family.
    #[error("families: at least one address family is required")]
    NoFamilies,
    /// A Graceful Restart setting that cannot be offered.
    #[error("restart-time {0}: must be at most 4095 seconds, with graceful restart enabled")]
    RestartTime(u16),
    /// A timer outside its allowed range.
    #[error("{field} {value:?}: must be between {min:?} and {max:?}")]
    Timer {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: Duration,
        /// Smallest allowed.
        min: Duration,
        /// Largest allowed.
        max: Duration,
    },
}

/// Why [`Session::retune`](super::Session::retune) refused a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RetuneError {
    /// The configuration is invalid.
    #[error(transparent)]
    Invalid(ConfigError),
    /// Something in the OPEN changes: only a reset can apply it.
    #[error("the change needs a new OPEN (a session reset)")]
    NeedsReset,
}

/// Longest allowed timer (keeps every deadline far from `Instant` overflow).
const MAX_TIMER: Duration = Duration::from_secs(3600);
/// Shortest connect-retry / idle-hold interval (no busy loops).
const MIN_TIMER: Duration = Duration::from_millis(10);

impl SessionConfig {
    /// A configuration with the defaults documented on each field.
    pub fn new(local_as: u32, peer_as: u32, router_id: Ipv4Addr) -> Self {
        Self {
            local_as,
            peer_as,
            router_id,
            hold_time: 90,
            keepalive: None,
            connect_retry: Duration::from_secs(5),
            connect_retry_max: Duration::from_secs(60),
            quick_retry: None,
            idle_hold: Duration::from_secs(1),
            idle_hold_max: Duration::from_secs(60),
            open_hold_time: Duration::from_secs(240),
            passive: false,
            families: vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
            four_octet_as: true,
            route_refresh: true,
            extended_message: false,
            graceful_restart: true,
            restart_time: 0,
            forwarding_state: false,
            restart_state: false,
            keep_updates: false,
            max_prefixes: Some(DEFAULT_MAX_PREFIXES),
            max_prefixes_cease: false,
            jitter_seed: None,
        }
    }

    /// Checks the configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.hold_time == 1 || self.hold_time == 2 {
            return Err(ConfigError::HoldTime(self.hold_time));
        }
        if let Some(0) = self.keepalive {
            return Err(ConfigError::Keepalive(0));
        }
        if self.router_id.is_unspecified() {
            return Err(ConfigError::RouterId(self.router_id));
        }
        if self.local_as == 0 {
            return Err(ConfigError::AsZero {
                field: "local-as",
                value: 0,
            });
        }
        if self.peer_as == 0 {
            return Err(ConfigError::AsZero {
                field: "peer-as",
                value: 0,
            });
        }
        if self.local_as > 0xffff && !self.four_octet_as {
            return Err(ConfigError::FourOctetAsDisabled(self.local_as));
        }
        if self.families.is_empty() {
            return Err(ConfigError::NoFamilies);
        }
        if self.restart_time > GracefulRestart::MAX_RESTART_TIME
            || (self.restart_time > 0 && !self.graceful_restart)
        {
            return Err(ConfigError::RestartTime(self.restart_time));
        }
        if let Some(quick) = self.quick_retry {
            if quick < MIN_TIMER || quick > self.connect_retry {
                return Err(ConfigError::Timer {
                    field: "quick-retry",
                    value: quick,
                    min: MIN_TIMER,
                    max: self.connect_retry,
                });
            }
        }
        let timers = [
            ("connect-retry", self.connect_retry, MIN_TIMER),
            ("connect-retry-max", self.connect_retry_max, MIN_TIMER),
            ("idle-hold", self.idle_hold, MIN_TIMER),
            ("idle-hold-max", self.idle_hold_max, MIN_TIMER),
            (
                "open-hold-time",
                self.open_hold_time,
                Duration::from_secs(1),
            ),
        ];
        for (field, value, min) in timers {
            if value < min || value > MAX_TIMER {
                return Err(ConfigError::Timer {
                    field,
                    value,
                    min,
                    max: MAX_TIMER,
                });
            }
        }
        Ok(())
    }

    /// The first connect-retry wait after a start: `quick_retry`, else `connect_retry`.
    pub(crate) fn first_retry(&self) -> Duration {
        self.quick_retry
            .map_or(self.connect_retry, |q| q.min(self.connect_retry))
    }

    /// Whether a session running with `self` must be reset (a new OPEN) to run with `other`:
    /// true when anything sent in the OPEN or used in its negotiation differs. Timers, the
    /// maximum-prefix limit and the jitter seed apply to a running session
    /// ([`Session::retune`](super::Session::retune)).
    pub fn needs_reset_for(&self, other: &SessionConfig) -> bool {
        let mut live = self.clone();
        live.connect_retry = other.connect_retry;
        live.connect_retry_max = other.connect_retry_max;
        live.quick_retry = other.quick_retry;
        live.idle_hold = other.idle_hold;
        live.idle_hold_max = other.idle_hold_max;
        live.open_hold_time = other.open_hold_time;
        live.max_prefixes = other.max_prefixes;
        live.max_prefixes_cease = other.max_prefixes_cease;
        live.jitter_seed = other.jitter_seed;
        live != *other
    }

    /// Whether the peer is internal (same AS).
    pub fn is_ibgp(&self) -> bool {
        self.local_as == self.peer_as
    }

    /// The Graceful Restart capability we offer (RFC 4724 §3, RFC 8538 §2): helper only with
    /// restart time 0; otherwise N set, the restart time, and every offered family with F when
    /// `forwarding_state`; R when `restart_state`.
    pub fn graceful_restart_capability(&self) -> GracefulRestart {
        if self.restart_time == 0 {
            return GracefulRestart::default();
        }
        let family_flags = if self.forwarding_state {
            GracefulRestart::FORWARDING_STATE
        } else {
            0
        };
        let restart_flag = if self.restart_state {
            GracefulRestart::RESTART_STATE
        } else {
            0
        };
        GracefulRestart {
            flags: GracefulRestart::NOTIFICATION | restart_flag,
            restart_time: self.restart_time.min(GracefulRestart::MAX_RESTART_TIME),
            families: self.families.iter().map(|f| (*f, family_flags)).collect(),
        }
    }

    /// The OPEN this configuration sends.
    pub fn open(&self) -> Open {
        let mut caps: Vec<Capability> = self
            .families
            .iter()
            .map(|f| Capability::Multiprotocol(*f))
            .collect();
        if self.route_refresh {
            caps.push(Capability::RouteRefresh);
        }
        if self.extended_message {
            caps.push(Capability::ExtendedMessage);
        }
        if self.graceful_restart {
            caps.push(Capability::GracefulRestart(
                self.graceful_restart_capability(),
            ));
        }
        if self.four_octet_as {
            caps.push(Capability::FourOctetAs(self.local_as));
        }
        Open::new(self.local_as, self.hold_time, self.router_id, caps)
    }
}
