//! Drives a BFD session through a fuzzer-chosen script: received packets (from fuzzer bytes,
//! optionally addressed to the session), ticks after time steps, AdminDown/Up and timer
//! changes. Nothing may panic; no packet sent may carry both Poll and Final, and every packet
//! sent must decode.
#![no_main]

use ferrolb_bgp::bfd::{BfdConfig, BfdSession, ControlPacket, Input, Output, Timers};
use libfuzzer_sys::fuzz_target;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let passive = data.first().is_some_and(|b| b & 1 == 1);
    let cfg = BfdConfig {
        timers: Timers::DEFAULT,
        passive,
    };
    let Some(discr) = NonZeroU32::new(0x0102_0304) else {
        return;
    };
    let mut now = Instant::now();
    let Ok(mut s) = BfdSession::new(now, cfg, discr, 1) else {
        return;
    };
    let mut i = 1;
    while i < data.len() {
        let op = data[i];
        let arg = data.get(i + 1).copied().unwrap_or(0);
        i += 2;
        now += Duration::from_millis(u64::from(arg) * 8);
        let input = match op % 6 {
            0 | 1 => {
                let Some(bytes) = data.get(i..i + 24) else { break };
                i += 24;
                let Ok(mut p) = ControlPacket::decode(bytes) else { continue };
                if op % 6 == 1 {
                    p.your_discr = discr.get();
                }
                Input::Received(p)
            }
            2 => Input::AdminDown,
            3 => Input::AdminUp,
            4 => Input::SetTimers(Timers {
                desired_min_tx: Duration::from_millis(u64::from(arg) + 1),
                required_min_rx: Duration::from_millis(u64::from(op) + 1),
                detect_mult: arg % 4 + 1,
            }),
            _ => Input::Tick,
        };
        for out in s.handle(now, input) {
            if let Output::Send(p) = out {
                assert!(!(p.poll && p.final_));
                assert!(ControlPacket::decode(&p.encode()).is_ok());
            }
        }
    }
});
