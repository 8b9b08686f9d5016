//! Capabilities advertised in OPEN (RFC 5492). Unknown or malformed capabilities are kept as
//! raw bytes and never cause an error.
//!
//! ```text
//! +------------------------------+
//! | Capability Code (1 octet)    |
//! +------------------------------+
//! | Capability Length (1 octet)  |
//! +------------------------------+
//! | Capability Value (variable)  |
//! +------------------------------+
//! ```

use super::iana::{Afi, CapabilityCode, Family, Safi};
use super::reader::Reader;

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// Multiprotocol Extensions (code 1, RFC 4760). Value: AFI (2), Reserved (1), SAFI (1).
    Multiprotocol(Family),
    /// Route Refresh (code 2, RFC 2918). Empty value.
    RouteRefresh,
    /// Route Refresh with the pre-standard Cisco code 128. Empty value.
    RouteRefreshCisco,
    /// Enhanced Route Refresh (code 70, RFC 7313). Empty value.
    EnhancedRouteRefresh,
    /// Extended Message (code 6, RFC 8654): messages up to 65535 octets. Empty value.
    ExtendedMessage,
    /// Support for 4-octet AS numbers (code 65, RFC 6793). Value: the speaker's AS (4 octets).
    FourOctetAs(u32),
    /// Graceful Restart (code 64, RFC 4724).
    GracefulRestart(GracefulRestart),
    /// ADD-PATH (code 69, RFC 7911); decoded for display, never offered by this library.
    AddPath(Vec<AddPathFamily>),
    /// Any other capability, or a known one whose value is malformed; kept as received.
    Unknown {
        /// Capability code.
        code: u8,
        /// Raw value.
        value: Vec<u8>,
    },
}

/// Graceful Restart capability value (RFC 4724 §3).
///
/// ```text
/// +--------------------------------------------------+
/// | Restart Flags (4 bits) | Restart Time (12 bits)  |
/// +--------------------------------------------------+
/// | AFI (16 bits) | SAFI (8 bits) | Flags for AFI/SAFI (8 bits) |  (repeated)
/// +--------------------------------------------------+
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct GracefulRestart {
    /// Restart flags, the high 4 bits of the first octet pair shifted down: 0x8 = R (restart
    /// state), 0x4 = N (notification, RFC 8538).
    pub flags: u8,
    /// Restart time in seconds (12 bits).
    pub restart_time: u16,
    /// Families with their per-family flags (0x80 = forwarding state preserved).
    pub families: Vec<(Family, u8)>,
}

impl GracefulRestart {
    /// Restart State (R) flag (RFC 4724 §3): the sender has restarted.
    pub const RESTART_STATE: u8 = 0x8;
    /// Notification (N) flag (RFC 8538 §2): the sender keeps Graceful Restart procedures for
    /// NOTIFICATIONs other than Cease/Hard Reset.
    pub const NOTIFICATION: u8 = 0x4;
    /// Per-family Forwarding State (F) flag (RFC 4724 §3): forwarding for the family was
    /// preserved across the restart.
    pub const FORWARDING_STATE: u8 = 0x80;
    /// Largest restart time (12 bits).
    pub const MAX_RESTART_TIME: u16 = 0x0fff;

    /// Whether the R flag is set.
    pub fn restart_state(&self) -> bool {
        self.flags & Self::RESTART_STATE != 0
    }

    /// Whether the N flag is set.
    pub fn notification(&self) -> bool {
        self.flags & Self::NOTIFICATION != 0
    }

    /// The families listed, whatever their F flag.
    pub fn families(&self) -> impl Iterator<Item = Family> + '_ {
        self.families.iter().map(|(f, _)| *f)
    }

    /// Whether `family` is listed with the F flag set.
    pub fn forwarding_preserved(&self, family: Family) -> bool {
        self.families
            .iter()
            .any(|(f, flags)| *f == family && flags & Self::FORWARDING_STATE != 0)
    }
}

