//! BFD Control packet codec (RFC 5880 §4.1) with the packet-level reception checks of §6.8.6.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                       My Discriminator                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                      Your Discriminator                       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Desired Min TX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                   Required Min RX Interval                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Required Min Echo RX Interval                 |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |   Auth Type   |   Auth Len    |    Authentication Data...     |  (only when A is set)
//! ```
//!
//! Authentication is not implemented, so a packet with the A bit is discarded, as §6.8.6 requires
//! of a session with `bfd.AuthType` zero. The Multipoint bit is always zero (§6.8.6 discards it).

use crate::wire::iana::iana_enum;

/// Length of a Control packet without the authentication section.
pub const CONTROL_LEN: usize = 24;

/// The protocol version this codec speaks (RFC 5880 §4.1).
pub const VERSION: u8 = 1;

iana_enum! {
    /// Diagnostic code (RFC 5880 §4.1, the "BFD Diagnostic Codes" registry): why the sender's
    /// session last changed state. Five bits on the wire.
    pub enum Diag: u8 {
        /// 0: No Diagnostic.
        NoDiagnostic = 0,
        /// 1: Control Detection Time Expired.
        ControlDetectionTimeExpired = 1,
        /// 2: Echo Function Failed.
        EchoFunctionFailed = 2,
        /// 3: Neighbor Signaled Session Down.
        NeighborSignaledSessionDown = 3,
        /// 4: Forwarding Plane Reset.
        ForwardingPlaneReset = 4,
        /// 5: Path Down.
        PathDown = 5,
        /// 6: Concatenated Path Down.
        ConcatenatedPathDown = 6,
        /// 7: Administratively Down.
        AdministrativelyDown = 7,
        /// 8: Reverse Concatenated Path Down.
        ReverseConcatenatedPathDown = 8,
    }
}

impl std::fmt::Display for Diag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Diag::NoDiagnostic => "No Diagnostic",
            Diag::ControlDetectionTimeExpired => "Control Detection Time Expired",
            Diag::EchoFunctionFailed => "Echo Function Failed",
            Diag::NeighborSignaledSessionDown => "Neighbor Signaled Session Down",
            Diag::ForwardingPlaneReset => "Forwarding Plane Reset",
            Diag::PathDown => "Path Down",
            Diag::ConcatenatedPathDown => "Concatenated Path Down",
            Diag::AdministrativelyDown => "Administratively Down",
            Diag::ReverseConcatenatedPathDown => "Reverse Concatenated Path Down",
            Diag::Unknown(v) => return write!(f, "Unknown diagnostic {v}"),
        };
        f.write_str(text)
    }
}

/// Session state (RFC 5880 §4.1 "Sta", §6.2). Two bits on the wire, so every value is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    /// 0: AdminDown.
    AdminDown,
    /// 1: Down.
    Down,
    /// 2: Init.
    Init,
    /// 3: Up.
    Up,
}

impl State {
    fn from_bits(v: u8) -> State {
        match v & 3 {
            0 => State::AdminDown,
            1 => State::Down,
            2 => State::Init,
            _ => State::Up,
        }
    }

    fn bits(self) -> u8 {
        match self {
            State::AdminDown => 0,
            State::Down => 1,
            State::Init => 2,
            State::Up => 3,
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            State::AdminDown => "AdminDown",
            State::Down => "Down",
            State::Init => "Init",
            State::Up => "Up",
        })
    }
}

/// A BFD Control packet without authentication. Intervals are in microseconds, as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ControlPacket {
    /// Diag: the sender's `bfd.LocalDiag`.
    pub diag: Diag,
    /// Sta: the sender's `bfd.SessionState`.
    pub state: State,
    /// P: the sender asks for a Final (a Poll Sequence).
    pub poll: bool,
    /// F: the answer to a Poll.
    pub final_: bool,
    /// C: Control Plane Independent.
    pub control_plane_independent: bool,
    /// D: Demand mode active at the sender.
    pub demand: bool,
    /// Detect Mult.
    pub detect_mult: u8,
    /// My Discriminator (never zero in a valid packet).
    pub my_discr: u32,
    /// Your Discriminator (zero until the sender knows ours).
    pub your_discr: u32,
    /// Desired Min TX Interval, µs.
    pub desired_min_tx_us: u32,
    /// Required Min RX Interval, µs.
    pub required_min_rx_us: u32,
    /// Required Min Echo RX Interval, µs (zero: the sender does not loop Echo packets).
    pub required_min_echo_rx_us: u32,
}

