//! RFC 5882 coupling of a BFD session to the BGP session it protects: the pure decision,
//! shared by `ferrolb announce --bfd` and the speaker.
//!
//! - BFD starts together with BGP; BGP does not wait for BFD to come Up the first time,
//!   unless the user asks for it ([`Coupling::waiting`]: a session with graceful restart,
//!   whose router must see our new BFD session's Down before the new BGP session, RFC 5882
//!   §4.3.2).
//! - When BFD goes from Up to Down because of a failure (detection time expired, or the peer
//!   signalled Down), the BGP session is torn down at once.
//! - While BFD is not Up again, the BGP session stays down (no reconnection).
//! - AdminDown from the peer is not a failure (RFC 5882 §3.2): BGP stays.
//! - When BFD is Up again, the BGP session is started again.

use std::time::Duration;

use super::driver::SessionHandle;
use super::packet::{Diag, State};
use super::types::Status;

/// What the user of BFD does to its BGP session after a status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do.
    Keep,
    /// BFD failed: tear the BGP session down now, with this reason.
    StopBgp(Diag),
    /// BFD is Up again: bring the BGP session back.
    StartBgp,
}

/// The coupling state of one peer: whether BGP runs, and which down events were acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coupling {
    bgp_running: bool,
    seen_down_events: u64,
    /// A waiting coupling's first start also needs the peer's state Up (our Up reached it).
    first_start_needs_peer_up: bool,
}

impl Default for Coupling {
    fn default() -> Self {
        Self::new()
    }
}

impl Coupling {
    /// A new coupling: BGP runs from the start, BFD has not gone down yet.
    pub fn new() -> Self {
        Self {
            bgp_running: true,
            seen_down_events: 0,
            first_start_needs_peer_up: false,
        }
    }

    /// A coupling whose BGP session waits for BFD's first Up on both sides (ours Up and the
    /// peer's state Up: [`Action::StartBgp`] then), so a session that flaps while coming Up
    /// does not reset the new BGP session.
    pub fn waiting() -> Self {
        Self {
            bgp_running: false,
            seen_down_events: 0,
            first_start_needs_peer_up: true,
        }
    }

    /// BGP was started without BFD (a waiting coupling gave up on BFD): BFD's next failure
    /// tears it down as usual.
    pub fn bgp_started(&mut self) {
        self.bgp_running = true;
        self.first_start_needs_peer_up = false;
    }

    /// Whether the BGP session should be running now.
    pub fn bgp_running(&self) -> bool {
        self.bgp_running
    }

    /// Takes a status from the session's watch and returns what to do with BGP; the
    /// decision is recorded (call once per observed status).
    pub fn observe(&mut self, st: &Status) -> Action {
        let mut action = decide(st, self.seen_down_events, self.bgp_running);
        if action == Action::StartBgp
            && self.first_start_needs_peer_up
            && st.remote_state != State::Up
        {
            action = Action::Keep;
        }
        match action {
            Action::StopBgp(_) => self.bgp_running = false,
            Action::StartBgp => {
                self.bgp_running = true;
                self.first_start_needs_peer_up = false;
            }
            Action::Keep => {}
        }
        self.seen_down_events = st.counters.down_events;
        action
    }

    /// The BGP restart failed: try again on the next status.
    pub fn start_failed(&mut self) {
        self.bgp_running = false;
    }
}

/// The RFC 5882 decision. `seen_down_events` is the Up->Down count already acted on.
pub fn decide(st: &Status, seen_down_events: u64, bgp_running: bool) -> Action {
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

/// Local AdminDown (RFC 5880 §6.8.16) before a shutdown: returns once a packet has been sent
/// after the session was seen in AdminDown (so that packet says AdminDown), or after the
/// limit: the 1 s rate AdminDown falls to, plus one interval and 200 ms.
pub async fn admin_down(session: &SessionHandle) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bfd::Counters;
    use std::time::{Duration, Instant};

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
    fn rfc_5882_decisions() {
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
    fn a_waiting_coupling_starts_bgp_at_the_first_up() {
        use Diag::*;
        use State::*;
        let mut c = Coupling::waiting();
        assert!(!c.bgp_running());
        assert_eq!(
            c.observe(&status(Down, Down, 0, NoDiagnostic)),
            Action::Keep
        );
        assert_eq!(
            c.observe(&status(Init, Down, 0, NoDiagnostic)),
            Action::Keep
        );
        // Up on our side only (the peer is in Init: it has not seen our Up yet).
        assert_eq!(c.observe(&status(Up, Init, 0, NoDiagnostic)), Action::Keep);
        assert!(!c.bgp_running());
        assert_eq!(
            c.observe(&status(Up, Up, 0, NoDiagnostic)),
            Action::StartBgp
        );
        assert!(c.bgp_running());
        // Started without BFD: a later failure still tears BGP down.
        let mut c = Coupling::waiting();
        c.bgp_started();
        assert_eq!(c.observe(&status(Up, Up, 0, NoDiagnostic)), Action::Keep);
        assert_eq!(
            c.observe(&status(Down, Up, 1, ControlDetectionTimeExpired)),
            Action::StopBgp(ControlDetectionTimeExpired)
        );
    }

    #[test]
    fn coupling_follows_a_failure_and_recovery() {
        use Diag::*;
        use State::*;
        let mut c = Coupling::new();
        assert_eq!(c.observe(&status(Up, Up, 0, NoDiagnostic)), Action::Keep);
        let down = status(Down, Up, 1, ControlDetectionTimeExpired);
        assert_eq!(
            c.observe(&down),
            Action::StopBgp(ControlDetectionTimeExpired)
        );
        assert!(!c.bgp_running());
        // The same status seen again (another field changed) is not a second teardown.
        assert_eq!(c.observe(&down), Action::Keep);
        assert_eq!(
            c.observe(&status(Init, Down, 1, NoDiagnostic)),
            Action::Keep
        );
        assert_eq!(
            c.observe(&status(Up, Up, 1, NoDiagnostic)),
            Action::StartBgp
        );
        assert!(c.bgp_running());
        // A failed restart is retried on the next status while Up.
        c.start_failed();
        assert_eq!(
            c.observe(&status(Up, Up, 1, NoDiagnostic)),
            Action::StartBgp
        );
        // A second failure counts again.
        assert_eq!(
            c.observe(&status(Down, Down, 2, NeighborSignaledSessionDown)),
            Action::StopBgp(NeighborSignaledSessionDown)
        );
    }
}
