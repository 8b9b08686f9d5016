//! The node network through netlink: `doctor` findings and the uplink (default route) manager.
