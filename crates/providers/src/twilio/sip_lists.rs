//! 2010 SIP credential lists and their credentials: account-wide objects that a trunk uses
//! for termination once associated (PROVIDERS.md §1.5).

use super::types::*;
use super::{check_sid, TwilioClient};
use crate::error::ProviderError;
use crate::secret::Secret;
use crate::transport::Call;
use reqwest::Method;

impl TwilioClient {
    /// `FriendlyName` is required (at most 64 characters).
    pub async fn create_credential_list(
        &self,
        friendly_name: &str,
    ) -> Result<CredentialList, ProviderError> {
        let url = self.api_url(&["SIP", "CredentialLists"], ".json");
        let form = FriendlyNameParam { friendly_name };
        self.send(Call::new(Method::POST, url).form(&form)).await
    }

    pub async fn fetch_credential_list(&self, sid: &str) -> Result<CredentialList, ProviderError> {
        check_sid("CL", sid)?;
        let url = self.api_url(&["SIP", "CredentialLists", sid], ".json");
        self.send(Call::new(Method::GET, url)).await
    }

    pub async fn rename_credential_list(
        &self,
        sid: &str,
        friendly_name: &str,
    ) -> Result<CredentialList, ProviderError> {
        check_sid("CL", sid)?;
        let url = self.api_url(&["SIP", "CredentialLists", sid], ".json");
        let form = FriendlyNameParam { friendly_name };
        self.send(Call::new(Method::POST, url).form(&form)).await
    }

    pub async fn delete_credential_list(&self, sid: &str) -> Result<(), ProviderError> {
        check_sid("CL", sid)?;
        self.delete(self.api_url(&["SIP", "CredentialLists", sid], ".json"))
            .await
    }

    pub async fn list_credential_lists(&self) -> Result<Vec<CredentialList>, ProviderError> {
        let url = self.api_url(&["SIP", "CredentialLists"], ".json");
        self.list(url, "credential_lists").await
    }

    /// `Username` (at most 32) and `Password` (at least 12 characters, a digit, mixed case;
    /// Twilio enforces it). The password is never returned, and never appears in an error.
    pub async fn create_credential(
        &self,
        credential_list_sid: &str,
        username: &str,
        password: &Secret,
    ) -> Result<Credential, ProviderError> {
        check_sid("CL", credential_list_sid)?;
        let url = self.api_url(
            &["SIP", "CredentialLists", credential_list_sid, "Credentials"],
            ".json",
        );
        let form = CredentialParams { username, password };
        self.send(Call::new(Method::POST, url).form(&form).secret(password))
            .await
    }

    pub async fn list_credentials(
        &self,
        credential_list_sid: &str,
    ) -> Result<Vec<Credential>, ProviderError> {
        check_sid("CL", credential_list_sid)?;
        let url = self.api_url(
            &["SIP", "CredentialLists", credential_list_sid, "Credentials"],
            ".json",
        );
        self.list(url, "credentials").await
    }

    /// The only field a credential's update takes.
    pub async fn update_credential_password(
        &self,
        credential_list_sid: &str,
        sid: &str,
        password: &Secret,
    ) -> Result<Credential, ProviderError> {
        let url = self.credential_url(credential_list_sid, sid)?;
        let form = PasswordParam { password };
        self.send(Call::new(Method::POST, url).form(&form).secret(password))
            .await
    }

    pub async fn delete_credential(
        &self,
        credential_list_sid: &str,
        sid: &str,
    ) -> Result<(), ProviderError> {
        let url = self.credential_url(credential_list_sid, sid)?;
        self.delete(url).await
    }

    /// `SIP/CredentialLists/{CL}/Credentials/{CR}.json`, once both sids are checked.
    fn credential_url(
        &self,
        credential_list_sid: &str,
        sid: &str,
    ) -> Result<url::Url, ProviderError> {
        check_sid("CL", credential_list_sid)?;
        check_sid("CR", sid)?;
        Ok(self.api_url(
            &[
                "SIP",
                "CredentialLists",
                credential_list_sid,
                "Credentials",
                sid,
            ],
            ".json",
        ))
    }
}
