//! UPDATE message (RFC 4271 §4.3), End-of-RIB markers (RFC 4724 §2) and RFC 7606 verdicts.
//!
//! ```text
//! +-----------------------------------------------------+
//! |   Withdrawn Routes Length (2 octets)                |
//! +-----------------------------------------------------+
//! |   Withdrawn Routes (variable)                       |
//! +-----------------------------------------------------+
//! |   Total Path Attribute Length (2 octets)            |
//! +-----------------------------------------------------+
//! |   Path Attributes (variable)                        |
//! +-----------------------------------------------------+
//! |   Network Layer Reachability Information (variable) |
//! +-----------------------------------------------------+
//! ```

use super::attributes::{MpUnreach, PathAttributes};
use super::error::{DecodeError, EncodeError, UpdateVerdict};
use super::iana::{Afi, Family};
use super::nlri::{decode_prefixes, encode_prefix};
use super::notification::UpdateErrorSubcode;
use super::reader::Reader;
use super::DecodeContext;
use ipnet::{IpNet, Ipv4Net};

/// An UPDATE message. IPv4 unicast routes use the classic fields; other families are in
/// `attributes.mp_reach` / `attributes.mp_unreach`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Update {
    /// Withdrawn IPv4 routes.
    pub withdrawn: Vec<Ipv4Net>,
    /// Path attributes.
    pub attributes: PathAttributes,
    /// Announced IPv4 routes.
    pub nlri: Vec<Ipv4Net>,
    /// RFC 7606 outcome of decoding; [`UpdateVerdict::Ok`] for messages built in code.
    pub verdict: UpdateVerdict,
}

fn v4_only(prefixes: Vec<IpNet>) -> Vec<Ipv4Net> {
    prefixes
        .into_iter()
        .filter_map(|p| match p {
            IpNet::V4(p) => Some(p),
            IpNet::V6(_) => None,
        })
        .collect()
}

impl Update {
    /// The End-of-RIB marker for `family` (RFC 4724 §2): an empty UPDATE for IPv4 unicast, an
    /// UPDATE with only an empty MP_UNREACH_NLRI otherwise.
    pub fn end_of_rib(family: Family) -> Self {
        let mut u = Update::default();
        if family != Family::IPV4_UNICAST {
            u.attributes.mp_unreach = Some(MpUnreach {
                family,
                withdrawn: Vec::new(),
            });
        }
        u
    }

    /// The family whose End-of-RIB this UPDATE is, if it is one.
    pub fn end_of_rib_family(&self) -> Option<Family> {
        let no_routes = self.withdrawn.is_empty() && self.nlri.is_empty();
        let a = &self.attributes;
        if !no_routes {
            return None;
        }
        if *a == PathAttributes::default() {
            return Some(Family::IPV4_UNICAST);
        }
        let only_unreach = PathAttributes {
            mp_unreach: None,
            ..a.clone()
        } == PathAttributes::default();
        match &a.mp_unreach {
            Some(m) if only_unreach && m.withdrawn.is_empty() => Some(m.family),
            _ => None,
        }
    }

    /// Prefixes this UPDATE makes reachable (classic NLRI + MP_REACH); empty when the verdict
    /// is treat-as-withdraw.
    pub fn announced(&self) -> Vec<IpNet> {
        if matches!(self.verdict, UpdateVerdict::TreatAsWithdraw(_)) {
            return Vec::new();
        }
        self.reach_prefixes()
    }

    /// Every prefix the UPDATE carries as reachable (classic NLRI + MP_REACH), whatever the
    /// verdict.
    pub fn reach_prefixes(&self) -> Vec<IpNet> {
        let mut v: Vec<IpNet> = self.nlri.iter().copied().map(IpNet::V4).collect();
        if let Some(m) = &self.attributes.mp_reach {
            v.extend_from_slice(&m.nlri);
        }
        v
    }

    /// Prefixes this UPDATE withdraws: withdrawn routes, MP_UNREACH, and under
    /// treat-as-withdraw also every announced prefix.
    pub fn withdrawn_prefixes(&self) -> Vec<IpNet> {
        let mut v: Vec<IpNet> = self.withdrawn.iter().copied().map(IpNet::V4).collect();
        if let Some(m) = &self.attributes.mp_unreach {
            v.extend_from_slice(&m.withdrawn);
        }
        if matches!(self.verdict, UpdateVerdict::TreatAsWithdraw(_)) {
            v.extend(self.reach_prefixes());
        }
        v
    }

    pub(crate) fn decode_body(body: &[u8], ctx: &DecodeContext) -> Result<Self, DecodeError> {
        let list_err = |why: &str| {
            DecodeError::update(UpdateErrorSubcode::MalformedAttributeList, Vec::new(), why)
        };
        let mut r = Reader::new(body);
        let wlen = r
            .u16()
            .ok_or_else(|| list_err("truncated withdrawn routes length"))?;
        let wbuf = r
            .take(usize::from(wlen))
            .ok_or_else(|| list_err("withdrawn routes length overruns the message"))?;
        let alen = r
            .u16()
            .ok_or_else(|| list_err("truncated total path attribute length"))?;
        let abuf = r
            .take(usize::from(alen))
            .ok_or_else(|| list_err("total path attribute length overruns the message"))?;
        let nbuf = r.rest();
        let withdrawn = decode_prefixes(wbuf, Afi::Ipv4)
            .map_err(|e| list_err(&format!("withdrawn routes: {e}")))?;
        let nlri = decode_prefixes(nbuf, Afi::Ipv4).map_err(|e| {
            DecodeError::update(
                UpdateErrorSubcode::InvalidNetworkField,
                Vec::new(),
                format!("NLRI: {e}"),
            )
        })?;
        let d = PathAttributes::decode(abuf, ctx, !nlri.is_empty())?;
        let verdict = if !d.withdraw.is_empty() {
            let mut all = d.withdraw;
            all.extend(d.discarded);
            UpdateVerdict::TreatAsWithdraw(all)
        } else if !d.discarded.is_empty() {
            UpdateVerdict::AttributeDiscard(d.discarded)
        } else {
            UpdateVerdict::Ok
        };
        Ok(Update {
            withdrawn: v4_only(withdrawn),
            attributes: d.attrs,
            nlri: v4_only(nlri),
            verdict,
        })
    }

    pub(crate) fn encode_body(
        &self,
        out: &mut Vec<u8>,
        ctx: &DecodeContext,
    ) -> Result<(), EncodeError> {
        let wpos = out.len();
        out.extend_from_slice(&[0, 0]);
        for p in &self.withdrawn {
            encode_prefix(out, &IpNet::V4(*p));
        }
        let wlen = out.len() - wpos - 2;
        let apos = out.len();
        out.extend_from_slice(&[0, 0]);
        self.attributes.encode(out, ctx)?;
        let alen = out.len() - apos - 2;
        for p in &self.nlri {
            encode_prefix(out, &IpNet::V4(*p));
        }
        let too_long = |what: &'static str, n: usize| EncodeError::FieldOverflow {
            field: what,
            detail: format!("{n} octets"),
        };
        out[wpos..wpos + 2].copy_from_slice(
            &u16::try_from(wlen)
                .map_err(|_| too_long("withdrawn routes", wlen))?
                .to_be_bytes(),
        );
        out[apos..apos + 2].copy_from_slice(
            &u16::try_from(alen)
                .map_err(|_| too_long("path attributes", alen))?
                .to_be_bytes(),
        );
        Ok(())
    }
}
