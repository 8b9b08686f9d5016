//! IANA registries used by BGP-4, as enums with an `Unknown` variant so that any value read
//! from the wire maps to exactly one variant and converts back to the same number.

/// Declares an IANA registry enum with `From<repr>` / `Into<repr>` conversions and an
/// `Unknown(repr)` catch-all variant.
macro_rules! iana_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $repr:ty {
            $( $(#[$vmeta:meta])* $var:ident = $val:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name {
            $( $(#[$vmeta])* $var, )*
            /// A value this implementation does not know; kept as received.
            Unknown($repr),
        }

        impl From<$repr> for $name {
            fn from(v: $repr) -> Self {
                match v {
                    $( $val => Self::$var, )*
                    other => Self::Unknown(other),
                }
            }
        }

        impl From<$name> for $repr {
            fn from(v: $name) -> $repr {
                match v {
                    $( $name::$var => $val, )*
                    $name::Unknown(other) => other,
                }
            }
        }
    };
}
pub(crate) use iana_enum;

iana_enum! {
    /// BGP message types (IANA "BGP Message Types"; RFC 4271 §4.1, RFC 2918).
    pub enum MessageType: u8 {
        /// OPEN (RFC 4271).
        Open = 1,
        /// UPDATE (RFC 4271).
        Update = 2,
        /// NOTIFICATION (RFC 4271).
        Notification = 3,
        /// KEEPALIVE (RFC 4271).
        Keepalive = 4,
        /// ROUTE-REFRESH (RFC 2918).
        RouteRefresh = 5,
    }
}

iana_enum! {
    /// Address Family Identifiers (IANA "Address Family Numbers"; RFC 4760).
    pub enum Afi: u16 {
        /// IPv4 (1).
        Ipv4 = 1,
        /// IPv6 (2).
        Ipv6 = 2,
    }
}

iana_enum! {
    /// Subsequent Address Family Identifiers (IANA "SAFI Values"; RFC 4760).
    pub enum Safi: u8 {
        /// Unicast forwarding (1).
        Unicast = 1,
        /// Multicast forwarding (2).
        Multicast = 2,
    }
}

/// An address family: the (AFI, SAFI) pair that names a kind of NLRI (RFC 4760).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Family {
    /// Address family identifier.
    pub afi: Afi,
    /// Subsequent address family identifier.
    pub safi: Safi,
}

impl Family {
    /// IPv4 unicast (1/1).
    pub const IPV4_UNICAST: Family = Family {
        afi: Afi::Ipv4,
        safi: Safi::Unicast,
    };
    /// IPv6 unicast (2/1).
    pub const IPV6_UNICAST: Family = Family {
        afi: Afi::Ipv6,
        safi: Safi::Unicast,
    };

    /// Builds a family from AFI and SAFI.
    pub fn new(afi: Afi, safi: Safi) -> Self {
        Self { afi, safi }
    }

    /// The family of an IP prefix (always unicast).
    pub fn of(prefix: &ipnet::IpNet) -> Self {
        match prefix {
            ipnet::IpNet::V4(_) => Self::IPV4_UNICAST,
            ipnet::IpNet::V6(_) => Self::IPV6_UNICAST,
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.afi, self.safi) {
            (Afi::Ipv4, Safi::Unicast) => f.write_str("ipv4-unicast"),
            (Afi::Ipv6, Safi::Unicast) => f.write_str("ipv6-unicast"),
            (Afi::Ipv4, Safi::Multicast) => f.write_str("ipv4-multicast"),
            (Afi::Ipv6, Safi::Multicast) => f.write_str("ipv6-multicast"),
            (afi, safi) => write!(f, "afi{}-safi{}", u16::from(afi), u8::from(safi)),
        }
    }
}

iana_enum! {
    /// Path attribute type codes (IANA "BGP Path Attributes").
    pub enum AttributeType: u8 {
        /// ORIGIN (RFC 4271).
        Origin = 1,
        /// AS_PATH (RFC 4271).
        AsPath = 2,
        /// NEXT_HOP (RFC 4271).
        NextHop = 3,
        /// MULTI_EXIT_DISC (RFC 4271).
        MultiExitDisc = 4,
        /// LOCAL_PREF (RFC 4271).
        LocalPref = 5,
        /// ATOMIC_AGGREGATE (RFC 4271).
        AtomicAggregate = 6,
        /// AGGREGATOR (RFC 4271).
        Aggregator = 7,
        /// COMMUNITIES (RFC 1997).
        Communities = 8,
        /// ORIGINATOR_ID (RFC 4456).
        OriginatorId = 9,
        /// CLUSTER_LIST (RFC 4456).
        ClusterList = 10,
        /// MP_REACH_NLRI (RFC 4760).
        MpReachNlri = 14,
        /// MP_UNREACH_NLRI (RFC 4760).
        MpUnreachNlri = 15,
        /// EXTENDED COMMUNITIES (RFC 4360).
        ExtendedCommunities = 16,
        /// AS4_PATH (RFC 6793).
        As4Path = 17,
        /// AS4_AGGREGATOR (RFC 6793).
        As4Aggregator = 18,
        /// LARGE_COMMUNITY (RFC 8092).
        LargeCommunity = 32,
    }
}

iana_enum! {
    /// Capability codes (IANA "Capability Codes"; RFC 5492).
    pub enum CapabilityCode: u8 {
        /// Multiprotocol Extensions (RFC 4760).
        Multiprotocol = 1,
        /// Route Refresh (RFC 2918).
        RouteRefresh = 2,
        /// Extended Next Hop Encoding (RFC 8950).
        ExtendedNextHop = 5,
        /// Extended Message (RFC 8654).
        ExtendedMessage = 6,
        /// BGP Role (RFC 9234).
        Role = 9,
        /// Graceful Restart (RFC 4724).
        GracefulRestart = 64,
        /// Support for 4-octet AS number (RFC 6793).
        FourOctetAs = 65,
        /// ADD-PATH (RFC 7911).
        AddPath = 69,
        /// Enhanced Route Refresh (RFC 7313).
        EnhancedRouteRefresh = 70,
        /// Long-Lived Graceful Restart (RFC 9494).
        LongLivedGracefulRestart = 71,
        /// FQDN (draft-walton-bgp-hostname-capability).
        Fqdn = 73,
        /// Software Version (draft-abraitis-bgp-version-capability).
        SoftwareVersion = 75,
        /// Route Refresh, pre-standard Cisco code (deprecated, still sent by some speakers).
        RouteRefreshCisco = 128,
    }
}

iana_enum! {
    /// OPEN optional parameter types (IANA "BGP OPEN Optional Parameter Types").
    pub enum OptionalParameterType: u8 {
        /// Capabilities (RFC 5492).
        Capabilities = 2,
        /// Extended Length marker (RFC 9072).
        ExtendedLength = 255,
    }
}

/// AS_TRANS: the 2-octet AS number standing in for a 4-octet one (RFC 6793).
pub const AS_TRANS: u32 = 23456;
