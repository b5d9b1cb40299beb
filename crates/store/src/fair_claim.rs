//! Claiming background work (health checks, webhook deliveries) fairly across tenants: the
//! oldest due item of every tenant before the second of any, at most `per_tenant` items of one
//! tenant per claim, and nothing for the tenants whose work already fills their share.
//! Without it, one tenant with hundreds of due items takes every slot of every pass.

/// What one claim may take.
#[derive(Debug, Clone, Default)]
pub struct FairClaim {
    /// Items in all.
    pub limit: i64,
    /// Items of any one tenant.
    pub per_tenant: i64,
    /// Tenants to take nothing from (their work in progress already fills their share).
    pub skip_tenants: Vec<String>,
}

impl FairClaim {
    /// The SQL that selects the claimed keys: `key` of the rows of `table` matching `due` (a
    /// condition whose placeholders are numbered up to `first_free - 1`), ranked per tenant by
    /// `order`. Its own placeholders start at `first_free`: the per-tenant bound, the limit,
    /// then one per skipped tenant, bound in that order by [`FairClaim::bind`].
    pub(crate) fn select_keys(
        &self,
        table: &str,
        key: &str,
        due: &str,
        order: &str,
        first_free: usize,
    ) -> String {
        let per_tenant = first_free;
        let limit = first_free + 1;
        let skip = if self.skip_tenants.is_empty() {
            String::new()
        } else {
            let marks: Vec<String> = (0..self.skip_tenants.len())
                .map(|i| format!("${}", first_free + 2 + i))
                .collect();
            format!(" AND tenant_id NOT IN ({})", marks.join(", "))
        };
        // Window functions cannot sit in a SELECT … FOR UPDATE: the ranking is a subquery,
        // and the caller's UPDATE re-checks `due` on each row it takes, so two instances
        // ranking the same rows never both take one.
        format!(
            "SELECT {key} FROM (SELECT {key}, {order} AS due_at, ROW_NUMBER() OVER \
             (PARTITION BY tenant_id ORDER BY {order}, {key}) AS turn FROM {table} \
             WHERE {due}{skip}) ranked WHERE turn <= ${per_tenant} \
             ORDER BY turn, due_at LIMIT ${limit}"
        )
    }

    /// Binds the placeholders of [`FairClaim::select_keys`], after the caller's own.
    pub(crate) fn bind<'q>(
        &'q self,
        mut q: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    ) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
        q = q.bind(self.per_tenant.max(1)).bind(self.limit.max(0));
        for t in &self.skip_tenants {
            q = q.bind(t.as_str());
        }
        q
    }
}
