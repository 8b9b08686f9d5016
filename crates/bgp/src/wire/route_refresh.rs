//! ROUTE-REFRESH message (RFC 2918) with the Enhanced Route Refresh subtypes (RFC 7313).
//!
//! ```text
//!  0       7      15      23      31
//! +-------+-------+-------+-------+
//! |      AFI      | Subtype | SAFI |
//! +-------+-------+-------+-------+
//! ```

use super::iana::{iana_enum, Afi, Family, Safi};
use super::reader::Reader;

iana_enum! {
    /// ROUTE-REFRESH subtypes (RFC 7313 §3; 0 was "Reserved" in RFC 2918).
    pub enum RouteRefreshSubtype: u8 {
        /// Normal route refresh request (0).
        Normal = 0,
        /// Beginning of Route Refresh (1, BoRR).
        BeginningOfRefresh = 1,
        /// End of Route Refresh (2, EoRR).
        EndOfRefresh = 2,
    }
}

/// A ROUTE-REFRESH message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RouteRefresh {
    /// The family to refresh.
    pub family: Family,
    /// Subtype; unknown subtypes must be ignored by the receiver (RFC 7313 §5).
    pub subtype: RouteRefreshSubtype,
}

impl RouteRefresh {
    /// A normal refresh request for `family`.
    pub fn request(family: Family) -> Self {
        Self {
            family,
            subtype: RouteRefreshSubtype::Normal,
        }
    }

    /// Decodes the 4-octet body; `None` if the length is not 4.
    pub(crate) fn decode_body(body: &[u8]) -> Option<Self> {
        if body.len() != 4 {
            return None;
        }
        let mut r = Reader::new(body);
        let afi = Afi::from(r.u16()?);
        let subtype = RouteRefreshSubtype::from(r.u8()?);
        let safi = Safi::from(r.u8()?);
        Some(Self {
            family: Family::new(afi, safi),
            subtype,
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&u16::from(self.family.afi).to_be_bytes());
        out.push(self.subtype.into());
        out.push(self.family.safi.into());
    }
}
