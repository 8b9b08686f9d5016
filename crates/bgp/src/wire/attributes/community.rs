//! COMMUNITIES (RFC 1997), EXTENDED COMMUNITIES (RFC 4360) and LARGE_COMMUNITY (RFC 8092).

use std::fmt;
use std::str::FromStr;

/// A standard community (RFC 1997): 4 octets, conventionally `ASN:value`.
///
/// ```text
/// +--------------------------------+
/// |  AS (2 octets) | value (2)     |
/// +--------------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Community(pub u32);

impl Community {
    /// GRACEFUL_SHUTDOWN 65535:0 (RFC 8326).
    pub const GRACEFUL_SHUTDOWN: Community = Community(0xFFFF_0000);
    /// BLACKHOLE 65535:666 (RFC 7999).
    pub const BLACKHOLE: Community = Community(0xFFFF_029A);
    /// NO_EXPORT 65535:65281 (RFC 1997).
    pub const NO_EXPORT: Community = Community(0xFFFF_FF01);
    /// NO_ADVERTISE 65535:65282 (RFC 1997).
    pub const NO_ADVERTISE: Community = Community(0xFFFF_FF02);
    /// NO_EXPORT_SUBCONFED 65535:65283 (RFC 1997).
    pub const NO_EXPORT_SUBCONFED: Community = Community(0xFFFF_FF03);
    /// NOPEER 65535:65284 (RFC 3765).
    pub const NOPEER: Community = Community(0xFFFF_FF04);

    /// Builds `asn:value`.
    pub fn new(asn: u16, value: u16) -> Self {
        Community((u32::from(asn) << 16) | u32::from(value))
    }

    /// The well-known name (as FRR spells it), if any.
    pub fn well_known_name(&self) -> Option<&'static str> {
        Some(match *self {
            Self::GRACEFUL_SHUTDOWN => "graceful-shutdown",
            Self::BLACKHOLE => "blackhole",
            Self::NO_EXPORT => "no-export",
            Self::NO_ADVERTISE => "no-advertise",
            Self::NO_EXPORT_SUBCONFED => "local-AS",
            Self::NOPEER => "no-peer",
            _ => return None,
        })
    }
}

/// `no-export` for well-known communities, else `ASN:value`.
impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.well_known_name() {
            Some(n) => f.write_str(n),
            None => write!(f, "{}:{}", self.0 >> 16, self.0 & 0xffff),
        }
    }
}

/// Error parsing a community string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid community {0:?}: expected ASN:VALUE (each 0-65535) or a well-known name")]
pub struct ParseCommunityError(pub String);

/// Parses `A:B` (each 0..=65535) or a well-known name (`no-export`, `no-advertise`,
/// `local-AS`/`no-export-subconfed`, `no-peer`, `blackhole`, `graceful-shutdown`).
impl FromStr for Community {
    type Err = ParseCommunityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseCommunityError(s.to_owned());
        match s.to_ascii_lowercase().as_str() {
            "no-export" => return Ok(Self::NO_EXPORT),
            "no-advertise" => return Ok(Self::NO_ADVERTISE),
            "local-as" | "no-export-subconfed" => return Ok(Self::NO_EXPORT_SUBCONFED),
            "no-peer" | "nopeer" => return Ok(Self::NOPEER),
            "blackhole" => return Ok(Self::BLACKHOLE),
            "graceful-shutdown" => return Ok(Self::GRACEFUL_SHUTDOWN),
            _ => {}
        }
        let (a, b) = s.split_once(':').ok_or_else(err)?;
        Ok(Community::new(
            a.parse().map_err(|_| err())?,
            b.parse().map_err(|_| err())?,
        ))
    }
}

/// An extended community (RFC 4360), kept as its raw 8 octets.
///
/// ```text
/// +------------------------------------+
/// | Type high (1) | Type low (1)       |
/// +------------------------------------+
/// |          Value (6 octets)          |
/// +------------------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExtendedCommunity(pub [u8; 8]);

impl ExtendedCommunity {
    /// The type high octet (bit 0x40 = non-transitive).
    pub fn type_high(&self) -> u8 {
        self.0[0]
    }
    /// The type low octet (sub-type).
    pub fn type_low(&self) -> u8 {
        self.0[1]
    }
}

/// `RT:AS:N`, `SoO:AS:N`, `LB:AS:BYTES_PER_SECOND` (link bandwidth), else `0x` and the octets.
impl fmt::Display for ExtendedCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(lb) = super::LinkBandwidth::from_extended(self) {
            return lb.fmt(f);
        }
        let b = self.0;
        match (b[0] & 0xbf, b[1]) {
            (0x00, 0x02) => write!(
                f,
                "RT:{}:{}",
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]])
            ),
            (0x00, 0x03) => write!(
                f,
                "SoO:{}:{}",
                u16::from_be_bytes([b[2], b[3]]),
                u32::from_be_bytes([b[4], b[5], b[6], b[7]])
            ),
            _ => {
                f.write_str("0x")?;
                b.iter().try_for_each(|x| write!(f, "{x:02x}"))
            }
        }
    }
}

/// A large community (RFC 8092): three 4-octet values, `global:local1:local2`.
///
/// ```text
/// +---------------------------------+
/// | Global Administrator (4 octets) |
/// | Local Data Part 1 (4 octets)    |
/// | Local Data Part 2 (4 octets)    |
/// +---------------------------------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LargeCommunity {
    /// Global administrator (usually an ASN).
    pub global_admin: u32,
    /// Local data part 1.
    pub local_data1: u32,
    /// Local data part 2.
    pub local_data2: u32,
}

impl LargeCommunity {
    /// Builds `a:b:c`.
    pub fn new(global_admin: u32, local_data1: u32, local_data2: u32) -> Self {
        Self {
            global_admin,
            local_data1,
            local_data2,
        }
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.global_admin, self.local_data1, self.local_data2
        )
    }
}

/// Error parsing a large community string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid large community {0:?}: expected A:B:C (each 0-4294967295)")]
pub struct ParseLargeCommunityError(pub String);

impl FromStr for LargeCommunity {
    type Err = ParseLargeCommunityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseLargeCommunityError(s.to_owned());
        let mut it = s.split(':');
        let mut next = || it.next().ok_or_else(err)?.parse::<u32>().map_err(|_| err());
        let v = LargeCommunity::new(next()?, next()?, next()?);
        if it.next().is_some() {
            return Err(err());
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        assert_eq!(
            "65000:100".parse::<Community>().unwrap(),
            Community::new(65000, 100)
        );
        assert_eq!(
            "no-export".parse::<Community>().unwrap(),
            Community::NO_EXPORT
        );
        assert_eq!(Community::NO_ADVERTISE.to_string(), "no-advertise");
        assert_eq!(Community::new(1, 2).to_string(), "1:2");
        assert!("65536:1".parse::<Community>().is_err());
        assert!("1".parse::<Community>().is_err());
        assert_eq!(
            "1:2:3".parse::<LargeCommunity>().unwrap(),
            LargeCommunity::new(1, 2, 3)
        );
        assert!("1:2".parse::<LargeCommunity>().is_err());
        assert!("1:2:3:4".parse::<LargeCommunity>().is_err());
        assert_eq!(
            LargeCommunity::new(4200000000, 1, 2).to_string(),
            "4200000000:1:2"
        );
    }
}
