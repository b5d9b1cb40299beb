//! Approval of the numbers inbound trunks claim, where the operator requires it
//! (`TRUNKLINE_NUMBER_APPROVAL=required`). All tenants share one LiveKit project, in which the
//! first trunk to list a number receives its calls; until provider automation can show that a
//! number is in the tenant's own provider account, the operator vouches for it instead
//! (`trunkline approvals …`). A trunk with a number not approved for its tenant is stored and
//! waits as `awaiting_approval`, with no LiveKit side; the reconciler provisions it once every
//! number is approved, and removes its LiveKit side if an approval is revoked.

use super::Provisioner;
use crate::ServiceError;
use trunkline_domain::inbound::InboundTrunkConfig;
use trunkline_store::ANY_NUMBER;

impl Provisioner {
    /// Requires the operator's approval of claimed numbers.
    pub fn with_number_approval(mut self, required: bool) -> Self {
        self.number_approval = required;
        self
    }

    pub fn number_approval_required(&self) -> bool {
        self.number_approval
    }

    /// The numbers of `config` not approved for the tenant (`""` for a trunk listing none,
    /// which answers any number); always empty when approval is not required.
    pub async fn unapproved_numbers(
        &self,
        tenant_id: &str,
        config: &InboundTrunkConfig,
    ) -> Result<Vec<String>, ServiceError> {
        if !self.number_approval {
            return Ok(Vec::new());
        }
        let mut numbers: Vec<String> = config
            .numbers
            .iter()
            .map(|n| n.as_str().to_owned())
            .collect();
        if numbers.is_empty() {
            numbers.push(ANY_NUMBER.to_owned());
        }
        Ok(self.store.unapproved_numbers(tenant_id, &numbers).await?)
    }
}

/// How a waiting trunk's numbers read in messages.
pub fn describe_numbers(numbers: &[String]) -> String {
    numbers
        .iter()
        .map(|n| {
            if n == ANY_NUMBER {
                "any number (a trunk without numbers)"
            } else {
                n.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
