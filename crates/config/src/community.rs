//! BGP communities: standard (RFC 1997, `a:b`) and large (RFC 8092, `large:a:b:c`).

use std::fmt;

/// A standard BGP community (RFC 1997): two 16-bit halves, written `a:b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Community(pub u32);

impl Community {
    /// Builds `high:low`.
    pub fn new(high: u16, low: u16) -> Self {
        Community((u32::from(high) << 16) | u32::from(low))
    }

    /// The upper 16 bits (usually an AS number).
    pub fn high(self) -> u16 {
        (self.0 >> 16) as u16
    }

    /// The lower 16 bits.
    pub fn low(self) -> u16 {
        (self.0 & 0xffff) as u16
    }

    /// Parses `a:b` with both halves in 0..=65535; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (a, b) = text
            .split_once(':')
            .ok_or_else(|| "expected a community of the form a:b".to_string())?;
        let high = parse_part::<u16>(a, "first part", "0..=65535")?;
        let low = parse_part::<u16>(b, "second part", "0..=65535")?;
        Ok(Community::new(high, low))
    }
}

impl fmt::Display for Community {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.high(), self.low())
    }
}

/// A large BGP community (RFC 8092): three 32-bit numbers, written `large:a:b:c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LargeCommunity {
    /// Global administrator (usually an AS number).
    pub global_admin: u32,
    /// First local data part.
    pub local_data1: u32,
    /// Second local data part.
    pub local_data2: u32,
}

impl LargeCommunity {
    /// Parses `large:a:b:c` (the `large:` prefix is required).
    pub fn parse(text: &str) -> Result<Self, String> {
        let rest = text
            .strip_prefix("large:")
            .ok_or_else(|| "expected a large community of the form large:a:b:c".to_string())?;
        let parts: Vec<&str> = rest.split(':').collect();
        if parts.len() != 3 {
            return Err("expected a large community of the form large:a:b:c".to_string());
        }
        Ok(LargeCommunity {
            global_admin: parse_part::<u32>(parts[0], "first part", "0..=4294967295")?,
            local_data1: parse_part::<u32>(parts[1], "second part", "0..=4294967295")?,
            local_data2: parse_part::<u32>(parts[2], "third part", "0..=4294967295")?,
        })
    }
}

impl fmt::Display for LargeCommunity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "large:{}:{}:{}",
            self.global_admin, self.local_data1, self.local_data2
        )
    }
}

/// Either kind of community (what an alias in `bgp-communities` or an advertisement entry holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CommunityValue {
    /// `a:b`
    Standard(Community),
    /// `large:a:b:c`
    Large(LargeCommunity),
}

impl CommunityValue {
    /// Parses `a:b` or `large:a:b:c`.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.starts_with("large:") {
            LargeCommunity::parse(text).map(CommunityValue::Large)
        } else {
            Community::parse(text).map(CommunityValue::Standard)
        }
    }
}

impl fmt::Display for CommunityValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommunityValue::Standard(c) => c.fmt(f),
            CommunityValue::Large(c) => c.fmt(f),
        }
    }
}

fn parse_part<T: std::str::FromStr>(text: &str, which: &str, range: &str) -> Result<T, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{which} {trimmed:?} is not a number"));
    }
    trimmed
        .parse::<T>()
        .map_err(|_| format!("{which} {trimmed} is out of range {range}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_round_trip_and_limits() {
        let c = Community::parse("65535:65281").unwrap();
        assert_eq!(c.0, 0xffff_ff01);
        assert_eq!(c.to_string(), "65535:65281");
        assert!(Community::parse("65536:1")
            .unwrap_err()
            .contains("out of range"));
        assert!(Community::parse("1").is_err());
        assert!(Community::parse("a:1")
            .unwrap_err()
            .contains("not a number"));
    }

    #[test]
    fn large_round_trip_and_limits() {
        let c = LargeCommunity::parse("large:4200000000:1:2").unwrap();
        assert_eq!(c.to_string(), "large:4200000000:1:2");
        assert!(LargeCommunity::parse("large:1:2").is_err());
        assert!(LargeCommunity::parse("large:4294967296:1:2").is_err());
        assert_eq!(
            CommunityValue::parse("large:1:2:3").unwrap(),
            CommunityValue::Large(c_large(1, 2, 3))
        );
    }

    fn c_large(a: u32, b: u32, c: u32) -> LargeCommunity {
        LargeCommunity {
            global_admin: a,
            local_data1: b,
            local_data2: c,
        }
    }
}
