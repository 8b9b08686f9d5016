//! Decode and encode errors. A [`DecodeError`] always carries the NOTIFICATION the RFCs require
//! the receiver to send before closing the session.

use super::iana::AttributeType;
use super::notification::{
    ErrorCode, HeaderErrorSubcode, Notification, OpenErrorSubcode, UpdateErrorSubcode,
};

/// A received message that must reset the session, with the NOTIFICATION to send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} (send NOTIFICATION {notification})")]
pub struct DecodeError {
    notification: Notification,
    reason: String,
}

impl DecodeError {
    /// Builds an error from a NOTIFICATION and a human-readable reason.
    pub fn new(notification: Notification, reason: impl Into<String>) -> Self {
        Self {
            notification,
            reason: reason.into(),
        }
    }

    pub(crate) fn header(
        sub: HeaderErrorSubcode,
        data: Vec<u8>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(
            Notification::new(ErrorCode::MessageHeader, sub, data),
            reason,
        )
    }

    pub(crate) fn open(sub: OpenErrorSubcode, data: Vec<u8>, reason: impl Into<String>) -> Self {
        Self::new(Notification::new(ErrorCode::OpenMessage, sub, data), reason)
    }

    pub(crate) fn update(
        sub: UpdateErrorSubcode,
        data: Vec<u8>,
        reason: impl Into<String>,
    ) -> Self {
        Self::new(
            Notification::new(ErrorCode::UpdateMessage, sub, data),
            reason,
        )
    }

    /// The NOTIFICATION to send to the peer (code, subcode, data).
    pub fn notification(&self) -> &Notification {
        &self.notification
    }

    /// Why the message was rejected, for logs.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A message that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The encoded message would exceed the maximum message size of the context.
    #[error("message of {len} octets exceeds the maximum of {max}")]
    TooLong {
        /// Encoded length.
        len: usize,
        /// Allowed maximum.
        max: usize,
    },
    /// A field does not fit its wire encoding.
    #[error("{field} does not fit: {detail}")]
    FieldOverflow {
        /// The field.
        field: &'static str,
        /// What went wrong.
        detail: String,
    },
    /// Prefix and next hop are of different address families, or a next hop is missing.
    #[error("next hop {next_hop} cannot be used for prefix {prefix}")]
    NextHopFamily {
        /// The prefix.
        prefix: String,
        /// The next hop.
        next_hop: String,
    },
}

/// One malformed path attribute handled per RFC 7606 without resetting the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributeError {
    /// The attribute's type code.
    pub attribute: AttributeType,
    /// The UPDATE Message Error subcode that names the error (used when the error resets
    /// the session, RFC 7606 §5.2).
    pub subcode: UpdateErrorSubcode,
    /// What was wrong with it.
    pub reason: String,
}

impl std::fmt::Display for AttributeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "attribute {:?}: {}", self.attribute, self.reason)
    }
}

/// The RFC 7606 outcome of decoding an UPDATE whose errors did not require a session reset
/// (those are returned as [`DecodeError`] instead).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum UpdateVerdict {
    /// The UPDATE is well-formed.
    #[default]
    Ok,
    /// Some attributes were malformed and have been removed ("attribute discard",
    /// RFC 7606 §2); the routes are still valid.
    AttributeDiscard(Vec<AttributeError>),
    /// The UPDATE is malformed in a way that makes its routes unusable: every prefix it
    /// announces must be handled as withdrawn ("treat-as-withdraw", RFC 7606 §2). See
    /// `Update::withdrawn_prefixes`.
    TreatAsWithdraw(Vec<AttributeError>),
}
