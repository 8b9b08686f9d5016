//! Rules between `peers[]` entries: what makes two entries the same session.
//!
//! FerroLB identifies a peer by its address: the BGP driver hands an inbound connection to the
//! session of its source address and sets TCP MD5 keys per address, and a node opens one session
//! per address. So one address may have only one `peer-port`. Entries written the same after
//! defaults (MetalLB v0.12 compares the parsed peers) are rejected as duplicates.

use std::net::IpAddr;

use super::tree::{index, join, Ctx};
use crate::model::Peer;

/// Checks `peers` (each with its index in `peers[]`) against each other.
pub(crate) fn check(ctx: &mut Ctx, peers: &[(usize, Peer)]) {
    for (n, (j, peer)) in peers.iter().enumerate() {
        let earlier = &peers[..n];
        if let Some((i, _)) = earlier.iter().find(|(_, p)| p == peer) {
            // No value: the entry may hold a password.
            ctx.error(
                &index("peers", *j),
                None,
                format!("identical to peers[{i}] (after defaults); remove the duplicate"),
            );
            continue;
        }
        let address = canonical(peer.address);
        if let Some((i, other)) = earlier
            .iter()
            .find(|(_, p)| canonical(p.address) == address && p.port != peer.port)
        {
            ctx.error_text(
                &join(&index("peers", *j), "peer-port"),
                &peer.port.to_string(),
                format!(
                    "peers[{i}] has the same peer-address {address} with port {}; FerroLB \
                     identifies a peer by its address, so all entries for {address} must use \
                     one port",
                    other.port
                ),
            );
        }
    }
}

/// The address as the BGP driver keys it (an IPv4-mapped IPv6 address is the IPv4 address).
fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}
