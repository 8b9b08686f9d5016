//! BFD for the speaker's peers: one session per peer with a `bfd-profile`, coupled to the BGP
//! session as RFC 5882 says (the decision is [`ferrolb_bgp::bfd::Coupling`], shared with
//! `ferrolb announce --bfd`).
//!
//! The coupling task tears the BGP peer down itself, at once, when BFD fails, and adds it back
//! when BFD is Up again; the [`SessionManager`](crate::sessions::SessionManager) keeps the
//! peer's current configuration and routes in [`Held`] so the re-added peer gets them, and
//! does not touch the driver's peer while it is held down.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use ferrolb_bgp::bfd::{
    admin_down, follow, Bfd, BfdConfig, CoupledPeer, Hop, PeerSpec, SessionHandle, Start, Status,
    Timers,
};
use ferrolb_bgp::driver::{DriverError, PeerConfig, Speaker};
use ferrolb_bgp::rib_out::AdvertisementSet;
use ferrolb_config::BfdProfile;
use tracing::{info, warn};

use crate::report::BfdReport;

/// What the BGP side of a BFD-coupled peer should be; shared by the manager and the coupling.
pub struct Held {
    /// The peer's current configuration (the manager keeps it up to date).
    pub config: PeerConfig,
    /// The peer's current routes (the manager keeps it up to date).
    pub routes: Arc<AdvertisementSet>,
    /// BFD failed, or the peer waits for BFD's first Up (graceful restart with BFD): the
    /// driver has no such peer until BFD is Up.
    pub down: bool,
}

/// Locks a [`Held`] (a poisoned lock is still usable: the data is plain values).
pub fn lock(h: &Mutex<Held>) -> MutexGuard<'_, Held> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

/// The BFD session parameters of a peer, from its profile and BGP configuration.
pub fn spec_of(profile: &BfdProfile, config: &PeerConfig) -> Result<PeerSpec, String> {
    let local = match config.local_address {
        Some(a) => a,
        None => local_toward(config.address).map_err(|e| {
            format!(
                "bfd-profile {:?}: no source address toward {} ({e}); set the peer's \
                 source-address",
                profile.name, config.address
            )
        })?,
    };
    let multihop = config.ebgp_multihop.is_some();
    let ms = |v: u32| Duration::from_millis(u64::from(v));
    Ok(PeerSpec {
        peer: config.address,
        local,
        hop: if multihop { Hop::Multi } else { Hop::Single },
        min_ttl: if multihop {
            u8::try_from(profile.minimum_ttl).unwrap_or(u8::MAX)
        } else {
            255
        },
        config: BfdConfig {
            timers: Timers {
                desired_min_tx: ms(profile.transmit_interval_ms),
                required_min_rx: ms(profile.receive_interval_ms),
                detect_mult: u8::try_from(profile.detect_multiplier).unwrap_or(u8::MAX),
            },
            passive: profile.passive_mode,
        },
    })
}

/// The address the kernel's routes choose as source toward `peer` (a connected UDP socket;
/// nothing is sent).
fn local_toward(peer: IpAddr) -> std::io::Result<IpAddr> {
    let any: IpAddr = if peer.is_ipv4() {
        std::net::Ipv4Addr::UNSPECIFIED.into()
    } else {
        std::net::Ipv6Addr::UNSPECIFIED.into()
    };
    let socket = std::net::UdpSocket::bind((any, 0))?;
    socket.connect((peer, ferrolb_bgp::bfd::SINGLE_HOP_PORT))?;
    Ok(socket.local_addr()?.ip())
}

/// A live view of one BFD session (cheap to clone; the status follows the session).
#[derive(Debug, Clone)]
pub struct BfdLive {
    /// The `bfd-profile` in use.
    pub profile: String,
    /// Our Detect Mult.
    pub detect_multiplier: u8,
    /// The session's status watch.
    pub status: tokio::sync::watch::Receiver<Status>,
}

