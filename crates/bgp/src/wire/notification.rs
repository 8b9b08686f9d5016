//! NOTIFICATION message (RFC 4271 §4.5), error codes and subcodes from the IANA registry,
//! Cease subcodes (RFC 4486, RFC 8538, RFC 9384) and the shutdown communication (RFC 9003).

use super::iana::iana_enum;
use super::reader::Reader;
use std::fmt;

iana_enum! {
    /// NOTIFICATION error codes (IANA "BGP Error (Notification) Codes").
    pub enum ErrorCode: u8 {
        /// Message Header Error (RFC 4271).
        MessageHeader = 1,
        /// OPEN Message Error (RFC 4271).
        OpenMessage = 2,
        /// UPDATE Message Error (RFC 4271).
        UpdateMessage = 3,
        /// Hold Timer Expired (RFC 4271).
        HoldTimerExpired = 4,
        /// Finite State Machine Error (RFC 4271, RFC 6608).
        FiniteStateMachine = 5,
        /// Cease (RFC 4271, RFC 4486).
        Cease = 6,
        /// ROUTE-REFRESH Message Error (RFC 7313).
        RouteRefresh = 7,
    }
}

iana_enum! {
    /// Message Header Error subcodes (RFC 4271 §6.1).
    pub enum HeaderErrorSubcode: u8 {
        /// Unspecific.
        Unspecific = 0,
        /// Connection Not Synchronized (bad marker).
        ConnectionNotSynchronized = 1,
        /// Bad Message Length; data = the erroneous length field.
        BadMessageLength = 2,
        /// Bad Message Type; data = the erroneous type field.
        BadMessageType = 3,
    }
}

iana_enum! {
    /// OPEN Message Error subcodes (RFC 4271 §6.2, RFC 5492, RFC 9234).
    pub enum OpenErrorSubcode: u8 {
        /// Unspecific.
        Unspecific = 0,
        /// Unsupported Version Number; data = largest supported version (2 octets).
        UnsupportedVersionNumber = 1,
        /// Bad Peer AS.
        BadPeerAs = 2,
        /// Bad BGP Identifier.
        BadBgpIdentifier = 3,
        /// Unsupported Optional Parameter.
        UnsupportedOptionalParameter = 4,
        /// Authentication Failure (deprecated).
        AuthenticationFailure = 5,
        /// Unacceptable Hold Time.
        UnacceptableHoldTime = 6,
        /// Unsupported Capability (RFC 5492).
        UnsupportedCapability = 7,
        /// Role Mismatch (RFC 9234).
        RoleMismatch = 11,
    }
}

iana_enum! {
    /// UPDATE Message Error subcodes (RFC 4271 §6.3).
    pub enum UpdateErrorSubcode: u8 {
        /// Unspecific.
        Unspecific = 0,
        /// Malformed Attribute List.
        MalformedAttributeList = 1,
        /// Unrecognized Well-known Attribute.
        UnrecognizedWellKnownAttribute = 2,
        /// Missing Well-known Attribute.
        MissingWellKnownAttribute = 3,
        /// Attribute Flags Error.
        AttributeFlagsError = 4,
        /// Attribute Length Error.
        AttributeLengthError = 5,
        /// Invalid ORIGIN Attribute.
        InvalidOriginAttribute = 6,
        /// AS Routing Loop (deprecated).
        AsRoutingLoop = 7,
        /// Invalid NEXT_HOP Attribute.
        InvalidNextHopAttribute = 8,
        /// Optional Attribute Error.
        OptionalAttributeError = 9,
        /// Invalid Network Field.
        InvalidNetworkField = 10,
        /// Malformed AS_PATH.
        MalformedAsPath = 11,
    }
}

iana_enum! {
    /// Finite State Machine Error subcodes (RFC 6608).
    pub enum FsmErrorSubcode: u8 {
        /// Unspecified Error.
        Unspecific = 0,
        /// Receive Unexpected Message in OpenSent State.
        UnexpectedMessageInOpenSent = 1,
        /// Receive Unexpected Message in OpenConfirm State.
        UnexpectedMessageInOpenConfirm = 2,
        /// Receive Unexpected Message in Established State.
        UnexpectedMessageInEstablished = 3,
    }
}