/// One ADD-PATH entry (RFC 7911 §4): AFI (2), SAFI (1), Send/Receive (1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AddPathFamily {
    /// The family.
    pub family: Family,
    /// 1 = receive, 2 = send, 3 = both.
    pub send_receive: u8,
}

impl Capability {
    /// The capability code.
    pub fn code(&self) -> CapabilityCode {
        match self {
            Capability::Multiprotocol(_) => CapabilityCode::Multiprotocol,
            Capability::RouteRefresh => CapabilityCode::RouteRefresh,
            Capability::RouteRefreshCisco => CapabilityCode::RouteRefreshCisco,
            Capability::EnhancedRouteRefresh => CapabilityCode::EnhancedRouteRefresh,
            Capability::ExtendedMessage => CapabilityCode::ExtendedMessage,
            Capability::FourOctetAs(_) => CapabilityCode::FourOctetAs,
            Capability::GracefulRestart(_) => CapabilityCode::GracefulRestart,
            Capability::AddPath(_) => CapabilityCode::AddPath,
            Capability::Unknown { code, .. } => CapabilityCode::from(*code),
        }
    }

    /// Decodes one capability value; anything malformed becomes [`Capability::Unknown`].
    pub(crate) fn decode(code: u8, value: &[u8]) -> Capability {
        Self::decode_known(code, value).unwrap_or_else(|| Capability::Unknown {
            code,
            value: value.to_vec(),
        })
    }

    fn decode_known(code: u8, value: &[u8]) -> Option<Capability> {
        let mut r = Reader::new(value);
        let cap = match CapabilityCode::from(code) {
            CapabilityCode::Multiprotocol => {
                let afi = Afi::from(r.u16()?);
                if r.u8()? != 0 {
                    return None; // keep a non-zero reserved octet raw so it re-encodes as is
                }
                let safi = Safi::from(r.u8()?);
                Capability::Multiprotocol(Family::new(afi, safi))
            }
            CapabilityCode::RouteRefresh => Capability::RouteRefresh,
            CapabilityCode::RouteRefreshCisco => Capability::RouteRefreshCisco,
            CapabilityCode::EnhancedRouteRefresh => Capability::EnhancedRouteRefresh,
            CapabilityCode::ExtendedMessage => Capability::ExtendedMessage,
            CapabilityCode::FourOctetAs => Capability::FourOctetAs(r.u32()?),
            CapabilityCode::GracefulRestart => {
                let word = r.u16()?;
                let mut families = Vec::new();
                while !r.is_empty() {
                    let afi = Afi::from(r.u16()?);
                    let safi = Safi::from(r.u8()?);
                    families.push((Family::new(afi, safi), r.u8()?));
                }
                Capability::GracefulRestart(GracefulRestart {
                    flags: (word >> 12) as u8,
                    restart_time: word & 0x0fff,
                    families,
                })
            }
            CapabilityCode::AddPath => {
                let mut v = Vec::new();
                while !r.is_empty() {
                    let afi = Afi::from(r.u16()?);
                    let safi = Safi::from(r.u8()?);
                    v.push(AddPathFamily {
                        family: Family::new(afi, safi),
                        send_receive: r.u8()?,
                    });
                }
                Capability::AddPath(v)
            }
            _ => return None,
        };
        // Value-less capabilities with a value, or trailing bytes: keep raw.
        r.is_empty().then_some(cap)
    }

