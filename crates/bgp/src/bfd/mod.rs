//! BFD, Bidirectional Forwarding Detection (RFC 5880, single-hop RFC 5881, multi-hop RFC 5883),
//! in the same shape as [`crate::session`]: a codec (`packet`), a pure state machine with time
//! passed in ([`BfdSession`]: `handle(now, input) -> outputs`, `next_deadline()`), and a thin
//! tokio driver ([`Bfd`]) that owns the sockets.
//!
//! ```text
//! driver                                 BfdSession
//!   │ new(now, config, discr, seed) ───► Down, first packet due at `now` (1 s rate until Up)
//!   │ handle(now, Received(packet)) ───► state table of RFC 5880 §6.8.6, Final owed to a Poll
//!   │ handle(now, Tick) at next_deadline() ► periodic packets with jitter, detection time
//!   │ handle(now, SetTimers(t)) ───────► Poll Sequence while Up (§6.8.3)
//! ```
//!
//! Implemented: asynchronous mode, the slow 1 s rate until Up, jitter, Poll/Final, detection
//! time, diagnostics, AdminDown, the passive role, IPv4 and IPv6. Not implemented: Demand mode,
//! the Echo function, authentication (a packet with the A bit is discarded). BFD keeps its own
//! types and never touches the BGP session: a user of both (the speaker, `ferrolb announce`)
//! couples them through [`SessionHandle::subscribe`].

mod config;
mod coupling;
mod driver;
mod follow;
mod fsm;
mod packet;
mod sockopt;
mod types;

pub use config::{BfdConfig, ConfigError, Timers};
pub use coupling::{admin_down, decide, Action, Coupling};
pub use driver::{Bfd, DriverError, Hop, PeerSpec, SessionHandle, MULTI_HOP_PORT, SINGLE_HOP_PORT};
pub use follow::{follow, CoupledPeer, Start, START_WAIT};
pub use fsm::BfdSession;
pub use packet::{ControlPacket, DecodeError, Diag, State, CONTROL_LEN, VERSION};
pub use types::{Counters, Input, Output, Status};
