//! Request bodies: JSON parsed with the path of any bad field, so a wrong
//! type or an unknown field answers with the field named.

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use guanxi_domain::FieldError;
use serde::de::DeserializeOwned;

/// A JSON body of type `T` (declare `#[serde(deny_unknown_fields)]` on `T`).
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
            let ct = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            ct == "application/json" || (ct.starts_with("application/") && ct.ends_with("+json"))
        });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest { code: "unreadable_body", detail: rejection.body_text(), errors: Vec::new() }
            }
        })?;
        // Every body of this API is an object: serde would also read a struct
        // from an array of its fields in order, which the document does not offer.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()).is_some_and(|b| *b != b'{') {
            return Err(ApiError::Validation(vec![FieldError::new(
                "",
                "invalid_type",
                "the body must be a JSON object",
            )]));
        }
        // A NUL is valid JSON (`\u0000`) but no database stores it in text;
        // said first, before what else the body lacks.
        if bytes.windows(6).any(|w| w == b"\\u0000") {
            if let Some(field) = serde_json::from_slice::<serde_json::Value>(&bytes).ok().and_then(|v| nul_at(&v, "")) {
                return Err(ApiError::Validation(vec![FieldError::new(
                    &field,
                    "control_characters",
                    "must not contain a NUL character",
                )]));
            }
        }
        Ok(ApiJson(parse(&bytes)?))
    }
}

/// The path of the first string (or key) of `v` holding a NUL.
fn nul_at(v: &serde_json::Value, path: &str) -> Option<String> {
    match v {
        serde_json::Value::String(s) => s.contains('\0').then(|| path.to_owned()),
        serde_json::Value::Array(items) => {
            items.iter().enumerate().find_map(|(i, x)| nul_at(x, &format!("{path}[{i}]")))
        }
        serde_json::Value::Object(map) => map.iter().find_map(|(k, x)| {
            let at = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            if k.contains('\0') {
                Some(at)
            } else {
                nul_at(x, &at)
            }
        }),
        _ => None,
    }
}

/// The first query parameter whose name or value holds a NUL, which no
/// database stores in text (PostgreSQL refuses it): refused before any
/// handler runs, so that an export never starts on it.
pub fn nul_in_query(query: &[u8]) -> Option<String> {
    form_urlencoded::parse(query)
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| k.replace('\0', "\u{fffd}"))
}

/// Parses JSON, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => ApiError::BadRequest {
                code: "malformed_json",
                detail: format!("The body is not valid JSON: {inner}."),
                errors: Vec::new(),
            },
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let (field, code) = if let Some(name) =
                    message.strip_prefix("unknown field `").and_then(|r| r.split('`').next())
                {
                    (join_path(&path, name), "unknown_field")
                } else if let Some(name) = message.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                    (join_path(&path, name), "required")
                } else {
                    (if path == "." { String::new() } else { path }, "invalid_type")
                };
                let message = strip_position(&message);
                ApiError::Validation(vec![FieldError::new(&field, code, message)])
            }
        }
    })
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_owned()
    } else {
        // serde_path_to_error reports the containing path for unknown and missing fields.
        let parent = parent.trim_end_matches(&format!(".{name}")).trim_end_matches(name).trim_end_matches('.');
        if parent.is_empty() {
            name.to_owned()
        } else {
            format!("{parent}.{name}")
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// Field errors gathered while parsing a request's fields, reported together.
#[derive(Default)]
pub struct Fields(Vec<FieldError>);

impl Fields {
    /// Keeps the value, or remembers why it was refused.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Adds an error.
    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Fails with every error gathered, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// A path parameter; one that does not parse (a malformed id) is a 422
/// naming it (`malformed`), which pages show as "not found".
pub struct ApiPath<T>(pub T);

/// The error code of a path parameter that does not parse.
pub const MALFORMED: &str = "malformed";

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        use axum::extract::path::{ErrorKind, RawPathParams};
        use axum::extract::rejection::PathRejection;
        let rejection = match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(p) => return Ok(ApiPath(p.0)),
            Err(r) => r,
        };
        let keys: Vec<String> = RawPathParams::from_request_parts(parts, state)
            .await
            .map(|raw| raw.iter().map(|(k, _)| k.to_owned()).collect())
            .unwrap_or_default();
        let named = match &rejection {
            PathRejection::FailedToDeserializePathParams(e) => match e.kind() {
                ErrorKind::ParseErrorAtKey { key, .. }
                | ErrorKind::InvalidUtf8InPathParam { key }
                | ErrorKind::DeserializeError { key, .. } => Some(key.clone()),
                ErrorKind::ParseErrorAtIndex { index, .. } => keys.get(*index).cloned(),
                _ => None,
            },
            _ => None,
        };
        let key = named.or_else(|| keys.first().cloned()).unwrap_or_else(|| "id".to_owned());
        Err(ApiError::field(&key, MALFORMED, format!("{key} is not a valid identifier")))
    }
}

