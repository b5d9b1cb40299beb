//! The account's phone numbers (2010 IncomingPhoneNumbers): listing them, and finding the
//! `PN…` of an E.164 number to associate with a trunk.

use super::types::PhoneNumber;
use super::TwilioClient;
use crate::error::ProviderError;
use crate::transport::Call;
use reqwest::Method;

impl TwilioClient {
    /// Every number of the account.
    pub async fn list_incoming_numbers(&self) -> Result<Vec<PhoneNumber>, ProviderError> {
        let url = self.api_url(&["IncomingPhoneNumbers"], ".json");
        self.list(url, "incoming_phone_numbers").await
    }

    /// The number `e164` exactly, if the account has it. Twilio's `PhoneNumber` filter
    /// matches partially (and `*` is a wildcard), so the answer is filtered for equality.
    pub async fn find_incoming_number(
        &self,
        e164: &str,
    ) -> Result<Option<PhoneNumber>, ProviderError> {
        let mut url = self.api_url(&["IncomingPhoneNumbers"], ".json");
        url.query_pairs_mut().append_pair("PhoneNumber", e164);
        let found: Vec<PhoneNumber> = self.list(url, "incoming_phone_numbers").await?;
        Ok(found.into_iter().find(|n| n.phone_number == e164))
    }

    /// Fetches one number by SID.
    pub async fn fetch_incoming_number(&self, sid: &str) -> Result<PhoneNumber, ProviderError> {
        super::check_sid("PN", sid)?;
        let url = self.api_url(&["IncomingPhoneNumbers", sid], ".json");
        self.send(Call::new(Method::GET, url)).await
    }
}