iana_enum! {
    /// Cease subcodes (RFC 4486, RFC 8538, RFC 9384).
    pub enum CeaseSubcode: u8 {
        /// Unspecific.
        Unspecific = 0,
        /// Maximum Number of Prefixes Reached.
        MaximumPrefixesReached = 1,
        /// Administrative Shutdown (may carry an RFC 9003 shutdown communication).
        AdministrativeShutdown = 2,
        /// Peer De-configured.
        PeerDeconfigured = 3,
        /// Administrative Reset (may carry an RFC 9003 shutdown communication).
        AdministrativeReset = 4,
        /// Connection Rejected.
        ConnectionRejected = 5,
        /// Other Configuration Change.
        OtherConfigurationChange = 6,
        /// Connection Collision Resolution.
        ConnectionCollisionResolution = 7,
        /// Out of Resources.
        OutOfResources = 8,
        /// Hard Reset (RFC 8538).
        HardReset = 9,
        /// BFD Down (RFC 9384).
        BfdDown = 10,
    }
}

iana_enum! {
    /// ROUTE-REFRESH Message Error subcodes (RFC 7313).
    pub enum RouteRefreshErrorSubcode: u8 {
        /// Reserved.
        Reserved = 0,
        /// Invalid Message Length.
        InvalidMessageLength = 1,
    }
}

/// Maximum length of an RFC 9003 shutdown communication, in octets.
pub const MAX_SHUTDOWN_MESSAGE_LEN: usize = 255;

/// A NOTIFICATION message (RFC 4271 §4.5).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// | Error code    | Error subcode |   Data (variable)             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
///
/// For Cease/Administrative Shutdown (6/2) and Cease/Administrative Reset (6/4) the data may
/// be a shutdown communication (RFC 9003): one length octet then up to 255 octets of UTF-8.
/// Code and subcode are kept as raw numbers so any received message re-encodes identically;
/// [`Notification::error_code`] and the `*_subcode` helpers give the typed view.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Notification {
    /// Error code (see [`ErrorCode`]).
    pub code: u8,
    /// Error subcode; meaning depends on `code`.
    pub subcode: u8,
    /// Diagnostic data.
    pub data: Vec<u8>,
}

impl Notification {
    /// Builds a NOTIFICATION from a typed code, a subcode and data.
    pub fn new(code: ErrorCode, subcode: impl Into<u8>, data: Vec<u8>) -> Self {
        Self {
            code: code.into(),
            subcode: subcode.into(),
            data,
        }
    }

    /// Cease with the given subcode and no data.
    pub fn cease(subcode: CeaseSubcode) -> Self {
        Self::new(ErrorCode::Cease, subcode, Vec::new())
    }

    /// Cease/Administrative Shutdown (6/2) with an RFC 9003 shutdown communication.
    /// A message longer than 255 octets is truncated at a UTF-8 character boundary.
    pub fn administrative_shutdown(message: &str) -> Self {
        Self::with_shutdown_message(CeaseSubcode::AdministrativeShutdown, message)
    }

    /// Cease/Administrative Reset (6/4) with an RFC 9003 shutdown communication.
    pub fn administrative_reset(message: &str) -> Self {
        Self::with_shutdown_message(CeaseSubcode::AdministrativeReset, message)
    }

    fn with_shutdown_message(subcode: CeaseSubcode, message: &str) -> Self {
        let text = truncate_utf8(message, MAX_SHUTDOWN_MESSAGE_LEN);
        let mut data = Vec::with_capacity(text.len() + 1);
        if !text.is_empty() {
            data.push(text.len() as u8);
            data.extend_from_slice(text.as_bytes());
        }
        Self::new(ErrorCode::Cease, subcode, data)
    }

    /// Cease/Hard Reset (6/9, RFC 8538 §3) carrying `cause` (its code, subcode and data) as
    /// its data.
    pub fn hard_reset(cause: &Notification) -> Self {
        let mut data = Vec::with_capacity(2 + cause.data.len());
        cause.encode_body(&mut data);
        Self::new(ErrorCode::Cease, CeaseSubcode::HardReset, data)
    }

    /// The NOTIFICATION carried inside a Cease/Hard Reset (RFC 8538 §3); `None` for any other
    /// message or a Hard Reset whose data is shorter than code and subcode.
    pub fn hard_reset_cause(&self) -> Option<Notification> {
        if self.cease_subcode()? != CeaseSubcode::HardReset {
            return None;
        }
        Self::decode_body(&self.data)
    }

