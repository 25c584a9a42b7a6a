//! The `events` table: live events written in the transaction of the change they announce,
//! read back in id order by every process's relay (see `crate::relay`).

use crate::db::{query, query_as, Backend, Executor, FromRow, Tx};
use crate::error::CoreResult;

/// The PostgreSQL channel an `events` insert notifies on commit.
pub const CHANNEL: &str = "isp_events";

/// One stored event.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct EventRow {
    /// Position in the table (ids grow; never given twice).
    pub id: i64,
    /// Tenant of the changed object.
    pub tenant_id: i64,
    /// What changed (`EventKind::as_str`).
    pub kind: String,
    /// Id of the changed object.
    pub object_id: i64,
    /// The process that wrote it.
    pub origin: i64,
}

/// Writes an event into `tx`; on PostgreSQL also a NOTIFY on [`CHANNEL`], delivered to the
/// listening processes when `tx` commits (several in one transaction are delivered as one).
pub async fn insert(tx: &mut Tx, tenant_id: i64, kind: &str, object_id: i64, origin: i64, at: i64) -> CoreResult<()> {
    query("INSERT INTO events (tenant_id, kind, object_id, origin, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(tenant_id)
        .bind(kind)
        .bind(object_id)
        .bind(origin)
        .bind(at)
        .execute(&mut *tx)
        .await?;
    if tx.backend() == Backend::Postgres {
        query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&mut *tx).await?;
    }
    Ok(())
}

/// Up to `limit` events with an id above `after`, in id order.
pub async fn after(ex: impl Executor, after: i64, limit: i64) -> CoreResult<Vec<EventRow>> {
    query_as("SELECT id, tenant_id, kind, object_id, origin FROM events WHERE id > $1 ORDER BY id LIMIT $2")
        .bind(after)
        .bind(limit)
        .fetch_all(ex)
        .await
}

/// The highest id written so far (0 when none).
pub async fn last_id(ex: impl Executor) -> CoreResult<i64> {
    let (id,): (i64,) = query_as("SELECT COALESCE(MAX(id), 0) FROM events").fetch_one(ex).await?;
    Ok(id)
}

/// Deletes the events written before `before` (Unix ms); returns how many.
pub async fn prune(ex: impl Executor, before: i64) -> CoreResult<u64> {
    query("DELETE FROM events WHERE at < $1").bind(before).execute(ex).await
}

/// The events with these ids (those that exist).
pub async fn by_ids(ex: impl Executor, ids: &[i64]) -> CoreResult<Vec<EventRow>> {
    let mut sql = crate::db::Sql::new("SELECT id, tenant_id, kind, object_id, origin FROM events WHERE id IN ");
    sql.in_list(ids).push(" ORDER BY id");
    sql.fetch_all(ex).await
}
