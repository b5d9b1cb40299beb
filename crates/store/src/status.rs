//! The provisioning state of a provisioned resource's row. The strings are what the `status`
//! columns hold (and what the API shows), so they never change.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// A create in flight: the row exists (so a crash leaves a trace the reconciler cleans
    /// up) but no client has been told about it, so no read shows it.
    Pending,
    /// The remote side holds the resource as stored.
    Provisioned,
    /// Stored; the remote side is not configured (or not yet reached).
    Unprovisioned,
    /// The remote side refused the stored configuration; `last_error` says why.
    Error,
    /// An outbound trunk that reaches LiveKit through trunkline's SIP bridge, which is not
    /// configured yet.
    AwaitingBridge,
    /// A dispatch rule whose inbound trunks LiveKit does not hold yet.
    AwaitingTrunk,
    /// An inbound trunk serving numbers the operator has not approved for its account yet
    /// (where the operator requires approval).
    AwaitingApproval,
    /// Deleted by its account (a tombstone).
    Deleted,
    /// A create given up before any client was told about it (a tombstone).
    Abandoned,
}

impl Status {
    pub const ALL: [Status; 9] = [
        Status::Pending,
        Status::Provisioned,
        Status::Unprovisioned,
        Status::Error,
        Status::AwaitingBridge,
        Status::AwaitingTrunk,
        Status::AwaitingApproval,
        Status::Deleted,
        Status::Abandoned,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Provisioned => "provisioned",
            Status::Unprovisioned => "unprovisioned",
            Status::Error => "error",
            Status::AwaitingBridge => "awaiting_bridge",
            Status::AwaitingTrunk => "awaiting_trunk",
            Status::AwaitingApproval => "awaiting_approval",
            Status::Deleted => "deleted",
            Status::Abandoned => "abandoned",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `status` column holding a string no version of trunkline writes.
#[derive(Debug, thiserror::Error)]
#[error("unknown provisioning status {0:?}")]
pub struct UnknownStatus(String);

impl TryFrom<String> for Status {
    type Error = UnknownStatus;

    fn try_from(s: String) -> Result<Self, UnknownStatus> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(UnknownStatus(s))
    }
}

/// Bound as its column string, so a row's status binds like any other field.
impl sqlx::Type<sqlx::Any> for Status {
    fn type_info() -> sqlx::any::AnyTypeInfo {
        <&str as sqlx::Type<sqlx::Any>>::type_info()
    }
}

impl<'q> sqlx::Encode<'q, sqlx::Any> for Status {
    fn encode_by_ref(
        &self,
        buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
    }
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn every_status_reads_back_from_its_column_string() {
        for st in Status::ALL {
            assert_eq!(Status::try_from(st.as_str().to_owned()).unwrap(), st);
        }
        assert!(Status::try_from("Provisioned".to_owned()).is_err());
    }
}
