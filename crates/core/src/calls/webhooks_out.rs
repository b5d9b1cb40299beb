//! Delivering end-of-call webhooks from the outbox: leased rows (so instances never send the
//! same attempt twice), Standard Webhooks signatures with the tenant's secret(s), exponential
//! backoff, at-least-once. A receiver deduplicates by `webhook-id`, which stays the same on
//! every retry.

use super::public_dns::{refusal, PublicResolver, Refused};
use super::render::end_of_call_payload;
use super::signing::signature_header;
use super::{micros, CallSettings};
use crate::fair_work::{self, FairWork, Limits};
use crate::sealing::Keyring;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use trunkline_domain::internal::ip_is_internal;
use trunkline_store::{now_micros, DeliveryResult, FairClaim, OutboxRow, Store, StoreError};

/// How long a receiver gets to answer.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// A lease outlives any one attempt.
const LEASE: Duration = Duration::from_secs(60);
/// Deliveries in flight, all tenants together and per tenant. An attempt (a DNS answer
/// within 3 s, then the request within [`SEND_TIMEOUT`]) is stopped past `per_item`, well
/// inside its [`LEASE`].
pub const LIMITS: Limits = Limits {
    total: 50,
    per_tenant: 10,
    per_item: Duration::from_secs(30),
    idle: Duration::from_millis(500),
};
/// A previous secret is still signed with for this long after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 3600);

pub fn secret_aad(tenant_id: &str) -> String {
    format!("tenant:{tenant_id}:webhook_secret")
}

#[derive(Clone)]
pub struct Deliverer {
    pub store: Store,
    pub keyring: Arc<Keyring>,
    pub settings: Arc<CallSettings>,
    pub wake: Arc<Notify>,
    pub allow_private_targets: bool,
    pub http: reqwest::Client,
}

impl Deliverer {
    pub fn new(
        store: Store,
        keyring: Arc<Keyring>,
        settings: Arc<CallSettings>,
        wake: Arc<Notify>,
        allow_private_targets: bool,
    ) -> Self {
        let http = webhook_client(PublicResolver::system(allow_private_targets));
        Self {
            store,
            keyring,
            settings,
            wake,
            allow_private_targets,
            http,
        }
    }

