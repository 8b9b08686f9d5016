//! `ferrolb announce --bfd`: a BFD session beside the BGP session, coupled as RFC 5882 says
//! (the decision is [`ferrolb_bgp::bfd::Coupling`]). BFD Down removes the BGP peer (Cease,
//! "BFD down: <diag>", no reconnection, no listener key) until BFD is Up; then the peer is
//! added back with the current routes. With `--graceful-restart` the BGP session starts only
//! once BFD is Up (RFC 5882 §4.3.2), and a restart exit closes BGP before BFD's AdminDown.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrolb_bgp::bfd::{
    follow, Bfd, BfdConfig, CoupledPeer, Hop, PeerSpec, SessionHandle, Start, Timers, START_WAIT,
};
use ferrolb_bgp::driver::{DriverError, PeerConfig, Speaker};
use ferrolb_bgp::rib_out::AdvertisementSet;

/// Validated `--bfd*` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BfdPlan {
    pub timers: Timers,
    pub passive: bool,
    pub hop: Hop,
}

/// Checks `--bfd-interval` (10-60000 ms, FRR's range) and `--bfd-multiplier` (1-255).
pub(crate) fn plan(
    interval_ms: u64,
    multiplier: u32,
    passive: bool,
    multihop: bool,
) -> Result<BfdPlan, String> {
    if !(10..=60_000).contains(&interval_ms) {
        return Err(format!("--bfd-interval {interval_ms}: must be 10-60000 ms"));
    }
    let detect_mult = u8::try_from(multiplier)
        .ok()
        .filter(|m| *m >= 1)
        .ok_or_else(|| format!("--bfd-multiplier {multiplier}: must be 1-255"))?;
    let interval = Duration::from_millis(interval_ms);
    Ok(BfdPlan {
        timers: Timers {
            desired_min_tx: interval,
            required_min_rx: interval,
            detect_mult,
        },
        passive,
        hop: if multihop { Hop::Multi } else { Hop::Single },
    })
}

/// Starts the BFD session toward `peer` from `local`.
pub(crate) fn start(
    bfd_plan: BfdPlan,
    peer: IpAddr,
    local: IpAddr,
) -> anyhow::Result<(Bfd, SessionHandle)> {
    let bfd = Bfd::new()?;
    let session = bfd.add_session(PeerSpec {
        peer,
        local,
        hop: bfd_plan.hop,
        min_ttl: 1,
        config: BfdConfig {
            timers: bfd_plan.timers,
            passive: bfd_plan.passive,
        },
    })?;
    Ok((bfd, session))
}

/// Follows the BFD session and stops / restarts the BGP peer ([`follow`]). `desired` is the
/// current route set (kept up to date by `--stdin` while the peer is removed). With
/// `wait_for_bfd` (graceful restart with BFD) the BGP peer is not added yet: it starts once
/// BFD is Up on both sides, or after [`START_WAIT`]. Runs until BFD stops.
pub(crate) async fn couple(
    speaker: Speaker,
    peer: PeerConfig,
    session: Arc<SessionHandle>,
    desired: Arc<Mutex<AdvertisementSet>>,
    wait_for_bfd: bool,
) {
    let address = peer.address;
    let start = if wait_for_bfd {
        Start::AfterBfd { wait: START_WAIT }
    } else {
        Start::Running
    };
    follow(
        speaker,
        address,
        &session,
        AnnouncedPeer { peer, desired },
        start,
    )
    .await;
}

/// The announce side of the coupling: the peer's configuration and the announced set.
struct AnnouncedPeer {
    peer: PeerConfig,
    desired: Arc<Mutex<AdvertisementSet>>,
}

impl CoupledPeer for AnnouncedPeer {
    fn held_down(&mut self) {}

    fn start(&mut self, speaker: &Speaker) -> Result<(), DriverError> {
        // Added under the lock: a `--stdin` change made meanwhile goes to the added peer.
        let set = lock(&self.desired);
        speaker.add_peer_with(self.peer.clone(), Arc::new(set.clone()))
    }
}

fn lock(m: &Mutex<AdvertisementSet>) -> std::sync::MutexGuard<'_, AdvertisementSet> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_checked() {
        assert!(plan(9, 3, false, false)
            .unwrap_err()
            .starts_with("--bfd-interval 9"));
        assert!(plan(300, 0, false, false)
            .unwrap_err()
            .starts_with("--bfd-multiplier 0"));
        assert!(plan(300, 256, false, false)
            .unwrap_err()
            .starts_with("--bfd-multiplier 256"));
        let p = plan(100, 3, true, true).unwrap();
        assert_eq!(p.timers.desired_min_tx, Duration::from_millis(100));
        assert_eq!(p.hop, Hop::Multi);
        assert!(p.passive);
    }
}
