//! Imports over HTTP: a file is uploaded a chunk at a time (resumable: each
//! chunk names its offset, and a dropped connection picks up where the
//! server's copy ends), previewed with its mapping, then imported — a dry
//! run or for real — as a background task whose progress and report the
//! import's record shows. Bad rows download as a CSV; the file stays kept;
//! an import can be undone for a while.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::json::{ApiJson, ApiPath, ApiQuery};
use crate::pagination::{page, Page, PageQuery};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::Json;
use guanxi_domain::{FieldError, ImportId};
use guanxi_exchange::fields::Kind;
use guanxi_exchange::import::stored::{self, Preview};
use guanxi_exchange::import::{self, ImportError, OnError, Options, Who};
use guanxi_exchange::mapping::{ColumnMap, MappingError};
use guanxi_store::files::{self, ChunkError, StoredFile};
use guanxi_store::imports::{self, Import, SavedMapping};
use serde::Deserialize;
use uuid::Uuid;

/// Largest chunk of an upload in one request.
pub const CHUNK_LIMIT: usize = 8 * 1024 * 1024;

/// A file about to be uploaded.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UploadInput {
    /// The file's name (`客户.xlsx`).
    pub name: String,
    /// Its size in bytes.
    pub size: i64,
}

/// Where a chunk goes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChunkQuery {
    /// The byte offset the chunk starts at: the upload's `received`.
    pub offset: i64,
}

/// Starts an upload: then `PUT` its bytes, in chunks of at most 8 MB, each at the offset the upload has received.
#[utoipa::path(post, path = "/api/v1/uploads", tag = "imports", security(("bearer" = [])), request_body = UploadInput,
    responses((status = 201, body = StoredFile), (status = 422, description = "`too_large`, `invalid_name`", body = Problem)))]
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<UploadInput>,
) -> ApiResult<(StatusCode, Json<StoredFile>)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(ApiError::field(
            "name",
            "invalid_name",
            "name must be 1–255 characters without control characters",
        ));
    }
    let max = state.config.max_upload as i64;
    if input.size < 0 || input.size > max {
        return Err(ApiError::field(
            "size",
            "too_large",
            format!(
                "files up to {} MB can be uploaded; split the file, or use `guanxi import` on the server",
                max >> 20
            ),
        ));
    }
    let p = &caller.principal;
    let file = files::create(&state.db, p.workspace_id, Some(p.user_id), "import", name, input.size, state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, Json(file)))
}

/// An upload: how much of it has arrived.
#[utoipa::path(get, path = "/api/v1/uploads/{id}", tag = "imports", security(("bearer" = [])),
    responses((status = 200, body = StoredFile), (status = 404, body = Problem)))]
pub async fn get_upload(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<StoredFile>> {
    Ok(Json(own_file(&state, &caller, id).await?))
}

async fn own_file(state: &AppState, caller: &Caller, id: Uuid) -> Result<StoredFile, ApiError> {
    let p = &caller.principal;
    let file = files::get(&state.db, p.workspace_id, id).await?.ok_or(ApiError::NotFound)?;
    // An upload is its uploader's (admins see all): others' files are not there for them.
    if file.user_id != Some(p.user_id) && !p.role.is_admin() {
        return Err(ApiError::NotFound);
    }
    Ok(file)
}

/// Adds a chunk (the raw bytes as the body) at `offset`. A chunk at another
/// offset than the upload's `received` is refused with `409 upload_offset`:
/// ask `GET /api/v1/uploads/{id}` where to go on.
#[utoipa::path(put, path = "/api/v1/uploads/{id}", tag = "imports", security(("bearer" = [])), params(ChunkQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = StoredFile), (status = 404, body = Problem),
        (status = 409, description = "`upload_offset`", body = Problem), (status = 413, body = Problem),
        (status = 422, description = "`too_long`", body = Problem)))]