    /// Hold Timer Expired (4/0).
    pub fn hold_timer_expired() -> Self {
        Self::new(ErrorCode::HoldTimerExpired, 0u8, Vec::new())
    }

    /// The typed error code.
    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::from(self.code)
    }

    /// The Cease subcode, when this is a Cease.
    pub fn cease_subcode(&self) -> Option<CeaseSubcode> {
        (self.error_code() == ErrorCode::Cease).then(|| CeaseSubcode::from(self.subcode))
    }

    /// The RFC 9003 shutdown communication carried by a Cease 6/2 or 6/4, if present and
    /// well-formed (length octet matches, valid UTF-8, at most 255 octets).
    pub fn shutdown_message(&self) -> Option<String> {
        match self.cease_subcode()? {
            CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset => {}
            _ => return None,
        }
        let mut r = Reader::new(&self.data);
        let len = r.u8()? as usize;
        let text = r.take(len)?;
        std::str::from_utf8(text).ok().map(str::to_owned)
    }

    /// Why the RFC 9003 Shutdown Communication of a Cease 6/2 or 6/4 is invalid (RFC 9003
    /// §4: the receiver logs that), or `None` when it is absent or valid.
    pub fn shutdown_communication_error(&self) -> Option<String> {
        match self.cease_subcode()? {
            CeaseSubcode::AdministrativeShutdown | CeaseSubcode::AdministrativeReset => {}
            _ => return None,
        }
        let (&len, text) = self.data.split_first()?;
        let len = usize::from(len);
        if len > text.len() {
            return Some(format!(
                "length {len} exceeds the {} octets that follow",
                text.len()
            ));
        }
        if len < text.len() {
            return Some(format!("length {len} but {} octets follow", text.len()));
        }
        std::str::from_utf8(text)
            .err()
            .map(|e| format!("not valid UTF-8: {e}"))
    }

    /// Decodes a NOTIFICATION body (after the 19-octet header).
    pub(crate) fn decode_body(body: &[u8]) -> Option<Self> {
        let mut r = Reader::new(body);
        let code = r.u8()?;
        let subcode = r.u8()?;
        Some(Self {
            code,
            subcode,
            data: r.rest().to_vec(),
        })
    }

    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        out.push(self.code);
        out.push(self.subcode);
        out.extend_from_slice(&self.data);
    }

    fn subcode_name(&self) -> Option<&'static str> {
        let s = self.subcode;
        Some(match self.error_code() {
            ErrorCode::MessageHeader => match HeaderErrorSubcode::from(s) {
                HeaderErrorSubcode::Unspecific => "Unspecific",
                HeaderErrorSubcode::ConnectionNotSynchronized => "Connection Not Synchronized",
                HeaderErrorSubcode::BadMessageLength => "Bad Message Length",
                HeaderErrorSubcode::BadMessageType => "Bad Message Type",
                HeaderErrorSubcode::Unknown(_) => return None,
            },
            ErrorCode::OpenMessage => match OpenErrorSubcode::from(s) {
                OpenErrorSubcode::Unspecific => "Unspecific",
                OpenErrorSubcode::UnsupportedVersionNumber => "Unsupported Version Number",
                OpenErrorSubcode::BadPeerAs => "Bad Peer AS",
                OpenErrorSubcode::BadBgpIdentifier => "Bad BGP Identifier",
                OpenErrorSubcode::UnsupportedOptionalParameter => "Unsupported Optional Parameter",
                OpenErrorSubcode::AuthenticationFailure => "Authentication Failure",
                OpenErrorSubcode::UnacceptableHoldTime => "Unacceptable Hold Time",
                OpenErrorSubcode::UnsupportedCapability => "Unsupported Capability",
                OpenErrorSubcode::RoleMismatch => "Role Mismatch",
                OpenErrorSubcode::Unknown(_) => return None,
            },
            ErrorCode::UpdateMessage => match UpdateErrorSubcode::from(s) {
                UpdateErrorSubcode::Unspecific => "Unspecific",
                UpdateErrorSubcode::MalformedAttributeList => "Malformed Attribute List",
                UpdateErrorSubcode::UnrecognizedWellKnownAttribute => {
                    "Unrecognized Well-known Attribute"
                }
                UpdateErrorSubcode::MissingWellKnownAttribute => "Missing Well-known Attribute",
                UpdateErrorSubcode::AttributeFlagsError => "Attribute Flags Error",
                UpdateErrorSubcode::AttributeLengthError => "Attribute Length Error",
                UpdateErrorSubcode::InvalidOriginAttribute => "Invalid ORIGIN Attribute",
                UpdateErrorSubcode::AsRoutingLoop => "AS Routing Loop",
                UpdateErrorSubcode::InvalidNextHopAttribute => "Invalid NEXT_HOP Attribute",
                UpdateErrorSubcode::OptionalAttributeError => "Optional Attribute Error",
                UpdateErrorSubcode::InvalidNetworkField => "Invalid Network Field",
                UpdateErrorSubcode::MalformedAsPath => "Malformed AS_PATH",
                UpdateErrorSubcode::Unknown(_) => return None,
            },
            ErrorCode::HoldTimerExpired => match s {
                0 => "Unspecific",
                _ => return None,
            },
            ErrorCode::FiniteStateMachine => match FsmErrorSubcode::from(s) {
                FsmErrorSubcode::Unspecific => "Unspecific",
                FsmErrorSubcode::UnexpectedMessageInOpenSent => {
                    "Receive Unexpected Message in OpenSent State"
                }
                FsmErrorSubcode::UnexpectedMessageInOpenConfirm => {
                    "Receive Unexpected Message in OpenConfirm State"
                }
                FsmErrorSubcode::UnexpectedMessageInEstablished => {
                    "Receive Unexpected Message in Established State"
                }
                FsmErrorSubcode::Unknown(_) => return None,
            },
            ErrorCode::Cease => match CeaseSubcode::from(s) {
                CeaseSubcode::Unspecific => "Unspecific",
                CeaseSubcode::MaximumPrefixesReached => "Maximum Number of Prefixes Reached",
                CeaseSubcode::AdministrativeShutdown => "Administrative Shutdown",
                CeaseSubcode::PeerDeconfigured => "Peer De-configured",
                CeaseSubcode::AdministrativeReset => "Administrative Reset",
                CeaseSubcode::ConnectionRejected => "Connection Rejected",
                CeaseSubcode::OtherConfigurationChange => "Other Configuration Change",
                CeaseSubcode::ConnectionCollisionResolution => "Connection Collision Resolution",
                CeaseSubcode::OutOfResources => "Out of Resources",
                CeaseSubcode::HardReset => "Hard Reset",
                CeaseSubcode::BfdDown => "BFD Down",
                CeaseSubcode::Unknown(_) => return None,
            },
            ErrorCode::RouteRefresh => match RouteRefreshErrorSubcode::from(s) {
                RouteRefreshErrorSubcode::Reserved => "Unspecific",
                RouteRefreshErrorSubcode::InvalidMessageLength => "Invalid Message Length",
                RouteRefreshErrorSubcode::Unknown(_) => return None,
            },
            ErrorCode::Unknown(_) => return None,
        })
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::MessageHeader => f.write_str("Message Header Error"),
            ErrorCode::OpenMessage => f.write_str("OPEN Message Error"),
            ErrorCode::UpdateMessage => f.write_str("UPDATE Message Error"),
            ErrorCode::HoldTimerExpired => f.write_str("Hold Timer Expired"),
            ErrorCode::FiniteStateMachine => f.write_str("Neighbor Events Error"),
            ErrorCode::Cease => f.write_str("Cease"),
            ErrorCode::RouteRefresh => f.write_str("ROUTE-REFRESH Message Error"),
            ErrorCode::Unknown(c) => write!(f, "Unknown error code {c}"),
        }
    }
}