    /// Delivers due webhooks until `stop`, fairly across tenants (see [`crate::fair_work`]):
    /// one tenant's slow or silent receivers hold at most its own share of the slots.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        let wake = self.wake.clone();
        fair_work::run(self, LIMITS, Some(wake), stop).await
    }

    /// Sends every due delivery once; returns how many were attempted.
    pub async fn pass(&self) -> Result<usize, StoreError> {
        fair_work::pass(self, &LIMITS).await
    }

    #[tracing::instrument(name = "webhook", skip_all,
        fields(call_id = %row.call_id, tenant = %row.tenant_id))]
    async fn deliver(&self, row: OutboxRow) -> Result<(), StoreError> {
        let attempt = self.attempt(&row).await;
        self.record(&row, attempt).await
    }

    /// Folds one attempt into the row: delivered, retried later with backoff, or given up.
    async fn record(
        &self,
        row: &OutboxRow,
        attempt: Result<u16, Attempt>,
    ) -> Result<(), StoreError> {
        let now = now_micros();
        let (delivered, http_status, error, give_up) = match attempt {
            Ok(status) if (200..300).contains(&status) => (true, Some(status), None, false),
            Ok(status) => (
                false,
                Some(status),
                Some(format!("the receiver answered HTTP {status}")),
                false,
            ),
            Err(Attempt::Retry(e)) => (false, None, Some(e), false),
            Err(Attempt::GiveUp(e)) => (false, None, Some(e), true),
        };
        let attempts = row.attempts + 1;
        let retry_at = (!delivered && !give_up && attempts < self.settings.webhook_max_attempts)
            .then(|| {
                let exp = (attempts - 1).clamp(0, 12) as u32;
                let delay = (self.settings.webhook_base_delay * 2u32.pow(exp))
                    .min(Duration::from_secs(3600));
                now + micros(delay)
            });
        crate::metrics::webhook_delivery(delivered, retry_at.is_some());
        if !delivered {
            tracing::info!(delivery = %row.id, call = %row.call_id, attempts, error = error.as_deref().unwrap_or(""), "webhooks: delivery failed");
        }
        self.store
            .record_delivery(
                &row.id,
                &DeliveryResult {
                    delivered,
                    http_status: http_status.map(i64::from),
                    error,
                    retry_at,
                    now,
                },
            )
            .await
    }

    async fn attempt(&self, row: &OutboxRow) -> Result<u16, Attempt> {
        let call = self
            .store
            .call_by_id(&row.call_id)
            .await
            .map_err(|e| Attempt::Retry(format!("database: {e}")))?
            .ok_or_else(|| Attempt::GiveUp("the call no longer exists".into()))?;
        let secrets = self.secrets(&row.tenant_id).await?;
        if !self.allow_private_targets {
            check_literal(&row.url)?;
        }
        let body = end_of_call_payload(&call);
        let ts = now_micros() / 1_000_000;
        let sig = signature_header(&secrets, &row.id, ts, &body);
        let resp = self
            .http
            .post(&row.url)
            .header("content-type", "application/json")
            .header("webhook-id", &row.id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
            .await
            .map_err(|e| match refusal(&e) {
                Some(r @ Refused::Internal(_)) => Attempt::GiveUp(r.to_string()),
                Some(r) => Attempt::Retry(r.to_string()),
                None => Attempt::Retry(describe(&e)),
            })?;
        Ok(resp.status().as_u16())
    }

    /// The tenant's current secret, and the previous one during a rotation's overlap.
    async fn secrets(&self, tenant_id: &str) -> Result<Vec<String>, Attempt> {
        let row = self
            .store
            .webhook_secret(tenant_id)
            .await
            .map_err(|e| Attempt::Retry(format!("database: {e}")))?
            .ok_or_else(|| Attempt::Retry("the account has no webhook signing secret yet: create one with POST /webhooks/secret".into()))?;
        let aad = secret_aad(tenant_id);
        let open = |sealed: &str| {
            self.keyring.open(&aad, sealed).map_err(|_| {
                Attempt::Retry(
                    "the webhook secret cannot be unsealed with the loaded master keys".into(),
                )
            })
        };
        let mut out = vec![open(&row.sealed)?];
        if let Some(prev) = &row.previous_sealed {
            if now_micros() - row.rotated_at < micros(ROTATION_OVERLAP) {
                out.push(open(prev)?);
            }
        }
        Ok(out)
    }
}

impl FairWork for Deliverer {
    type Item = OutboxRow;

    fn tenant(row: &OutboxRow) -> &str {
        &row.tenant_id
    }

    async fn claim(&self, claim: FairClaim) -> Result<Vec<OutboxRow>, StoreError> {
        let now = now_micros();
        self.store
            .lease_deliveries(now, now + micros(LEASE), &claim)
            .await
    }

    async fn work(&self, row: OutboxRow) {
        if let Err(e) = self.deliver(row).await {
            tracing::warn!(error = %e, "webhooks: could not record a delivery");
        }
    }

    async fn overdue(&self, row: OutboxRow) {
        let error = format!(
            "the delivery took longer than {} s and was stopped",
            LIMITS.per_item.as_secs()
        );
        if let Err(e) = self.record(&row, Err(Attempt::Retry(error))).await {
            tracing::warn!(error = %e, "webhooks: could not record a delivery");
        }
    }
}

/// The client deliveries use. Names resolve once, through `resolver`, and the connection
/// goes to what it answered. No proxy: a proxy would resolve the receiver's name itself.
pub fn webhook_client(resolver: PublicResolver) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        // A redirect would send the signed body somewhere the tenant never named.
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .dns_resolver(resolver)
        .build()
        .expect("static HTTP client configuration")
}

/// A receiver given as an IP address is never resolved, so the resolver cannot judge it.
fn check_literal(url: &str) -> Result<(), Attempt> {
    let parsed = url::Url::parse(url).map_err(|_| Attempt::GiveUp("invalid URL".into()))?;
    let ip = match parsed.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    if ip_is_internal(ip) {
        return Err(Attempt::GiveUp(format!(
            "{ip} is an internal address; webhooks go to public hosts only"
        )));
    }
    Ok(())
}

enum Attempt {
    Retry(String),
    GiveUp(String),
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!(
            "the receiver did not answer within {} s",
            SEND_TIMEOUT.as_secs()
        )
    } else if e.is_connect() {
        "could not connect to the receiver".into()
    } else {
        "the request to the receiver failed".into()
    }
}
