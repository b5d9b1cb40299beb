//! SIP peers the health-check tests point trunks at: one that answers OPTIONS, one that
//! holds connections open and never answers.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A provider that answers every OPTIONS on a TCP connection with 200, echoing the headers
/// RFC 3261 §8.2.6.2 says a response copies.
pub async fn answer_options(listener: TcpListener) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            loop {
                let Ok(n) = sock.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    buf.drain(..end + 4);
                    let mut resp = String::from("SIP/2.0 200 OK\r\n");
                    for line in head.lines().skip(1) {
                        let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
                        if ["via", "from", "to", "call-id", "cseq"].contains(&name.as_str()) {
                            resp.push_str(line);
                            resp.push_str("\r\n");
                        }
                    }
                    resp.push_str("Content-Length: 0\r\n\r\n");
                    if sock.write_all(resp.as_bytes()).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}

/// A TCP peer that accepts every connection, reads what it is sent and never answers: each
/// probe of it runs to its timeout. Counts connections open now, at most, and in all.
#[derive(Clone, Default)]
pub struct SilentPeer {
    pub open: Arc<AtomicUsize>,
    pub most_open: Arc<AtomicUsize>,
    pub accepted: Arc<AtomicUsize>,
}

impl SilentPeer {
    /// Listens on 127.0.0.1; returns the port.
    pub async fn start(&self) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                me.accepted.fetch_add(1, Ordering::SeqCst);
                let now = me.open.fetch_add(1, Ordering::SeqCst) + 1;
                me.most_open.fetch_max(now, Ordering::SeqCst);
                let me = me.clone();
                tokio::spawn(async move {
                    let mut chunk = [0u8; 4096];
                    while matches!(sock.read(&mut chunk).await, Ok(n) if n > 0) {}
                    me.open.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        port
    }
}
