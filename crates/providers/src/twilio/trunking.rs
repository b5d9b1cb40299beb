//! Elastic SIP Trunking v1: trunks, their origination URLs (inbound to LiveKit), and the
//! lists and numbers associated with them (PROVIDERS.md §1.2–1.4).

use super::types::*;
use super::{check_sid, TwilioClient};
use crate::error::ProviderError;
use crate::transport::Call;
use reqwest::Method;
use serde::de::DeserializeOwned;

/// An account object a trunk takes by association (`POST Trunks/{TK}/{collection}` with its
/// sid, `DELETE …/{sid}` to take it off): association, listing and dissociation are one shape
/// for each.
struct Associated {
    /// The trunk's sub-collection: `CredentialLists`, `IpAccessControlLists`, `PhoneNumbers`.
    collection: &'static str,
    /// The form parameter naming the object on association.
    param: &'static str,
    /// The object's sid prefix.
    prefix: &'static str,
    /// The list envelope's key.
    list_key: &'static str,
}

const CREDENTIAL_LISTS: Associated = Associated {
    collection: "CredentialLists",
    param: "CredentialListSid",
    prefix: "CL",
    list_key: "credential_lists",
};

const IP_ACCESS_CONTROL_LISTS: Associated = Associated {
    collection: "IpAccessControlLists",
    param: "IpAccessControlListSid",
    prefix: "AL",
    list_key: "ip_access_control_lists",
};

const PHONE_NUMBERS: Associated = Associated {
    collection: "PhoneNumbers",
    param: "PhoneNumberSid",
    prefix: "PN",
    list_key: "phone_numbers",
};

impl TwilioClient {
    /// `POST /v1/Trunks` → 201. A taken `DomainName` is 21248
    /// ([`ProviderError::is_twilio_domain_taken`]).
    pub async fn create_trunk(&self, params: &TrunkParams) -> Result<Trunk, ProviderError> {
        let url = self.trunking_url(&["Trunks"]);
        self.send(Call::new(Method::POST, url).form(params)).await
    }

    pub async fn fetch_trunk(&self, sid: &str) -> Result<Trunk, ProviderError> {
        check_sid("TK", sid)?;
        let url = self.trunking_url(&["Trunks", sid]);
        self.send(Call::new(Method::GET, url)).await
    }

    /// Update is a POST on the instance; only the fields set in `params` change.
    pub async fn update_trunk(
        &self,
        sid: &str,
        params: &TrunkParams,
    ) -> Result<Trunk, ProviderError> {
        check_sid("TK", sid)?;
        let url = self.trunking_url(&["Trunks", sid]);
        self.send(Call::new(Method::POST, url).form(params)).await
    }

    /// `DELETE` → 204. The domain stays reserved for up to 30 days (§1.7).
    pub async fn delete_trunk(&self, sid: &str) -> Result<(), ProviderError> {
        check_sid("TK", sid)?;
        self.delete(self.trunking_url(&["Trunks", sid])).await
    }

    pub async fn list_trunks(&self) -> Result<Vec<Trunk>, ProviderError> {
        self.list(self.trunking_url(&["Trunks"]), "trunks").await
    }

    pub async fn create_origination_url(
        &self,
        trunk_sid: &str,
        params: &OriginationUrlParams,
    ) -> Result<OriginationUrl, ProviderError> {
        check_sid("TK", trunk_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "OriginationUrls"]);
        self.send(Call::new(Method::POST, url).form(params)).await
    }

    pub async fn fetch_origination_url(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<OriginationUrl, ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("OU", sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "OriginationUrls", sid]);
        self.send(Call::new(Method::GET, url)).await
    }

    pub async fn update_origination_url(
        &self,
        trunk_sid: &str,
        sid: &str,
        params: &OriginationUrlUpdate,
    ) -> Result<OriginationUrl, ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("OU", sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "OriginationUrls", sid]);
        self.send(Call::new(Method::POST, url).form(params)).await
    }

    pub async fn delete_origination_url(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("OU", sid)?;
        self.delete(self.trunking_url(&["Trunks", trunk_sid, "OriginationUrls", sid]))
            .await
    }

    pub async fn list_origination_urls(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<OriginationUrl>, ProviderError> {
        check_sid("TK", trunk_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "OriginationUrls"]);
        self.list(url, "origination_urls").await
    }

    /// Associates a 2010 credential list for termination (LiveKit's outbound digest auth).
    pub async fn associate_credential_list(
        &self,
        trunk_sid: &str,
        credential_list_sid: &str,
    ) -> Result<TrunkAssociation, ProviderError> {
        self.associate(trunk_sid, &CREDENTIAL_LISTS, credential_list_sid)
            .await
    }

    pub async fn list_trunk_credential_lists(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<TrunkAssociation>, ProviderError> {
        self.list_associated(trunk_sid, &CREDENTIAL_LISTS).await
    }

    /// Removes the association only; the list itself stays (it is an account object).
    pub async fn dissociate_credential_list(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        self.dissociate(trunk_sid, &CREDENTIAL_LISTS, sid).await
    }

    pub async fn associate_ip_access_control_list(
        &self,
        trunk_sid: &str,
        ip_access_control_list_sid: &str,
    ) -> Result<TrunkAssociation, ProviderError> {
        self.associate(
            trunk_sid,
            &IP_ACCESS_CONTROL_LISTS,
            ip_access_control_list_sid,
        )
        .await
    }

    pub async fn list_trunk_ip_access_control_lists(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<TrunkAssociation>, ProviderError> {
        self.list_associated(trunk_sid, &IP_ACCESS_CONTROL_LISTS)
            .await
    }

    pub async fn dissociate_ip_access_control_list(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        self.dissociate(trunk_sid, &IP_ACCESS_CONTROL_LISTS, sid)
            .await
    }

    /// Puts an IncomingPhoneNumber (`PN…`) on the trunk; the answer is the whole number.
    pub async fn associate_phone_number(
        &self,
        trunk_sid: &str,
        phone_number_sid: &str,
    ) -> Result<PhoneNumber, ProviderError> {
        self.associate(trunk_sid, &PHONE_NUMBERS, phone_number_sid)
            .await
    }

    pub async fn list_trunk_phone_numbers(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<PhoneNumber>, ProviderError> {
        self.list_associated(trunk_sid, &PHONE_NUMBERS).await
    }

    /// Takes the number off the trunk; the number stays in the account.
    pub async fn dissociate_phone_number(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        self.dissociate(trunk_sid, &PHONE_NUMBERS, sid).await
    }

    async fn associate<T: DeserializeOwned>(
        &self,
        trunk_sid: &str,
        what: &Associated,
        sid: &str,
    ) -> Result<T, ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid(what.prefix, sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, what.collection]);
        self.send(Call::new(Method::POST, url).form(&[(what.param, sid)]))
            .await
    }

    async fn list_associated<T: DeserializeOwned>(
        &self,
        trunk_sid: &str,
        what: &Associated,
    ) -> Result<Vec<T>, ProviderError> {
        check_sid("TK", trunk_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, what.collection]);
        self.list(url, what.list_key).await
    }

    async fn dissociate(
        &self,
        trunk_sid: &str,
        what: &Associated,
        sid: &str,
    ) -> Result<(), ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid(what.prefix, sid)?;
        self.delete(self.trunking_url(&["Trunks", trunk_sid, what.collection, sid]))
            .await
    }
}
