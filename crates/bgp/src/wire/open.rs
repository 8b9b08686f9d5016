//! OPEN message (RFC 4271 §4.2) with optional parameters (RFC 5492) and the extended optional
//! parameters length (RFC 9072).

use super::capability::Capability;
use super::error::{DecodeError, EncodeError};
use super::iana::{Family, OptionalParameterType, AS_TRANS};
use super::notification::OpenErrorSubcode;
use super::reader::Reader;
use std::net::Ipv4Addr;

/// The BGP version this library speaks.
pub const BGP_VERSION: u8 = 4;

/// An OPEN message.
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+
/// |    Version    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     My Autonomous System      |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |           Hold Time           |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |                         BGP Identifier                        |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Opt Parm Len  |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |             Optional Parameters (variable)                    |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Optional parameter: Parm. Type (1) | Parm. Length (1) | Parm. Value (variable)
///
/// RFC 9072 extended form: Opt Parm Len = 255, then Non-Ext OP Type = 255,
/// Extended Opt. Parm. Length (2), and each parameter has a 2-octet length.
/// ```
///
/// Only the Capabilities parameter (type 2) is supported; any other parameter type is an
/// OPEN Message Error/Unsupported Optional Parameter (2/4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Protocol version (4).
    pub version: u8,
    /// My Autonomous System: the 2-octet AS, or AS_TRANS (23456) for a 4-octet AS.
    pub my_as: u16,
    /// Proposed hold time in seconds (0 or at least 3).
    pub hold_time: u16,
    /// BGP Identifier (router id).
    pub bgp_identifier: Ipv4Addr,
    /// All capabilities, in wire order.
    pub capabilities: Vec<Capability>,
    /// How capabilities were grouped into optional parameters on the wire (for byte-identical
    /// re-encoding). Ignored by equality; the default puts each capability in its own parameter.
    pub layout: OpenLayout,
}

/// Grouping of capabilities into optional parameters. Compares always equal.
#[derive(Debug, Clone, Default, Eq)]
pub struct OpenLayout {
    /// Number of capabilities in each Capabilities parameter, in order.
    pub per_parameter: Vec<usize>,
    /// The RFC 9072 extended format was used.
    pub extended: bool,
}

impl PartialEq for OpenLayout {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Open {
    /// Builds an OPEN for `local_as` (AS_TRANS goes in My AS when it needs 4 octets; add a
    /// [`Capability::FourOctetAs`] yourself).
    pub fn new(
        local_as: u32,
        hold_time: u16,
        bgp_identifier: Ipv4Addr,
        capabilities: Vec<Capability>,
    ) -> Self {
        let my_as = u16::try_from(local_as).unwrap_or(AS_TRANS as u16);
        Self {
            version: BGP_VERSION,
            my_as,
            hold_time,
            bgp_identifier,
            capabilities,
            layout: OpenLayout::default(),
        }
    }

