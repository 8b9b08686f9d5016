//! A small in-memory Kubernetes API server speaking the real HTTP list/watch/patch protocol.
