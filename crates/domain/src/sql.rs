//! Row decoding for domain types, generic over the database (behind the `sqlx` feature).

use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type};
use uuid::Uuid;

macro_rules! uuid_sql {
    ($($t:ty),*) => {$(
        impl<DB: Database> Type<DB> for $t where Uuid: Type<DB> {
            fn type_info() -> DB::TypeInfo { <Uuid as Type<DB>>::type_info() }
            fn compatible(ty: &DB::TypeInfo) -> bool { <Uuid as Type<DB>>::compatible(ty) }
        }
        impl<'r, DB: Database> Decode<'r, DB> for $t where Uuid: Decode<'r, DB> {
            fn decode(v: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<$t>::from_uuid(<Uuid as Decode<DB>>::decode(v)?))
            }
        }
    )*};
}

macro_rules! text_sql {
    ($($t:ty),*) => {$(
        impl<DB: Database> Type<DB> for $t where String: Type<DB> {
            fn type_info() -> DB::TypeInfo { <String as Type<DB>>::type_info() }
            fn compatible(ty: &DB::TypeInfo) -> bool { <String as Type<DB>>::compatible(ty) }
        }
        impl<'r, DB: Database> Decode<'r, DB> for $t where &'r str: Decode<'r, DB> {
            fn decode(v: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let s = <&str as Decode<DB>>::decode(v)?;
                <$t>::parse(s).ok_or_else(|| format!("unknown {} {s:?} in the database", stringify!($t)).into())
            }
        }
    )*};
}

uuid_sql!(crate::WorkspaceId, crate::UserId, crate::TeamId, crate::TokenId);
text_sql!(crate::Role, crate::DataScope, crate::Locale);
