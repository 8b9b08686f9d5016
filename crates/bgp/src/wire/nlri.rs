//! NLRI prefix encoding (RFC 4271 §4.3, RFC 4760 §5): a length in bits followed by the
//! minimum number of octets holding the prefix; trailing bits are ignored.
//!
//! ```text
//! +---------------------------+
//! |   Length (1 octet, bits)  |
//! +---------------------------+
//! |   Prefix (variable)       |
//! +---------------------------+
//! ```

use super::iana::Afi;
use super::reader::Reader;
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Octets needed to encode `prefix`.
pub fn prefix_encoded_len(prefix: &IpNet) -> usize {
    1 + usize::from(prefix.prefix_len()).div_ceil(8)
}

/// Appends one prefix; host bits beyond the prefix length are cleared.
pub fn encode_prefix(out: &mut Vec<u8>, prefix: &IpNet) {
    let len = prefix.prefix_len();
    let n = usize::from(len).div_ceil(8);
    out.push(len);
    match prefix.trunc() {
        IpNet::V4(p) => out.extend_from_slice(&p.addr().octets()[..n]),
        IpNet::V6(p) => out.extend_from_slice(&p.addr().octets()[..n]),
    }
}

/// Decodes a sequence of prefixes of `afi` (IPv4 or IPv6). Prefixes are normalized (host
/// bits cleared).
pub(crate) fn decode_prefixes(buf: &[u8], afi: Afi) -> Result<Vec<IpNet>, String> {
    let max_len: u8 = match afi {
        Afi::Ipv4 => 32,
        Afi::Ipv6 => 128,
        Afi::Unknown(a) => return Err(format!("unsupported AFI {a}")),
    };
    let mut r = Reader::new(buf);
    // Each prefix takes at least one octet, so this bounds the allocation by the input size.
    let mut out = Vec::with_capacity(buf.len().min(4096));
    while !r.is_empty() {
        let len = r.u8().ok_or("truncated prefix")?;
        if len > max_len {
            return Err(format!("prefix length {len} exceeds {max_len}"));
        }
        let n = usize::from(len).div_ceil(8);
        let bytes = r
            .take(n)
            .ok_or_else(|| format!("prefix of length {len} truncated"))?;
        let net = match afi {
            Afi::Ipv4 => {
                let mut o = [0u8; 4];
                o[..n].copy_from_slice(bytes);
                Ipv4Net::new(Ipv4Addr::from(o), len).map(|p| IpNet::V4(p.trunc()))
            }
            _ => {
                let mut o = [0u8; 16];
                o[..n].copy_from_slice(bytes);
                Ipv6Net::new(Ipv6Addr::from(o), len).map(|p| IpNet::V6(p.trunc()))
            }
        }
        .map_err(|e| e.to_string())?;
        out.push(net);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_normalize() {
        let p: IpNet = "10.1.2.0/23".parse().unwrap();
        let mut v = Vec::new();
        encode_prefix(&mut v, &p);
        assert_eq!(v, [23, 10, 1, 2]);
        assert_eq!(
            decode_prefixes(&v, Afi::Ipv4).unwrap(),
            vec!["10.1.2.0/23".parse::<IpNet>().unwrap()]
        );
        let v6: IpNet = "2001:db8::/32".parse().unwrap();
        let mut v = Vec::new();
        encode_prefix(&mut v, &v6);
        assert_eq!(v, [32, 0x20, 0x01, 0x0d, 0xb8]);
        assert_eq!(prefix_encoded_len(&v6), 5);
        assert!(decode_prefixes(&[33, 1, 2, 3, 4, 5], Afi::Ipv4).is_err());
        assert!(decode_prefixes(&[24, 1, 2], Afi::Ipv4).is_err());
        assert_eq!(
            decode_prefixes(&[0], Afi::Ipv4).unwrap(),
            vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]
        );
    }
}
