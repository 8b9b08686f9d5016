//! BGP wire codec: framing, messages, capabilities, path attributes (RFC 4271 and extensions).
