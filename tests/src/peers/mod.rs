//! Real BGP peers started inside a network namespace: FRR 8.4, BIRD 2, GoBGP 3, ExaBGP 4.
//! Each keeps its config, sockets, logs and pid files in its own scratch directory and is stopped
//! by PID on drop.

pub mod bird;
pub mod exabgp;
pub mod frr;
pub mod gobgp;

pub use bird::{Bird, BirdConfig, BirdNeighbor};
pub use exabgp::{ExaBgp, ExaBgpConfig};
pub use frr::{Frr, FrrConfig, FrrNeighbor};
pub use gobgp::{GoBgp, GoBgpConfig, GoBgpNeighbor};
