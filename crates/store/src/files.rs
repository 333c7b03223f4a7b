//! Files kept in the database, in chunks: an import's upload and its file of
//! bad rows. Kept beside the data rather than on one server's disk, any
//! instance can resume an upload, run the import, or serve the file, and a
//! backup of the database holds them. An upload arrives a chunk at a time at
//! the offset the server already has, so a dropped connection resumes
//! instead of starting over.

use crate::db::{Db, Sql};
use crate::{Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::{UserId, WorkspaceId};
use serde::Serialize;
use uuid::Uuid;

/// A stored file as shown.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct StoredFile {
    /// Id.
    pub id: Uuid,
    /// Who uploaded it (`null`: made by the system).
    pub user_id: Option<UserId>,
    /// `import` (an upload) or `import_errors` (bad rows).
    pub purpose: String,
    /// Its name.
    pub name: String,
    /// Its whole size in bytes.
    pub size: i64,
    /// Bytes received so far: the offset the next chunk starts at.
    pub received: i64,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// When the last byte arrived (`null`: still uploading).
    pub completed_at: Option<DateTime<Utc>>,
}
crate::from_row!(StoredFile { id, user_id, purpose, name, size, received, created_at, completed_at });

const SELECT: &str = "SELECT id, user_id, purpose, name, size, received, created_at, completed_at FROM files";

/// Why a chunk was not taken.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    /// No such file in the workspace.
    #[error("no such upload")]
    NotFound,
    /// The chunk does not start where the file ends.
    #[error("this upload has {received} bytes; send the chunk that starts there")]
    Offset {
        /// Where the next chunk must start.
        received: i64,
    },
    /// The chunk would make the file longer than announced.
    #[error("the chunk ends past the announced size of {size} bytes")]
    TooLong {
        /// The announced size.
        size: i64,
    },
    /// The database.
    #[error(transparent)]
    Store(#[from] Error),
}

/// Starts a file of `size` bytes.
pub async fn create(
    db: &Db,
    ws: WorkspaceId,
    user: Option<UserId>,
    purpose: &str,
    name: &str,
    size: i64,
    now: DateTime<Utc>,
) -> Result<StoredFile> {
    let id = Uuid::now_v7();
    let q = Sql::new(
        "INSERT INTO files (id, workspace_id, user_id, purpose, name, size, received, chunks, created_at, completed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, 0, $7, $8)",
    )
    .arg(id)
    .arg(ws)
    .arg(user)
    .arg(purpose)
    .arg(name)
    .arg(size)
    .arg(now)
    .arg((size == 0).then_some(now));
    db.execute(q).await?;
    get(db, ws, id).await?.ok_or(Error::NotFound)
}

/// The file, if it is in the workspace.
pub async fn get(db: &Db, ws: WorkspaceId, id: Uuid) -> Result<Option<StoredFile>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE id = ").bind(id).push(" AND workspace_id = ").bind(ws);
    db.fetch_optional(q).await
}

/// Appends `data` at `offset`, which must be where the file ends now. The
/// compare-and-set on `received` makes two racing chunks (a retry overtaking
/// its original) take one and refuse the other with the true offset.
pub async fn append(
    db: &Db,
    ws: WorkspaceId,
    id: Uuid,
    offset: i64,
    data: &[u8],
    now: DateTime<Utc>,
) -> std::result::Result<StoredFile, ChunkError> {
    let len = data.len() as i64;
    let mut tx = db.begin().await?;
    let q = Sql::new(
        "UPDATE files SET received = received + $1, chunks = chunks + 1, \
         completed_at = CASE WHEN received + $1 = size THEN $2 ELSE completed_at END \
         WHERE id = $3 AND workspace_id = $4 AND received = $5 AND received + $1 <= size RETURNING chunks",
    )
    .arg(len)
    .arg(now)
    .arg(id)
    .arg(ws)
    .arg(offset);
    let Some((chunks,)) = tx.fetch_optional::<(i64,)>(q).await? else {
        drop(tx);
        let file = get(db, ws, id).await?.ok_or(ChunkError::NotFound)?;
        if file.received != offset {
            return Err(ChunkError::Offset { received: file.received });
        }
        return Err(ChunkError::TooLong { size: file.size });
    };
    if len > 0 {
        let q = Sql::new("INSERT INTO file_chunks (file_id, seq, data) VALUES ($1, $2, $3)")
            .arg(id)
            .arg(chunks - 1)
            .arg(data.to_vec());
        tx.execute(q).await?;
    }
    tx.commit().await?;
    get(db, ws, id).await?.ok_or(ChunkError::NotFound)
}

/// Stores a whole file the system made (a file of bad rows) from a local path.
pub async fn store_path(
    db: &Db,
    ws: WorkspaceId,
    user: Option<UserId>,
    purpose: &str,
    name: &str,
    path: &std::path::Path,
    now: DateTime<Utc>,
) -> std::result::Result<StoredFile, ChunkError> {
    use tokio::io::AsyncReadExt as _;
    let size = tokio::fs::metadata(path).await.map_err(|e| Error::Db(format!("{}: {e}", path.display())))?.len();
    let file = create(db, ws, user, purpose, name, size as i64, now).await?;
    let mut f = tokio::fs::File::open(path).await.map_err(|e| Error::Db(format!("{}: {e}", path.display())))?;
    let mut offset = 0i64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..]).await.map_err(|e| Error::Db(e.to_string()))?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        append(db, ws, file.id, offset, &buf[..filled], now).await?;
        offset += filled as i64;
    }
    get(db, ws, file.id).await?.ok_or(ChunkError::NotFound)
}

/// Chunk size of files the system stores.
pub const CHUNK: usize = 1024 * 1024;

/// A page of a file's chunks from `seq` on, for streaming it to a client.
pub async fn chunks_from(db: &Db, id: Uuid, seq: i64) -> Result<Vec<(i64, Vec<u8>)>> {
    let mut q = Sql::new("SELECT seq, data FROM file_chunks WHERE file_id = ");
    q.bind(id).push(" AND seq >= ").bind(seq).push(" ORDER BY seq LIMIT 4");
    db.fetch_all(q).await
}
