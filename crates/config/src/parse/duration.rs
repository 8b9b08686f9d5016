//! Go-style durations (`90s`, `1m30s`, `500ms`) as MetalLB reads `hold-time` and `keepalive-time`.

use std::time::Duration;

/// Parses a Go duration string. A bare number is read as seconds (the caller may warn).
pub(crate) fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with('-') {
        return Err("a duration cannot be negative".into());
    }
    let mut total_ns: f64 = 0.0;
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!("invalid duration {s:?}: expected a number"));
        }
        let number: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let scale = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("missing unit in duration {s:?} (e.g. 90s)")),
            other => return Err(format!("unknown unit {other:?} in duration {s:?}")),
        };
        total_ns += number * scale;
    }
    if !total_ns.is_finite() || total_ns > 1e18 {
        return Err(format!("duration {s:?} is too long"));
    }
    Ok(Duration::from_nanos(total_ns.round() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_go_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse_go_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_go_duration("120")
            .unwrap_err()
            .contains("missing unit"));
        assert!(parse_go_duration("3x")
            .unwrap_err()
            .contains("unknown unit"));
        assert!(parse_go_duration("-3s").is_err());
        assert!(parse_go_duration("s").is_err());
    }
}
