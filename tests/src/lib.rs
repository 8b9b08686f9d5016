//! Shared support for the end-to-end tests: network namespaces, real BGP peers, process cleanup.
