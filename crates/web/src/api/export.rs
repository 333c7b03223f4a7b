//! Exports as files: the list's filters and the caller's scope pick the
//! rows, written to an anonymous temporary file (an XLSX is assembled at the
//! end; CSV of accounts also streams without one, see `accounts::export`),
//! then sent as a download.

use crate::error::{ApiError, ApiResult};
use axum::http::header;
use axum::response::Response;
use tokio::io::AsyncReadExt as _;

/// The export format asked for: one of `allowed`, `csv` when left out.
pub(crate) fn format_of<'a>(asked: Option<&str>, allowed: &[&'a str]) -> Result<&'a str, ApiError> {
    let asked = asked.unwrap_or("csv");
    allowed.iter().find(|f| **f == asked).copied().ok_or_else(|| {
        ApiError::field("format", "invalid_choice", format!("format must be one of: {}", allowed.join(", ")))
    })
}

/// An anonymous temporary file (gone when closed), and a handle to write it.
pub(crate) fn scratch() -> Result<(std::fs::File, std::fs::File), ApiError> {
    let file = tempfile::tempfile().map_err(|e| ApiError::Internal(e.to_string()))?;
    let writer = file.try_clone().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((file, writer))
}

/// Sends a written file from its start as the download `name`.
pub(crate) async fn send_file(file: std::fs::File, name: &str, content_type: &str) -> ApiResult<Response> {
    use std::io::Seek as _;
    let mut file = file;
    file.rewind().map_err(|e| ApiError::Internal(e.to_string()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let file = tokio::fs::File::from_std(file);
    let body = futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(buf), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_LENGTH, len)
        .header(header::CONTENT_DISPOSITION, attachment(name))
        .body(axum::body::Body::from_stream(body))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// `attachment` with the name in RFC 5987 form (Chinese names survive) and an ASCII fallback.
pub(crate) fn attachment(name: &str) -> String {
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || ".-_".contains(c) { c } else { '_' }).collect();
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes()).collect::<String>().replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// An export's failure as an API error.
pub(crate) fn failed(e: guanxi_exchange::accounts::ExportError) -> ApiError {
    match e {
        guanxi_exchange::accounts::ExportError::Store(s) => s.into(),
        guanxi_exchange::accounts::ExportError::Sheet(guanxi_exchange::sheet::SheetError::TooManyRows(n)) => {
            ApiError::field(
                "format",
                "too_many_rows",
                format!("more than {n} rows do not fit an Excel sheet; export as CSV, or narrow the filters"),
            )
        }
        other => ApiError::Internal(other.to_string()),
    }
}
