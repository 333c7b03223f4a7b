//! `/docs/api`: a readable page rendered from the same OpenAPI document the
//! API serves, so the two cannot disagree.

use super::render;
use crate::i18n::Tr;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use guanxi_domain::Locale;
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{RefOr, Required};

/// A schema property: name, type, description.
type SchemaField = (String, String, String);

struct Op {
    anchor: String,
    method: &'static str,
    path: String,
    summary: String,
    secured: bool,
    params: Vec<(String, String, String)>,
    body: Option<String>,
    responses: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct DocsPage<'a> {
    tr: Tr<'a>,
    intro: Vec<String>,
    operations: Vec<Op>,
    schemas: Vec<(String, Vec<SchemaField>)>,
}

/// A serialisable OpenAPI enum as plain text ("query", "string", ["string","null"] → "string | null").
fn plain<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v).unwrap_or_default() {
        serde_json::Value::String(s) => s,
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>().join(" | "),
        other => other.to_string(),
    }
}

fn ref_name<T>(r: &RefOr<T>) -> Option<String> {
    match r {
        RefOr::Ref(r) => r.ref_location.rsplit('/').next().map(str::to_owned),
        RefOr::T(_) => None,
    }
}

fn describe_op(method: HttpMethod, path: &str, op: &Operation) -> Op {
    let method = match method {
        HttpMethod::Get => "get",
        HttpMethod::Post => "post",
        HttpMethod::Put => "put",
        HttpMethod::Patch => "patch",
        HttpMethod::Delete => "delete",
        _ => "other",
    };
    let params = op
        .parameters
        .iter()
        .flatten()
        .map(|p| {
            let place = plain(&p.parameter_in);
            let req = if matches!(p.required, Required::True) { " *" } else { "" };
            (format!("{}{req}", p.name), place, p.description.clone().unwrap_or_default())
        })
        .collect();
    let body = op
        .request_body
        .as_ref()
        .and_then(|b| b.content.values().next())
        .and_then(|c| c.schema.as_ref())
        .and_then(ref_name);
    let responses = op
        .responses
        .responses
        .iter()
        .map(|(code, r)| {
            let desc = match r {
                RefOr::T(resp) => {
                    let schema = resp.content.values().next().and_then(|c| c.schema.as_ref()).and_then(ref_name);
                    match schema {
                        Some(s) if resp.description.is_empty() => s,
                        Some(s) => format!("{} ({s})", resp.description),
                        None => resp.description.clone(),
                    }
                }
                RefOr::Ref(r) => r.ref_location.clone(),
            };
            (code.clone(), desc)
        })
        .collect();
    Op {
        anchor: format!("{method}-{}", path.replace(['/', '{', '}'], "-")),
        method,
        path: path.to_owned(),
        summary: op.summary.clone().or_else(|| op.description.clone()).unwrap_or_default(),
        secured: op.security.as_ref().is_some_and(|s| !s.is_empty()),
        params,
        body,
        responses,
    }
}

/// `GET /docs/api`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let doc = crate::api::document();
    let locale =
        Locale::from_accept_language(headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or(""));
    let intro =
        doc.info.description.clone().unwrap_or_default().split("\n\n").map(|p| p.replace(['*', '`'], "")).collect();
    let mut operations = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, op) in [
            (HttpMethod::Get, &item.get),
            (HttpMethod::Post, &item.post),
            (HttpMethod::Patch, &item.patch),
            (HttpMethod::Put, &item.put),
            (HttpMethod::Delete, &item.delete),
        ] {
            if let Some(op) = op {
                operations.push(describe_op(method, path, op));
            }
        }
    }
    let schemas = doc
        .components
        .as_ref()
        .map(|c| {
            c.schemas
                .iter()
                .map(|(name, schema)| {
                    let fields = match schema {
                        RefOr::T(Schema::Object(o)) => o
                            .properties
                            .iter()
                            .map(|(f, s)| {
                                let (ty, desc) = match s {
                                    RefOr::T(Schema::Object(p)) => {
                                        (plain(&p.schema_type), p.description.clone().unwrap_or_default())
                                    }
                                    RefOr::T(_) => (String::new(), String::new()),
                                    RefOr::Ref(r) => {
                                        (r.ref_location.rsplit('/').next().unwrap_or("").to_owned(), String::new())
                                    }
                                };
                                (f.clone(), ty, desc)
                            })
                            .collect(),
                        _ => Vec::new(),
                    };
                    (name.clone(), fields)
                })
                .collect()
        })
        .unwrap_or_default();
    render(&DocsPage { tr: Tr::new(&state.i18n, locale), intro, operations, schemas })
}
