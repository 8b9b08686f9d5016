//! The fixed message header (RFC 4271 §4.1) and framing of a byte stream into messages.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                                                               |
//! +                                                               +
//! |                           Marker (16 x 0xFF)                  |
//! +                                                               +
//! |                                                               |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Length               |      Type     |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::error::DecodeError;
use super::notification::HeaderErrorSubcode;
use super::DecodeContext;

/// Length of the fixed header: marker (16) + length (2) + type (1).
pub const HEADER_LEN: usize = 19;
/// Maximum message size without the Extended Message capability (RFC 4271).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// Maximum message size with the Extended Message capability (RFC 8654).
pub const MAX_EXTENDED_MESSAGE_LEN: usize = 65535;
/// The all-ones marker.
pub const MARKER: [u8; 16] = [0xff; 16];

/// Length of the first complete message in `buf`, or `None` if more bytes are needed.
///
/// Only the length field is read. A length below [`HEADER_LEN`] is reported as a complete
/// 19-octet frame once 19 octets are available, so that decoding it yields the NOTIFICATION
/// Message Header Error/Bad Message Length. Use [`check_header`] to reject a bad marker or a
/// length above the negotiated maximum as soon as the header arrives.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    if buf.len() < HEADER_LEN {
        return None;
    }
    let len = (u16::from_be_bytes([buf[16], buf[17]]) as usize).max(HEADER_LEN);
    (buf.len() >= len).then_some(len)
}

/// Validates the header at the start of `buf` (marker, length range for `ctx`) as soon as
/// 19 octets are available, then returns like [`frame_len`].
pub fn check_header(buf: &[u8], ctx: &DecodeContext) -> Result<Option<usize>, DecodeError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    validate_header(&buf[..HEADER_LEN], ctx)?;
    Ok(frame_len(buf))
}

/// Checks marker and length; returns the declared length.
pub(crate) fn validate_header(header: &[u8], ctx: &DecodeContext) -> Result<usize, DecodeError> {
    if header.len() < HEADER_LEN {
        return Err(DecodeError::header(
            HeaderErrorSubcode::BadMessageLength,
            vec![0, header.len() as u8],
            format!(
                "message of {} octets is shorter than the header",
                header.len()
            ),
        ));
    }
    if header[..16] != MARKER {
        return Err(DecodeError::header(
            HeaderErrorSubcode::ConnectionNotSynchronized,
            Vec::new(),
            "marker is not all ones",
        ));
    }
    let len = u16::from_be_bytes([header[16], header[17]]) as usize;
    if len < HEADER_LEN || len > ctx.max_message_len() {
        return Err(DecodeError::header(
            HeaderErrorSubcode::BadMessageLength,
            header[16..18].to_vec(),
            format!(
                "length field {len} outside {HEADER_LEN}..={}",
                ctx.max_message_len()
            ),
        ));
    }
    Ok(len)
}

/// Appends a header with a zero length placeholder; returns the start offset for
/// [`finish_message`].
pub(crate) fn begin_message(out: &mut Vec<u8>, msg_type: u8) -> usize {
    let start = out.len();
    out.extend_from_slice(&MARKER);
    out.extend_from_slice(&[0, 0, msg_type]);
    start
}

/// Writes the length field of the message started at `start`.
pub(crate) fn finish_message(
    out: &mut [u8],
    start: usize,
    max: usize,
) -> Result<(), super::EncodeError> {
    let len = out.len() - start;
    if len > max {
        return Err(super::EncodeError::TooLong { len, max });
    }
    out[start + 16..start + 18].copy_from_slice(&(len as u16).to_be_bytes());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keepalive() -> Vec<u8> {
        let mut v = MARKER.to_vec();
        v.extend_from_slice(&[0, 19, 4]);
        v
    }

    #[test]
    fn frame_len_needs_full_message() {
        let k = keepalive();
        assert_eq!(frame_len(&k[..18]), None);
        assert_eq!(frame_len(&k), Some(19));
        let mut two = k.clone();
        two.extend_from_slice(&k[..5]);
        assert_eq!(frame_len(&two), Some(19));
    }

    #[test]
    fn short_length_field_frames_as_header() {
        let mut k = keepalive();
        k[17] = 3;
        assert_eq!(frame_len(&k), Some(19));
        let err = check_header(&k, &DecodeContext::default()).unwrap_err();
        assert_eq!(
            (err.notification().code, err.notification().subcode),
            (1, 2)
        );
        assert_eq!(err.notification().data, vec![0, 3]);
    }

    #[test]
    fn bad_marker_and_oversize() {
        let mut k = keepalive();
        k[3] = 0;
        let err = check_header(&k, &DecodeContext::default()).unwrap_err();
        assert_eq!(
            (err.notification().code, err.notification().subcode),
            (1, 1)
        );
        let mut k = keepalive();
        k[16..18].copy_from_slice(&5000u16.to_be_bytes());
        assert!(check_header(&k, &DecodeContext::default()).is_err());
        let ext = DecodeContext {
            extended_message: true,
            ..DecodeContext::default()
        };
        assert_eq!(check_header(&k, &ext), Ok(None));
    }
}
