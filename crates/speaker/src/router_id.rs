//! Choosing the router id: configured, else the node's IPv4 address facing the peer.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};

use ferrolb_view::NodeView;

/// The local address the kernel would use to reach `peer` (a route lookup: a UDP socket is
/// connected, which sends nothing).
pub fn local_address_towards(peer: IpAddr) -> std::io::Result<IpAddr> {
    let bind: SocketAddr = match peer {
        IpAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
        IpAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
    };
    let socket = UdpSocket::bind(bind)?;
    socket.connect(SocketAddr::new(peer, 179))?;
    Ok(socket.local_addr()?.ip())
}

/// Picks the router id of a session, in this order: the peer's `router-id`, the speaker's
/// default, the IPv4 source address, the node's IPv4 address towards the peer, the node's
/// first IPv4 InternalIP. The error says what was tried.
pub fn choose(
    configured: Option<Ipv4Addr>,
    default: Option<Ipv4Addr>,
    source: Option<IpAddr>,
    peer: IpAddr,
    node: Option<&NodeView>,
) -> Result<Ipv4Addr, String> {
    if let Some(id) = configured.or(default) {
        return Ok(id);
    }
    if let Some(IpAddr::V4(v4)) = source {
        if !v4.is_unspecified() {
            return Ok(v4);
        }
    }
    if let Ok(IpAddr::V4(v4)) = local_address_towards(peer) {
        if !v4.is_unspecified() {
            return Ok(v4);
        }
    }
    let internal = node.and_then(|n| {
        n.internal_ips().find_map(|ip| match ip {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
    });
    internal.ok_or_else(|| {
        format!(
            "no router-id for peer {peer}: none configured, no IPv4 route towards the peer and no \
             IPv4 InternalIP on the node; set router-id on the peer"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_choices() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let id: Ipv4Addr = "10.255.9.9".parse().unwrap();
        assert_eq!(choose(Some(id), None, None, peer, None), Ok(id));
        assert_eq!(choose(None, Some(id), None, peer, None), Ok(id));
        let src: IpAddr = "127.0.0.2".parse().unwrap();
        assert_eq!(
            choose(None, None, Some(src), peer, None),
            Ok("127.0.0.2".parse().unwrap())
        );
        // The route lookup towards a loopback peer gives a loopback address.
        let found = choose(None, None, None, peer, None).unwrap();
        assert!(found.is_loopback(), "{found}");
    }
}
