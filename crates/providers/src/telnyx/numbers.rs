//! The account's phone numbers: listing, lookup by E.164, and pointing a number at a
//! connection (`PATCH /phone_numbers/{id}` with `connection_id`).

use super::types::PhoneNumber;
use super::TelnyxClient;
use crate::error::ProviderError;
use crate::transport::Call;
use reqwest::Method;
use serde::Serialize;

#[derive(Serialize)]
struct Assign<'a> {
    /// `null` takes the number off its connection. Uncertain: TX-OAI types the field as a
    /// string and shows no unassign example; `null` is what its nullable response field
    /// holds for an unassigned number.
    connection_id: Option<&'a str>,
}

impl TelnyxClient {
    pub async fn list_phone_numbers(&self) -> Result<Vec<PhoneNumber>, ProviderError> {
        self.list(&["phone_numbers"], &[]).await
    }

    /// The number `e164` exactly (`filter[phone_number]` also matches partially).
    pub async fn find_phone_number(
        &self,
        e164: &str,
    ) -> Result<Option<PhoneNumber>, ProviderError> {
        let found: Vec<PhoneNumber> = self
            .list(&["phone_numbers"], &[("filter[phone_number]", e164)])
            .await?;
        Ok(found.into_iter().find(|n| n.phone_number == e164))
    }

    pub async fn fetch_phone_number(&self, id: &str) -> Result<PhoneNumber, ProviderError> {
        self.data(Call::new(Method::GET, self.url(&["phone_numbers", id])))
            .await
    }

    /// Routes the number's calls to `connection_id` (`None`: to no connection).
    pub async fn set_phone_number_connection(
        &self,
        id: &str,
        connection_id: Option<&str>,
    ) -> Result<PhoneNumber, ProviderError> {
        let body = Assign { connection_id };
        self.data(Call::new(Method::PATCH, self.url(&["phone_numbers", id])).json(&body))
            .await
    }
}
