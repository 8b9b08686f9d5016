//! OPEN validation (RFC 4271 §6.2, RFC 6286, RFC 6793) and capability negotiation.

use super::config::SessionConfig;
use super::types::{ConnId, Negotiated};
use crate::wire::{
    Capability, DecodeError, ErrorCode, Family, Notification, Open, OpenErrorSubcode, AS_TRANS,
    MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN,
};

fn open_error(sub: OpenErrorSubcode, data: Vec<u8>, why: String) -> DecodeError {
    DecodeError::new(Notification::new(ErrorCode::OpenMessage, sub, data), why)
}

/// Checks the peer's OPEN against the configuration; the error carries the NOTIFICATION.
pub(crate) fn validate_open(cfg: &SessionConfig, open: &Open) -> Result<(), DecodeError> {
    let peer_as = open.asn();
    if peer_as != cfg.peer_as {
        let data = if open.four_octet_as().is_some() && open.my_as == AS_TRANS as u16 {
            Vec::new()
        } else {
            open.my_as.to_be_bytes().to_vec()
        };
        return Err(open_error(
            OpenErrorSubcode::BadPeerAs,
            data,
            format!("peer AS {peer_as}, expected {}", cfg.peer_as),
        ));
    }
    if open.hold_time == 1 || open.hold_time == 2 {
        return Err(open_error(
            OpenErrorSubcode::UnacceptableHoldTime,
            Vec::new(),
            format!("hold time {} (must be 0 or at least 3)", open.hold_time),
        ));
    }
    let id = open.bgp_identifier;
    // RFC 6286 §2.2: zero is invalid; equal to ours is invalid from an internal peer.
    if id.is_unspecified() || (id == cfg.router_id && cfg.is_ibgp()) {
        return Err(open_error(
            OpenErrorSubcode::BadBgpIdentifier,
            Vec::new(),
            format!("BGP identifier {id}"),
        ));
    }
    Ok(())
}

/// Negotiates the session parameters from both OPENs.
pub(crate) fn negotiate(cfg: &SessionConfig, conn: ConnId, peer: &Open) -> Negotiated {
    let mut peer_families = peer.families();
    if !peer.has(|c| matches!(c, Capability::Multiprotocol(_))) {
        peer_families.push(Family::IPV4_UNICAST);
    }
    let families = cfg
        .families
        .iter()
        .copied()
        .filter(|f| peer_families.contains(f))
        .collect();
    let four_octet_as = cfg.four_octet_as && peer.four_octet_as().is_some();
    let extended_message = cfg.extended_message && peer.has(|c| *c == Capability::ExtendedMessage);
    let hold_time = cfg.hold_time.min(peer.hold_time);
    let keepalive = if hold_time == 0 {
        0
    } else {
        cfg.keepalive
            .unwrap_or(hold_time / 3)
            .min(hold_time / 3)
            .max(1)
    };
    let peer_graceful_restart = peer.capabilities.iter().find_map(|c| match c {
        Capability::GracefulRestart(gr) => Some(gr.clone()),
        _ => None,
    });
    let graceful_notification = cfg.graceful_restart
        && cfg.graceful_restart_capability().notification()
        && peer_graceful_restart
            .as_ref()
            .is_some_and(|gr| gr.notification());
    Negotiated {
        conn,
        peer_graceful_restart,
        graceful_notification,
        families,
        four_octet_as,
        extended_message,
        max_message_len: if extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        },
        hold_time,
        keepalive,
        peer_router_id: peer.bgp_identifier,
        peer_as: peer.asn(),
        peer_route_refresh: peer
            .has(|c| matches!(c, Capability::RouteRefresh | Capability::RouteRefreshCisco)),
        peer_enhanced_route_refresh: peer.has(|c| *c == Capability::EnhancedRouteRefresh),
        peer_open: peer.clone(),
    }
}
