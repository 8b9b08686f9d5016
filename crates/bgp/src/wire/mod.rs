//! BGP wire codec: framing, messages, capabilities, path attributes (RFC 4271 and extensions).
//!
//! Pure code: no I/O. Framing ([`frame_len`], [`check_header`]) is separate from decoding
//! ([`Message::decode`]). Decoding takes a [`DecodeContext`] with what the session negotiated.
//! A [`DecodeError`] carries the NOTIFICATION to send; UPDATE attribute errors that do not
//! need a session reset are reported in [`Update::verdict`] per RFC 7606.
//!
//! Building UPDATEs: [`pack_announce`] / [`pack_withdraw`] pack prefixes sharing attributes
//! into as few messages as fit the maximum message size; [`end_of_rib`] gives the marker.

pub mod attributes;
mod capability;
mod error;
mod header;
pub mod iana;
mod nlri;
mod notification;
mod open;
pub(crate) mod pack;
mod reader;
mod route_refresh;
mod update;

pub use attributes::{
    parse_rate, Aggregator, AsPath, AsSegment, Community, ExtendedCommunity, LargeCommunity,
    LinkBandwidth, MpReach, MpUnreach, NextHop, Origin, ParseRateError, PathAttributes,
    RawAttribute, SegmentKind,
};
pub use capability::{AddPathFamily, Capability, GracefulRestart};
pub use error::{AttributeError, DecodeError, EncodeError, UpdateVerdict};
pub use header::{
    check_header, frame_len, HEADER_LEN, MARKER, MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN,
};
pub use iana::{Afi, AttributeType, CapabilityCode, Family, MessageType, Safi, AS_TRANS};
pub use nlri::{encode_prefix, prefix_encoded_len};
pub use notification::{
    CeaseSubcode, ErrorCode, FsmErrorSubcode, HeaderErrorSubcode, Notification, OpenErrorSubcode,
    RouteRefreshErrorSubcode, UpdateErrorSubcode, MAX_SHUTDOWN_MESSAGE_LEN,
};
pub use open::{Open, OpenLayout, BGP_VERSION};
pub use pack::{end_of_rib, pack_announce, pack_withdraw};
pub use route_refresh::{RouteRefresh, RouteRefreshSubtype};
pub use update::Update;

use header::{begin_message, finish_message, validate_header};

/// What the session negotiated, needed to decode and encode messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecodeContext {
    /// Both sides advertised the 4-octet AS capability (RFC 6793): AS_PATH and AGGREGATOR
    /// carry 4-octet ASes. Otherwise 2-octet ASes plus AS4_PATH/AS4_AGGREGATOR.
    pub four_octet_as: bool,
    /// Both sides advertised Extended Message (RFC 8654): messages up to 65535 octets.
    pub extended_message: bool,
}

/// Encoding uses the same context as decoding.
pub type EncodeContext = DecodeContext;

impl DecodeContext {
    /// Context after negotiation.
    pub fn new(four_octet_as: bool, extended_message: bool) -> Self {
        Self {
            four_octet_as,
            extended_message,
        }
    }

    /// Maximum message length: 4096, or 65535 with Extended Message.
    pub fn max_message_len(&self) -> usize {
        if self.extended_message {
            MAX_EXTENDED_MESSAGE_LEN
        } else {
            MAX_MESSAGE_LEN
        }
    }
}

/// A BGP message.
// UPDATE dominates the size; messages are moved, not stored in bulk, so no boxing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// OPEN (type 1).
    Open(Open),
    /// UPDATE (type 2).
    Update(Update),
    /// NOTIFICATION (type 3).
    Notification(Notification),
    /// KEEPALIVE (type 4): header only.
    Keepalive,
    /// ROUTE-REFRESH (type 5), incl. RFC 7313 BoRR/EoRR.
    RouteRefresh(RouteRefresh),
}

impl Message {
    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Open(_) => MessageType::Open,
            Message::Update(_) => MessageType::Update,
            Message::Notification(_) => MessageType::Notification,
            Message::Keepalive => MessageType::Keepalive,
            Message::RouteRefresh(_) => MessageType::RouteRefresh,
        }
    }

    /// Decodes one complete message (`frame` is exactly one message, as delimited by
    /// [`frame_len`]). Errors carry the NOTIFICATION to send.
    pub fn decode(frame: &[u8], ctx: &DecodeContext) -> Result<Message, DecodeError> {
        let len = validate_header(frame, ctx)?;
        if len != frame.len() {
            return Err(DecodeError::header(
                HeaderErrorSubcode::BadMessageLength,
                frame[16..18].to_vec(),
                format!("length field {len} but frame of {} octets", frame.len()),
            ));
        }
        let msg_type = frame[18];
        let body = &frame[HEADER_LEN..];
        let bad_len = |min: usize| {
            DecodeError::header(
                HeaderErrorSubcode::BadMessageLength,
                frame[16..18].to_vec(),
                format!("length {len} invalid for message type {msg_type} (minimum {min})"),
            )
        };
        match MessageType::from(msg_type) {
            MessageType::Open => {
                if len < 29 {
                    return Err(bad_len(29));
                }
                Open::decode_body(body).map(Message::Open)
            }
            MessageType::Update => {
                if len < 23 {
                    return Err(bad_len(23));
                }
                Update::decode_body(body, ctx).map(Message::Update)
            }
            MessageType::Notification => Notification::decode_body(body)
                .map(Message::Notification)
                .ok_or_else(|| bad_len(21)),
            MessageType::Keepalive => {
                if len != HEADER_LEN {
                    return Err(bad_len(HEADER_LEN));
                }
                Ok(Message::Keepalive)
            }
            MessageType::RouteRefresh => RouteRefresh::decode_body(body)
                .map(Message::RouteRefresh)
                .ok_or_else(|| {
                    DecodeError::new(
                        Notification::new(
                            ErrorCode::RouteRefresh,
                            RouteRefreshErrorSubcode::InvalidMessageLength,
                            frame.to_vec(),
                        ),
                        format!("ROUTE-REFRESH of length {len}, expected 23"),
                    )
                }),
            MessageType::Unknown(t) => Err(DecodeError::header(
                HeaderErrorSubcode::BadMessageType,
                vec![t],
                format!("unknown message type {t}"),
            )),
        }
    }

    /// Encodes the message with its header. Fails if it would exceed the maximum size.
    pub fn encode(&self, ctx: &DecodeContext) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode_into(&mut out, ctx)?;
        Ok(out)
    }

    /// Appends the encoded message to `out` (on error, `out` is left as it was).
    pub fn encode_into(&self, out: &mut Vec<u8>, ctx: &DecodeContext) -> Result<(), EncodeError> {
        let before = out.len();
        let start = begin_message(out, self.message_type().into());
        let res = match self {
            Message::Open(o) => o.encode_body(out),
            Message::Update(u) => u.encode_body(out, ctx),
            Message::Notification(n) => {
                n.encode_body(out);
                Ok(())
            }
            Message::Keepalive => Ok(()),
            Message::RouteRefresh(r) => {
                r.encode_body(out);
                Ok(())
            }
        }
        .and_then(|()| finish_message(out, start, ctx.max_message_len()));
        if res.is_err() {
            out.truncate(before);
        }
        res
    }
}

#[cfg(test)]
mod tests;
