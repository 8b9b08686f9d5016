//! RFC 7606 §6: every UPDATE that was treated-as-withdraw, had attributes discarded or reset
//! the session is logged with the error, the affected NLRI and the message in hex. The peer
//! is named by the caller's tracing span (the driver runs each peer in a `peer` span).
//! Rate-limited: at most [`PER_WINDOW`] lines per [`WINDOW`]; the number suppressed is
//! reported with the next line.

use crate::wire::AttributeError;
use ipnet::IpNet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::types::ConnId;

/// Lines per window.
pub(crate) const PER_WINDOW: u32 = 10;
/// The rate-limit window.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// Prefixes and message octets shown per line at most.
const MAX_PREFIXES: usize = 32;
const MAX_HEX_OCTETS: usize = 4096;

/// What was done with a malformed UPDATE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Handling {
    AttributeDiscard,
    TreatAsWithdraw,
    SessionReset,
}

impl Handling {
    fn as_str(self) -> &'static str {
        match self {
            Handling::AttributeDiscard => "attribute discard",
            Handling::TreatAsWithdraw => "treat-as-withdraw",
            Handling::SessionReset => "session reset",
        }
    }
}

/// One malformed UPDATE to log.
pub(crate) struct Malformed<'a> {
    pub conn: ConnId,
    pub handling: Handling,
    pub errors: &'a [AttributeError],
    pub nlri: &'a [IpNet],
    pub message: &'a [u8],
}

/// The rate limiter.
#[derive(Debug, Default)]
pub(crate) struct MalformedLog {
    window_start: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl MalformedLog {
    /// Logs `m` at warn level unless the window's budget is spent.
    pub(crate) fn log(&mut self, now: Instant, m: &Malformed<'_>) {
        let fresh = self
            .window_start
            .is_none_or(|t| now.saturating_duration_since(t) >= WINDOW);
        if fresh {
            self.window_start = Some(now);
            self.logged = 0;
        }
        if self.logged >= PER_WINDOW {
            self.suppressed += 1;
            return;
        }
        self.logged += 1;
        let suppressed = std::mem::take(&mut self.suppressed);
        let errors: Vec<String> = m.errors.iter().map(ToString::to_string).collect();
        tracing::warn!(
            conn = %m.conn,
            handling = m.handling.as_str(),
            errors = %errors.join("; "),
            nlri = %prefixes(m.nlri),
            message = %hex(m.message),
            suppressed_before = suppressed,
            "malformed UPDATE (RFC 7606)"
        );
    }
}

fn prefixes(nlri: &[IpNet]) -> String {
    let mut s = nlri
        .iter()
        .take(MAX_PREFIXES)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if nlri.len() > MAX_PREFIXES {
        let _ = write!(s, ",... ({} in all)", nlri.len());
    }
    if s.is_empty() {
        s.push('-');
    }
    s
}

/// `bytes` in hex, at most 4096 octets shown.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().min(MAX_HEX_OCTETS) * 2 + 16);
    for b in bytes.iter().take(MAX_HEX_OCTETS) {
        let _ = write!(s, "{b:02x}");
    }
    if bytes.len() > MAX_HEX_OCTETS {
        let _ = write!(s, "... ({} octets)", bytes.len());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_per_window_then_counts_the_rest() {
        let mut log = MalformedLog::default();
        let t0 = Instant::now();
        let m = Malformed {
            conn: ConnId::inbound(1),
            handling: Handling::TreatAsWithdraw,
            errors: &[],
            nlri: &[],
            message: &[0xff],
        };
        for _ in 0..PER_WINDOW + 5 {
            log.log(t0, &m);
        }
        assert_eq!((log.logged, log.suppressed), (PER_WINDOW, 5));
        log.log(t0 + WINDOW, &m);
        assert_eq!((log.logged, log.suppressed), (1, 0));
    }

    #[test]
    fn hex_and_prefix_lists_are_bounded() {
        assert_eq!(hex(&[0, 0xab]), "00ab");
        assert!(hex(&[0; 5000]).ends_with("... (5000 octets)"));
        let many: Vec<IpNet> = (0..40u8)
            .map(|i| format!("10.0.{i}.0/24").parse().expect("prefix"))
            .collect();
        assert!(prefixes(&many).ends_with(",... (40 in all)"));
        assert_eq!(prefixes(&[]), "-");
    }
}
