//! `ferrolb announce --bfd`: a BFD session beside the BGP session, coupled as RFC 5882 says.
//!
//! - BFD starts together with BGP; BGP does not wait for BFD to come Up the first time.
//! - When BFD goes from Up to Down because of a failure (detection time expired, or the peer
//!   signalled Down), the BGP session is torn down at once (Cease, "BFD down: <diag>").
//! - While BFD is not Up again, the BGP peer stays removed: no reconnection, no listener key.
//! - AdminDown from the peer is not a failure (RFC 5882 §3.2): BGP stays.
//! - When BFD is Up again, the BGP peer is added back with the current routes.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrolb_bgp::bfd::{Bfd, BfdConfig, Diag, Hop, PeerSpec, SessionHandle, State, Status, Timers};
use ferrolb_bgp::driver::{PeerConfig, Speaker};
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

/// What the coupling does after a BFD status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Nothing to do.
    Keep,
    /// BFD failed: tear the BGP session down now.
    StopBgp(Diag),
    /// BFD is Up again: bring the BGP session back.
    StartBgp,
}

/// The RFC 5882 decision. `seen_down_events` is the Up->Down count already acted on.
pub(crate) fn decide(st: &Status, seen_down_events: u64, bgp_running: bool) -> Action {
    if st.state == State::Up {
        return if bgp_running {
            Action::Keep
        } else {
            Action::StartBgp
        };
    }
    let went_down = st.counters.down_events > seen_down_events;
    if went_down && bgp_running && !st.last_down_admin {
        Action::StopBgp(st.last_down.unwrap_or(st.local_diag))
    } else {
        Action::Keep
    }
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
        config: BfdConfig {
            timers: bfd_plan.timers,
            passive: bfd_plan.passive,
        },
    })?;
    Ok((bfd, session))
}

/// Follows the BFD session and stops / restarts the BGP peer. `desired` is the current route
/// set (kept up to date by `--stdin` while the peer is removed). Runs until BFD stops.
pub(crate) async fn couple(
    speaker: Speaker,
    peer: PeerConfig,
    session: Arc<SessionHandle>,
    desired: Arc<Mutex<AdvertisementSet>>,
) {
    let mut changes = session.subscribe();
    let address = peer.address;
    let mut bgp_running = true;
    let mut seen_down = 0;
    let mut last_state = None;
    loop {
        let st = *changes.borrow_and_update();
        if last_state != Some(st.state) {
            tracing::info!(peer = %address, state = %st.state, remote = %st.remote_state,
                diag = %st.local_diag, tx_ms = st.tx_interval.as_millis() as u64,
                detect_ms = st.detect_time.as_millis() as u64, "BFD");
            last_state = Some(st.state);
        }
        match decide(&st, seen_down, bgp_running) {
            Action::Keep => {}
            Action::StopBgp(diag) => {
                tracing::warn!(peer = %address, %diag, "BFD down: tearing the BGP session down");
                bgp_running = false;
                if let Err(e) = speaker
                    .remove_peer(address, &format!("BFD down: {diag}"))
                    .await
                {
                    tracing::warn!(peer = %address, "removing the BGP peer: {e}");
                }
            }
            Action::StartBgp => {
                let set = lock(&desired).clone();
                match speaker.add_peer_with(peer.clone(), Arc::new(set)) {
                    Ok(()) => {
                        tracing::info!(peer = %address, "BFD Up again: BGP session restarted");
                        bgp_running = true;
                    }
                    Err(e) => tracing::error!(peer = %address, "re-adding the BGP peer: {e}"),
                }
            }
        }
        seen_down = st.counters.down_events;
        if changes.changed().await.is_err() {
            return;
        }
    }
}

/// Local AdminDown (RFC 5880 §6.8.16) before a shutdown: returns once a packet has been sent
/// after the session was seen in AdminDown (so that packet says AdminDown), or after the
/// limit: the 1 s rate AdminDown falls to, plus one interval and 200 ms.
pub(crate) async fn admin_down(session: &SessionHandle) {
    let mut changes = session.subscribe();
    let interval = changes.borrow_and_update().tx_interval;
    if session.set_admin_down(true).is_err() {
        return;
    }
    let limit = Duration::from_secs(1) + interval + Duration::from_millis(200);
    let sent = tokio::time::timeout(limit, async {
        let mut seen_admin_down_at = None;
        loop {
            let st = *changes.borrow_and_update();
            if st.state == State::AdminDown {
                let first = *seen_admin_down_at.get_or_insert(st.counters.packets_out);
                if st.counters.packets_out > first {
                    return;
                }
            }
            if changes.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    if sent.is_err() {
        tracing::warn!("BFD AdminDown not confirmed sent within {limit:?}");
    }
}

fn lock(m: &Mutex<AdvertisementSet>) -> std::sync::MutexGuard<'_, AdvertisementSet> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrolb_bgp::bfd::Counters;
    use std::time::Instant;

    fn status(state: State, remote: State, down_events: u64, diag: Diag) -> Status {
        Status {
            state,
            remote_state: remote,
            local_diag: diag,
            remote_diag: Diag::NoDiagnostic,
            last_down: (down_events > 0).then_some(diag),
            last_down_admin: remote == State::AdminDown,
            local_discr: 1,
            remote_discr: 2,
            tx_interval: Duration::from_millis(300),
            detect_time: Duration::from_millis(900),
            remote_min_tx: Duration::from_millis(300),
            remote_min_rx: Duration::from_millis(300),
            remote_detect_mult: 3,
            polling: false,
            changed_at: Instant::now(),
            counters: Counters {
                down_events,
                ..Counters::default()
            },
        }
    }

    #[test]
    fn rfc_5882_coupling() {
        use Diag::*;
        use State::*;
        // Never Up yet: BGP runs and is left alone.
        assert_eq!(
            decide(&status(Down, Down, 0, NoDiagnostic), 0, true),
            Action::Keep
        );
        // Detection time expired: tear down.
        let expired = status(Down, Up, 1, ControlDetectionTimeExpired);
        assert_eq!(
            decide(&expired, 0, true),
            Action::StopBgp(ControlDetectionTimeExpired)
        );
        // Already acted on; BGP stays down while BFD is Down or Init.
        assert_eq!(decide(&expired, 1, false), Action::Keep);
        assert_eq!(
            decide(&status(Init, Down, 1, NoDiagnostic), 1, false),
            Action::Keep
        );
        // The peer signalled Down (it detected the failure): tear down.
        assert_eq!(
            decide(&status(Down, Down, 1, NeighborSignaledSessionDown), 0, true),
            Action::StopBgp(NeighborSignaledSessionDown)
        );
        // The peer's AdminDown is not a failure: BGP stays.
        assert_eq!(
            decide(
                &status(Down, AdminDown, 1, NeighborSignaledSessionDown),
                0,
                true
            ),
            Action::Keep
        );
        // Also when the status is only seen after the peer left AdminDown (Init, remote Down).
        let mut after = status(Init, Down, 1, NeighborSignaledSessionDown);
        after.last_down_admin = true;
        assert_eq!(decide(&after, 0, true), Action::Keep);
        // Up again: restart BGP once.
        assert_eq!(
            decide(&status(Up, Up, 1, NoDiagnostic), 1, false),
            Action::StartBgp
        );
        assert_eq!(
            decide(&status(Up, Up, 1, NoDiagnostic), 1, true),
            Action::Keep
        );
    }

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
