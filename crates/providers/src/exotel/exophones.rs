//! The account's numbers ("ExoPhones"): `GET /v2_beta/Accounts/{sid}/IncomingPhoneNumbers`
//! (developer.exotel.com/api/exophone-details). Not the vSIP envelope: a Twilio-like page
//! `{page, page_size, uri, first_page_uri, next_page_uri, previous_page_uri,
//! incoming_phone_numbers: [{sid, phone_number, friendly_name, …}]}`.
//!
//! Uncertain: the page parameters (`Page`, `PageSize`, as in the example's URIs) and every
//! item field beyond `sid`, `phone_number` and `friendly_name`. The example's next-page link
//! points at an internal host (`twilix.exotel.com`): only its path and query are used.

use super::{ExoPhone, ExotelClient, P};
use crate::error::ProviderError;
use crate::transport::Call;
use crate::urls;
use reqwest::Method;
use serde_json::Value;

impl ExotelClient {
    /// Every ExoPhone of the account.
    pub async fn list_exophones(&self) -> Result<Vec<ExoPhone>, ProviderError> {
        let size = self.transport().options().page_size.clamp(1, 100);
        self.exophones_from(size, usize::MAX).await
    }

    /// The credentials check: one authenticated read of the account (an ExoPhones page of
    /// one). Exotel's vSIP API has no account endpoint, and this one needs the same key,
    /// token and SID as every vSIP call.
    pub async fn verify_credentials(&self) -> Result<(), ProviderError> {
        self.exophones_from(1, 1).await.map(|_| ())
    }

    async fn exophones_from(
        &self,
        page_size: u32,
        max_pages: usize,
    ) -> Result<Vec<ExoPhone>, ProviderError> {
        let mut url = self.beta_url(&["IncomingPhoneNumbers"]);
        url.query_pairs_mut()
            .append_pair("Page", "0")
            .append_pair("PageSize", &page_size.to_string());
        let mut out = Vec::new();
        let mut seen = Vec::new();
        for _ in 0..max_pages.min(1000) {
            let call = Call::new(Method::GET, url.clone());
            let page: Value = self
                .transport()
                .run(&call, |raw| {
                    if (200..300).contains(&raw.status) {
                        serde_json::from_slice(&raw.body).map_err(|e| {
                            ProviderError::bad_response(
                                P,
                                raw.status,
                                format!("unreadable ExoPhones page ({e})"),
                            )
                        })
                    } else {
                        Err(error_from(&raw))
                    }
                })
                .await?;
            let items = page
                .get("incoming_phone_numbers")
                .cloned()
                .unwrap_or(Value::Array(vec![]));
            let items: Vec<ExoPhone> = serde_json::from_value(items).map_err(|e| {
                ProviderError::bad_response(P, 200, format!("unreadable ExoPhone ({e})"))
            })?;
            let empty = items.is_empty();
            out.extend(items);
            seen.push(url.clone());
            let next = page.get("next_page_uri").and_then(Value::as_str);
            match next.and_then(|n| urls::follow(self.base_url(), n)) {
                Some(n) if !empty && !seen.contains(&n) => url = n,
                _ => break,
            }
        }
        Ok(out)
    }
}

/// This older API's errors are not documented: the vSIP envelope is tried, then Twilio's
/// `{code, message}` shape that its paging mimics, then the status alone.
fn error_from(raw: &crate::transport::Raw) -> ProviderError {
    let body: Value = serde_json::from_slice(&raw.body).unwrap_or(Value::Null);
    if body.get("response").is_some() {
        if let Err(e) = super::envelope::single::<Value>(raw) {
            return e;
        }
    }
    let code = body
        .get("code")
        .map(|c| c.to_string().trim_matches('"').to_owned());
    let message = body
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| raw.snippet());
    let kind = super::envelope::classify(raw.status, code.as_deref());
    ProviderError::api(P, kind, raw.status, code, message)
        .with_retry_after((raw.status == 429).then(|| raw.retry_after()).flatten())
}
