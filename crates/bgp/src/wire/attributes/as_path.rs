//! AS_PATH (RFC 4271 §4.3, RFC 5065 confederation segments) and AS4_PATH (RFC 6793).
//!
//! ```text
//! AS_PATH value: a sequence of segments
//! +------------------------------+
//! | Segment type (1 octet)       |   1 = AS_SET, 2 = AS_SEQUENCE,
//! +------------------------------+   3 = AS_CONFED_SEQUENCE, 4 = AS_CONFED_SET
//! | Segment length (1 octet)     |   number of ASes (not octets)
//! +------------------------------+
//! | ASes (2 or 4 octets each)    |   4 octets when both speakers have the
//! +------------------------------+   4-octet AS capability, and always in AS4_PATH
//! ```

use super::super::iana::{iana_enum, AS_TRANS};
use super::super::reader::Reader;
use std::fmt;

iana_enum! {
    /// AS_PATH segment types (RFC 4271, RFC 5065).
    pub enum SegmentKind: u8 {
        /// AS_SET: unordered set of ASes.
        Set = 1,
        /// AS_SEQUENCE: ordered ASes.
        Sequence = 2,
        /// AS_CONFED_SEQUENCE (RFC 5065).
        ConfedSequence = 3,
        /// AS_CONFED_SET (RFC 5065).
        ConfedSet = 4,
    }
}

/// One AS_PATH segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AsSegment {
    /// Segment type.
    pub kind: SegmentKind,
    /// The ASes, 4-octet values.
    pub asns: Vec<u32>,
}

/// An AS path, always held with 4-octet AS numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AsPath {
    /// Segments in order.
    pub segments: Vec<AsSegment>,
}

impl AsPath {
    /// An empty path (what a speaker sends to iBGP peers for its own routes).
    pub fn empty() -> Self {
        Self::default()
    }

    /// A path made of one AS_SEQUENCE (split into segments of at most 255 ASes on encode).
    pub fn sequence(asns: Vec<u32>) -> Self {
        if asns.is_empty() {
            return Self::empty();
        }
        Self {
            segments: vec![AsSegment {
                kind: SegmentKind::Sequence,
                asns,
            }],
        }
    }

    /// Path length for best-path purposes (RFC 4271 §9.1.2.2): a set counts 1, confederation
    /// segments count 0.
    pub fn len(&self) -> usize {
        self.segments
            .iter()
            .map(|s| match s.kind {
                SegmentKind::Sequence => s.asns.len(),
                SegmentKind::Set => 1,
                _ => 0,
            })
            .sum()
    }

    /// Whether `asn` appears in any segment (RFC 4271 §9.1.2 loop detection).
    pub fn contains(&self, asn: u32) -> bool {
        self.segments.iter().any(|s| s.asns.contains(&asn))
    }

    /// Whether the path has no segments.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    /// Whether any AS needs 4 octets.
    pub fn has_four_octet(&self) -> bool {
        self.segments
            .iter()
            .flat_map(|s| &s.asns)
            .any(|a| *a > 0xffff)
    }

    pub(crate) fn decode(buf: &[u8], four_octet: bool) -> Result<Self, String> {
        let mut r = Reader::new(buf);
        let mut segments = Vec::new();
        while !r.is_empty() {
            let kind = SegmentKind::from(r.u8().ok_or("truncated segment header")?);
            if let SegmentKind::Unknown(t) = kind {
                return Err(format!("invalid segment type {t}"));
            }
            let count = r.u8().ok_or("truncated segment header")?;
            if count == 0 {
                return Err("zero-length segment".into());
            }
            let mut asns = Vec::with_capacity(usize::from(count));
            for _ in 0..count {
                let asn = if four_octet {
                    r.u32()
                } else {
                    r.u16().map(u32::from)
                };
                asns.push(asn.ok_or("segment overruns attribute")?);
            }
            segments.push(AsSegment { kind, asns });
        }
        Ok(Self { segments })
    }

    /// Encodes with 4-octet or 2-octet ASes (2-octet: ASes above 65535 become AS_TRANS).
    /// Segments longer than 255 ASes are split.
    pub(crate) fn encode(&self, out: &mut Vec<u8>, four_octet: bool) {
        for seg in &self.segments {
            for chunk in seg.asns.chunks(255) {
                out.push(seg.kind.into());
                out.push(chunk.len() as u8);
                for &a in chunk {
                    if four_octet {
                        out.extend_from_slice(&a.to_be_bytes());
                    } else {
                        let a = u16::try_from(a).unwrap_or(AS_TRANS as u16);
                        out.extend_from_slice(&a.to_be_bytes());
                    }
                }
            }
        }
    }

