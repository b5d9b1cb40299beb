//! The macro that declares a provisioned kind's row type from its own columns.

/// A kind's row type and its `Resource` impl from its own columns: the lifecycle columns every
/// kind has (`status` … `updated_at`) are added here, and `COLUMNS` and the binds come from
/// the same field list, so names and binds cannot drift apart. Also declares `$new`, a new
/// row's own columns, which `$row::fresh` completes with the lifecycle of a create.
/// `remote` names the column of the remote object; `secrets`, when the kind has sealed ones.
macro_rules! resource_row {
    (@some) => { None };
    (@some $e:expr) => { Some($e) };
    (
        $(#[$meta:meta])*
        pub struct $row:ident, new $new:ident {
            $($(#[$fmeta:meta])* pub $field:ident: $ty:ty,)+
        }
        kind { $($k:ident: $v:expr,)+ }
        remote: $remote:ident $(, secrets: $secrets:ident)? $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
        pub struct $row {
            $($(#[$fmeta])* pub $field: $ty,)+
            #[sqlx(try_from = "String")]
            pub status: $crate::Status,
            pub desired_version: i64,
            pub synced_version: i64,
            pub last_error: Option<String>,
            pub synced_at: Option<i64>,
            pub created_at: i64,
            pub updated_at: i64,
        }

        #[doc = concat!("A new [`", stringify!($row), "`]'s own columns (see `fresh`).")]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $new {
            $($(#[$fmeta])* pub $field: $ty,)+
        }

        impl $row {
            /// The row a create stores: version 1, never synced, created `now`.
            pub fn fresh(new: $new, status: $crate::Status, now: i64) -> Self {
                let $new { $($field),+ } = new;
                Self {
                    $($field,)+
                    status,
                    desired_version: 1,
                    synced_version: 0,
                    last_error: None,
                    synced_at: None,
                    created_at: now,
                    updated_at: now,
                }
            }
        }

        impl $crate::resource::Resource for $row {
            const KIND: $crate::resource::Kind = $crate::resource::Kind {
                columns: Self::COLUMNS,
                $($k: $v,)+
            };
            const COLUMNS: &'static str = concat!(
                stringify!($($field),+),
                ", status, desired_version, synced_version, last_error, synced_at, created_at, updated_at"
            );

            fn bind_columns<'q>(
                &'q self,
                q: $crate::resource::AnyQuery<'q>,
            ) -> $crate::resource::AnyQuery<'q> {
                q$(.bind(&self.$field))+
                    .bind(&self.status)
                    .bind(self.desired_version)
                    .bind(self.synced_version)
                    .bind(&self.last_error)
                    .bind(self.synced_at)
                    .bind(self.created_at)
                    .bind(self.updated_at)
            }

            fn lifecycle(&self) -> $crate::resource::Lifecycle<'_> {
                $crate::resource::Lifecycle {
                    id: &self.id,
                    tenant_id: &self.tenant_id,
                    status: self.status,
                    remote_id: self.$remote.as_deref(),
                    desired_version: self.desired_version,
                    synced_version: self.synced_version,
                    last_error: self.last_error.as_deref(),
                    synced_at: self.synced_at,
                    created_at: self.created_at,
                    name: &self.name,
                    config: &self.config,
                    secrets: $crate::resource::resource_row!(@some $(self.$secrets.as_str())?),
                }
            }
        }
    };
}
pub(crate) use resource_row;
