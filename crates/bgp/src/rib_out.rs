//! Adj-RIB-Out: desired routes vs what was sent -> the fewest UPDATE messages.
