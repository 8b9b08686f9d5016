//! BGP-4 speaker library: wire codec (`wire`), sans-IO session FSM (`session`), Adj-RIB-Out
//! (`rib_out`) and the tokio driver (`driver`). No Kubernetes dependencies.

pub mod bfd;
pub mod driver;
pub mod rib_out;
pub mod session;
pub mod wire;
