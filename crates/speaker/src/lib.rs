//! FerroLB speaker: which Service IPs this node announces to which peer, and the sessions that do it.

pub mod policy;
