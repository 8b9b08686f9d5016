//! Errors of the fabric library.

/// What can go wrong while reading or changing the node's network.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Opening a netlink socket failed.
    #[error("cannot open a netlink socket ({what}): {source}")]
    Socket {
        /// Which socket (rtnetlink, ctnetlink, multicast).
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// The kernel answered a netlink request with an error or the request could not be sent.
    #[error("netlink request {what} failed: {detail}")]
    Netlink {
        /// The request (e.g. "dump routes").
        what: String,
        /// The kernel's or the library's message.
        detail: String,
    },
    /// A configuration value is invalid.
    #[error("invalid {field} {value:?}: {reason}")]
    Config {
        /// The field path, e.g. `uplinks[0].gateway`.
        field: String,
        /// The value as given.
        value: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Reading a file (config, /proc, /sys) failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The process lacks capabilities a feature needs (see docs/manifests.md).
    #[error(
        "{feature} needs {missing}, missing from this process's effective capabilities \
         (a container running as a non-root user keeps none of the capabilities its manifest adds)"
    )]
    MissingCapabilities {
        /// The feature, e.g. "the uplink manager".
        feature: String,
        /// The missing capabilities, e.g. `CAP_NET_ADMIN, CAP_NET_RAW`.
        missing: String,
    },
    /// Another I/O error (sockets of the probes, the metrics endpoint).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn netlink(what: impl Into<String>, detail: impl std::fmt::Display) -> Self {
        Error::Netlink {
            what: what.into(),
            detail: detail.to_string(),
        }
    }

    pub(crate) fn config(
        field: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Config {
            field: field.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}
