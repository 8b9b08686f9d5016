//! The tokio driver: sockets, socket options (MD5, TTL/GTSM), timers, and the `Speaker` handle.

pub mod sockopt;