/// Why a received datagram is not a Control packet this implementation accepts (RFC 5880
/// §6.8.6: each of these discards the packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Shorter than the 24-octet mandatory section.
    #[error("BFD packet too short: {0} octets (minimum 24)")]
    Truncated(usize),
    /// The version is not 1.
    #[error("BFD version {0} is not supported (only 1)")]
    Version(u8),
    /// The Length field is below the minimum, or larger than the datagram.
    #[error("BFD Length field {field} is invalid for a {datagram}-octet datagram")]
    Length {
        /// The Length field.
        field: u8,
        /// Octets received.
        datagram: usize,
    },
    /// Detect Mult is zero.
    #[error("BFD Detect Mult is zero")]
    DetectMultZero,
    /// The Multipoint bit is set.
    #[error("BFD Multipoint bit is set")]
    Multipoint,
    /// My Discriminator is zero.
    #[error("BFD My Discriminator is zero")]
    MyDiscriminatorZero,
    /// The A bit is set; authentication is not implemented (RFC 5880 §6.8.6 with bfd.AuthType 0).
    #[error("BFD authentication is not supported (A bit set)")]
    Authenticated,
}

const FLAG_POLL: u8 = 0x20;
const FLAG_FINAL: u8 = 0x10;
const FLAG_CPI: u8 = 0x08;
const FLAG_AUTH: u8 = 0x04;
const FLAG_DEMAND: u8 = 0x02;
const FLAG_MULTIPOINT: u8 = 0x01;

impl ControlPacket {
    /// Decodes one datagram and applies the packet-level checks of RFC 5880 §6.8.6 (version,
    /// length, Detect Mult, Multipoint, My Discriminator, authentication). Octets after the
    /// Length field are ignored. Never panics.
    pub fn decode(buf: &[u8]) -> Result<ControlPacket, DecodeError> {
        let Some(head) = buf.get(..CONTROL_LEN) else {
            return Err(DecodeError::Truncated(buf.len()));
        };
        let version = head[0] >> 5;
        if version != VERSION {
            return Err(DecodeError::Version(version));
        }
        let flags = head[1];
        let length = head[3];
        let min = if flags & FLAG_AUTH != 0 {
            CONTROL_LEN + 2
        } else {
            CONTROL_LEN
        };
        if usize::from(length) < min || usize::from(length) > buf.len() {
            return Err(DecodeError::Length {
                field: length,
                datagram: buf.len(),
            });
        }
        let word = |i: usize| u32::from_be_bytes([head[i], head[i + 1], head[i + 2], head[i + 3]]);
        let packet = ControlPacket {
            diag: Diag::from(head[0] & 0x1f),
            state: State::from_bits(flags >> 6),
            poll: flags & FLAG_POLL != 0,
            final_: flags & FLAG_FINAL != 0,
            control_plane_independent: flags & FLAG_CPI != 0,
            demand: flags & FLAG_DEMAND != 0,
            detect_mult: head[2],
            my_discr: word(4),
            your_discr: word(8),
            desired_min_tx_us: word(12),
            required_min_rx_us: word(16),
            required_min_echo_rx_us: word(20),
        };
        if packet.detect_mult == 0 {
            return Err(DecodeError::DetectMultZero);
        }
        if flags & FLAG_MULTIPOINT != 0 {
            return Err(DecodeError::Multipoint);
        }
        if packet.my_discr == 0 {
            return Err(DecodeError::MyDiscriminatorZero);
        }
        if flags & FLAG_AUTH != 0 {
            return Err(DecodeError::Authenticated);
        }
        Ok(packet)
    }

