//! Purchases and restock reminders (seed 003): record what an account bought;
//! Guanxi reminds its owner before the customer runs out.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, Fields};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use guanxi_domain::purchase::check_cycle;
use guanxi_domain::{AccountId, FieldError, ShortText};
use guanxi_store::accounts;
use guanxi_store::purchases::{self, NewPurchase, Purchase, Recorded};
use serde::Deserialize;
use uuid::Uuid;

/// A purchase to record.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseInput {
    /// What was bought ("继电保护装置备件").
    pub item: String,
    /// On which day, `2026-11-22`; not in the future.
    pub purchased_on: String,
    /// How much, as said ("20 套").
    #[serde(default)]
    pub quantity: Option<String>,
    /// How many days it lasts (1–730); without it, learned from the purchases of the item.
    #[serde(default)]
    pub cycle_days: Option<i64>,
}

async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<AccountId> {
    let id = AccountId::from_uuid(id);
    let a = accounts::get(&state.db, caller.principal.viewer(), id).await?;
    if a.deleted_at.is_some() {
        return Err(ApiError::field("account_id", "invalid", "the account is in the recycle bin"));
    }
    Ok(id)
}

pub(crate) async fn record(state: &AppState, caller: &Caller, id: Uuid, input: PurchaseInput) -> ApiResult<Recorded> {
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let mut f = Fields::default();
    let item = f.take(ShortText::parse("item", &input.item));
    let on = match input.purchased_on.trim().parse::<chrono::NaiveDate>() {
        Ok(d) if d > today => {
            f.push(FieldError::new("purchased_on", "in_future", "purchased_on is after today"));
            None
        }
        Ok(d) => Some(d),
        Err(_) => {
            f.push(FieldError::new("purchased_on", "invalid_date", "purchased_on must be a date such as 2026-11-22"));
            None
        }
    };
    let quantity = input
        .quantity
        .as_deref()
        .filter(|q| !q.trim().is_empty())
        .and_then(|q| f.take(ShortText::parse("quantity", q)));
    if let Some(c) = input.cycle_days {
        f.take(check_cycle("cycle_days", c));
    }
    f.finish()?;
    let (Some(item), Some(purchased_on)) = (item, on) else {
        return Err(ApiError::Internal("parsed without values".into()));
    };
    let account = visible(state, caller, id).await?;
    let new = NewPurchase {
        item: item.into_string(),
        purchased_on,
        quantity: quantity.map(ShortText::into_string),
        cycle_days: input.cycle_days,
    };
    let mut tx = state.db.begin().await?;
    let r = purchases::record(&mut tx, &caller.actor(), caller.principal.user_id, account, &new, tz, now).await?;
    tx.commit().await?;
    Ok(r)
}

/// Records a purchase; the item's restock reminder moves to a week before
/// the stated (or learned) cycle runs out, for the account's owner.
#[utoipa::path(post, path = "/api/v1/accounts/{id}/purchases", tag = "activities", security(("bearer" = [])),
    request_body = PurchaseInput, params(("id" = Uuid, Path, description = "account id")),
    responses((status = 201, body = Recorded), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(input): ApiJson<PurchaseInput>,
) -> ApiResult<(StatusCode, Json<Recorded>)> {
    caller.require_sales_writer()?;
    Ok((StatusCode::CREATED, Json(record(&state, &caller, id, input).await?)))
}

/// An account's purchases, latest first.
#[utoipa::path(get, path = "/api/v1/accounts/{id}/purchases", tag = "activities", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "account id")),
    responses((status = 200, body = Vec<Purchase>), (status = 404, body = Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Vec<Purchase>>> {
    let account = AccountId::from_uuid(id);
    accounts::get(&state.db, caller.principal.viewer(), account).await?;
    Ok(Json(purchases::list(&state.db, account, 200).await?))
}
