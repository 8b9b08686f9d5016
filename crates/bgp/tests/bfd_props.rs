//! Property tests of the BFD codec and state machine: round trip, decode never panics, and
//! arbitrary input sequences never panic nor break the RFC 5880 invariants.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use ferrolb_bgp::bfd::{
    BfdConfig, BfdSession, ControlPacket, Diag, Input, Output, State, Timers, CONTROL_LEN,
};
use proptest::prelude::*;

fn state() -> impl Strategy<Value = State> {
    prop_oneof![
        Just(State::AdminDown),
        Just(State::Down),
        Just(State::Init),
        Just(State::Up)
    ]
}

prop_compose! {
    fn packet()(
        diag in 0u8..32, state in state(), flags in any::<[bool; 4]>(), detect_mult in 1u8..,
        my_discr in 1u32.., your_discr in any::<u32>(), tx in any::<u32>(), rx in any::<u32>(),
        echo in any::<u32>(),
    ) -> ControlPacket {
        ControlPacket {
            diag: Diag::from(diag), state, poll: flags[0], final_: flags[1],
            control_plane_independent: flags[2], demand: flags[3], detect_mult, my_discr,
            your_discr, desired_min_tx_us: tx, required_min_rx_us: rx,
            required_min_echo_rx_us: echo,
        }
    }
}

/// What decodes re-encodes to the same 24 octets, except Length (24 when sent), and decodes
/// back to itself.
fn check_decode(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(p) = ControlPacket::decode(bytes) {
        let mut again = p.encode();
        prop_assert_eq!(ControlPacket::decode(&again), Ok(p));
        again[3] = bytes[3];
        prop_assert_eq!(&again[..], &bytes[..CONTROL_LEN]);
    }
    Ok(())
}

proptest! {
    #[test]
    fn round_trip(p in packet()) {
        let bytes = p.encode();
        prop_assert_eq!(bytes.len(), CONTROL_LEN);
        prop_assert_eq!(ControlPacket::decode(&bytes), Ok(p));
    }

    #[test]
    fn decode_never_panics_long_length(tail in proptest::collection::vec(any::<u8>(), 0..40)) {
        // Valid head with a Length anywhere in 0..=255 and a datagram of 24 + tail octets.
        let mut bytes = vec![0x20, 0x40, 3, 24, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40,
            0, 4, 0x93, 0xe0, 0, 0, 0, 0];
        bytes[3] = tail.first().copied().unwrap_or(24);
        bytes.extend(&tail);
        check_decode(&bytes)?;
    }

    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        check_decode(&bytes)?;
    }

    #[test]
    fn session_never_panics_and_keeps_invariants(
        steps in proptest::collection::vec((0u8..6, packet(), 0u64..2_000), 0..60),
        passive in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let cfg = BfdConfig { timers: Timers::DEFAULT, passive };
        let mut s = BfdSession::new(now, cfg, NonZeroU32::new(42).unwrap(), 7).unwrap();
        for (op, mut p, advance_ms) in steps {
            now += Duration::from_millis(advance_ms);
            if op == 1 { p.your_discr = 42; }
            let input = match op {
                0 | 1 => Input::Received(p),
                2 => Input::AdminDown,
                3 => Input::AdminUp,
                4 => Input::SetTimers(Timers {
                    desired_min_tx: Duration::from_millis(1 + advance_ms),
                    required_min_rx: Duration::from_millis(1 + advance_ms / 2),
                    detect_mult: (advance_ms % 5) as u8 + 1,
                }),
                _ => Input::Tick,
            };
            for out in s.handle(now, input) {
                if let Output::Send(p) = out {
                    prop_assert!(!(p.poll && p.final_), "P and F both set");
                    prop_assert_eq!(p.my_discr, 42);
                    prop_assert_eq!(p.required_min_echo_rx_us, 0);
                    if p.state != State::Up {
                        prop_assert!(p.desired_min_tx_us >= 1_000_000, "slow start: {:?}", p);
                    }
                    prop_assert!(ControlPacket::decode(&p.encode()).is_ok());
                }
            }
            if let Some(d) = s.next_deadline() {
                // A deadline in the past would be handled at the next Tick; never far behind.
                prop_assert!(d + Duration::from_secs(3600) > now);
            }
        }
    }
}
