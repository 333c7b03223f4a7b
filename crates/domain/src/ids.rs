//! Typed ids: a `UserId` can never be passed where a `TeamId` is expected.
//! All ids are UUIDv7, so they sort by creation time (cursor pagination uses that).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            /// Wraps an id read from storage or a URL.
            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }
            /// The underlying UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

typed_id!(
    /// A tenant: every business row belongs to exactly one workspace.
    WorkspaceId
);
typed_id!(
    /// A person who logs in.
    UserId
);
typed_id!(
    /// A sales or service team; teams form a tree.
    TeamId
);
typed_id!(
    /// An API token (the id, never the secret).
    TokenId
);
typed_id!(
    /// An account (企业客户).
    AccountId
);
typed_id!(
    /// A contact (联系人).
    ContactId
);
typed_id!(
    /// A pool (公海) of unowned accounts.
    PoolId
);
typed_id!(
    /// An in-app notification.
    NotificationId
);
typed_id!(
    /// A registration (报备) or transfer request, decided by a manager.
    RequestId
);
typed_id!(
    /// A logged touch: call, visit, message, meeting.
    ActivityId
);
typed_id!(
    /// A person's reminder channel (a robot webhook or an e-mail address).
    ChannelId
);
typed_id!(
    /// One delivery in the outbox: a notification to one channel.
    DeliveryId
);
typed_id!(
    /// A task: a hook left by a touch, or a to-do.
    TaskId
);
typed_id!(
    /// A script (话术) of the library.
    ScriptId
);
typed_id!(
    /// An import of a file: its record, and what each of its rows became.
    ImportId
);
typed_id!(
    /// An opportunity (商机).
    OpportunityId
);
