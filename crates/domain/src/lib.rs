//! Guanxi's domain: the types and rules of the CRM, free of HTTP and SQL.
//!
//! Values that come from outside are parsed once into these types (`Email`,
//! `DisplayName`, `Password`, ...) so that the rest of the code never sees an
//! unchecked string. Identifiers follow the glossary in `shared/DOMAIN.md`.

pub mod access;
pub mod clock;
pub mod dedupe;
pub mod ids;
pub mod locale;
pub mod phone;
pub mod uscc;
pub mod values;

pub use access::{DataScope, Role, Scope};
pub use clock::{Clock, ManualClock, SystemClock};
pub use ids::{TeamId, TokenId, UserId, WorkspaceId};
pub use locale::Locale;
pub use phone::{Phone, PhoneKind};
pub use uscc::Uscc;
pub use values::{DisplayName, Email, FieldError, Password, TeamName, TimeZoneName, WorkspaceName};
