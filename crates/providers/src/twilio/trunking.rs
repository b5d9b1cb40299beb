//! Elastic SIP Trunking v1: trunks, their origination URLs (inbound to LiveKit), and the
//! lists and numbers associated with them (PROVIDERS.md §1.2–1.4).

use super::types::*;
use super::{check_sid, TwilioClient};
use crate::error::ProviderError;
use crate::transport::Call;
use reqwest::Method;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CredentialListSid<'a> {
    credential_list_sid: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct IpAccessControlListSid<'a> {
    ip_access_control_list_sid: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct PhoneNumberSid<'a> {
    phone_number_sid: &'a str,
}

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
        check_sid("TK", trunk_sid)?;
        check_sid("CL", credential_list_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "CredentialLists"]);
        let form = CredentialListSid {
            credential_list_sid,
        };
        self.send(Call::new(Method::POST, url).form(&form)).await
    }

    pub async fn list_trunk_credential_lists(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<TrunkAssociation>, ProviderError> {
        check_sid("TK", trunk_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "CredentialLists"]);
        self.list(url, "credential_lists").await
    }

    /// Removes the association only; the list itself stays (it is an account object).
    pub async fn dissociate_credential_list(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("CL", sid)?;
        self.delete(self.trunking_url(&["Trunks", trunk_sid, "CredentialLists", sid]))
            .await
    }

    pub async fn associate_ip_access_control_list(
        &self,
        trunk_sid: &str,
        ip_access_control_list_sid: &str,
    ) -> Result<TrunkAssociation, ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("AL", ip_access_control_list_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "IpAccessControlLists"]);
        let form = IpAccessControlListSid {
            ip_access_control_list_sid,
        };
        self.send(Call::new(Method::POST, url).form(&form)).await
    }

    pub async fn list_trunk_ip_access_control_lists(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<TrunkAssociation>, ProviderError> {
        check_sid("TK", trunk_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "IpAccessControlLists"]);
        self.list(url, "ip_access_control_lists").await
    }

    pub async fn dissociate_ip_access_control_list(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("AL", sid)?;
        self.delete(self.trunking_url(&["Trunks", trunk_sid, "IpAccessControlLists", sid]))
            .await
    }

    /// Puts an IncomingPhoneNumber (`PN…`) on the trunk; the answer is the whole number.
    pub async fn associate_phone_number(
        &self,
        trunk_sid: &str,
        phone_number_sid: &str,
    ) -> Result<PhoneNumber, ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("PN", phone_number_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "PhoneNumbers"]);
        let form = PhoneNumberSid { phone_number_sid };
        self.send(Call::new(Method::POST, url).form(&form)).await
    }

    pub async fn list_trunk_phone_numbers(
        &self,
        trunk_sid: &str,
    ) -> Result<Vec<PhoneNumber>, ProviderError> {
        check_sid("TK", trunk_sid)?;
        let url = self.trunking_url(&["Trunks", trunk_sid, "PhoneNumbers"]);
        self.list(url, "phone_numbers").await
    }

    /// Takes the number off the trunk; the number stays in the account.
    pub async fn dissociate_phone_number(
        &self,
        trunk_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        check_sid("TK", trunk_sid)?;
        check_sid("PN", sid)?;
        self.delete(self.trunking_url(&["Trunks", trunk_sid, "PhoneNumbers", sid]))
            .await
    }
}
