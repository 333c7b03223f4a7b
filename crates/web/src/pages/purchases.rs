//! 采购记录: what an account bought, and the restock reminder it schedules
//! (seed 003), on one page a salesperson reaches from the account.

use super::settings::Notice;
use super::{fail, form_errors, render, show_time, Chrome, PageError, MISSING};
use crate::api::purchases::{self as api, PurchaseInput};
use crate::auth::{Caller, PageCaller};
use crate::json::ApiPath;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use guanxi_domain::AccountId;
use guanxi_store::{accounts, activities, purchases};
use serde::Deserialize;
use uuid::Uuid;

type PageResult = Result<Response, PageError>;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/accounts/{id}/purchases", get(page).post(add))
}

#[derive(Debug, Default, Deserialize)]
struct PurchaseForm {
    #[serde(default)]
    item: String,
    #[serde(default)]
    purchased_on: String,
    #[serde(default)]
    quantity: String,
    #[serde(default)]
    cycle_days: String,
}

#[derive(Template)]
#[template(path = "purchases.html")]
struct PurchasesPage<'a> {
    chrome: Chrome<'a>,
    account_id: String,
    account_name: String,
    notice: Option<&'static str>,
    errors: Vec<String>,
    form: PurchaseForm,
    /// (day, item, quantity, cycle, recorded by)
    rows: Vec<(String, String, String, String, String)>,
    /// Open restock reminders: (due, purpose).
    reminders: Vec<(String, String)>,
}

async fn show(
    state: &AppState,
    caller: &Caller,
    id: AccountId,
    notice: Option<&'static str>,
    form: PurchaseForm,
    errors: Vec<String>,
) -> PageResult {
    let err = fail(state, caller);
    let a = accounts::get(&state.db, caller.principal.viewer(), id).await.map_err(|e| err(e.into()))?;
    let rows = purchases::list(&state.db, id, 200)
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|p| {
            (
                p.purchased_on,
                p.item,
                p.quantity.unwrap_or_else(|| MISSING.to_owned()),
                p.cycle_days.map_or(MISSING.to_owned(), |d| d.to_string()),
                p.created_by_name,
            )
        })
        .collect();
    let tz = caller.principal.time_zone.as_str();
    let reminders = activities::open_tasks_of(&state.db, caller.principal.workspace_id, id, "提醒客户补货")
        .await
        .map_err(|e| err(e.into()))?
        .into_iter()
        .map(|t| (show_time(t.due_at, tz), t.purpose))
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let page = PurchasesPage {
        chrome: Chrome::new(state, caller, "/accounts", "purchases.title"),
        account_id: a.id.to_string(),
        account_name: a.name,
        notice,
        errors,
        form,
        rows,
        reminders,
    };
    let mut res = render(&page);
    *res.status_mut() = status;
    Ok(res)
}

async fn page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Query(n): Query<Notice>,
) -> PageResult {
    let tz: chrono_tz::Tz = caller.principal.time_zone.parse().unwrap_or(chrono_tz::Asia::Shanghai);
    let form = PurchaseForm {
        purchased_on: state.clock.now().with_timezone(&tz).date_naive().to_string(),
        ..PurchaseForm::default()
    };
    show(&state, &caller, AccountId::from_uuid(id), n.key(), form, Vec::new()).await
}

async fn add(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    ApiPath(id): ApiPath<Uuid>,
    Form(f): Form<PurchaseForm>,
) -> PageResult {
    let cycle = f.cycle_days.trim();
    let tr = crate::i18n::Tr::new(&state.i18n, caller.principal.locale);
    let cycle_days = match cycle.parse::<i64>() {
        Ok(d) => Some(d),
        Err(_) if cycle.is_empty() => None,
        Err(_) => {
            let errors = vec![format!("{}：{}", tr.t("fields.cycle_days"), tr.t("errors.out_of_range"))];
            return show(&state, &caller, AccountId::from_uuid(id), None, f, errors).await;
        }
    };
    let input = PurchaseInput {
        item: f.item.clone(),
        purchased_on: f.purchased_on.clone(),
        quantity: Some(f.quantity.clone()),
        cycle_days,
    };
    match api::record(&state, &caller, id, input).await {
        Ok(_) => Ok(Redirect::to(&format!("/accounts/{id}/purchases?ok=1")).into_response()),
        Err(e) => {
            let errors = form_errors(tr, e).map_err(|e| PageError::from_api(e, &state, Some(caller.clone())))?;
            show(&state, &caller, AccountId::from_uuid(id), None, f, errors).await
        }
    }
}