pub async fn put_chunk(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(q): ApiQuery<ChunkQuery>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<StoredFile>> {
    let body = body.map_err(|_| ApiError::PayloadTooLarge)?;
    own_file(&state, &caller, id).await?;
    let ws = caller.principal.workspace_id;
    match files::append(&state.db, ws, id, q.offset, &body, state.clock.now()).await {
        Ok(f) => Ok(Json(f)),
        Err(ChunkError::NotFound) => Err(ApiError::NotFound),
        Err(ChunkError::Offset { received }) => Err(ApiError::Conflict {
            code: "upload_offset",
            detail: format!("the upload has {received} bytes; send the chunk that starts at offset {received}"),
            errors: vec![FieldError::new("offset", "upload_offset", format!("must be {received}"))],
        }),
        Err(e @ ChunkError::TooLong { .. }) => Err(ApiError::field("offset", "too_long", e.to_string())),
        Err(ChunkError::Store(e)) => Err(e.into()),
    }
}

/// How to read and import an upload.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportInput {
    /// The upload (complete).
    pub file_id: Uuid,
    /// `accounts` or `contacts`; guessed from the columns when left out.
    pub kind: Option<Kind>,
    /// guanxi, salesforce, hubspot, twenty or odoo.
    pub preset: Option<String>,
    /// Columns mapped by hand: every column to import, with its field (or `ignore`).
    pub columns: Option<Vec<ColumnMap>>,
    /// Say what would happen, write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// `skip` bad rows (default) or `abort`: write nothing if one is bad.
    #[serde(default)]
    pub on_error: OnError,
    /// Update the records rows match (history kept) instead of leaving them.
    #[serde(default)]
    pub update_existing: bool,
}

impl ImportInput {
    fn options(&self) -> Options {
        Options {
            kind: self.kind,
            preset: self.preset.clone().filter(|p| !p.is_empty()),
            columns: self.columns.clone(),
            dry_run: self.dry_run,
            on_error: self.on_error,
            update_existing: self.update_existing,
        }
    }
}

fn import_error(e: ImportError) -> ApiError {
    match e {
        ImportError::Mapping(m) => {
            let field = if matches!(m, MappingError::UnknownPreset(_)) { "preset" } else { "columns" };
            ApiError::field(field, "invalid_mapping", m.to_string())
        }
        ImportError::Read(r) => ApiError::field("file_id", "unreadable_file", r.to_string()),
        ImportError::Store(s) => s.into(),
        other => ApiError::Internal(other.to_string()),
    }
}

/// A complete upload of the caller's, and its local copy to read.
async fn upload_of(
    state: &AppState,
    caller: &Caller,
    input: &ImportInput,
) -> Result<(StoredFile, std::path::PathBuf), ApiError> {
    let file = own_file(state, caller, input.file_id).await?;
    if file.purpose != "import" {
        return Err(ApiError::field("file_id", "not_an_upload", "this file is not an upload to import"));
    }
    if file.completed_at.is_none() {
        return Err(ApiError::field(
            "file_id",
            "upload_incomplete",
            format!("the upload has {} of {} bytes; send the rest first", file.received, file.size),
        ));
    }
    let path = stored::local_copy(&state.db, &file).await.map_err(import_error)?;
    Ok((file, path))
}

/// Runs `f` (reading the file) off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ImportError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::Internal(e.to_string()))?.map_err(import_error)
}

/// What an upload holds and how its columns would map (the mapping editor's view).
#[utoipa::path(post, path = "/api/v1/imports/preview", tag = "imports", security(("bearer" = [])), request_body = ImportInput,
    responses((status = 200, body = Preview), (status = 404, body = Problem),
        (status = 422, description = "`upload_incomplete`, `unreadable_file`, `invalid_mapping`", body = Problem)))]
pub async fn preview(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ImportInput>,
) -> ApiResult<Json<Preview>> {
    let (_, path) = upload_of(&state, &caller, &input).await?;
    let opts = input.options();
    let (_, preview) = blocking(move || stored::preview(&path, &opts)).await?;
    Ok(Json(preview))
}

/// Imports an upload in the background (`202`): follow `GET /api/v1/imports/{id}`
/// for progress (`bytes_read` of `file_size`), counts and, when `done`, the report.
#[utoipa::path(post, path = "/api/v1/imports", tag = "imports", security(("bearer" = [])), request_body = ImportInput,
    responses((status = 202, body = Import), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, description = "`upload_incomplete`, `unreadable_file`, `invalid_mapping`", body = Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<ImportInput>,
) -> ApiResult<(StatusCode, Json<Import>)> {
    let (file, path) = upload_of(&state, &caller, &input).await?;
    let opts = input.options();
    let planning = opts.clone();
    let plan = blocking(move || import::plan(&path, &planning)).await?;
    // Touches are notes anyone may log; the other kinds are sales records.
    if plan.kind != guanxi_exchange::fields::Kind::Activities {
        caller.require_sales_writer()?;
    }
    let p = &caller.principal;
    let who = Who {
        actor: caller.actor(),
        viewer: p.viewer(),
        user_id: Some(p.user_id),
        may_assign: crate::api::accounts::may_assign(&caller),
    };
    let now = state.clock.now();
    let id = import::record(
        &state.db,
        &who,
        &file.name,
        import::Kept::Stored(file.id),
        file.size as u64,
        plan.kind,
        &opts,
        now,
    )
    .await
    .map_err(import_error)?;
    let task = state.clone();
    tokio::spawn(async move {
        if let Err(e) = stored::run_stored(&task.db, &who, id, &plan, &opts, task.clock.as_ref()).await {
            // Recorded on the import too; the log says it for operators.
            tracing::info!(import = %id, error = %e, "import ended without writing everything");
        }
    });
    let import = imports::get(&state.db, p.workspace_id, id).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::ACCEPTED, Json(import)))
}

