//! The resolver of the end-of-call webhook client. A receiver's host is resolved once, here,
//! and the client connects to exactly the addresses returned: checking a name and letting the
//! HTTP client resolve it again would let a name that answers a public address first and an
//! internal one next (DNS rebinding) reach the operator's network.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use trunkline_domain::internal::ip_is_internal;

/// A slow resolver must not hold a delivery: this is well inside its send timeout.
pub const DNS_TIMEOUT: Duration = Duration::from_secs(3);

type Lookup = dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
    + Send
    + Sync;

/// Why a name was not resolved: the delivery reports it (and gives up on an internal one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The name answered an address in the operator's network.
    Internal(String),
    TimedOut(String),
    Failed(String),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::Internal(host) => write!(
                f,
                "{host} resolves to an internal address; webhooks go to public hosts only"
            ),
            Refused::TimedOut(host) => write!(
                f,
                "resolving {host} took longer than {} s",
                DNS_TIMEOUT.as_secs()
            ),
            Refused::Failed(host) => write!(f, "cannot resolve {host}"),
        }
    }
}

impl std::error::Error for Refused {}

/// Resolves with a bounded wait and, unless private targets are allowed, refuses a name
/// any of whose addresses is internal (a name that mixes both is not trusted with either).
#[derive(Clone)]
pub struct PublicResolver {
    allow_private: bool,
    lookup: Arc<Lookup>,
}

impl PublicResolver {
    /// The system's resolver (getaddrinfo, through tokio).
    pub fn system(allow_private: bool) -> Self {
        Self::with_lookup(allow_private, |host: String| {
            Box::pin(async move {
                let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
                Ok(addrs.map(|a| a.ip()).collect())
            })
        })
    }

    /// Any lookup function: how tests answer a name as a rebinding DNS server would.
    pub fn with_lookup<F>(allow_private: bool, lookup: F) -> Self
    where
        F: Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send>>
            + Send
            + Sync
            + 'static,
    {
        Self {
            allow_private,
            lookup: Arc::new(lookup),
        }
    }

    /// The addresses to connect to (port 0: the client puts the URL's port in).
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, Refused> {
        let ips = match tokio::time::timeout(DNS_TIMEOUT, (self.lookup)(host.to_owned())).await {
            Err(_) => return Err(Refused::TimedOut(host.to_owned())),
            Ok(Err(_)) => return Err(Refused::Failed(host.to_owned())),
            Ok(Ok(ips)) => ips,
        };
        if ips.is_empty() {
            return Err(Refused::Failed(host.to_owned()));
        }
        if !self.allow_private && ips.iter().any(|ip| ip_is_internal(*ip)) {
            return Err(Refused::Internal(host.to_owned()));
        }
        Ok(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect())
    }
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let me = self.clone();
        Box::pin(async move {
            let addrs = me.resolve_host(name.as_str()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The resolver's refusal inside a client error, if that is what failed the request.
pub fn refusal(e: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<Refused>() {
            return Some(r);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn answering(ips: Vec<IpAddr>, count: Arc<AtomicUsize>) -> PublicResolver {
        PublicResolver::with_lookup(false, move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            let ips = ips.clone();
            Box::pin(async move { Ok(ips) })
        })
    }

    #[tokio::test]
    async fn internal_answers_are_refused_public_ones_kept() {
        let n = Arc::new(AtomicUsize::new(0));
        let public: IpAddr = "203.0.113.7".parse().unwrap();
        let got = answering(vec![public], n.clone())
            .resolve_host("hooks.example")
            .await
            .unwrap();
        assert_eq!(got, vec![SocketAddr::new(public, 0)]);
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "169.254.169.254",
            "::1",
            "::ffff:10.0.0.1",
        ] {
            let r = answering(vec![public, internal.parse().unwrap()], n.clone());
            assert_eq!(
                r.resolve_host("rebind.example").await,
                Err(Refused::Internal("rebind.example".into())),
                "{internal}"
            );
        }
    }

    #[tokio::test]
    async fn a_resolver_that_never_answers_is_given_up_on() {
        let r = PublicResolver::with_lookup(false, |_| {
            Box::pin(async {
                std::future::pending::<()>().await;
                Ok(vec![])
            })
        });
        assert_eq!(
            r.resolve_host("slow.example").await,
            Err(Refused::TimedOut("slow.example".into()))
        );
    }

    /// The webhook client connects to what the resolver answered, after one lookup: a
    /// name answering a loopback listener is refused without a connection, and, with
    /// private targets allowed, reaches that listener though no real DNS knows the name.
    #[tokio::test]
    async fn the_client_connects_only_where_the_checked_answer_points() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let acc = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                acc.fetch_add(1, Ordering::SeqCst);
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let url = format!("http://rebind.invalid:{port}/hook");
        let lookups = Arc::new(AtomicUsize::new(0));
        let loopback = vec!["127.0.0.1".parse().unwrap()];

        let client = crate::calls::webhooks_out::webhook_client(answering(
            loopback.clone(),
            lookups.clone(),
        ));
        let err = client.post(&url).send().await.unwrap_err();
        assert_eq!(
            refusal(&err),
            Some(&Refused::Internal("rebind.invalid".into()))
        );
        assert_eq!(lookups.load(Ordering::SeqCst), 1, "resolved once");
        assert_eq!(accepted.load(Ordering::SeqCst), 0, "no connection made");

        let n = lookups.clone();
        let open = PublicResolver::with_lookup(true, move |_| {
            n.fetch_add(1, Ordering::SeqCst);
            let ips = loopback.clone();
            Box::pin(async move { Ok(ips) })
        });
        let resp = crate::calls::webhooks_out::webhook_client(open)
            .post(&url)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        assert_eq!(lookups.load(Ordering::SeqCst), 2);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn private_targets_allowed_means_no_filter() {
        let r = PublicResolver::with_lookup(true, |_| {
            Box::pin(async { Ok(vec!["127.0.0.1".parse().unwrap()]) })
        });
        assert!(r.resolve_host("localhost").await.is_ok());
    }
}
