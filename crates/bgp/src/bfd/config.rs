//! Per-session BFD parameters (RFC 5880 §6.8.1 `bfd.DesiredMinTxInterval`,
//! `bfd.RequiredMinRxInterval`, `bfd.DetectMult`) and the passive role (§6.1).

use std::time::Duration;

/// What this side asks for once the session is Up. While it is not Up, the transmit interval
/// is at least 1 s (RFC 5880 §6.8.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// `bfd.DesiredMinTxInterval` once Up.
    pub desired_min_tx: Duration,
    /// `bfd.RequiredMinRxInterval`.
    pub required_min_rx: Duration,
    /// `bfd.DetectMult`.
    pub detect_mult: u8,
}

impl Timers {
    /// 300 ms × 3 both ways, FRR's default.
    pub const DEFAULT: Timers = Timers {
        desired_min_tx: Duration::from_millis(300),
        required_min_rx: Duration::from_millis(300),
        detect_mult: 3,
    };

    /// Checks the values: intervals from 1 ms up to the 32-bit microsecond field, Detect Mult
    /// at least 1.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, d) in [
            ("desired_min_tx", self.desired_min_tx),
            ("required_min_rx", self.required_min_rx),
        ] {
            if d < Duration::from_millis(1) || d.as_micros() > u128::from(u32::MAX) {
                return Err(ConfigError::Interval { field, value: d });
            }
        }
        if self.detect_mult == 0 {
            return Err(ConfigError::DetectMult);
        }
        Ok(())
    }

    pub(crate) fn tx_us(&self) -> u32 {
        micros(self.desired_min_tx)
    }

    pub(crate) fn rx_us(&self) -> u32 {
        micros(self.required_min_rx)
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers::DEFAULT
    }
}

/// Configuration of one BFD session's state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BfdConfig {
    /// Intervals and multiplier.
    pub timers: Timers,
    /// Passive role (RFC 5880 §6.1): send nothing until the peer has sent a packet.
    pub passive: bool,
}

impl Default for BfdConfig {
    fn default() -> Self {
        BfdConfig {
            timers: Timers::DEFAULT,
            passive: false,
        }
    }
}

/// An invalid BFD parameter, naming the field and value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// An interval outside 1 ms ..= 4294 s.
    #[error("BFD {field} {value:?} is out of range (1 ms to 4294 s)")]
    Interval {
        /// Field name.
        field: &'static str,
        /// The rejected value.
        value: Duration,
    },
    /// Detect Mult 0.
    #[error("BFD detect_mult 0 is invalid (1 to 255)")]
    DetectMult,
    /// My Discriminator 0.
    #[error("BFD local discriminator 0 is invalid")]
    Discriminator,
}

/// Microseconds, saturating at the 32-bit wire field.
pub(crate) fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX)
}