/// Imports the caller may see: their own; admins see everyone's.
#[utoipa::path(get, path = "/api/v1/imports", tag = "imports", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = Object, description = "`{items: [Import], next_cursor}`, newest first")))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<Page<Import>>> {
    let limit = q.limit()?;
    let p = &caller.principal;
    let user = (!p.role.is_admin()).then_some(p.user_id);
    let rows = imports::list(&state.db, p.workspace_id, user, q.after()?, limit + 1).await?;
    Ok(Json(page(rows, limit, |i| i.id.uuid())))
}

/// An import the caller may see.
pub(crate) async fn visible(state: &AppState, caller: &Caller, id: ImportId) -> Result<Import, ApiError> {
    let p = &caller.principal;
    let import = imports::get(&state.db, p.workspace_id, id).await?.ok_or(ApiError::NotFound)?;
    if import.user_id != Some(p.user_id) && !p.role.is_admin() {
        return Err(ApiError::NotFound);
    }
    Ok(import)
}

/// One import: status, progress, counts, and the report when it is done.
#[utoipa::path(get, path = "/api/v1/imports/{id}", tag = "imports", security(("bearer" = [])),
    responses((status = 200, body = Import), (status = 404, body = Problem)))]
pub async fn get(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Json<Import>> {
    Ok(Json(visible(&state, &caller, ImportId::from_uuid(id)).await?))
}

/// Streams a stored file from the database, a few chunks at a time.
pub(crate) fn download(state: &AppState, file: Uuid, name: &str, content_type: &'static str) -> ApiResult<Response> {
    let db = state.db.clone();
    let chunks = futures_util::stream::unfold(Some(0i64), move |seq| {
        let db = db.clone();
        async move {
            let seq = seq?;
            match files::chunks_from(&db, file, seq).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = rows.last().map(|r| r.0 + 1);
                    let bytes: Vec<u8> = rows.into_iter().flat_map(|r| r.1).collect();
                    Some((Ok::<_, std::io::Error>(bytes), next))
                }
                Err(e) => Some((Err(std::io::Error::other(e.to_string())), None)),
            }
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CONTENT_DISPOSITION, crate::api::export::attachment(name))
        .body(axum::body::Body::from_stream(chunks))
        .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The bad rows as a CSV: the file's columns, then `导入错误` (why), `文件行号`
/// (the line in a text editor) and `表格行号` (the spreadsheet's row). Fix them
/// there and upload that file again.
#[utoipa::path(get, path = "/api/v1/imports/{id}/errors.csv", tag = "imports", security(("bearer" = [])),
    responses((status = 200, description = "text/csv", content_type = "text/csv"), (status = 404, body = Problem)))]
pub async fn errors_csv(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Response> {
    let import = visible(&state, &caller, ImportId::from_uuid(id)).await?;
    let file = import.errors_file_id.ok_or(ApiError::NotFound)?;
    let stem = import.file_name.rsplit_once('.').map_or(import.file_name.as_str(), |(s, _)| s);
    download(&state, file, &format!("{stem}.errors.csv"), "text/csv; charset=utf-8")
}

/// The file as it was uploaded.
#[utoipa::path(get, path = "/api/v1/imports/{id}/file", tag = "imports", security(("bearer" = [])),
    responses((status = 200, description = "the file", content_type = "application/octet-stream"), (status = 404, body = Problem)))]
pub async fn file(State(state): State<AppState>, caller: Caller, ApiPath(id): ApiPath<Uuid>) -> ApiResult<Response> {
    let import = visible(&state, &caller, ImportId::from_uuid(id)).await?;
    let file = import.file_id.ok_or(ApiError::NotFound)?;
    download(&state, file, &import.file_name, "application/octet-stream")
}

