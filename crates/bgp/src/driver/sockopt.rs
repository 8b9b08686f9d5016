//! Socket options for BGP transport: TCP MD5 signatures (RFC 2385), TTL / hop limit for eBGP
//! multihop and GTSM (RFC 5082), the minimum accepted TTL, and listener/connector set-up.
//!
//! This is the only module of the crate with `unsafe` code: `setsockopt` calls that the `libc`
//! and `socket2` crates do not wrap. Every function takes any socket that exposes its file
//! descriptor (`tokio::net::TcpSocket`, `TcpStream`, `TcpListener`, `socket2::Socket`).

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd};

use socket2::SockRef;

/// Longest TCP MD5 key the Linux kernel accepts (`TCP_MD5SIG_MAXKEYLEN`).
pub const MD5_MAX_KEY_LEN: usize = 80;

/// The TTL a GTSM speaker sends with (RFC 5082 §3).
pub const GTSM_SEND_TTL: u32 = 255;

/// The lowest TTL a GTSM speaker accepts from a directly connected peer (RFC 5082 §3: 255 - 1 hop).
pub const GTSM_MIN_TTL: u8 = 254;

/// `struct tcp_md5sig` from `<linux/tcp.h>`; the `libc` crate does not define it.
///
/// ```text
/// struct tcp_md5sig {
///     struct __kernel_sockaddr_storage tcpm_addr;  /* 128 bytes: address of the peer */
///     __u8  tcpm_flags;                            /* TCP_MD5SIG_FLAG_* (unused here) */
///     __u8  tcpm_prefixlen;                        /* with TCP_MD5SIG_EXT only */
///     __u16 tcpm_keylen;                           /* 0 deletes the key */
///     int   tcpm_ifindex;                          /* with TCP_MD5SIG_FLAG_IFINDEX only */
///     __u8  tcpm_key[TCP_MD5SIG_MAXKEYLEN];        /* 80 bytes */
/// };
/// ```
#[repr(C)]
struct TcpMd5Sig {
    tcpm_addr: libc::sockaddr_storage,
    tcpm_flags: u8,
    tcpm_prefixlen: u8,
    tcpm_keylen: u16,
    tcpm_ifindex: libc::c_int,
    tcpm_key: [u8; MD5_MAX_KEY_LEN],
}

// The kernel ABI: 128 + 1 + 1 + 2 + 4 + 80 bytes.
const _: () = assert!(size_of::<TcpMd5Sig>() == 216);

