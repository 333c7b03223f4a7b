//! The JSON API under `/api/v1`, and its OpenAPI 3.1 document.

pub mod accounts;
pub mod activities;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod divisions;
pub mod export;
pub mod imports;
pub mod me;
pub mod notify;
pub mod opportunities;
pub mod pool;
pub mod purchases;
pub mod requests;
pub mod roles;
pub mod scripts;
pub mod search;
pub mod teams;
pub mod users;

use crate::error::ApiError;
use crate::state::AppState;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The API's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::post_login))
        .route("/auth/logout", post(auth::post_logout))
        .route("/me", get(me::get_me).patch(me::patch_me))
        .route("/me/password", post(me::post_password))
        .route("/me/calendar", post(activities::issue_calendar).delete(activities::revoke_calendar))
        .route("/me/reminders", get(notify::get_reminders).put(notify::put_reminders))
        .route("/me/channels", get(notify::list_channels).post(notify::create_channel))
        .route("/me/channels/{id}", patch(notify::update_channel).delete(notify::delete_channel))
        .route("/me/channels/{id}/test", post(notify::test_channel))
        .route("/me/deliveries", get(notify::deliveries))
        .route("/me/tokens", get(me::list_tokens).post(me::create_token))
        .route("/me/tokens/{id}", axum::routing::delete(me::revoke_token))
        .route("/users", get(users::list).post(users::create))
        .route("/users/{id}", get(users::get).patch(users::update))
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/{id}", get(teams::get).patch(teams::update).delete(teams::delete))
        .route("/roles", get(roles::list))
        .route("/roles/{role}", patch(roles::update))
        .route("/audit", get(audit::list))
        .route("/accounts", get(accounts::list).post(accounts::create))
        .route("/accounts/duplicates", axum::routing::post(accounts::duplicates))
        .route("/accounts/export", get(accounts::export))
        .route("/accounts/{id}", get(accounts::get).patch(accounts::update).delete(accounts::delete))
        .route("/accounts/{id}/restore", post(accounts::restore))
        .route("/accounts/{id}/merge", post(accounts::merge))
        .route("/activities", get(activities::timeline).post(activities::create))
        .route("/activities/export", get(activities::export))
        .route("/activities/{id}/restore", post(activities::restore))
        .route("/tasks", get(activities::worklist).post(activities::create_task))
        .route("/scripts", get(scripts::list).post(scripts::create))
        .route("/scripts/{id}", axum::routing::put(scripts::update).delete(scripts::delete))
        .route("/reports/hooks", get(activities::discipline))
        .route("/reports/call-hours", get(activities::call_hours))
        .route("/tasks/{id}/done", post(activities::done))
        .route("/tasks/{id}/reschedule", post(activities::reschedule))
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/export", get(contacts::export))
        .route("/contacts/{id}", get(contacts::get).patch(contacts::update).delete(contacts::delete))
        .route("/contacts/{id}/restore", post(contacts::restore))
        .route("/contacts/{id}/merge", post(contacts::merge))
        .route("/opportunities", get(opportunities::list).post(opportunities::create))
        .route("/opportunities/pipeline", get(opportunities::pipeline))
        .route("/opportunities/export", get(opportunities::export))
        .route(
            "/opportunities/{id}",
            get(opportunities::get).patch(opportunities::update).delete(opportunities::delete),
        )
        .route("/opportunities/{id}/restore", post(opportunities::restore))
        .route("/accounts/{id}/purchases", get(purchases::list).post(purchases::create))
        .route("/accounts/{id}/claim", post(pool::claim))
        .route("/accounts/{id}/release", post(pool::release))
        .route("/accounts/{id}/pool", axum::routing::put(pool::move_pool))
        .route("/pools", get(pool::list).post(pool::create))
        .route("/pools/{id}", get(pool::get).patch(pool::update))
        .route("/pools/{id}/accounts", get(pool::accounts))
        .route("/registrations", get(requests::registrations).post(requests::register))
        .route("/registrations/{id}/decision", post(requests::decide_registration))
        .route("/transfers", get(requests::transfers).post(requests::transfer))
        .route("/transfers/{id}/decision", post(requests::decide_transfer))
        .route("/handovers", post(requests::handover))
        .route("/notifications", get(pool::notifications))
        .route("/notifications/read", post(pool::read))
        .route("/search", get(search::search))
        .route("/divisions", get(divisions::list))
        .route("/uploads", post(imports::create_upload))
        .route(
            "/uploads/{id}",
            get(imports::get_upload)
                .put(imports::put_chunk)
                .layer(axum::extract::DefaultBodyLimit::max(imports::CHUNK_LIMIT)),
        )
        .route("/imports", get(imports::list).post(imports::create))
        .route("/imports/preview", post(imports::preview))
        .route("/imports/{id}", get(imports::get))
        .route("/imports/{id}/errors.csv", get(imports::errors_csv))
        .route("/imports/{id}/file", get(imports::file))
        .route("/imports/{id}/undo", post(imports::undo))
        .route("/import-mappings", get(imports::mappings).post(imports::save_mapping))
        .route("/import-mappings/{id}", axum::routing::delete(imports::delete_mapping))
        .route("/openapi.json", get(|| async { Json(document()) }))
        .fallback(|| async { ApiError::NotFound })
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("An API token (`gxt_…`, from `/api/v1/me/tokens` or `guanxi token create`) or a session token from `/api/v1/auth/login`.")).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Guanxi API",
        description = "The JSON API of Guanxi (关系), a CRM for B2B key-account sales teams.\n\n\
**Authentication.** Send `Authorization: Bearer <token>`: an API token (`gxt_…`) or a session token from `POST /api/v1/auth/login` (`gxs_…`). \
Browser sessions (cookies) may call the API too, and then must send their CSRF token as `X-CSRF-Token` on every change.\n\n\
**Errors** are `application/problem+json` documents with a stable snake_case `code`, a `detail` a person can act on, and for validation failures `errors`: one entry per field with `field`, `code` and `message`. \
401 means no or bad credentials; 403 a forbidden action; 404 a record that does not exist *or is outside your data scope*; 409 a conflict such as a taken e-mail; 422 invalid fields; 429 too many failed logins.\n\n\
**Pagination.** Every list takes `limit` (1–200, default 50) and `cursor`, and answers `{\"items\": [...], \"next_cursor\": \"...\"}`. Pass `next_cursor` as `cursor` to get the next page; it is null on the last page. Cursors are opaque.\n\n\
**Data scope.** Every list and read is filtered by the caller's role: `own` (records they own), `team` (their team and the teams below it) or `workspace`.",
        license(name = "MIT"),
    ),
    paths(
        auth::post_login, auth::post_logout,
        me::get_me, me::patch_me, me::post_password, me::list_tokens, me::create_token, me::revoke_token,
        notify::get_reminders, notify::put_reminders, notify::list_channels, notify::create_channel,
        notify::update_channel, notify::delete_channel, notify::test_channel, notify::deliveries,
        users::list, users::get, users::create, users::update,
        teams::list, teams::get, teams::create, teams::update, teams::delete,
        roles::list, roles::update,
        audit::list,
        accounts::list, accounts::export, accounts::create, accounts::get, accounts::update, accounts::delete, accounts::restore, accounts::duplicates, accounts::merge,
        opportunities::list, opportunities::pipeline, opportunities::export, opportunities::create, opportunities::get, opportunities::update,
        opportunities::delete, opportunities::restore,
        contacts::list, contacts::export, contacts::create, contacts::get, contacts::update, contacts::delete, contacts::restore, contacts::merge,
        pool::list, pool::get, pool::create, pool::update, pool::accounts, pool::claim, pool::release, pool::move_pool,
        pool::notifications, pool::read,
        requests::register, requests::registrations, requests::decide_registration,
        requests::transfer, requests::transfers, requests::decide_transfer, requests::handover,
        activities::create, activities::export, activities::restore, activities::timeline, activities::worklist, activities::done, activities::reschedule,
        activities::discipline, activities::call_hours, activities::issue_calendar, activities::revoke_calendar,
        activities::create_task, scripts::list, scripts::create, scripts::update, scripts::delete,
        purchases::create, purchases::list,
        search::search, divisions::list,
        imports::create_upload, imports::get_upload, imports::put_chunk, imports::preview, imports::create,
        imports::list, imports::get, imports::errors_csv, imports::file, imports::undo,
        imports::mappings, imports::save_mapping, imports::delete_mapping,
    ),
    components(schemas(
        crate::error::Problem,
        guanxi_domain::FieldError,
        guanxi_store::contacts::ContactCandidate,
        guanxi_store::accounts::AccountSort
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Logging in and out"),
        (name = "me", description = "The caller's own account, API tokens, and reminder channels (WeCom, DingTalk, Feishu robots, e-mail) with their deliveries"),
        (name = "users", description = "Users (admins manage them)"),
        (name = "teams", description = "The team tree"),
        (name = "roles", description = "Roles and data scopes"),
        (name = "audit", description = "The audit log"),
        (name = "accounts", description = "Accounts (企业客户) and duplicate checking (查重)"),
        (name = "contacts", description = "Contacts and key persons (联系人 / 关键人)"),
        (name = "opportunities", description = "Opportunities (商机) along the procurement path (立项 → 资金计划 → 可研 → 设计 → 厂家征询 → 可研审查 → 招标 → 中标 → 合同 → 实施 → 回款), the stage we first came in at and its 陪标 risk, the pipeline"),
        (name = "pool", description = "The public pool (公海): pools and their rules, claiming and releasing accounts, registrations (报备), transfer requests, handovers (交接), notifications"),
        (name = "activities", description = "Calls, visits and messages (跟进记录), their hooks (钩子) and the worklist"),
        (name = "search", description = "One search box over accounts and contacts"),
        (name = "imports", description = "Importing CSV and XLSX files: resumable uploads, preview and column mapping (presets of Salesforce, HubSpot, Twenty, Odoo, Guanxi), dry runs, background imports with progress and a report, the bad rows as a CSV, undo; saved mappings"),
    )
)]
struct ApiDoc;

