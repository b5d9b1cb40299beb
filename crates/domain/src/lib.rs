//! The domain of trunkline: identifiers, phone numbers, SIP addresses and trunk
//! configurations. Everything here is pure: values are parsed once at the edge and then
//! trusted, and every rule a client can break has a message naming the field and the rule.

pub mod assistant;
pub mod call;
pub mod dispatch;
pub mod errors;
pub mod ids;
pub mod inbound;
pub mod internal;
pub mod lk_json;
pub mod number;
pub mod secret;
pub mod sip_address;
pub mod text;
pub mod trunk;

pub use errors::{FieldError, ValidationErrors};
pub use ids::{ApiKeyId, AssistantId, CallId, ProviderAccountId, TenantId, TrunkId};
pub use number::E164;
pub use secret::Secret;
pub use sip_address::{HostName, SipAddress};
pub use trunk::{ExotelConfig, MediaEncryption, SipTrunkConfig, Transport, TrunkConfig, TrunkType};