    /// The 24 octets on the wire. A Diag above 31 is truncated to its five low bits.
    pub fn encode(&self) -> [u8; CONTROL_LEN] {
        let mut flags = self.state.bits() << 6;
        for (set, bit) in [
            (self.poll, FLAG_POLL),
            (self.final_, FLAG_FINAL),
            (self.control_plane_independent, FLAG_CPI),
            (self.demand, FLAG_DEMAND),
        ] {
            if set {
                flags |= bit;
            }
        }
        let mut out = [0u8; CONTROL_LEN];
        out[0] = (VERSION << 5) | (u8::from(self.diag) & 0x1f);
        out[1] = flags;
        out[2] = self.detect_mult;
        out[3] = CONTROL_LEN as u8;
        for (i, v) in [
            self.my_discr,
            self.your_discr,
            self.desired_min_tx_us,
            self.required_min_rx_us,
            self.required_min_echo_rx_us,
        ]
        .into_iter()
        .enumerate()
        {
            out[4 + 4 * i..8 + 4 * i].copy_from_slice(&v.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Down packet as FRR 8.4 bfdd sends it while nobody answers: Detect Mult 3 and the 1 s
    /// slow rate (as recorded in the lab notes), FRR's default 300 ms RX and 50 ms echo RX.
    const FRR_DOWN: [u8; 24] = [
        0x20, 0x40, 0x03, 0x18, 0x8a, 0x3e, 0x59, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x42,
        0x40, 0x00, 0x04, 0x93, 0xe0, 0x00, 0x00, 0xc3, 0x50,
    ];

    #[test]
    fn decodes_and_re_encodes_an_frr_packet() {
        let p = ControlPacket::decode(&FRR_DOWN).unwrap();
        assert_eq!(p.state, State::Down);
        assert_eq!(p.diag, Diag::NoDiagnostic);
        assert_eq!(p.detect_mult, 3);
        assert_eq!(p.my_discr, 0x8a3e_5901);
        assert_eq!(p.your_discr, 0);
        assert_eq!(p.desired_min_tx_us, 1_000_000);
        assert_eq!(p.required_min_rx_us, 300_000);
        assert_eq!(p.required_min_echo_rx_us, 50_000);
        assert!(!p.poll && !p.final_ && !p.demand && !p.control_plane_independent);
        assert_eq!(p.encode(), FRR_DOWN);
    }

    #[test]
    fn flags_and_state_bits() {
        let mut b = FRR_DOWN;
        b[0] = 0x23; // version 1, diag 3
        b[1] = 0xc0 | FLAG_POLL | FLAG_CPI; // Up, P, C
        let p = ControlPacket::decode(&b).unwrap();
        assert_eq!(p.state, State::Up);
        assert_eq!(p.diag, Diag::NeighborSignaledSessionDown);
        assert!(p.poll && p.control_plane_independent && !p.final_);
        assert_eq!(p.encode(), b);
    }

    #[test]
    fn reception_checks_of_6_8_6() {
        let with = |i: usize, v: u8| {
            let mut b = FRR_DOWN;
            b[i] = v;
            ControlPacket::decode(&b)
        };
        assert_eq!(
            ControlPacket::decode(&FRR_DOWN[..23]),
            Err(DecodeError::Truncated(23))
        );
        assert_eq!(with(0, 0x40), Err(DecodeError::Version(2)));
        assert_eq!(
            with(3, 23),
            Err(DecodeError::Length {
                field: 23,
                datagram: 24
            })
        );
        assert_eq!(
            with(3, 25),
            Err(DecodeError::Length {
                field: 25,
                datagram: 24
            })
        );
        assert_eq!(with(2, 0), Err(DecodeError::DetectMultZero));
        assert_eq!(with(1, 0x41), Err(DecodeError::Multipoint));
        let mut zero = FRR_DOWN;
        zero[4..8].fill(0);
        assert_eq!(
            ControlPacket::decode(&zero),
            Err(DecodeError::MyDiscriminatorZero)
        );
        // A bit with a 26-octet Length and datagram: well formed, but no authentication here.
        let mut auth = FRR_DOWN.to_vec();
        auth.extend([1, 2]);
        auth[1] |= FLAG_AUTH;
        auth[3] = 26;
        assert_eq!(
            ControlPacket::decode(&auth),
            Err(DecodeError::Authenticated)
        );
        // The A bit needs at least 26 octets of Length.
        auth[3] = 24;
        assert!(matches!(
            ControlPacket::decode(&auth),
            Err(DecodeError::Length { .. })
        ));
        // Octets beyond Length are ignored.
        let mut long = FRR_DOWN.to_vec();
        long.extend([0xff; 8]);
        assert_eq!(
            ControlPacket::decode(&long),
            ControlPacket::decode(&FRR_DOWN)
        );
    }

    /// Found by the `bfd_decode` fuzz target: a Length above 24 without the A bit, within the
    /// datagram, is accepted (§6.8.6 discards only below the minimum or beyond the datagram);
    /// the extra octets are ignored and a re-encoding says 24.
    #[test]
    fn longer_length_without_auth_is_accepted_and_re_encoded_as_24() {
        let crash: [u8; 36] = [
            0x30, 0x20, 0x18, 0x21, 0x59, 0x00, 0x47, 0x8a, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x19, 0x42, 0x00, 0x0f, 0x40, 0x00, 0x00, 0xff, 0xff,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ];
        let p = ControlPacket::decode(&crash).unwrap();
        assert_eq!(p.diag, Diag::from(16));
        assert_eq!(p.state, State::AdminDown);
        assert!(p.poll);
        assert_eq!(p.detect_mult, 24);
        let again = p.encode();
        assert_eq!(again[3], 24);
        assert_eq!(again[..3], crash[..3]);
        assert_eq!(again[4..], crash[4..24]);
        assert_eq!(ControlPacket::decode(&again), Ok(p));
    }

    #[test]
    fn diagnostic_text_is_the_rfc_wording() {
        assert_eq!(
            Diag::ControlDetectionTimeExpired.to_string(),
            "Control Detection Time Expired"
        );
        assert_eq!(Diag::from(20).to_string(), "Unknown diagnostic 20");
    }
}
