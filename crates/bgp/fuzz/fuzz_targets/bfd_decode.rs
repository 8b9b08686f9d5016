//! Decodes arbitrary bytes as a BFD Control packet. Nothing may panic, and a packet that
//! decodes must re-encode to the same 24 octets.
#![no_main]

use ferrolb_bgp::bfd::{ControlPacket, CONTROL_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ControlPacket::decode(data) {
        assert_eq!(&p.encode()[..], &data[..CONTROL_LEN]);
    }
});
