//! The Link Bandwidth extended community (draft-ietf-idr-link-bandwidth, published as
//! RFC 10005): a two-octet-AS-specific extended community (RFC 4360 §3.1) with sub-type 0x04
//! whose Local Administrator field is the bandwidth as an IEEE 754 single-precision float in
//! bytes per second. Routers with multipath weight their next hops by it (FRR: "weighted ECMP
//! using BGP link bandwidth").
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! | 0x40 or 0x00  | Sub-Type 0x04 |   Global Administrator (AS)   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Bandwidth (IEEE float32, bytes per second)             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//! Type 0x40 is the non-transitive form (kept inside the receiving AS), 0x00 the transitive one.

use std::fmt;

use super::ExtendedCommunity;
use crate::wire::iana::AS_TRANS;

/// Type high octet of the transitive two-octet-AS-specific extended communities.
const TYPE_AS_TRANSITIVE: u8 = 0x00;
/// Type high octet of the non-transitive two-octet-AS-specific extended communities.
const TYPE_AS_NON_TRANSITIVE: u8 = 0x40;
/// Sub-type of Link Bandwidth.
const SUB_TYPE_LINK_BANDWIDTH: u8 = 0x04;

/// A Link Bandwidth extended community, decoded. The bandwidth is kept as its raw IEEE bits,
/// so any received value (even NaN) encodes back to the same octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LinkBandwidth {
    /// Global Administrator: the AS of the speaker that set it (two octets; AS_TRANS for a
    /// 4-octet AS).
    pub asn: u16,
    /// True for the transitive form (type 0x00), false for the non-transitive one (0x40).
    pub transitive: bool,
    bandwidth_bits: u32,
}

impl LinkBandwidth {
    /// The non-transitive form (type 0x40) with `asn` (AS_TRANS when it does not fit in two
    /// octets) and `bytes_per_second`.
    pub fn non_transitive(asn: u32, bytes_per_second: f32) -> Self {
        LinkBandwidth {
            asn: u16::try_from(asn).unwrap_or(AS_TRANS as u16),
            transitive: false,
            bandwidth_bits: bytes_per_second.to_bits(),
        }
    }

    /// The bandwidth in bytes per second.
    pub fn bytes_per_second(&self) -> f32 {
        f32::from_bits(self.bandwidth_bits)
    }

    /// The 8 octets of the extended community.
    pub fn to_extended(self) -> ExtendedCommunity {
        let mut b = [0u8; 8];
        b[0] = if self.transitive {
            TYPE_AS_TRANSITIVE
        } else {
            TYPE_AS_NON_TRANSITIVE
        };
        b[1] = SUB_TYPE_LINK_BANDWIDTH;
        b[2..4].copy_from_slice(&self.asn.to_be_bytes());
        b[4..8].copy_from_slice(&self.bandwidth_bits.to_be_bytes());
        ExtendedCommunity(b)
    }

    /// Decodes an extended community when it is a Link Bandwidth one (either form).
    pub fn from_extended(c: &ExtendedCommunity) -> Option<Self> {
        let b = c.0;
        let transitive = match b[0] {
            TYPE_AS_TRANSITIVE => true,
            TYPE_AS_NON_TRANSITIVE => false,
            _ => return None,
        };
        (b[1] == SUB_TYPE_LINK_BANDWIDTH).then(|| LinkBandwidth {
            asn: u16::from_be_bytes([b[2], b[3]]),
            transitive,
            bandwidth_bits: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        })
    }
}

/// `LB:AS:BYTES_PER_SECOND`, as FRR shows it (`LB:65001:125000`).
impl fmt::Display for LinkBandwidth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LB:{}:{}", self.asn, self.bytes_per_second())
    }
}

/// Error parsing a bandwidth rate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid bandwidth {text:?}: {why}; expected bytes per second (125000000) or a number with \
     a unit: bit, Kbit, Mbit, Gbit, Tbit (bits per second) or B, KB, MB, GB, TB (bytes per second)"
)]
pub struct ParseRateError {
    /// The text given.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// Parses a rate into bytes per second: a plain number is bytes per second; a unit may follow
/// (decimal prefixes, case-insensitive): `bit`/`Kbit`/`Mbit`/`Gbit`/`Tbit` are bits per second,
/// `B`/`KB`/`MB`/`GB`/`TB` bytes per second. `100Mbit` is 12,500,000 bytes per second.
pub fn parse_rate(text: &str) -> Result<f32, ParseRateError> {
    let err = |why| ParseRateError {
        text: text.to_owned(),
        why,
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty() {
        return Err(err("no number"));
    }
    let value: f64 = number.parse().map_err(|_| err("not a number"))?;
    let factor = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        "bit" => 1.0 / 8.0,
        "kbit" => 1e3 / 8.0,
        "mbit" => 1e6 / 8.0,
        "gbit" => 1e9 / 8.0,
        "tbit" => 1e12 / 8.0,
        _ => return Err(err("unknown unit")),
    };
    let bytes = value * factor;
    if !bytes.is_finite() || bytes > f64::from(f32::MAX) {
        return Err(err("too large"));
    }
    Ok(bytes as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_non_transitive_form_with_the_as_and_the_float() {
        // 1 Mbit/s = 125,000 bytes/s = 0x47f42400 as an IEEE float.
        let lb = LinkBandwidth::non_transitive(65001, 125_000.0);
        assert_eq!(
            lb.to_extended().0,
            [0x40, 0x04, 0xfd, 0xe9, 0x47, 0xf4, 0x24, 0x00]
        );
        assert_eq!(LinkBandwidth::from_extended(&lb.to_extended()), Some(lb));
        assert_eq!(lb.to_string(), "LB:65001:125000");
        assert_eq!(lb.to_extended().to_string(), "LB:65001:125000");
        // A 4-octet AS is carried as AS_TRANS.
        assert_eq!(LinkBandwidth::non_transitive(4_200_000_000, 1.0).asn, 23456);
    }

    #[test]
    fn decodes_the_transitive_form_and_ignores_other_communities() {
        let t = ExtendedCommunity([0x00, 0x04, 0, 1, 0x3f, 0x80, 0, 0]);
        let lb = LinkBandwidth::from_extended(&t).expect("link bandwidth");
        assert!(lb.transitive);
        assert_eq!((lb.asn, lb.bytes_per_second()), (1, 1.0));
        assert_eq!(lb.to_extended(), t);
        // Route target (sub-type 0x02) and an IPv4-specific type with sub-type 4 are not.
        assert_eq!(
            LinkBandwidth::from_extended(&ExtendedCommunity([0, 2, 0, 1, 0, 0, 0, 1])),
            None
        );
        assert_eq!(
            LinkBandwidth::from_extended(&ExtendedCommunity([1, 4, 0, 1, 0, 0, 0, 1])),
            None
        );
    }

    #[test]
    fn rates_with_units() {
        assert_eq!(parse_rate("125000"), Ok(125_000.0));
        assert_eq!(parse_rate("100Mbit"), Ok(12_500_000.0));
        assert_eq!(parse_rate("1Gbit"), Ok(125_000_000.0));
        assert_eq!(parse_rate("125MB"), Ok(125_000_000.0));
        assert_eq!(parse_rate("1.5kb"), Ok(1_500.0));
        assert_eq!(parse_rate(" 8bit "), Ok(1.0));
        for bad in [
            "",
            "Mbit",
            "1.2.3",
            "10 furlongs",
            "-5",
            "1e40",
            "999999999999999999999999999999TB",
        ] {
            assert!(parse_rate(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_rate("10x")
            .unwrap_err()
            .to_string()
            .contains("unknown unit"));
    }
}