    /// The AS from the 4-octet AS capability, if present.
    pub fn four_octet_as(&self) -> Option<u32> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::FourOctetAs(a) => Some(*a),
            _ => None,
        })
    }

    /// The speaker's AS: the 4-octet capability's value if present, else My AS.
    pub fn asn(&self) -> u32 {
        self.four_octet_as().unwrap_or(u32::from(self.my_as))
    }

    /// Families from the Multiprotocol capabilities.
    pub fn families(&self) -> Vec<Family> {
        self.capabilities
            .iter()
            .filter_map(|c| match c {
                Capability::Multiprotocol(f) => Some(*f),
                _ => None,
            })
            .collect()
    }

    /// Whether any capability matches the predicate.
    pub fn has(&self, pred: impl Fn(&Capability) -> bool) -> bool {
        self.capabilities.iter().any(pred)
    }

    pub(crate) fn decode_body(body: &[u8]) -> Result<Self, DecodeError> {
        let malformed = |what: &str| {
            DecodeError::open(
                OpenErrorSubcode::Unspecific,
                Vec::new(),
                format!("malformed OPEN: {what}"),
            )
        };
        let mut r = Reader::new(body);
        let version = r.u8().ok_or_else(|| malformed("no version"))?;
        if version != BGP_VERSION {
            return Err(DecodeError::open(
                OpenErrorSubcode::UnsupportedVersionNumber,
                u16::from(BGP_VERSION).to_be_bytes().to_vec(),
                format!("unsupported BGP version {version}"),
            ));
        }
        let my_as = r.u16().ok_or_else(|| malformed("truncated"))?;
        let hold_time = r.u16().ok_or_else(|| malformed("truncated"))?;
        let id = r.array::<4>().ok_or_else(|| malformed("truncated"))?;
        let opt_len = r.u8().ok_or_else(|| malformed("truncated"))?;
        let mut layout = OpenLayout::default();
        let mut capabilities = Vec::new();
        // RFC 9072: Non-Ext OP Type 255 marks the extended format.
        let extended = opt_len != 0 && r.clone().u8() == Some(255);
        let params = if extended {
            r.u8();
            let len = r
                .u16()
                .ok_or_else(|| malformed("truncated extended parameters length"))?;
            layout.extended = true;
            r.take(len as usize)
                .ok_or_else(|| malformed("optional parameters overrun"))?
        } else {
            r.take(opt_len as usize)
                .ok_or_else(|| malformed("optional parameters overrun"))?
        };
        if !r.is_empty() {
            return Err(malformed("trailing octets after optional parameters"));
        }
        let mut p = Reader::new(params);
        while !p.is_empty() {
            let ptype = p.u8().ok_or_else(|| malformed("truncated parameter"))?;
            let plen = if extended {
                p.u16().map(usize::from)
            } else {
                p.u8().map(usize::from)
            }
            .ok_or_else(|| malformed("truncated parameter length"))?;
            let value = p
                .take(plen)
                .ok_or_else(|| malformed("parameter overruns"))?;
            if OptionalParameterType::from(ptype) != OptionalParameterType::Capabilities {
                return Err(DecodeError::open(
                    OpenErrorSubcode::UnsupportedOptionalParameter,
                    Vec::new(),
                    format!("unsupported optional parameter type {ptype}"),
                ));
            }
            let mut c = Reader::new(value);
            let mut count = 0;
            while !c.is_empty() {
                let code = c.u8().ok_or_else(|| malformed("truncated capability"))?;
                let clen = c.u8().ok_or_else(|| malformed("truncated capability"))?;
                let cval = c
                    .take(clen as usize)
                    .ok_or_else(|| malformed("capability overruns"))?;
                capabilities.push(Capability::decode(code, cval));
                count += 1;
            }
            layout.per_parameter.push(count);
        }
        Ok(Open {
            version,
            my_as,
            hold_time,
            bgp_identifier: Ipv4Addr::from(id),
            capabilities,
            layout,
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        out.push(self.version);
        out.extend_from_slice(&self.my_as.to_be_bytes());
        out.extend_from_slice(&self.hold_time.to_be_bytes());
        out.extend_from_slice(&self.bgp_identifier.octets());
        // Group capabilities per the layout (if it fits the capability count), else one each.
        let total: usize = self.layout.per_parameter.iter().sum();
        let groups: Vec<usize> =
            if total == self.capabilities.len() && !self.layout.per_parameter.is_empty() {
                self.layout.per_parameter.clone()
            } else {
                vec![1; self.capabilities.len()]
            };
        let mut params: Vec<Vec<u8>> = Vec::with_capacity(groups.len());
        let mut caps = self.capabilities.iter();
        for n in groups {
            let mut v = Vec::new();
            for cap in caps.by_ref().take(n) {
                cap.encode(&mut v);
            }
            params.push(v);
        }
        let short_len: usize = params.iter().map(|p| 2 + p.len()).sum();
        let extended =
            self.layout.extended || short_len > 255 || params.iter().any(|p| p.len() > 255);
        if extended {
            let ext_len: usize = params.iter().map(|p| 3 + p.len()).sum();
            let ext_len = u16::try_from(ext_len).map_err(|_| EncodeError::FieldOverflow {
                field: "OPEN optional parameters",
                detail: format!("{ext_len} octets"),
            })?;
            out.push(255);
            out.push(255);
            out.extend_from_slice(&ext_len.to_be_bytes());
            for p in &params {
                out.push(OptionalParameterType::Capabilities.into());
                out.extend_from_slice(&(p.len() as u16).to_be_bytes());
                out.extend_from_slice(p);
            }
        } else {
            out.push(short_len as u8);
            for p in &params {
                out.push(OptionalParameterType::Capabilities.into());
                out.push(p.len() as u8);
                out.extend_from_slice(p);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_version_carries_our_version() {
        let err = Open::decode_body(&[3, 0, 1, 0, 90, 1, 1, 1, 1, 0]).unwrap_err();
        let n = err.notification();
        assert_eq!((n.code, n.subcode, n.data.clone()), (2, 1, vec![0, 4]));
    }

    #[test]
    fn unsupported_optional_parameter() {
        let err = Open::decode_body(&[4, 0, 1, 0, 90, 1, 1, 1, 1, 3, 1, 1, 0]).unwrap_err();
        assert_eq!(
            (err.notification().code, err.notification().subcode),
            (2, 4)
        );
    }

    #[test]
    fn extended_parameters_round_trip() {
        let body = [
            4, 0xfd, 0xe9, 0, 90, 1, 1, 1, 1, 255, 255, 0, 5, 2, 0, 2, 2, 0,
        ];
        let open = Open::decode_body(&body).unwrap();
        assert_eq!(open.capabilities, vec![Capability::RouteRefresh]);
        assert!(open.layout.extended);
        let mut out = Vec::new();
        open.encode_body(&mut out).unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn as_trans_for_four_octet_as() {
        let o = Open::new(
            4_200_000_000,
            90,
            Ipv4Addr::new(1, 1, 1, 1),
            vec![Capability::FourOctetAs(4_200_000_000)],
        );
        assert_eq!(o.my_as, 23456);
        assert_eq!(o.asn(), 4_200_000_000);
    }
}
