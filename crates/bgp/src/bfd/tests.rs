//! Scenario tests of the state machine with simulated time: two machines wired back to back.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn cfg(tx_ms: u64, rx_ms: u64, mult: u8, passive: bool) -> BfdConfig {
    BfdConfig {
        timers: Timers {
            desired_min_tx: MS * tx_ms as u32,
            required_min_rx: MS * rx_ms as u32,
            detect_mult: mult,
        },
        passive,
    }
}

fn nz(v: u32) -> NonZeroU32 {
    NonZeroU32::new(v).unwrap()
}

/// Two sessions and a wire with 1 ms latency that can be cut per direction.
struct Pair {
    now: Instant,
    s: [BfdSession; 2],
    /// (delivery time, to index, packet)
    wire: Vec<(Instant, usize, ControlPacket)>,
    /// Packets sent by each side, with their send time.
    sent: [Vec<(Instant, ControlPacket)>; 2],
    changes: [Vec<(Instant, State, Diag)>; 2],
    /// Deliver packets sent by side i.
    deliver_from: [bool; 2],
}

impl Pair {
    fn new(a: BfdConfig, b: BfdConfig) -> Pair {
        let now = Instant::now();
        Pair {
            now,
            s: [
                BfdSession::new(now, a, nz(0x1111), 1).unwrap(),
                BfdSession::new(now, b, nz(0x2222), 2).unwrap(),
            ],
            wire: Vec::new(),
            sent: [Vec::new(), Vec::new()],
            changes: [Vec::new(), Vec::new()],
            deliver_from: [true, true],
        }
    }

    fn feed(&mut self, i: usize, input: Input) {
        let out = self.s[i].handle(self.now, input);
        for o in out {
            match o {
                Output::Send(p) => {
                    self.sent[i].push((self.now, p));
                    if self.deliver_from[i] {
                        self.wire.push((self.now + MS, 1 - i, p));
                    }
                }
                Output::StateChanged { to, diag, .. } => self.changes[i].push((self.now, to, diag)),
            }
        }
    }