impl BfdLive {
    /// The status report of the session now.
    pub fn report(&self) -> BfdReport {
        let st = *self.status.borrow();
        let mult = u32::from(st.remote_detect_mult.max(1));
        BfdReport {
            profile: self.profile.clone(),
            state: st.state.to_string(),
            remote_state: st.remote_state.to_string(),
            tx_interval_ms: millis(st.tx_interval),
            rx_interval_ms: millis(st.detect_time / mult),
            detect_multiplier: self.detect_multiplier,
            detect_time_ms: millis(st.detect_time),
            last_down_reason: st.last_down.map(|d| d.to_string()),
            packets_in: st.counters.packets_in,
            packets_out: st.counters.packets_out,
            up_events: st.counters.up_events,
            down_events: st.counters.down_events,
            max_tx_gap_ms: millis(st.counters.max_tx_gap),
            max_rx_gap_ms: millis(st.counters.max_rx_gap),
            tx_gaps_over_peer_detect: st.counters.tx_gaps_over_peer_detect,
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A running BFD session of one peer.
struct Running {
    spec: PeerSpec,
    profile: String,
    handle: Arc<SessionHandle>,
    held: Arc<Mutex<Held>>,
    task: tokio::task::JoinHandle<()>,
}

/// The BFD sessions of the speaker's peers.
#[derive(Default)]
pub struct BfdPeers {
    bfd: Option<Bfd>,
    running: BTreeMap<IpAddr, Running>,
}

impl BfdPeers {
    /// The shared BGP state of a coupled peer.
    pub fn held(&self, peer: IpAddr) -> Option<Arc<Mutex<Held>>> {
        self.running.get(&peer).map(|r| Arc::clone(&r.held))
    }

    /// A live view of the peer's BFD session, for status and metrics.
    pub fn live(&self, peer: IpAddr) -> Option<BfdLive> {
        self.running.get(&peer).map(|r| BfdLive {
            profile: r.profile.clone(),
            detect_multiplier: r.spec.config.timers.detect_mult,
            status: r.handle.subscribe(),
        })
    }

    /// Brings the peer's BFD session in line with `spec`: starts it (the BGP session is
    /// already configured), changes its timers with a Poll Sequence, or restarts it when the
    /// addresses, hop kind or role changed. `held` seeds the shared BGP state.
    pub fn sync(
        &mut self,
        speaker: &Speaker,
        profile: &str,
        spec: PeerSpec,
        held: Held,
    ) -> Result<(), String> {
        if let Some(r) = self.running.get_mut(&spec.peer) {
            let same_session = PeerSpec {
                config: BfdConfig {
                    timers: r.spec.config.timers,
                    ..spec.config
                },
                ..spec
            } == r.spec;
            if same_session {
                if r.spec.config.timers != spec.config.timers {
                    r.handle
                        .set_timers(spec.config.timers)
                        .map_err(|e| e.to_string())?;
                    info!(peer = %spec.peer, profile, "BFD timers changed (Poll Sequence)");
                }
                r.spec = spec;
                r.profile = profile.to_string();
                return Ok(());
            }
            self.stop(speaker, spec.peer, true);
        }
        if self.bfd.is_none() {
            self.bfd = Some(Bfd::new().map_err(|e| e.to_string())?);
        }
        let Some(bfd) = &self.bfd else {
            return Err("BFD service not started".into());
        };
        let handle = Arc::new(bfd.add_session(spec).map_err(|e| e.to_string())?);
        let held = Arc::new(Mutex::new(held));
        let task = tokio::spawn(couple(
            speaker.clone(),
            spec.peer,
            Arc::clone(&handle),
            Arc::clone(&held),
        ));
        info!(peer = %spec.peer, profile, hop = ?spec.hop, "BFD session started");
        self.running.insert(
            spec.peer,
            Running {
                spec,
                profile: profile.to_string(),
                handle,
                held,
                task,
            },
        );
        Ok(())
    }

    /// Stops the peer's BFD session: AdminDown is sent (in the background), and with
    /// `readd_bgp` a BGP peer held down by BFD is added back, since BFD no longer decides.
    pub fn stop(&mut self, speaker: &Speaker, peer: IpAddr, readd_bgp: bool) {
        let Some(r) = self.running.remove(&peer) else {
            return;
        };
        r.task.abort();
        {
            let mut h = lock(&r.held);
            if h.down && readd_bgp {
                h.down = false;
                if let Err(e) = speaker.add_peer_with(h.config.clone(), Arc::clone(&h.routes)) {
                    warn!(%peer, error = %e, "re-adding the BGP peer after BFD stopped");
                }
            }
        }
        info!(%peer, "BFD session stopped (AdminDown)");
        tokio::spawn(async move {
            admin_down(&r.handle).await;
        });
    }

    /// Sends AdminDown on every session and waits until it is sent (each bounded to about
    /// 1.5 s), then stops them: at shutdown, after the BGP sessions closed for a restart, before
    /// them for a departure.
    pub async fn shutdown(&mut self) {
        for (_, r) in std::mem::take(&mut self.running) {
            r.task.abort();
            admin_down(&r.handle).await;
        }
    }
}

/// How long a peer that waits for BFD ([`Held::down`] at the start) waits before its BGP
/// session starts anyway (the library's [`ferrolb_bgp::bfd::START_WAIT`]).
pub use ferrolb_bgp::bfd::START_WAIT;

/// Follows the BFD session and stops / restarts the BGP peer ([`ferrolb_bgp::bfd::follow`]).
/// Runs until BFD stops. A peer held down at the start (graceful restart with BFD) gets its
/// BGP session at BFD's first Up, or after [`START_WAIT`].
async fn couple(
    speaker: Speaker,
    address: IpAddr,
    session: Arc<SessionHandle>,
    held: Arc<Mutex<Held>>,
) {
    let start = if lock(&held).down {
        Start::AfterBfd { wait: START_WAIT }
    } else {
        Start::Running
    };
    follow(speaker, address, &session, HeldPeer(held), start).await;
}

/// The speaker's side of the coupling: the peer's configuration and routes live in [`Held`].
struct HeldPeer(Arc<Mutex<Held>>);

impl CoupledPeer for HeldPeer {
    fn held_down(&mut self) {
        lock(&self.0).down = true;
    }

    fn start(&mut self, speaker: &Speaker) -> Result<(), DriverError> {
        let mut h = lock(&self.0);
        if h.down {
            speaker.add_peer_with(h.config.clone(), Arc::clone(&h.routes))?;
            h.down = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> BfdProfile {
        BfdProfile {
            name: "fast".into(),
            receive_interval_ms: 100,
            transmit_interval_ms: 150,
            detect_multiplier: 4,
            echo_interval_ms: 50,
            echo_mode: false,
            passive_mode: true,
            minimum_ttl: 250,
        }
    }

    #[test]
    fn profile_fields_take_effect() {
        // Without source-address the kernel's route decides: loopback toward loopback.
        let mut config = PeerConfig::new(
            "127.0.0.1".parse().unwrap(),
            64512,
            64513,
            "10.255.0.2".parse().unwrap(),
        );
        let s = spec_of(&profile(), &config).unwrap();
        assert_eq!(s.local, "127.0.0.1".parse::<IpAddr>().unwrap());
        config.address = "10.255.0.1".parse().unwrap();
        config.local_address = Some("10.255.0.2".parse().unwrap());
        let s = spec_of(&profile(), &config).unwrap();
        assert_eq!(s.local, "10.255.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(s.hop, Hop::Single);
        assert_eq!(s.min_ttl, 255, "single-hop ignores minimum-ttl");
        assert_eq!(s.config.timers.desired_min_tx, Duration::from_millis(150));
        assert_eq!(s.config.timers.required_min_rx, Duration::from_millis(100));
        assert_eq!(s.config.timers.detect_mult, 4);
        assert!(s.config.passive);
        config.ebgp_multihop = Some(255);
        let s = spec_of(&profile(), &config).unwrap();
        assert_eq!((s.hop, s.min_ttl), (Hop::Multi, 250));
    }
}
