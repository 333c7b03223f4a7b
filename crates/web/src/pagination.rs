//! Cursor pagination, the same for every list endpoint:
//! `?limit=N` (1–200, default 50) and `?cursor=...` taken from the previous
//! page's `next_cursor`; `next_cursor` is null on the last page. Cursors are
//! opaque; never build them by hand.

use crate::error::ApiError;
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Query parameters of every list.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1–200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of results.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null when this is the last.
    pub next_cursor: Option<String>,
}

impl PageQuery {
    /// The validated limit.
    pub fn limit(&self) -> Result<i64, ApiError> {
        match self.limit {
            None => Ok(50),
            Some(n) if (1..=200).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field("limit", "out_of_range", "limit must be between 1 and 200")),
        }
    }

    /// The id after which the page starts.
    pub fn after(&self) -> Result<Option<Uuid>, ApiError> {
        let Some(c) = &self.cursor else { return Ok(None) };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| Uuid::from_slice(&b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::field("cursor", "invalid_cursor", "cursor is not one this server issued"))
    }
}

/// A cursor of a list sorted by something else than its id: the last row's sort value and id.
pub fn keyed_cursor(key: &str, id: Uuid) -> String {
    let raw = serde_json::json!([key, id]).to_string();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw.as_bytes())
}

impl PageQuery {
    /// The sort value and id after which a sorted page starts.
    pub fn after_keyed(&self) -> Result<Option<(String, Uuid)>, ApiError> {
        let Some(c) = &self.cursor else { return Ok(None) };
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(c)
            .ok()
            .and_then(|b| serde_json::from_slice::<(String, Uuid)>(&b).ok())
            .map(Some)
            .ok_or_else(|| ApiError::field("cursor", "invalid_cursor", "cursor is not one this server issued"))
    }
}

/// Builds a page from `limit + 1` fetched rows: the extra row only says there is more.
pub fn page<T>(mut rows: Vec<T>, limit: i64, key: impl Fn(&T) -> Uuid) -> Page<T> {
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key(r).as_bytes()))
    } else {
        None
    };
    Page { items: rows, next_cursor }
}