    /// Appends code, length and value.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.code().into());
        let len_at = out.len();
        out.push(0);
        match self {
            Capability::Multiprotocol(f) => {
                out.extend_from_slice(&u16::from(f.afi).to_be_bytes());
                out.push(0);
                out.push(f.safi.into());
            }
            Capability::RouteRefresh
            | Capability::RouteRefreshCisco
            | Capability::EnhancedRouteRefresh
            | Capability::ExtendedMessage => {}
            Capability::FourOctetAs(asn) => out.extend_from_slice(&asn.to_be_bytes()),
            Capability::GracefulRestart(gr) => {
                let word = (u16::from(gr.flags & 0x0f) << 12) | (gr.restart_time & 0x0fff);
                out.extend_from_slice(&word.to_be_bytes());
                for (f, flags) in &gr.families {
                    out.extend_from_slice(&u16::from(f.afi).to_be_bytes());
                    out.push(f.safi.into());
                    out.push(*flags);
                }
            }
            Capability::AddPath(v) => {
                for e in v {
                    out.extend_from_slice(&u16::from(e.family.afi).to_be_bytes());
                    out.push(e.family.safi.into());
                    out.push(e.send_receive);
                }
            }
            Capability::Unknown { value, .. } => out.extend_from_slice(value),
        }
        let len = out.len() - len_at - 1;
        // Values are bounded by construction except Unknown/GR/AddPath; clamp to one octet.
        out[len_at] = len.min(255) as u8;
        if len > 255 {
            out.truncate(len_at + 1 + 255);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(bytes: &[u8]) -> Capability {
        let cap = Capability::decode(bytes[0], &bytes[2..]);
        let mut out = Vec::new();
        cap.encode(&mut out);
        assert_eq!(out, bytes);
        cap
    }

    #[test]
    fn known_capabilities() {
        assert_eq!(
            rt(&[1, 4, 0, 2, 0, 1]),
            Capability::Multiprotocol(Family::IPV6_UNICAST)
        );
        assert_eq!(rt(&[2, 0]), Capability::RouteRefresh);
        assert_eq!(rt(&[128, 0]), Capability::RouteRefreshCisco);
        assert_eq!(rt(&[70, 0]), Capability::EnhancedRouteRefresh);
        assert_eq!(rt(&[6, 0]), Capability::ExtendedMessage);
        assert_eq!(rt(&[65, 4, 0, 1, 0, 0]), Capability::FourOctetAs(65536));
        let gr = rt(&[64, 6, 0x40, 0x78, 0, 1, 1, 0x80]);
        assert_eq!(
            gr,
            Capability::GracefulRestart(GracefulRestart {
                flags: 4,
                restart_time: 120,
                families: vec![(Family::IPV4_UNICAST, 0x80)]
            })
        );
    }

    #[test]
    fn graceful_restart_flags_and_families() {
        // R and N set, 4095 s, IPv4 with F, IPv6 without F; reserved bits of the per-family
        // flags are kept.
        let bytes = [64, 10, 0xcf, 0xff, 0, 1, 1, 0x80, 0, 2, 1, 0x01];
        let Capability::GracefulRestart(gr) = rt(&bytes) else {
            panic!("not decoded as Graceful Restart");
        };
        assert!(gr.restart_state() && gr.notification());
        assert_eq!(gr.restart_time, GracefulRestart::MAX_RESTART_TIME);
        assert!(gr.forwarding_preserved(Family::IPV4_UNICAST));
        assert!(!gr.forwarding_preserved(Family::IPV6_UNICAST));
        assert_eq!(
            gr.families().collect::<Vec<_>>(),
            [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        );
        // Helper-only form (no flags, no families) and a truncated family entry (kept raw).
        let Capability::GracefulRestart(helper) = rt(&[64, 2, 0, 0]) else {
            panic!("not decoded as Graceful Restart");
        };
        assert!(!helper.restart_state() && !helper.notification());
        assert_eq!(helper.families().count(), 0);
        assert_eq!(
            rt(&[64, 4, 0x40, 0x78, 0, 1]),
            Capability::Unknown {
                code: 64,
                value: vec![0x40, 0x78, 0, 1]
            }
        );
    }

    #[test]
    fn malformed_and_unknown_are_kept_raw() {
        assert_eq!(
            rt(&[65, 2, 1, 2]),
            Capability::Unknown {
                code: 65,
                value: vec![1, 2]
            }
        );
        assert_eq!(
            rt(&[2, 1, 9]),
            Capability::Unknown {
                code: 2,
                value: vec![9]
            }
        );
        assert_eq!(
            rt(&[73, 3, 1, b'a', 0]),
            Capability::Unknown {
                code: 73,
                value: vec![1, b'a', 0]
            }
        );
    }
}
