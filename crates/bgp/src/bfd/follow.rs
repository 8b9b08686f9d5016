//! The coupling loop: follows one BFD session and stops / starts the BGP peer it protects, as
//! [`Coupling`] decides. The one loop of the speaker and `ferrolb announce --bfd`; each keeps
//! the peer's configuration and routes its own way ([`CoupledPeer`]).

use std::net::IpAddr;
use std::time::Duration;

use tracing::{info, warn};

use super::coupling::{Action, Coupling};
use super::driver::SessionHandle;
use crate::driver::{DriverError, Speaker};

/// How long a BGP session that waits for BFD ([`Start::AfterBfd`]) waits before it starts
/// anyway (a router without BFD for this peer): the router's BFD comes Up in about 1-2 s at
/// the 1 s rate of a session not yet Up.
pub const START_WAIT: Duration = Duration::from_secs(5);

/// When the BGP session starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The BGP peer already runs (added together with BFD).
    Running,
    /// The BGP peer is not added yet: it starts once BFD is Up on both sides, or after
    /// `wait` without BFD (graceful restart with BFD, RFC 5882 §4.3.2).
    AfterBfd {
        /// The longest wait for BFD ([`START_WAIT`]).
        wait: Duration,
    },
}

/// The BGP side of a BFD-coupled peer, as [`follow`] drives it.
pub trait CoupledPeer: Send {
    /// BFD failed: the loop removes the BGP peer from the speaker right after this call
    /// (record that BFD holds it down).
    fn held_down(&mut self);
    /// Adds the BGP peer to the speaker with its current configuration and routes (BFD is
    /// Up, or the wait for it is over). On an error the loop tries again at the next status.
    fn start(&mut self, speaker: &Speaker) -> Result<(), DriverError>;
}

/// Follows `session` and stops / starts the BGP peer `address` until the BFD session stops.
/// BFD Down tears the peer down (Cease/Peer De-configured, "BFD down: <diag>"); it is added
/// back through `peer` when BFD is Up again.
pub async fn follow(
    speaker: Speaker,
    address: IpAddr,
    session: &SessionHandle,
    mut peer: impl CoupledPeer,
    start: Start,
) {
    let mut changes = session.subscribe();
    let (mut coupling, mut give_up_at) = match start {
        Start::Running => (Coupling::new(), None),
        Start::AfterBfd { wait } => (
            Coupling::waiting(),
            Some(tokio::time::Instant::now() + wait),
        ),
    };
    let mut last_state = None;
    // Whether BFD tore the BGP session down once (the next start is a restart).
    let mut torn_down = false;
    loop {
        let st = *changes.borrow_and_update();
        if last_state != Some(st.state) {
            info!(peer = %address, state = %st.state, remote = %st.remote_state,
                diag = %st.local_diag, tx_ms = st.tx_interval.as_millis() as u64,
                detect_ms = st.detect_time.as_millis() as u64, "BFD");
            last_state = Some(st.state);
        }
        match coupling.observe(&st) {
            Action::Keep => {}
            Action::StopBgp(diag) => {
                warn!(peer = %address, %diag, "BFD down: tearing the BGP session down");
                torn_down = true;
                peer.held_down();
                if let Err(e) = speaker
                    .remove_peer(address, &format!("BFD down: {diag}"))
                    .await
                {
                    warn!(peer = %address, error = %e, "removing the BGP peer");
                }
            }
            Action::StartBgp => {
                let done = if torn_down {
                    "BFD Up again: BGP session restarted"
                } else {
                    "BFD Up: BGP session started"
                };
                if !start_peer(&speaker, address, &mut peer, done) {
                    coupling.start_failed();
                }
            }
        }
        if coupling.bgp_running() {
            give_up_at = None;
        }
        let changed = match give_up_at {
            Some(at) => tokio::select! {
                r = changes.changed() => r,
                () = tokio::time::sleep_until(at) => {
                    warn!(peer = %address, "BFD not Up: starting the BGP session without it");
                    if start_peer(&speaker, address, &mut peer, "BGP session started without BFD") {
                        coupling.bgp_started();
                    }
                    give_up_at = None;
                    Ok(())
                }
            },
            None => changes.changed().await,
        };
        if changed.is_err() {
            return;
        }
    }
}

/// Starts the peer; false when the speaker refused.
fn start_peer(speaker: &Speaker, address: IpAddr, peer: &mut impl CoupledPeer, done: &str) -> bool {
    match peer.start(speaker) {
        Ok(()) => {
            info!(peer = %address, "{done}");
            true
        }
        Err(e) => {
            warn!(peer = %address, error = %e, "adding the BGP peer");
            false
        }
    }
}
