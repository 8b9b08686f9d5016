//! The socket options and the `recvmsg(2)` BFD needs that socket2 does not offer: asking for
//! the received TTL / Hop Limit (IP_RECVTTL, IPV6_RECVHOPLIMIT) and reading it from the
//! control messages (RFC 5881 §5, RFC 5883 §2); and the real-time scheduling policy of the
//! BFD thread. The only `unsafe` of the `bfd` module.

use std::io;
use std::mem::{size_of, MaybeUninit};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, RawFd};

fn set_int(fd: RawFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    // SAFETY: `value` lives for the call and its size is passed; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Asks the kernel to report each datagram's TTL (IPv4) or Hop Limit (IPv6).
pub(crate) fn recv_ttl(socket: &impl AsRawFd, v6: bool) -> io::Result<()> {
    let fd = socket.as_raw_fd();
    if v6 {
        set_int(fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)
    } else {
        set_int(fd, libc::IPPROTO_IP, libc::IP_RECVTTL, 1)
    }
}

/// One received datagram: its length, source and TTL / Hop Limit (None when the kernel gave
/// none, which the caller treats as "not 255").
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    pub len: usize,
    pub from: SocketAddr,
    pub ttl: Option<u8>,
}

/// `recvmsg(2)` on a non-blocking socket; `WouldBlock` when nothing is queued.
pub(crate) fn recv_with_ttl(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<Received> {
    let mut addr = MaybeUninit::<libc::sockaddr_storage>::zeroed();
    // Room for one int-sized control message (TTL or Hop Limit) and then some.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is a plain C struct; all-zero is a valid empty value.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = addr.as_mut_ptr().cast();
    msg.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of::<[u64; 8]>() as _;
    // SAFETY: every pointer in `msg` points into live locals (`addr`, `iov` -> `buf`,
    // `control`) whose sizes are set in `msg`; the kernel writes within those bounds.
    let n = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ttl = None;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel filled, bounded by
    // `msg.msg_controllen`; each header is read only while CMSG_NXTHDR returns non-null.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let is_ttl = (c.cmsg_level == libc::IPPROTO_IP && c.cmsg_type == libc::IP_TTL)
                || (c.cmsg_level == libc::IPPROTO_IPV6 && c.cmsg_type == libc::IPV6_HOPLIMIT);
            if is_ttl
                && c.cmsg_len as usize >= libc::CMSG_LEN(size_of::<libc::c_int>() as u32) as usize
            {
                let v = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
                ttl = u8::try_from(v).ok();
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    // SAFETY: the kernel wrote a sockaddr of the socket's family into `addr` (zeroed first,
    // so a short write still leaves a valid family field).
    let storage = unsafe { addr.assume_init() };
    let from = sockaddr_to_std(&storage).ok_or_else(|| io::Error::other("no source address"))?;
    Ok(Received {
        len: n as usize,
        from,
        ttl,
    })
}

fn sockaddr_to_std(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match libc::c_int::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in; storage is larger and aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(a.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6; storage is larger and aligned.
            let a = unsafe { &*(s as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// The SCHED_FIFO priority of the BFD thread: above every normal (SCHED_OTHER) thread, low
/// among real-time ones so kernel threads and other real-time work keep precedence.
pub(crate) const REALTIME_PRIORITY: libc::c_int = 10;

/// Puts the calling thread in SCHED_FIFO at [`REALTIME_PRIORITY`], so a busy CPU cannot delay
/// its timers. Needs CAP_SYS_NICE (or an RLIMIT_RTPRIO at least that high); fails with EPERM
/// otherwise, and the thread stays in the normal policy.
pub(crate) fn set_realtime() -> io::Result<()> {
    let param = libc::sched_param {
        sched_priority: REALTIME_PRIORITY,
    };
    // SAFETY: `param` is a valid sched_param that lives for the call; pid 0 is the calling
    // thread; the kernel only reads it.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
