//! A minimal MRT TABLE_DUMP_V2 writer (RFC 6396) for `gobgp mrt inject global`: one peer,
//! IPv4 unicast /32s with ORIGIN IGP, an empty AS_PATH and one NEXT_HOP.

use std::net::Ipv4Addr;

const TABLE_DUMP_V2: u16 = 13;
const PEER_INDEX_TABLE: u16 = 1;
const RIB_IPV4_UNICAST: u16 = 2;

fn record(out: &mut Vec<u8>, timestamp: u32, subtype: u16, body: &[u8]) {
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&TABLE_DUMP_V2.to_be_bytes());
    out.extend_from_slice(&subtype.to_be_bytes());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

/// The MRT bytes for `routes` (host routes), learned from one peer `peer`/`peer_as` with next
/// hop `next_hop`. `pad` appends that many copies of the last route: Debian's gobgp 3.10 CLI
/// exits before its gRPC stream is drained and loses the tail, so only duplicates get lost.
pub fn table_dump(
    routes: &[Ipv4Addr],
    peer: Ipv4Addr,
    peer_as: u32,
    next_hop: Ipv4Addr,
    pad: usize,
) -> Vec<u8> {
    let ts = 1_700_000_000u32;
    let mut out = Vec::with_capacity(routes.len() * 40 + 64);
    // PEER_INDEX_TABLE: collector id, view name length 0, peer count 1,
    // peer: type 0x02 (IPv4 address, 4-octet AS), BGP id, address, AS
    let mut pit = Vec::new();
    pit.extend_from_slice(&peer.octets());
    pit.extend_from_slice(&0u16.to_be_bytes());
    pit.extend_from_slice(&1u16.to_be_bytes());
    pit.push(0x02);
    pit.extend_from_slice(&peer.octets());
    pit.extend_from_slice(&peer.octets());
    pit.extend_from_slice(&peer_as.to_be_bytes());
    record(&mut out, ts, PEER_INDEX_TABLE, &pit);
    // attributes: ORIGIN IGP, AS_PATH empty, NEXT_HOP (well-known transitive: flags 0x40)
    let mut attrs = vec![0x40, 1, 1, 0, 0x40, 2, 0, 0x40, 3, 4];
    attrs.extend_from_slice(&next_hop.octets());
    let last = routes.last().copied();
    let padded = routes
        .iter()
        .copied()
        .chain(
            last.into_iter()
                .cycle()
                .take(if last.is_some() { pad } else { 0 }),
        );
    for (seq, prefix) in padded.enumerate() {
        let mut body = Vec::with_capacity(32);
        body.extend_from_slice(&(seq as u32).to_be_bytes());
        body.push(32);
        body.extend_from_slice(&prefix.octets());
        body.extend_from_slice(&1u16.to_be_bytes()); // entry count
        body.extend_from_slice(&0u16.to_be_bytes()); // peer index
        body.extend_from_slice(&ts.to_be_bytes()); // originated time
        body.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        body.extend_from_slice(&attrs);
        record(&mut out, ts, RIB_IPV4_UNICAST, &body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_one_route() {
        let a = Ipv4Addr::new(10, 255, 0, 2);
        let b = table_dump(&[Ipv4Addr::new(10, 244, 0, 1)], a, 65001, a, 2);
        // header 12 + PIT 4+2+2+1+4+4+4 = 21; then 3 RIB records of 12 + 4+1+4+2+2+4+2+14 = 45
        assert_eq!(b.len(), 12 + 21 + 3 * 45);
        assert_eq!(&b[4..8], &[0, 13, 0, 1]);
        let rib = &b[33..];
        assert_eq!(&rib[4..8], &[0, 13, 0, 2]);
        assert_eq!(&rib[12 + 4..12 + 9], &[32, 10, 244, 0, 1]);
    }
}