    /// Runs every event up to `until`.
    fn run_until(&mut self, until: Instant) {
        for _ in 0..100_000 {
            let wire_next = self.wire.iter().map(|w| w.0).min();
            let next = [
                wire_next,
                self.s[0].next_deadline(),
                self.s[1].next_deadline(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|n| *n <= until) else {
                self.now = until;
                return;
            };
            self.now = self.now.max(next);
            if let Some(pos) = self.wire.iter().position(|w| w.0 <= self.now) {
                let (_, to, p) = self.wire.remove(pos);
                self.feed(to, Input::Received(p));
                continue;
            }
            for i in 0..2 {
                if self.s[i].next_deadline().is_some_and(|d| d <= self.now) {
                    self.feed(i, Input::Tick);
                }
            }
        }
        panic!("simulation did not converge");
    }

    fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Gaps between consecutive periodic (non-Final) packets of side i sent after `from`.
    fn gaps(&self, i: usize, from: Instant) -> Vec<Duration> {
        let times: Vec<Instant> = self.sent[i]
            .iter()
            .filter(|(t, p)| *t >= from && !p.final_)
            .map(|(t, _)| *t)
            .collect();
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }
}

/// An Up packet from side 1 to side 0 (whose status is `st`) at 300 ms x 3, no flags.
fn up_from_peer(st: &Status) -> ControlPacket {
    ControlPacket {
        diag: Diag::NoDiagnostic,
        state: State::Up,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discr: st.remote_discr,
        your_discr: st.local_discr,
        desired_min_tx_us: 300_000,
        required_min_rx_us: 300_000,
        required_min_echo_rx_us: 0,
    }
}

#[test]
fn three_way_handshake_then_fast_rate_after_poll() {
    let mut p = Pair::new(cfg(300, 300, 3, false), cfg(300, 300, 3, false));
    let t0 = p.now;
    p.run_for(Duration::from_secs(5));
    for i in 0..2 {
        assert_eq!(p.s[i].state(), State::Up, "side {i}");
        let states: Vec<State> = p.changes[i].iter().map(|c| c.1).collect();
        assert!(
            states == [State::Init, State::Up] || states == [State::Up],
            "side {i}: {states:?}"
        );
    }
    // Until Up: Desired Min TX 1 s (RFC 5880 §6.8.3), gaps between 750 ms and 1 s.
    let up_at = p.changes[0]
        .last()
        .unwrap()
        .0
        .max(p.changes[1].last().unwrap().0);
    for (t, pkt) in &p.sent[0] {
        if *t < up_at && pkt.state != State::Up {
            assert_eq!(pkt.desired_min_tx_us, 1_000_000);
        }
    }
    // Slow rate before Up: nothing sent between t0 and t0+750 ms except the first packet and
    // handshake-driven sends... the periodic gaps before Up are >= 750 ms.
    let pre: Vec<Duration> = p.sent[0]
        .windows(2)
        .filter(|w| w[1].0 < up_at && !w[1].1.final_)
        .map(|w| w[1].0 - w[0].0)
        .collect();
    assert!(pre.iter().all(|g| *g >= MS * 750), "{pre:?}");
    assert!(p.sent[0].first().is_some_and(|f| f.0 == t0));
    // After Up a Poll Sequence announces 300 ms; it ends, and the rate is 225-300 ms.
    assert!(p.sent[0]
        .iter()
        .any(|(_, pk)| pk.poll && pk.desired_min_tx_us == 300_000));
    assert!(p.sent[1].iter().any(|(_, pk)| pk.final_));
    let st = p.s[0].status();
    assert!(!st.polling);
    assert_eq!(st.tx_interval, MS * 300);
    assert_eq!(st.detect_time, MS * 900);
    let gaps = p.gaps(0, up_at + Duration::from_secs(1));
    assert!(gaps.len() > 5);
    assert!(
        gaps.iter().all(|g| *g >= MS * 225 && *g <= MS * 300),
        "{gaps:?}"
    );
    // Jitter: not all the same.
    assert!(gaps.iter().any(|g| *g != gaps[0]), "{gaps:?}");
}

#[test]
fn detect_mult_one_jitters_between_75_and_90_percent() {
    let mut p = Pair::new(cfg(100, 100, 1, false), cfg(100, 100, 3, false));
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    let from = p.now - Duration::from_secs(2);
    let gaps = p.gaps(0, from);
    assert!(gaps.len() > 10);
    assert!(
        gaps.iter().all(|g| *g >= MS * 75 && *g <= MS * 90),
        "{gaps:?}"
    );
}

#[test]
fn detection_time_expires_exactly_after_the_last_packet() {
    let mut p = Pair::new(cfg(300, 300, 3, false), cfg(300, 300, 3, false));
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    p.deliver_from[1] = false;
    p.wire.clear();
    let cut = p.now;
    p.run_for(Duration::from_secs(3));
    let last_rx = p.sent[1]
        .iter()
        .filter(|(t, _)| *t < cut)
        .map(|(t, _)| *t + MS)
        .max()
        .unwrap();
    let down = p.changes[0].last().unwrap();
    assert_eq!(down.1, State::Down);
    assert_eq!(down.2, Diag::ControlDetectionTimeExpired);
    assert_eq!(down.0, last_rx + MS * 900);
    let st = p.s[0].status();
    assert_eq!(st.last_down, Some(Diag::ControlDetectionTimeExpired));
    assert!(!st.last_down_admin);
    assert_eq!(st.counters.down_events, 1);
    // Back at the slow rate while Down.
    let (t, pk) = p.sent[0].last().unwrap();
    assert!(*t > down.0);
    assert_eq!(pk.desired_min_tx_us, 1_000_000);
    assert_eq!(pk.diag, Diag::ControlDetectionTimeExpired);
    // B saw A's Down with diag 1 and went Down too (Neighbor Signaled Session Down).
    assert_eq!(p.s[1].state(), State::Init);
    assert!(p.changes[1]
        .iter()
        .any(|c| c.1 == State::Down && c.2 == Diag::NeighborSignaledSessionDown));
    // Restored link: Up again.
    p.deliver_from[1] = true;
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    assert_eq!(p.s[0].status().counters.up_events, 2);
}

#[test]
fn slower_tx_waits_for_the_final_faster_rx_keeps_old_detection() {
    let mut p = Pair::new(cfg(300, 300, 3, false), cfg(300, 300, 3, false));
    p.run_for(Duration::from_secs(5));
    // A: slower TX (1 s), faster RX (100 ms). Deliver nothing from B for a moment to observe
    // the state while the Poll is outstanding.
    p.deliver_from[1] = false;
    p.feed(
        0,
        Input::SetTimers(Timers {
            desired_min_tx: MS * 1000,
            required_min_rx: MS * 100,
            detect_mult: 3,
        }),
    );
    let st = p.s[0].status();
    assert!(st.polling);
    assert_eq!(st.tx_interval, MS * 300, "TX increase waits for the Final");
    assert_eq!(st.detect_time, MS * 900, "RX decrease waits for the Final");
    p.run_for(MS * 320);
    let (_, last) = p.sent[0].last().unwrap();
    assert!(last.poll && last.desired_min_tx_us == 1_000_000 && last.required_min_rx_us == 100_000);
    p.deliver_from[1] = true;
    p.run_for(Duration::from_secs(3));
    let st = p.s[0].status();
    assert!(!st.polling);
    assert_eq!(st.tx_interval, MS * 1000);
    // B now sends at max(300, 100) = 300 ms; A detects at 3 x max(100, 300).
    assert_eq!(st.detect_time, MS * 900);
    assert_eq!(p.s[1].status().tx_interval, MS * 300);
    assert_eq!(p.s[1].status().detect_time, MS * 3000);
    assert_eq!(p.s[0].state(), State::Up);
    assert_eq!(p.s[1].state(), State::Up);
}

#[test]
fn poll_gets_an_immediate_final() {
    let mut p = Pair::new(cfg(300, 300, 3, false), cfg(300, 300, 3, false));
    p.run_for(Duration::from_secs(5));
    let st = p.s[0].status();
    let poll = ControlPacket {
        poll: true,
        ..up_from_peer(&st)
    };
    let out = p.s[0].handle(p.now, Input::Received(poll));
    assert!(
        matches!(out.as_slice(), [Output::Send(f)] if f.final_ && !f.poll && f.state == State::Up),
        "{out:?}"
    );
}

#[test]
fn passive_side_waits_for_the_peer() {
    let mut p = Pair::new(cfg(300, 300, 3, true), cfg(300, 300, 3, true));
    p.run_for(Duration::from_secs(5));
    assert!(p.sent[0].is_empty() && p.sent[1].is_empty());
    assert_eq!(p.s[0].next_deadline(), None);
    // One active side brings both up.
    let mut p = Pair::new(cfg(300, 300, 3, true), cfg(300, 300, 3, false));
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    assert_eq!(p.s[1].state(), State::Up);
    // The passive side answered, never spoke first.
    assert!(p.sent[1][0].0 < p.sent[0][0].0);
}

#[test]
fn peer_admin_down_is_signaled_not_detected() {
    let mut p = Pair::new(cfg(300, 300, 3, false), cfg(300, 300, 3, false));
    p.run_for(Duration::from_secs(5));
    p.feed(1, Input::AdminDown);
    p.run_for(Duration::from_secs(10));
    assert_eq!(p.s[1].state(), State::AdminDown);
    let st = p.s[0].status();
    assert_eq!(st.state, State::Down);
    assert_eq!(st.remote_state, State::AdminDown);
    assert_eq!(st.local_diag, Diag::NeighborSignaledSessionDown);
    assert_eq!(st.remote_diag, Diag::AdministrativelyDown);
    assert_eq!(st.last_down, Some(Diag::NeighborSignaledSessionDown));
    assert!(st.last_down_admin);
    // AdminDown stops sending after its grace period (one detection time, at least 1 s).
    let last_b = p.sent[1].last().unwrap().0;
    assert!(p.now - last_b > Duration::from_secs(5));
    assert!(p.sent[1]
        .iter()
        .rev()
        .take(2)
        .all(|(_, pk)| pk.state == State::AdminDown && pk.diag == Diag::AdministrativelyDown));
    // Back up.
    p.feed(1, Input::AdminUp);
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    assert_eq!(p.s[1].state(), State::Up);
}

#[test]
fn session_level_reception_checks() {
    let now = Instant::now();
    let mut s = BfdSession::new(now, cfg(300, 300, 3, false), nz(7), 3).unwrap();
    let pkt = |state, your| ControlPacket {
        diag: Diag::NoDiagnostic,
        state,
        poll: false,
        final_: false,
        control_plane_independent: false,
        demand: false,
        detect_mult: 3,
        my_discr: 99,
        your_discr: your,
        desired_min_tx_us: 1_000_000,
        required_min_rx_us: 300_000,
        required_min_echo_rx_us: 0,
    };
    // Wrong Your Discriminator; zero with state Up: discarded, no state learned.
    for p in [pkt(State::Down, 8), pkt(State::Up, 0), pkt(State::Init, 0)] {
        s.handle(now, Input::Received(p));
    }
    let st = s.status();
    assert_eq!(st.counters.discarded, 3);
    assert_eq!(st.remote_discr, 0);
    assert_eq!(st.state, State::Down);
    // Zero with state Down: accepted, Init.
    s.handle(now, Input::Received(pkt(State::Down, 0)));
    assert_eq!(s.state(), State::Init);
    assert_eq!(s.status().remote_discr, 99);
    // Detection time in Down/Init clears the remote discriminator (§6.8.1).
    let later = now + Duration::from_secs(4);
    let out = s.handle(later, Input::Tick);
    assert!(out.contains(&Output::StateChanged {
        from: State::Init,
        to: State::Down,
        diag: Diag::ControlDetectionTimeExpired
    }));
    assert_eq!(s.status().remote_discr, 0);
}

#[test]
fn invalid_timers_are_rejected_with_the_field() {
    let now = Instant::now();
    let mut c = cfg(300, 300, 0, false);
    let e = BfdSession::new(now, c, nz(1), 0).unwrap_err();
    assert_eq!(e, ConfigError::DetectMult);
    c.timers.detect_mult = 3;
    c.timers.required_min_rx = Duration::ZERO;
    let e = BfdSession::new(now, c, nz(1), 0).unwrap_err();
    assert!(e.to_string().contains("required_min_rx"), "{e}");
}

#[test]
fn peer_demand_mode_stops_our_periodic_packets() {
    let mut p = Pair::new(cfg(300, 300, 3, false), cfg(300, 300, 3, false));
    p.run_for(Duration::from_secs(5));
    let st = p.s[0].status();
    let demand = ControlPacket {
        demand: true,
        ..up_from_peer(&st)
    };
    p.feed(0, Input::Received(demand));
    let before = p.sent[0].len();
    // Only side 0 is watched: take side 1 off the wire so its packets do not clear D. Stay
    // within the detection time (900 ms from the D packet): we still detect the peer's silence.
    p.deliver_from[1] = false;
    let t = p.now + MS * 850;
    while p.now < t {
        let now = p.now + MS * 10;
        p.now = now;
        if p.s[0].next_deadline().is_some_and(|d| d <= now) {
            p.feed(0, Input::Tick);
        }
    }
    // No periodic packets while the peer is in Demand mode and both are Up (RFC 5880 §6.8.7).
    assert_eq!(p.sent[0].len(), before);
    // A Poll still goes out.
    p.feed(
        0,
        Input::SetTimers(Timers {
            desired_min_tx: MS * 200,
            required_min_rx: MS * 300,
            detect_mult: 3,
        }),
    );
    assert_eq!(p.s[0].state(), State::Up);
    assert!(p.sent[0].len() > before && p.sent[0].last().unwrap().1.poll);
}

/// At a fast rate the AdminDown packet must reach the peer before its detection time (here
/// 300 ms) runs out, or the peer sees a failure (Diag 1) instead of AdminDown.
#[test]
fn admin_down_at_a_fast_rate_is_signaled_before_the_peer_detects() {
    let mut p = Pair::new(cfg(100, 100, 3, false), cfg(100, 100, 3, false));
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    let t = p.now;
    p.feed(1, Input::AdminDown);
    p.run_for(Duration::from_secs(3));
    let first = p.sent[1]
        .iter()
        .find(|(at, pk)| *at >= t && pk.state == State::AdminDown)
        .map(|(at, _)| *at - t);
    assert!(
        first.is_some_and(|d| d <= MS * 100),
        "first AdminDown packet after {first:?}"
    );
    let st = p.s[0].status();
    assert_eq!(st.local_diag, Diag::NeighborSignaledSessionDown, "{st:?}");
    assert!(st.last_down_admin);
}

/// `max_tx_gap` / `max_rx_gap` record the longest spacing while Up, including the gap that
/// made the detection time run out, and not the 1 s rate before Up.
#[test]
fn gap_counters_record_the_longest_spacing_while_up() {
    let mut p = Pair::new(cfg(100, 100, 5, false), cfg(100, 100, 5, false));
    p.run_for(Duration::from_secs(5));
    assert_eq!(p.s[0].state(), State::Up);
    let c = p.s[0].status().counters;
    // At 100 ms with 75-100 % jitter; the Poll after Up is sent at the 1 s rate's schedule
    // at most, and the handshake gaps (1 s rate, not Up) are not counted.
    assert!(c.max_tx_gap <= MS * 1000, "{c:?}");
    let settled = p.now;
    let settled_tx = p.s[0].status().counters.max_tx_gap;
    p.run_for(Duration::from_secs(2));
    let c = p.s[0].status().counters;
    assert_eq!(
        c.max_tx_gap,
        settled_tx.max(*p.gaps(0, settled).iter().max().unwrap())
    );
    assert!(c.max_rx_gap <= MS * 101, "{c:?}");
    // Side 1 goes silent for 150 ms: with the packets around it at most 100 ms away, the gap
    // stays under the 500 ms detection time. Then 600 ms: the detection time runs out.
    p.deliver_from[1] = false;
    p.run_for(MS * 150);
    p.deliver_from[1] = true;
    p.run_for(MS * 500);
    let c = p.s[0].status().counters;
    assert_eq!(p.s[0].state(), State::Up);
    assert!(
        c.max_rx_gap >= MS * 150 && c.max_rx_gap <= MS * 351,
        "{c:?}"
    );
    p.deliver_from[1] = false;
    p.run_for(MS * 600);
    p.deliver_from[1] = true;
    p.run_for(MS * 1500);
    let c = p.s[0].status().counters;
    assert_eq!(c.down_events, 1);
    assert!(c.max_rx_gap >= MS * 600, "{c:?}");
    // Side 0 never paused its own packets.
    assert_eq!(c.tx_gaps_over_peer_detect, 0, "{c:?}");
    // Side 1 sent on time too (the wire lost its packets): the miss was not its own.
    assert_eq!(p.s[1].status().counters.tx_gaps_over_peer_detect, 0);
}
