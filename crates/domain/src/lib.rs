//! Guanxi's domain: the types and rules of the CRM, free of HTTP and SQL.
//!
//! Values that come from outside are parsed once into these types (`Email`,
//! `DisplayName`, `Password`, ...) so that the rest of the code never sees an
//! unchecked string. Identifiers follow the glossary in `shared/DOMAIN.md`.

pub mod access;
pub mod account;
pub mod activity;
pub mod clock;
pub mod contact;
pub mod dedupe;
pub mod division;
pub mod holiday;
pub mod ids;
pub mod locale;
pub mod notify;
pub mod opportunity;
pub mod phone;
pub mod pool;
pub mod purchase;
pub mod script;
pub mod search;
pub mod uscc;
pub mod values;

pub use access::{DataScope, Role, Scope};
pub use account::{AccountSource, Classification, RelationshipStage};
pub use activity::{ActivityKind, LearnedKind, NoHookReason, Outcome};
pub use clock::{Clock, ManualClock, SystemClock};
pub use contact::{Birthday, BuyingRole, RelationshipStrength, Stance, WechatId};
pub use division::{division_by_names, division_children, division_name, division_path, parse_division_code};
pub use holiday::Holiday;
pub use ids::{
    AccountId, ActivityId, ChannelId, ContactId, DeliveryId, ImportId, NotificationId, OpportunityId, PoolId,
    RequestId, ScriptId, TaskId, TeamId, TokenId, UserId, WorkspaceId,
};
pub use locale::Locale;
pub use notify::{ChannelKind, Event};
pub use opportunity::{EntryTiming, OpportunityStatus, Stage};
pub use phone::{Phone, PhoneKind};
pub use pool::{PoolField, PoolRules, Refusal, ReleaseReason, ReleaseRule, RequestKind, RequestStatus};
pub use script::ScriptKind;
pub use uscc::Uscc;
pub use values::{
    AccountName, DisplayName, Email, FieldError, LongText, Notes, OpportunityName, Password, PersonName, ShortText,
    TeamName, TimeZoneName, WorkspaceName,
};