/// Why an import cannot be undone, if it cannot.
pub(crate) fn undo_refusal(state: &AppState, import: &Import) -> Option<String> {
    let dry = import.options.get("dry_run").and_then(|v| v.as_bool()).unwrap_or(false);
    if dry {
        return Some("a dry run wrote nothing to undo".into());
    }
    if import.status == "undone" {
        return Some("this import is already undone".into());
    }
    if import.status != "done" {
        return Some(format!("only a finished import can be undone; this one is {}", import.status));
    }
    let days = state.config.import_undo_days;
    let since = import.finished_at.unwrap_or(import.created_at);
    if state.clock.now() - since > chrono::Duration::days(days) {
        return Some(format!(
            "imports can be undone for {days} days; delete its records from the list, or ask an admin"
        ));
    }
    None
}

/// Undoes an import: the records it created go to the recycle bin (each
/// restorable; records it updated keep their changes, which their history
/// shows); the open hooks of activities it removes are cancelled.
#[utoipa::path(post, path = "/api/v1/imports/{id}/undo", tag = "imports", security(("bearer" = [])),
    responses((status = 200, body = Import), (status = 404, body = Problem),
        (status = 409, description = "`not_undoable`: a dry run, not finished, already undone, or past the undo window", body = Problem)))]
pub async fn undo(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<Json<Import>> {
    let id = ImportId::from_uuid(id);
    let import = visible(&state, &caller, id).await?;
    if let Some(why) = undo_refusal(&state, &import) {
        return Err(ApiError::Conflict { code: "not_undoable", detail: why, errors: Vec::new() });
    }
    let removed = imports::undo(&state.db, &caller.actor(), id, &import.kind, state.clock.now()).await?;
    if removed.is_none() {
        return Err(ApiError::Conflict {
            code: "not_undoable",
            detail: "this import is already undone".into(),
            errors: Vec::new(),
        });
    }
    Ok(Json(visible(&state, &caller, id).await?))
}

/// A mapping to save.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MappingInput {
    /// Its name (replaces a saved mapping of the same name).
    pub name: String,
    /// `accounts` or `contacts`.
    pub kind: Kind,
    /// The preset it starts from.
    pub preset: Option<String>,
    /// Column → field pairs.
    pub columns: Vec<ColumnMap>,
}

/// The workspace's saved column mappings.
#[utoipa::path(get, path = "/api/v1/import-mappings", tag = "imports", security(("bearer" = [])),
    responses((status = 200, body = [SavedMapping])))]
pub async fn mappings(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<SavedMapping>>> {
    Ok(Json(imports::mappings(&state.db, caller.principal.workspace_id).await?))
}

/// Saves a column mapping for the next file of the same layout.
#[utoipa::path(post, path = "/api/v1/import-mappings", tag = "imports", security(("bearer" = [])), request_body = MappingInput,
    responses((status = 201, body = SavedMapping), (status = 422, body = Problem)))]
pub async fn save_mapping(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(input): ApiJson<MappingInput>,
) -> ApiResult<(StatusCode, Json<SavedMapping>)> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("name", "invalid_name", "name must be 1–100 characters"));
    }
    if input.columns.is_empty() {
        return Err(ApiError::field("columns", "required", "a mapping needs at least one column"));
    }
    if let Some(p) = &input.preset {
        if guanxi_exchange::mapping::preset(p).is_none() {
            return Err(ApiError::field(
                "preset",
                "invalid_mapping",
                MappingError::UnknownPreset(p.clone()).to_string(),
            ));
        }
    }
    for c in &input.columns {
        if c.field != guanxi_exchange::fields::IGNORE && input.kind.field(&c.field).is_none() {
            let e = MappingError::UnknownField {
                column: c.column.clone(),
                kind: input.kind.as_str(),
                field: c.field.clone(),
            };
            return Err(ApiError::field("columns", "invalid_mapping", e.to_string()));
        }
    }
    let columns = serde_json::to_value(&input.columns).map_err(|e| ApiError::Internal(e.to_string()))?;
    let saved = imports::save_mapping(
        &state.db,
        &caller.actor(),
        name,
        input.kind.as_str(),
        input.preset.as_deref(),
        columns,
        state.clock.now(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

/// Removes a saved mapping.
#[utoipa::path(delete, path = "/api/v1/import-mappings/{id}", tag = "imports", security(("bearer" = [])),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn delete_mapping(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<Uuid>,
) -> ApiResult<StatusCode> {
    if imports::delete_mapping(&state.db, &caller.actor(), id, state.clock.now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
