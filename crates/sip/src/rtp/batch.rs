//! `recvmmsg(2)`: every datagram queued on a socket in one system call, with each one's
//! source address. A socket that returned fewer datagrams than asked for was drained at that
//! instant, so the caller needs no further call that would only answer `EAGAIN` (which a
//! `recv_from` loop on an edge-triggered socket must make once per wake-up).
//!
//! The buffers are allocated once per relay shard: receiving costs no allocation.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

/// Datagrams per call. At 50 packets/s per socket more than one is queued only after a
/// stall; 16 drains a 300 ms one in a call.
pub(crate) const VLEN: usize = 16;

/// The largest datagram relayed. G.711 at 20 ms is 172 bytes and nothing on these trunks
/// comes near an Ethernet MTU; a datagram that does not fit is reported truncated and is
/// dropped rather than relayed cut.
pub(crate) const MAX_DATAGRAM: usize = 2048;

pub(crate) struct RecvBatch {
    bufs: Box<[[u8; MAX_DATAGRAM]; VLEN]>,
    /// Plain data (no pointers), so the batch is `Send` and can live in a task.
    addrs: Box<[libc::sockaddr_storage; VLEN]>,
    lens: [usize; VLEN],
    truncated: [bool; VLEN],
}

/// One received datagram.
pub(crate) struct Datagram<'a> {
    pub(crate) data: &'a [u8],
    /// None for an address family other than IPv4/IPv6 (which a UDP socket never reports).
    pub(crate) from: Option<SocketAddr>,
    /// Longer than `MAX_DATAGRAM`: `data` holds only its start.
    pub(crate) truncated: bool,
}

impl RecvBatch {
    pub(crate) fn new() -> Self {
        Self {
            bufs: Box::new([[0; MAX_DATAGRAM]; VLEN]),
            // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value.
            addrs: Box::new(unsafe { std::mem::zeroed() }),
            lens: [0; VLEN],
            truncated: [false; VLEN],
        }
    }

    /// Receives without blocking what `sock` has queued, up to `VLEN` datagrams. Ok(0): none
    /// (`EAGAIN`). An Err is a pending socket error (e.g. ICMP port unreachable for an
    /// earlier send), which the kernel clears as it reports it.
    pub(crate) fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        // The headers point into `self`'s boxes; they are rebuilt for each call so that no
        // raw pointer is kept in `self`.
        let mut iovs: [libc::iovec; VLEN] = std::array::from_fn(|i| libc::iovec {
            iov_base: self.bufs[i].as_mut_ptr().cast(),
            iov_len: MAX_DATAGRAM,
        });
        // SAFETY: mmsghdr is plain old data; all zeroes is a valid (empty) header.
        let mut hdrs: [libc::mmsghdr; VLEN] = unsafe { std::mem::zeroed() };
        for (i, h) in hdrs.iter_mut().enumerate() {
            h.msg_hdr.msg_name = std::ptr::from_mut(&mut self.addrs[i]).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as _;
            h.msg_hdr.msg_iov = &mut iovs[i];
            h.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: every header points at a live buffer and address of the right size, all
        // borrowed mutably from `self` for the duration of the call.
        let n = unsafe {
            libc::recvmmsg(
                sock.as_raw_fd(),
                hdrs.as_mut_ptr(),
                VLEN as _,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(0),
                _ => Err(e),
            };
        }
        let n = n as usize;
        for (i, h) in hdrs.iter().take(n).enumerate() {
            self.lens[i] = h.msg_len as usize;
            self.truncated[i] = h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0;
        }
        Ok(n)
    }

    /// Datagram `i` of the last `recv` (i < what it returned).
    pub(crate) fn get(&self, i: usize) -> Datagram<'_> {
        let len = self.lens[i].min(MAX_DATAGRAM);
        Datagram {
            data: &self.bufs[i][..len],
            from: socket_addr(&self.addrs[i]),
            truncated: self.truncated[i],
        }
    }
}

fn socket_addr(ss: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(ss.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in, as ss_family says; sockaddr_storage is
            // large and aligned enough for it.
            let sin = unsafe { &*std::ptr::from_ref(ss).cast::<libc::sockaddr_in>() };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 = unsafe { &*std::ptr::from_ref(ss).cast::<libc::sockaddr_in6>() };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn receives_every_queued_datagram_with_its_source_in_one_call() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let mut batch = RecvBatch::new();
        assert_eq!(
            batch.recv(&rx).unwrap(),
            0,
            "nothing queued: EAGAIN is Ok(0)"
        );

        let (t1, t2) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.2:0").unwrap(),
        );
        let to = rx.local_addr().unwrap();
        t1.send_to(b"one", to).unwrap();
        t2.send_to(b"two", to).unwrap();
        t1.send_to(&[7u8; MAX_DATAGRAM + 100], to).unwrap();
        assert_eq!(batch.recv(&rx).unwrap(), 3);
        let got: Vec<_> = (0..3)
            .map(|i| {
                let d = batch.get(i);
                (d.data.len(), d.from, d.truncated)
            })
            .collect();
        assert_eq!(
            got,
            [
                (3, Some(t1.local_addr().unwrap()), false),
                (3, Some(t2.local_addr().unwrap()), false),
                (MAX_DATAGRAM, Some(t1.local_addr().unwrap()), true),
            ]
        );
        assert_eq!(batch.get(1).data, b"two");
        assert_eq!(batch.recv(&rx).unwrap(), 0);
    }

    #[test]
    fn more_than_vlen_queued_takes_more_calls() {
        let rx = UdpSocket::bind("[::1]:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        let tx = UdpSocket::bind("[::1]:0").unwrap();
        for i in 0..VLEN + 3 {
            tx.send_to(&[i as u8], rx.local_addr().unwrap()).unwrap();
        }
        let mut batch = RecvBatch::new();
        assert_eq!(batch.recv(&rx).unwrap(), VLEN);
        assert_eq!(batch.get(0).from, Some(tx.local_addr().unwrap()));
        assert_eq!(batch.recv(&rx).unwrap(), 3);
        assert_eq!(batch.get(2).data, [VLEN as u8 + 2]);
    }
}
