//! Decodes arbitrary bytes as a BFD Control packet. Nothing may panic. A packet that decodes
//! must re-encode to the same 24 octets except Length (always 24 when sent; a longer Length
//! within the datagram is accepted on receipt, RFC 5880 §6.8.6), and decode back to itself.
#![no_main]

use ferrolb_bgp::bfd::{ControlPacket, CONTROL_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = ControlPacket::decode(data) {
        let mut again = p.encode();
        assert_eq!(ControlPacket::decode(&again), Ok(p));
        again[3] = data[3];
        assert_eq!(&again[..], &data[..CONTROL_LEN]);
    }
});
