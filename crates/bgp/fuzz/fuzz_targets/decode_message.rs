//! Frames the input as a BGP byte stream and decodes every message with four contexts
//! (2-/4-octet AS x normal/extended messages). Decoding must never panic; whatever decodes must
//! re-encode, and the re-encoding must decode to an equal message.
#![no_main]

use ferrolb_bgp::wire::{check_header, frame_len, DecodeContext, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for ctx in [
        DecodeContext::new(false, false),
        DecodeContext::new(true, false),
        DecodeContext::new(false, true),
        DecodeContext::new(true, true),
    ] {
        let mut rest = data;
        while let Some(n) = frame_len(rest) {
            let frame = &rest[..n];
            rest = &rest[n..];
            let _ = check_header(frame, &ctx);
            let Ok(msg) = Message::decode(frame, &ctx) else {
                continue;
            };
            if let Message::Update(u) = &msg {
                let _ = (u.announced(), u.withdrawn_prefixes(), u.end_of_rib_family());
            }
            let _ = msg.to_string_lossy();
            if let Ok(bytes) = msg.encode(&ctx) {
                let again = Message::decode(&bytes, &ctx).expect("re-encoded message decodes");
                let norm = |m: &Message| match m {
                    // Verdicts describe the input (e.g. a discarded duplicate); not re-encoded.
                    Message::Update(u) => {
                        let mut u = u.clone();
                        u.verdict = Default::default();
                        Message::Update(u)
                    }
                    m => m.clone(),
                };
                assert_eq!(norm(&again), norm(&msg), "round trip changed the message");
            }
        }
    }
});

trait Lossy {
    fn to_string_lossy(&self) -> String;
}

impl Lossy for Message {
    fn to_string_lossy(&self) -> String {
        match self {
            Message::Notification(n) => n.to_string(),
            Message::Update(u) => u
                .attributes
                .as_path
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            _ => String::new(),
        }
    }
}
