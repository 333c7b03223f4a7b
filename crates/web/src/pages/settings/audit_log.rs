//! 设置 → 操作日志 (admins): the audit log.

use super::*;

pub(super) struct AuditRow {
    at: String,
    actor: String,
    action_key: String,
    entity_key: String,
    entity_short: String,
    changes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "settings_audit.html")]
pub(super) struct AuditPage<'a> {
    chrome: Chrome<'a>,
    section: &'static str,
    notice: Option<&'static str>,
    errors: Vec<String>,
    entries: Vec<AuditRow>,
    type_options: Vec<(&'static str, &'static str, bool)>,
    entity_type: Option<String>,
    next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct AuditQuery {
    #[serde(default)]
    entity_type: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
}

pub(super) const ENTITY_TYPES: [&str; 5] = ["user", "team", "role", "workspace", "api_token"];

pub(super) fn show_value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => MISSING.to_owned(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) async fn audit_page(
    State(state): State<AppState>,
    PageCaller(caller): PageCaller,
    Query(q): Query<AuditQuery>,
) -> PageResult {
    caller.require_admin("read the audit log").map_err(fail(&state, &caller))?;
    let entity_type = q.entity_type.filter(|t| ENTITY_TYPES.contains(&t.as_str()));
    let pq = crate::pagination::PageQuery { limit: Some(50), cursor: q.cursor };
    let before = pq.after().map_err(fail(&state, &caller))?;
    let filter = audit::AuditFilter { entity_type: entity_type.clone(), before, ..Default::default() };
    let rows = audit::list(&state.db, caller.principal.viewer(), &filter, 51)
        .await
        .map_err(|e| fail(&state, &caller)(e.into()))?;
    let page = crate::pagination::page(rows, 50, |e| e.id);
    let tz = caller.principal.time_zone.as_str();
    let entries = page
        .items
        .into_iter()
        .map(|e| AuditRow {
            at: show_time(e.at, tz),
            actor: e.actor_label,
            action_key: format!("action.{}", e.action),
            entity_key: format!("entity.{}", e.entity_type),
            // The id's last 8 characters: enough to tell records apart at a glance.
            entity_short: e.entity_id.simple().to_string().split_off(24),
            changes: e
                .changes
                .as_object()
                .map(|o| {
                    o.iter().map(|(k, v)| (k.clone(), show_value(&v["before"]), show_value(&v["after"]))).collect()
                })
                .unwrap_or_default(),
        })
        .collect();
    let type_options = ENTITY_TYPES.iter().map(|t| (*t, entity_key(t), entity_type.as_deref() == Some(*t))).collect();
    let page = AuditPage {
        chrome: Chrome::new(&state, &caller, "/settings", "settings.audit"),
        section: "audit",
        notice: None,
        errors: Vec::new(),
        entries,
        type_options,
        entity_type,
        next_cursor: page.next_cursor,
    };
    Ok(render(&page))
}

pub(super) fn entity_key(t: &str) -> &'static str {
    match t {
        "user" => "entity.user",
        "team" => "entity.team",
        "role" => "entity.role",
        "workspace" => "entity.workspace",
        _ => "entity.api_token",
    }
}