/// Query parameters; a bad one answers 422 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, ApiError> {
        let q = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(q.as_bytes()));
        serde_path_to_error::deserialize(de).map(ApiQuery).map_err(|e| {
            let field = e.path().to_string();
            let message = e.into_inner().to_string();
            ApiError::Validation(vec![FieldError::new(
                if field == "." { "query" } else { &field },
                "invalid_query",
                message,
            )])
        })
    }
}

/// For PATCH bodies: tells an absent field (`None`) from an explicit null (`Some(None)`).
pub fn double_option<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(de).map(Some)
}

/// An optional text field of a create or PATCH: absent keeps `old`, `null` or
/// blank clears it, anything else is parsed (errors gathered in `f`).
pub fn patch_text<T>(
    f: &mut Fields,
    field: &str,
    new: &Option<Option<String>>,
    old: Option<String>,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
    into: impl Fn(T) -> String,
) -> Option<String> {
    match new {
        None => old,
        Some(None) => None,
        Some(Some(v)) if v.trim().is_empty() => None,
        Some(Some(v)) => f.take(parse(field, v)).map(into),
    }
}

/// A list field: absent keeps `old`; each item parsed and named `field[i]`.
pub fn patch_list<T>(
    f: &mut Fields,
    field: &str,
    new: &Option<Vec<String>>,
    old: Vec<T>,
    max: usize,
    parse: impl Fn(&str, &str) -> Result<T, FieldError>,
) -> Vec<T> {
    let Some(list) = new else {
        return old;
    };
    if list.len() > max {
        f.push(FieldError::new(field, "too_many", format!("{field} may list at most {max} items")));
    }
    list.iter()
        .enumerate()
        .filter(|(_, v)| !v.trim().is_empty())
        .filter_map(|(i, v)| f.take(parse(&format!("{field}[{i}]"), v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        age: Option<i64>,
    }

    fn codes(e: ApiError) -> (String, String) {
        match e {
            ApiError::Validation(v) => (v[0].field.clone(), v[0].code.clone()),
            ApiError::BadRequest { code, .. } => (String::new(), code.to_owned()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn names_the_field() {
        assert_eq!(codes(parse::<Body>(br#"{"email": 1}"#).unwrap_err()), ("email".into(), "invalid_type".into()));
        assert_eq!(
            codes(parse::<Body>(br#"{"email": "a", "x": 1}"#).unwrap_err()),
            ("x".into(), "unknown_field".into())
        );
        assert_eq!(codes(parse::<Body>(br#"{"age": 3}"#).unwrap_err()), ("email".into(), "required".into()));
        assert_eq!(codes(parse::<Body>(br#"{"email": "#).unwrap_err()), (String::new(), "malformed_json".into()));
        assert!(parse::<Body>(br#"{"email": "a@b.cn"}"#).is_ok());
    }
}