    /// The AS4_PATH to send alongside a 2-octet AS_PATH: the path without confederation
    /// segments (RFC 6793 §4.2.2).
    pub(crate) fn as4_path(&self) -> AsPath {
        AsPath {
            segments: self
                .segments
                .iter()
                .filter(|s| matches!(s.kind, SegmentKind::Sequence | SegmentKind::Set))
                .cloned()
                .collect(),
        }
    }

    /// Reconstructs the path from a 2-octet AS_PATH and an AS4_PATH (RFC 6793 §4.2.3): if the
    /// AS_PATH holds fewer ASes than AS4_PATH, the AS4_PATH is ignored; otherwise the leading
    /// ASes of AS_PATH are prepended to AS4_PATH.
    pub(crate) fn merge_as4(&self, as4: &AsPath) -> AsPath {
        let total = self.len();
        let n4 = as4.len();
        if total < n4 {
            return self.clone();
        }
        let mut keep = total - n4;
        let mut segments = Vec::new();
        for seg in &self.segments {
            match seg.kind {
                SegmentKind::Sequence => {
                    if keep == 0 {
                        break;
                    }
                    let take = keep.min(seg.asns.len());
                    segments.push(AsSegment {
                        kind: seg.kind,
                        asns: seg.asns[..take].to_vec(),
                    });
                    keep -= take;
                }
                SegmentKind::Set => {
                    if keep == 0 {
                        break;
                    }
                    segments.push(seg.clone());
                    keep -= 1;
                }
                // Confederation segments are not in AS4_PATH: keep those before the cut.
                _ => segments.push(seg.clone()),
            }
        }
        segments.extend(as4.segments.iter().cloned());
        AsPath { segments }
    }
}

/// Formats like FRR: `65001 65002 {65003,65004}`, confederation segments in `( )` / `[ ]`.
impl fmt::Display for AsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            let list = |sep: &str| {
                seg.asns
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(sep)
            };
            match seg.kind {
                SegmentKind::Sequence => f.write_str(&list(" "))?,
                SegmentKind::Set => write!(f, "{{{}}}", list(","))?,
                SegmentKind::ConfedSequence => write!(f, "({})", list(" "))?,
                SegmentKind::ConfedSet => write!(f, "[{}]", list(","))?,
                SegmentKind::Unknown(_) => write!(f, "?{}?", list(" "))?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_and_four_octet() {
        let p = AsPath::sequence(vec![65001, 4_200_000_000]);
        let mut v4 = Vec::new();
        p.encode(&mut v4, true);
        assert_eq!(AsPath::decode(&v4, true).unwrap(), p);
        let mut v2 = Vec::new();
        p.encode(&mut v2, false);
        assert_eq!(v2, [2, 2, 0xfd, 0xe9, 0x5b, 0xa0]);
        let two = AsPath::decode(&v2, false).unwrap();
        assert_eq!(two.merge_as4(&p.as4_path()), p);
        assert_eq!(p.to_string(), "65001 4200000000");
    }

    #[test]
    fn merge_keeps_leading_asns() {
        let two = AsPath::sequence(vec![100, 23456, 200]);
        let as4 = AsPath::sequence(vec![4_200_000_000, 200]);
        assert_eq!(
            two.merge_as4(&as4),
            AsPath {
                segments: vec![
                    AsSegment {
                        kind: SegmentKind::Sequence,
                        asns: vec![100]
                    },
                    AsSegment {
                        kind: SegmentKind::Sequence,
                        asns: vec![4_200_000_000, 200]
                    },
                ]
            }
        );
        // Leading confederation segments survive.
        let confed = AsPath {
            segments: vec![
                AsSegment {
                    kind: SegmentKind::ConfedSequence,
                    asns: vec![1],
                },
                AsSegment {
                    kind: SegmentKind::Sequence,
                    asns: vec![23456],
                },
            ],
        };
        let merged = confed.merge_as4(&AsPath::sequence(vec![70000]));
        assert_eq!(merged.segments[0].kind, SegmentKind::ConfedSequence);
        assert_eq!(merged.segments[1].asns, vec![70000]);
        // AS4_PATH longer than AS_PATH: ignored.
        let long = AsPath::sequence(vec![1, 2, 3, 4]);
        assert_eq!(two.merge_as4(&long), two);
    }

    #[test]
    fn malformed() {
        assert!(AsPath::decode(&[2, 0], true).is_err());
        assert!(AsPath::decode(&[5, 1, 0, 0, 0, 1], true).is_err());
        assert!(AsPath::decode(&[2, 2, 0, 0, 0, 1], true).is_err());
        assert!(AsPath::decode(&[2], true).is_err());
    }

    #[test]
    fn long_sequence_split() {
        let p = AsPath::sequence((1..=300).collect());
        let mut v = Vec::new();
        p.encode(&mut v, true);
        let d = AsPath::decode(&v, true).unwrap();
        assert_eq!(d.segments.len(), 2);
        assert_eq!(d.len(), 300);
    }
}
