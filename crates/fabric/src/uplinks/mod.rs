//! The uplink manager: keeps the node's default route right across several uplinks.

/// The `rtm_protocol` number on every route the uplink manager installs (0xf1 = 241); it only
/// ever changes or deletes routes carrying this number.
pub const ROUTE_PROTOCOL: u8 = 0xf1;