/// Formats as FRR does: `Code/Subcode`, e.g. `Cease/Administrative Shutdown`, followed by the
/// shutdown communication in quotes when there is one; a Hard Reset shows its cause in
/// parentheses (one level: a nested Hard Reset is not unwrapped further).
impl fmt::Display for Notification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_head(f)?;
        if let Some(cause) = self.hard_reset_cause() {
            f.write_str(" (")?;
            cause.fmt_head(f)?;
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl Notification {
    /// `Code/Subcode` and the shutdown communication, without unwrapping a Hard Reset.
    fn fmt_head(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/", self.error_code())?;
        match self.subcode_name() {
            Some(name) => f.write_str(name)?,
            None => write!(f, "Unknown subcode {}", self.subcode)?,
        }
        if let Some(msg) = self.shutdown_message() {
            write!(f, " \"{}\"", msg.escape_debug())?;
        }
        Ok(())
    }
}

/// Longest prefix of `s` that is at most `max` bytes and ends on a char boundary.
fn truncate_utf8(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_like_frr() {
        assert_eq!(
            Notification::cease(CeaseSubcode::AdministrativeShutdown).to_string(),
            "Cease/Administrative Shutdown"
        );
        assert_eq!(
            Notification::hold_timer_expired().to_string(),
            "Hold Timer Expired/Unspecific"
        );
        let n = Notification::new(ErrorCode::OpenMessage, OpenErrorSubcode::BadPeerAs, vec![]);
        assert_eq!(n.to_string(), "OPEN Message Error/Bad Peer AS");
        let n = Notification {
            code: 6,
            subcode: 99,
            data: vec![],
        };
        assert_eq!(n.to_string(), "Cease/Unknown subcode 99");
    }

    #[test]
    fn hard_reset_wraps_the_cause() {
        let cause = Notification::administrative_shutdown("bye");
        let n = Notification::hard_reset(&cause);
        assert_eq!((n.code, n.subcode), (6, 9));
        // RFC 8538 §3: data = ErrorCode, Subcode, Data of the cause.
        assert_eq!(n.data, [6, 2, 3, b'b', b'y', b'e']);
        assert_eq!(n.hard_reset_cause(), Some(cause));
        assert_eq!(
            n.to_string(),
            "Cease/Hard Reset (Cease/Administrative Shutdown \"bye\")"
        );
        // A peer nesting Hard Resets deeply: displayed one level down, no recursion.
        let nested = Notification {
            code: 6,
            subcode: 9,
            data: [6u8, 9].repeat(30_000),
        };
        assert_eq!(nested.to_string(), "Cease/Hard Reset (Cease/Hard Reset)");
        let short = Notification {
            code: 6,
            subcode: 9,
            data: vec![6],
        };
        assert_eq!(short.hard_reset_cause(), None);
        assert_eq!(Notification::hold_timer_expired().hard_reset_cause(), None);
    }

    #[test]
    fn shutdown_communication_round_trip() {
        let n = Notification::administrative_shutdown("maintenance ✓");
        assert_eq!(n.code, 6);
        assert_eq!(n.subcode, 2);
        assert_eq!(n.data[0] as usize, "maintenance ✓".len());
        assert_eq!(n.shutdown_message().as_deref(), Some("maintenance ✓"));
        assert_eq!(
            n.to_string(),
            "Cease/Administrative Shutdown \"maintenance ✓\""
        );
    }

    #[test]
    fn shutdown_communication_truncated_on_char_boundary() {
        let long = "é".repeat(200); // 400 bytes
        let n = Notification::administrative_reset(&long);
        assert_eq!(n.data[0], 254);
        assert_eq!(n.shutdown_message().map(|m| m.len()), Some(254));
    }

    #[test]
    fn shutdown_communication_malformed_is_ignored() {
        let n = Notification {
            code: 6,
            subcode: 2,
            data: vec![10, b'a'],
        };
        assert_eq!(n.shutdown_message(), None);
        let n = Notification {
            code: 6,
            subcode: 2,
            data: vec![2, 0xff, 0xfe],
        };
        assert_eq!(n.shutdown_message(), None);
    }

    #[test]
    fn invalid_shutdown_communication_is_explained() {
        let with = |data: Vec<u8>| Notification {
            code: 6,
            subcode: 2,
            data,
        };
        assert_eq!(
            with(vec![10, b'a'])
                .shutdown_communication_error()
                .as_deref(),
            Some("length 10 exceeds the 1 octets that follow")
        );
        assert!(with(vec![2, 0xff, 0xfe])
            .shutdown_communication_error()
            .is_some_and(|e| e.starts_with("not valid UTF-8")));
        assert!(with(vec![1, b'a', b'b'])
            .shutdown_communication_error()
            .is_some());
        assert_eq!(
            with(vec![2, b'o', b'k']).shutdown_communication_error(),
            None
        );
        assert_eq!(with(vec![]).shutdown_communication_error(), None);
        assert_eq!(
            Notification::new(ErrorCode::Cease, CeaseSubcode::PeerDeconfigured, vec![9])
                .shutdown_communication_error(),
            None
        );
    }
}
