//! The RFC 4271 session FSM as a pure state machine: time is passed in, outputs are returned.
