//! The generator's receive path: `recvmmsg(2)` takes every queued datagram in one call, each
//! with the time the kernel received it (`SO_TIMESTAMPNS`, CLOCK_REALTIME). That time is when
//! the relay's (or, for the reference, the sender's) `sendto` delivered the packet over
//! loopback, so latency measured to it leaves out how late this generator got round to
//! reading; latency measured to the read is kept beside it.
//!
//! libc because std and tokio expose neither `recvmmsg` nor control messages.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::os::fd::AsRawFd;

/// Datagrams per call.
pub const VLEN: usize = 32;
/// Larger than the benchmark's packets: anything longer is reported truncated.
const BUF: usize = 256;

pub struct Rx {
    bufs: Box<[[u8; BUF]; VLEN]>,
    addrs: Box<[libc::sockaddr_in; VLEN]>,
    /// Room for one SCM_TIMESTAMPNS message each, 8-byte aligned as cmsghdr needs.
    ctrl: Box<[[u64; 8]; VLEN]>,
    lens: [usize; VLEN],
    kernel_ns: [u64; VLEN],
}

/// Asks the kernel to stamp each datagram's arrival on `sock`.
pub fn enable_timestamps(sock: &impl AsRawFd) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid fd and a c_int option value of the size given.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            std::ptr::from_ref(&on).cast(),
            std::mem::size_of::<libc::c_int>() as _,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl Rx {
    pub fn new() -> Self {
        Self {
            bufs: Box::new([[0; BUF]; VLEN]),
            // SAFETY: sockaddr_in is plain old data; zeroes are a valid value.
            addrs: Box::new(unsafe { std::mem::zeroed() }),
            ctrl: Box::new([[0; 8]; VLEN]),
            lens: [0; VLEN],
            kernel_ns: [0; VLEN],
        }
    }

    /// Receives what `sock` (IPv4, non-blocking) has queued; Err(WouldBlock) when nothing.
    pub fn recv(&mut self, sock: &impl AsRawFd) -> io::Result<usize> {
        let mut iovs: [libc::iovec; VLEN] = std::array::from_fn(|i| libc::iovec {
            iov_base: self.bufs[i].as_mut_ptr().cast(),
            iov_len: BUF,
        });
        // SAFETY: mmsghdr is plain old data; zeroes are an empty header.
        let mut hdrs: [libc::mmsghdr; VLEN] = unsafe { std::mem::zeroed() };
        for (i, h) in hdrs.iter_mut().enumerate() {
            h.msg_hdr.msg_name = std::ptr::from_mut(&mut self.addrs[i]).cast();
            h.msg_hdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as _;
            h.msg_hdr.msg_iov = &mut iovs[i];
            h.msg_hdr.msg_iovlen = 1;
            h.msg_hdr.msg_control = self.ctrl[i].as_mut_ptr().cast();
            h.msg_hdr.msg_controllen = std::mem::size_of::<[u64; 8]>() as _;
        }
        // SAFETY: each header points at live buffers of the sizes given, borrowed from self.
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
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for (i, h) in hdrs.iter().take(n).enumerate() {
            self.lens[i] = if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                usize::MAX
            } else {
                h.msg_len as usize
            };
            self.kernel_ns[i] = 0;
            // SAFETY: the kernel filled msg_control up to msg_controllen; the CMSG macros
            // walk it within those bounds.
            unsafe {
                let mut c = libc::CMSG_FIRSTHDR(&h.msg_hdr);
                while !c.is_null() {
                    if (*c).cmsg_level == libc::SOL_SOCKET
                        && (*c).cmsg_type == libc::SCM_TIMESTAMPNS
                    {
                        let ts: libc::timespec =
                            std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                        self.kernel_ns[i] = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64;
                    }
                    c = libc::CMSG_NXTHDR(&h.msg_hdr, c);
                }
            }
        }
        Ok(n)
    }

    /// Datagram `i` of the last `recv`: its bytes (None if truncated), source, and kernel
    /// arrival time (ns since the Unix epoch; 0 if the kernel gave none).
    pub fn get(&self, i: usize) -> (Option<&[u8]>, SocketAddr, u64) {
        let a = &self.addrs[i];
        let from = SocketAddr::V4(SocketAddrV4::new(
            Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)),
            u16::from_be(a.sin_port),
        ));
        let data = (self.lens[i] <= BUF).then(|| &self.bufs[i][..self.lens[i]]);
        (data, from, self.kernel_ns[i])
    }
}

/// Now, in ns since the Unix epoch (the clock of SO_TIMESTAMPNS).
pub fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn each_datagram_comes_with_its_source_and_arrival_time() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_nonblocking(true).unwrap();
        enable_timestamps(&rx).unwrap();
        let mut batch = Rx::new();
        let e = batch.recv(&rx).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = realtime_ns();
        tx.send_to(b"first", rx.local_addr().unwrap()).unwrap();
        tx.send_to(&[0u8; BUF + 1], rx.local_addr().unwrap())
            .unwrap();
        assert_eq!(batch.recv(&rx).unwrap(), 2);
        let read = realtime_ns();
        let (data, from, at) = batch.get(0);
        assert_eq!(
            (data, from),
            (Some(&b"first"[..]), tx.local_addr().unwrap())
        );
        // Stamped on delivery to the socket: after the send began, before the read (not
        // necessarily before send_to returned: delivery may be left to ksoftirqd). The stamp
        // may be taken on another CPU, whose clock can be microseconds apart in a VM: 1 ms
        // of slack, far below what the benchmark resolves.
        const SKEW: u64 = 1_000_000;
        assert!(
            before <= at + SKEW && at <= read + SKEW,
            "{before} <= {at} <= {read}"
        );
        assert_eq!(batch.get(1).0, None, "truncated");
    }
}
