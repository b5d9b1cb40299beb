//! Numbers the operator approved for a tenant (migration 0090), for deployments where a
//! number claimed by an inbound trunk reaches LiveKit only once approved. Without it, the
//! first account to claim a number receives its calls.

use crate::{Store, StoreError};
use sqlx::Row;

/// The number that stands for "any number": what a trunk listing no numbers claims.
pub const ANY_NUMBER: &str = "";

/// What an approval did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
    Approved,
    AlreadyApproved,
    /// The number is approved for another tenant (its id): revoke that first.
    HeldBy(String),
    /// No tenant has this id or email.
    NoSuchTenant,
}

/// A number an inbound trunk claims that is not approved for the trunk's tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    pub number: String,
    pub tenant_id: String,
    pub tenant_email: String,
    pub trunk_id: String,
    pub trunk_name: String,
}

impl Store {
    /// Approves `number` for the tenant with this id or email.
    pub async fn approve_number(
        &self,
        tenant: &str,
        number: &str,
        now: i64,
    ) -> Result<Approval, StoreError> {
        let Some(tenant_id): Option<String> =
            sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1 OR email = $1")
                .bind(tenant)
                .fetch_optional(&self.writer)
                .await?
        else {
            return Ok(Approval::NoSuchTenant);
        };
        let inserted = sqlx::query(
            "INSERT INTO number_approvals (number, tenant_id, approved_at) VALUES ($1, $2, $3) \
             ON CONFLICT (number) DO NOTHING",
        )
        .bind(number)
        .bind(&tenant_id)
        .bind(now)
        .execute(&self.writer)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(Approval::Approved);
        }
        let holder: String =
            sqlx::query_scalar("SELECT tenant_id FROM number_approvals WHERE number = $1")
                .bind(number)
                .fetch_one(&self.writer)
                .await?;
        Ok(if holder == tenant_id {
            Approval::AlreadyApproved
        } else {
            Approval::HeldBy(holder)
        })
    }

    /// How many accounts (tenants) the database holds.
    pub async fn tenant_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Withdraws the approval of `number`; whether there was one.
    pub async fn revoke_number_approval(&self, number: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM number_approvals WHERE number = $1")
                .bind(number)
                .execute(&self.writer)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Which of `numbers` are not approved for the tenant, in the order given.
    pub async fn unapproved_numbers(
        &self,
        tenant_id: &str,
        numbers: &[String],
    ) -> Result<Vec<String>, StoreError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let marks: Vec<String> = (0..numbers.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT number FROM number_approvals WHERE tenant_id = $1 AND number IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(tenant_id);
        for n in numbers {
            q = q.bind(n.as_str());
        }
        let approved = q.fetch_all(&self.pool).await?;
        Ok(numbers
            .iter()
            .filter(|n| !approved.contains(n))
            .cloned()
            .collect())
    }

    /// Every number a live inbound trunk claims without an approval for its tenant.
    pub async fn pending_number_approvals(&self) -> Result<Vec<PendingApproval>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT c.number, c.tenant_id, t.email, c.trunk_id, i.name \
             FROM inbound_number_claims c \
             JOIN tenants t ON t.id = c.tenant_id \
             JOIN inbound_trunks i ON i.id = c.trunk_id \
             LEFT JOIN number_approvals a ON a.number = c.number AND a.tenant_id = c.tenant_id \
             WHERE a.number IS NULL AND i.status NOT IN ('deleted', 'abandoned', 'pending') \
             ORDER BY t.email, c.number, c.trunk_id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(PendingApproval {
                    number: r.try_get("number")?,
                    tenant_id: r.try_get("tenant_id")?,
                    tenant_email: r.try_get("email")?,
                    trunk_id: r.try_get("trunk_id")?,
                    trunk_name: r.try_get("name")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(Into::into)
    }
}
