//! The RFC 4271 session FSM as a pure state machine: time is passed in, outputs are returned.
//!
//! ```text
//! driver                              Session
//!   │ handle(now, ManualStart) ────────► Idle → Connect: Output::Connect(conn)
//!   │ (TCP connect succeeds)
//!   │ handle(now, TcpConnectionAcknowledged(conn)) ► Send(OPEN), OpenSent
//!   │ handle(now, BytesReceived(conn, ..)) ► peer OPEN ok: Send(KEEPALIVE), OpenConfirm
//!   │ handle(now, BytesReceived(conn, ..)) ► KEEPALIVE: Established(Negotiated)
//!   │ handle(now, Tick) at next_deadline() ► keepalives, hold timer, retries
//! ```
//!
//! No I/O, no clock, no tokio: tests drive it with simulated `Instant`s.

mod config;
mod fsm;
mod jitter;
mod malformed_log;
mod negotiate;
mod received;
mod types;

pub use config::{ConfigError, RetuneError, SessionConfig, DEFAULT_MAX_PREFIXES};
pub use fsm::Session;
pub use types::{ConnId, Counters, DownReason, Input, Negotiated, Output, State, UpdateSummary};
