//! Credential connections, FQDN connections with their FQDNs, and outbound voice profiles.
//! Creates answer 201 (an outbound voice profile 200, per the spec), PATCH 200, DELETE 200
//! with the deleted object.

use super::types::*;
use super::TelnyxClient;
use crate::error::ProviderError;
use crate::transport::Call;
use reqwest::Method;

impl TelnyxClient {
    pub async fn create_credential_connection(
        &self,
        params: &CredentialConnectionParams,
    ) -> Result<CredentialConnection, ProviderError> {
        let mut call = Call::new(Method::POST, self.url(&["credential_connections"])).json(params);
        if let Some(p) = &params.password {
            call = call.secret(p);
        }
        self.data(call).await
    }

    pub async fn fetch_credential_connection(
        &self,
        id: &str,
    ) -> Result<CredentialConnection, ProviderError> {
        self.data(Call::new(
            Method::GET,
            self.url(&["credential_connections", id]),
        ))
        .await
    }

    pub async fn update_credential_connection(
        &self,
        id: &str,
        params: &CredentialConnectionParams,
    ) -> Result<CredentialConnection, ProviderError> {
        let mut call =
            Call::new(Method::PATCH, self.url(&["credential_connections", id])).json(params);
        if let Some(p) = &params.password {
            call = call.secret(p);
        }
        self.data(call).await
    }

    pub async fn delete_credential_connection(
        &self,
        id: &str,
    ) -> Result<CredentialConnection, ProviderError> {
        self.data(Call::new(
            Method::DELETE,
            self.url(&["credential_connections", id]),
        ))
        .await
    }

    /// All credential connections, or those whose name contains `name_contains`
    /// (`filter[connection_name][contains]`).
    pub async fn list_credential_connections(
        &self,
        name_contains: Option<&str>,
    ) -> Result<Vec<CredentialConnection>, ProviderError> {
        let filters: Vec<(&str, &str)> = name_contains
            .map(|n| vec![("filter[connection_name][contains]", n)])
            .unwrap_or_default();
        self.list(&["credential_connections"], &filters).await
    }

    pub async fn create_fqdn_connection(
        &self,
        params: &FqdnConnectionParams,
    ) -> Result<FqdnConnection, ProviderError> {
        self.data(Call::new(Method::POST, self.url(&["fqdn_connections"])).json(params))
            .await
    }

    pub async fn fetch_fqdn_connection(&self, id: &str) -> Result<FqdnConnection, ProviderError> {
        self.data(Call::new(Method::GET, self.url(&["fqdn_connections", id])))
            .await
    }

    pub async fn update_fqdn_connection(
        &self,
        id: &str,
        params: &FqdnConnectionParams,
    ) -> Result<FqdnConnection, ProviderError> {
        self.data(Call::new(Method::PATCH, self.url(&["fqdn_connections", id])).json(params))
            .await
    }

    pub async fn delete_fqdn_connection(&self, id: &str) -> Result<FqdnConnection, ProviderError> {
        self.data(Call::new(
            Method::DELETE,
            self.url(&["fqdn_connections", id]),
        ))
        .await
    }

    pub async fn list_fqdn_connections(
        &self,
        name_contains: Option<&str>,
    ) -> Result<Vec<FqdnConnection>, ProviderError> {
        let filters: Vec<(&str, &str)> = name_contains
            .map(|n| vec![("filter[connection_name][contains]", n)])
            .unwrap_or_default();
        self.list(&["fqdn_connections"], &filters).await
    }

    /// A target host for an FQDN connection (`dns_record_type` `a` with a port, `srv`
    /// without).
    pub async fn create_fqdn(&self, params: &FqdnParams) -> Result<Fqdn, ProviderError> {
        self.data(Call::new(Method::POST, self.url(&["fqdns"])).json(params))
            .await
    }

    pub async fn delete_fqdn(&self, id: &str) -> Result<Fqdn, ProviderError> {
        self.data(Call::new(Method::DELETE, self.url(&["fqdns", id])))
            .await
    }

    /// The FQDNs of one connection (`filter[connection_id]`).
    pub async fn list_fqdns(&self, connection_id: &str) -> Result<Vec<Fqdn>, ProviderError> {
        self.list(&["fqdns"], &[("filter[connection_id]", connection_id)])
            .await
    }

    pub async fn create_outbound_voice_profile(
        &self,
        params: &OutboundVoiceProfileParams,
    ) -> Result<OutboundVoiceProfile, ProviderError> {
        self.data(Call::new(Method::POST, self.url(&["outbound_voice_profiles"])).json(params))
            .await
    }

    pub async fn fetch_outbound_voice_profile(
        &self,
        id: &str,
    ) -> Result<OutboundVoiceProfile, ProviderError> {
        self.data(Call::new(
            Method::GET,
            self.url(&["outbound_voice_profiles", id]),
        ))
        .await
    }

    /// PATCH, which requires `name` even when it does not change.
    pub async fn update_outbound_voice_profile(
        &self,
        id: &str,
        params: &OutboundVoiceProfileParams,
    ) -> Result<OutboundVoiceProfile, ProviderError> {
        self.data(Call::new(Method::PATCH, self.url(&["outbound_voice_profiles", id])).json(params))
            .await
    }

    pub async fn delete_outbound_voice_profile(
        &self,
        id: &str,
    ) -> Result<OutboundVoiceProfile, ProviderError> {
        self.data(Call::new(
            Method::DELETE,
            self.url(&["outbound_voice_profiles", id]),
        ))
        .await
    }

    pub async fn list_outbound_voice_profiles(
        &self,
    ) -> Result<Vec<OutboundVoiceProfile>, ProviderError> {
        self.list(&["outbound_voice_profiles"], &[]).await
    }
}
