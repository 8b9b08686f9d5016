//! The tokio driver: sockets, socket options (MD5, TTL/GTSM), timers, and the [`Speaker`]
//! handle.
//!
//! Each peer runs in its own task: it owns the sans-IO [`Session`](crate::session::Session),
//! the peer's [`RibOut`](crate::rib_out::RibOut), and up to two TCP connections (outbound and
//! inbound during a collision), each with a reader and a writer task. Timers come from
//! `Session::next_deadline`. Once Established, the Adj-RIB-Out stream is written in large
//! batches while the socket keeps up. See docs/bgp-driver.md.

mod adj_rib_in;
mod config;
mod conn;
mod peer;
pub mod sockopt;
mod speaker;
mod status;

pub use adj_rib_in::ReceivedRoute;
pub use config::{Password, PasswordError, PeerConfig};
pub use speaker::{DriverError, Speaker};
pub use status::{Direction, FamilyCounts, GracefulRestartStatus, PeerError, PeerStatus};

pub use crate::session::State;
