//! Shared support for the end-to-end tests: network namespaces, real BGP peers (FRR, BIRD, GoBGP,
//! ExaBGP), the `ferrolb` binary, bounded waits and process cleanup by PID.
//!
//! Everything here runs only inside network namespaces the caller creates with [`netns::Netns`];
//! addresses come from 10.255.0.0/16 and fd00:255::/48 (links). Every guard cleans up on drop,
//! also when the test panics. Functions panic with a clear message on set-up failures: they are
//! test support, and a failed set-up is a failed test.

pub mod announce;
pub mod bench;
pub mod cluster;
pub mod env;
pub mod failure_detection;
pub mod flow_spread;
pub mod netns;
pub mod ns_api;
pub mod peers;
pub mod privileges;
pub mod process;
pub mod route_sampler;
pub mod route_weights;
pub mod scratch;
pub mod speaker;
pub mod udp_flow;
pub mod wait;

pub use env::{e2e_required, ferrolb_bin, require_binary, require_root};
pub use netns::{router_with_nodes, veth, Link, Netns};
pub use process::ChildGuard;
pub use scratch::ScratchDir;
pub use wait::{wait_until, wait_until_opt};