/// Errors of the socket set-up, each naming the option that failed.
#[derive(Debug, thiserror::Error)]
pub enum SockoptError {
    /// The MD5 key is longer than the kernel allows.
    #[error("TCP MD5 password is {len} bytes long; the maximum is {MD5_MAX_KEY_LEN}")]
    KeyTooLong {
        /// Length of the key given.
        len: usize,
    },
    /// A `setsockopt` or `bind` call failed.
    #[error("{option} failed: {source}")]
    Io {
        /// The option or call, e.g. `setsockopt(TCP_MD5SIG)`.
        option: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

fn io_err(option: &'static str) -> impl FnOnce(io::Error) -> SockoptError {
    move |source| SockoptError::Io { option, source }
}

/// Sets (or with `key = None`, removes) the TCP MD5 signature key for segments to and from
/// `peer` on this socket (RFC 2385). On a connecting socket call it before `connect`; on a
/// listening socket call it once per peer, before that peer connects.
///
/// For an IPv4 peer on an IPv6 (dual-stack) socket, pass the peer as an IPv4-mapped IPv6
/// address; this function does that itself when `socket_is_v6` is true.
pub fn set_md5_key(
    socket: &impl AsRawFd,
    socket_is_v6: bool,
    peer: IpAddr,
    key: Option<&[u8]>,
) -> Result<(), SockoptError> {
    let key = key.unwrap_or(&[]);
    if key.len() > MD5_MAX_KEY_LEN {
        return Err(SockoptError::KeyTooLong { len: key.len() });
    }
    // SAFETY: `TcpMd5Sig` is a plain-old-data C struct (integers and byte arrays only); the
    // all-zero bit pattern is a valid value for every field.
    let mut sig: TcpMd5Sig = unsafe { std::mem::zeroed() };
    let peer = match (peer, socket_is_v6) {
        (IpAddr::V4(v4), true) => IpAddr::V6(v4.to_ipv6_mapped()),
        (other, _) => other,
    };
    match peer {
        IpAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sockaddr_storage` is at least as large and as aligned as `sockaddr_in`
            // (that is its purpose); we write one `sockaddr_in` at its start.
            unsafe {
                std::ptr::write(
                    (&mut sig.tcpm_addr as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>(),
                    sin,
                );
            }
        }
        IpAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: `sockaddr_storage` is at least as large and as aligned as `sockaddr_in6`;
            // we write one `sockaddr_in6` at its start.
            unsafe {
                std::ptr::write(
                    (&mut sig.tcpm_addr as *mut libc::sockaddr_storage)
                        .cast::<libc::sockaddr_in6>(),
                    sin6,
                );
            }
        }
    }
    sig.tcpm_keylen = key.len() as u16;
    sig.tcpm_key[..key.len()].copy_from_slice(key);
    setsockopt_raw(socket, libc::IPPROTO_TCP, libc::TCP_MD5SIG, &sig)
        .map_err(io_err("setsockopt(TCP_MD5SIG)"))
}

/// Sets the TTL (IPv4) or unicast hop limit (IPv6) of outgoing packets: 1 for directly
/// connected eBGP, N for `ebgp-multihop N`, 255 for GTSM.
pub fn set_ttl<S: AsFd>(socket: &S, is_v6: bool, ttl: u32) -> Result<(), SockoptError> {
    let sock = SockRef::from(socket);
    if is_v6 {
        sock.set_unicast_hops_v6(ttl)
            .map_err(io_err("setsockopt(IPV6_UNICAST_HOPS)"))
    } else {
        sock.set_ttl_v4(ttl).map_err(io_err("setsockopt(IP_TTL)"))
    }
}

/// Sets the lowest TTL (IPv4, `IP_MINTTL`) or hop count (IPv6, `IPV6_MINHOPCOUNT`) the kernel
/// accepts on this socket; packets below it are dropped (GTSM, RFC 5082). 0 turns it off.
pub fn set_min_ttl(socket: &impl AsRawFd, is_v6: bool, min: u8) -> Result<(), SockoptError> {
    let value = libc::c_int::from(min);
    if is_v6 {
        setsockopt_raw(socket, libc::IPPROTO_IPV6, libc::IPV6_MINHOPCOUNT, &value)
            .map_err(io_err("setsockopt(IPV6_MINHOPCOUNT)"))
    } else {
        setsockopt_raw(socket, libc::IPPROTO_IP, libc::IP_MINTTL, &value)
            .map_err(io_err("setsockopt(IP_MINTTL)"))
    }
}

/// Sets `SO_REUSEADDR` (listeners: rebind port 179 at once after a restart).
pub fn set_reuse_address<S: AsFd>(socket: &S) -> Result<(), SockoptError> {
    SockRef::from(socket)
        .set_reuse_address(true)
        .map_err(io_err("setsockopt(SO_REUSEADDR)"))
}

/// Binds the socket to a local (source) address; port 0 picks an ephemeral port.
pub fn bind<S: AsFd>(socket: &S, local: SocketAddr) -> Result<(), SockoptError> {
    SockRef::from(socket)
        .bind(&local.into())
        .map_err(io_err("bind"))
}

/// Reads the IPv4 TTL / IPv6 hop limit set on the socket (for tests and diagnostics).
pub fn ttl<S: AsFd>(socket: &S, is_v6: bool) -> Result<u32, SockoptError> {
    let sock = SockRef::from(socket);
    if is_v6 {
        sock.unicast_hops_v6()
            .map_err(io_err("getsockopt(IPV6_UNICAST_HOPS)"))
    } else {
        sock.ttl_v4().map_err(io_err("getsockopt(IP_TTL)"))
    }
}

/// One address of a local network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Interface name, e.g. `eth0`.
    pub interface: String,
    /// The address.
    pub address: IpAddr,
}

/// Lists the IPv4 and IPv6 addresses of the local interfaces (`getifaddrs(3)`), used to find
/// a next hop of the other family on the interface that carries a session.
pub fn interface_addresses() -> Result<Vec<InterfaceAddress>, SockoptError> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: `head` is a valid out-pointer; on success the kernel/libc fills it with a list
    // that we free with `freeifaddrs` below and do not use afterwards.
    let rc = unsafe { libc::getifaddrs(&mut head) };
    if rc != 0 {
        return Err(SockoptError::Io {
            option: "getifaddrs",
            source: io::Error::last_os_error(),
        });
    }
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a non-null node of the list returned by `getifaddrs`, alive until
        // `freeifaddrs`; its `ifa_name` is a NUL-terminated string and `ifa_addr`, when not
        // null, points to a sockaddr whose `sa_family` tells its real type (`sockaddr_in` for
        // AF_INET, `sockaddr_in6` for AF_INET6), which the C library allocated with that size.
        unsafe {
            let ifa = &*cur;
            if !ifa.ifa_addr.is_null() {
                let family = i32::from((*ifa.ifa_addr).sa_family);
                let address = if family == libc::AF_INET {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    Some(IpAddr::from(sin.sin_addr.s_addr.to_ne_bytes()))
                } else if family == libc::AF_INET6 {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    Some(IpAddr::from(sin6.sin6_addr.s6_addr))
                } else {
                    None
                };
                if let Some(address) = address {
                    let interface = std::ffi::CStr::from_ptr(ifa.ifa_name)
                        .to_string_lossy()
                        .into_owned();
                    out.push(InterfaceAddress { interface, address });
                }
            }
            cur = ifa.ifa_next;
        }
    }
    // SAFETY: `head` came from a successful `getifaddrs` and is freed exactly once; no
    // reference into the list outlives this point (names and addresses were copied).
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

fn setsockopt_raw<T>(
    socket: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialised `T` for the duration of the call, and the
    // length passed is exactly `size_of::<T>()`; the kernel only reads that many bytes. The file
    // descriptor is borrowed from a live socket owned by the caller.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (value as *const T).cast::<libc::c_void>(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_too_long_is_an_error_naming_the_length() {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        let key = [b'k'; 81];
        let err = set_md5_key(&sock, false, "127.0.0.1".parse().expect("ip"), Some(&key))
            .expect_err("81 bytes must fail");
        assert!(err.to_string().contains("81 bytes"), "{err}");
    }

    #[test]
    fn ttl_and_min_ttl_are_set() {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        set_ttl(&sock, false, 255).expect("ttl");
        assert_eq!(ttl(&sock, false).expect("get"), 255);
        set_min_ttl(&sock, false, GTSM_MIN_TTL).expect("minttl");
        let sock6 = socket2::Socket::new(socket2::Domain::IPV6, socket2::Type::STREAM, None)
            .expect("socket");
        set_ttl(&sock6, true, 7).expect("hops");
        assert_eq!(ttl(&sock6, true).expect("get"), 7);
        set_min_ttl(&sock6, true, GTSM_MIN_TTL).expect("minhops");
    }

    #[test]
    fn interface_addresses_include_loopback() {
        let all = interface_addresses().expect("getifaddrs");
        assert!(all
            .iter()
            .any(|a| a.interface == "lo" && a.address == IpAddr::from([127, 0, 0, 1])));
    }
}