/// The OpenAPI document, generated from the handlers' annotations and made
/// to say what the server does (`as_served`).
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut v = serde_json::to_value(&doc).unwrap_or_default();
    as_served(&mut v);
    serde_json::from_value(v).unwrap_or(doc)
}

/// What every operation has in common, written once rather than on each
/// handler: every `{param}` of a path is declared (ids are UUIDs; a
/// malformed one is 404); every error is `application/problem+json`; and the
/// error statuses any operation can answer are listed — 400 (unreadable
/// body), 401 (with credentials required), 403, 404, 422 (a parameter), 409
/// for changes, 413 and 415 where a body is taken.
fn as_served(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let problem = |description: &str| {
        json!({"description": description,
               "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}})
    };
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let names: Vec<String> =
            path.split('{').skip(1).filter_map(|rest| rest.split('}').next()).map(str::to_owned).collect();
        let Some(item) = item.as_object_mut() else { continue };
        for (method, op) in item.iter_mut() {
            if !["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                continue;
            }
            let Some(op) = op.as_object_mut() else { continue };
            let params = op.entry("parameters").or_insert_with(|| json!([]));
            if let Some(list) = params.as_array_mut() {
                for name in &names {
                    let declared = list.iter().any(|p| p["in"] == "path" && p["name"] == name.as_str());
                    if !declared {
                        list.push(json!({"name": name, "in": "path", "required": true,
                                         "schema": {"type": "string", "format": "uuid"}}));
                    }
                }
                if list.is_empty() {
                    op.remove("parameters");
                }
            }
            let secured = op.get("security").is_some_and(|s| s.as_array().is_some_and(|a| !a.is_empty()));
            let takes_body = op.contains_key("requestBody");
            let changes = method != "get";
            let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else { continue };
            for (status, response) in responses.iter_mut() {
                if status.starts_with('4') || status.starts_with('5') {
                    if let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
                        if let Some(body) = content.remove("application/json") {
                            content.insert("application/problem+json".into(), body);
                        }
                    }
                }
            }
            let mut add = |status: &str, description: &str| {
                responses.entry(status.to_owned()).or_insert_with(|| problem(description));
            };
            add("400", "The body is not readable JSON (`malformed_json`).");
            if secured {
                add("401", "No or bad credentials (`unauthorized`).");
            }
            add("403", "The caller's role may not do this (`forbidden`), or a cookie session's CSRF token is missing (`csrf_failed`).");
            add("404", "No such record, or outside the caller's data scope (`not_found`).");
            add("422", "Invalid fields or parameters (`validation_failed`), each named in `errors`.");
            add("503", "The database cannot be reached (`database_unavailable`); try again shortly.");
            if changes {
                add("409", "A conflict with existing data; the `code` says which.");
            }
            if takes_body {
                add("413", "The body is too large (`payload_too_large`).");
                add("415", "The body is not JSON (`unsupported_media_type`).");
            }
        }
    }
}

/// The document as committed in `docs/openapi.json` (pretty JSON, newline at the end).
pub fn document_json() -> String {
    let mut s = serde_json::to_string_pretty(&document()).unwrap_or_default();
    s.push('\n');
    s
}
