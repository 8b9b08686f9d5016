//! Building blocks of the announce benchmark (`bench-announce`): the prefix pool, an MRT writer
//! for GoBGP preloading, and a pcap reader that turns a capture into a BGP message timeline.

pub mod mrt;
pub mod pcap;
pub mod prefixes;
