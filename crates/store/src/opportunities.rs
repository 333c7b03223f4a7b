//! Opportunities (商机): a deal at an account moving along the procurement
//! path, the stage we first came in at (and so the 陪标 risk), its amount,
//! owner and the account's people who matter to it. Seen by whoever may see
//! the account, as contacts are, and by the deal's own owner. Moving a stage restarts the account's
//! no-progress clock; winning restarts its no-deal clock.

use crate::audit::{self, Action, Actor};
use crate::db::{Db, Sql, Tx, Val};
use crate::ownership::{self, Touch};
use crate::scope::{push_visible, Viewer};
use crate::{accounts, refs, Conn, Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use guanxi_domain::opportunity::{yuan_text, EntryTiming, OpportunityStatus, Stage};
use guanxi_domain::{AccountId, AccountSource, ContactId, OpportunityId, Scope, Stance, UserId, WorkspaceId};
use serde::Serialize;

/// One of the account's people on the deal.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DealContact {
    /// The contact.
    pub id: ContactId,
    /// Name.
    pub name: String,
    /// Title.
    pub title: Option<String>,
    /// Stance toward us.
    pub stance: Option<Stance>,
}

/// An opportunity as the API and pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Opportunity {
    /// Id.
    pub id: OpportunityId,
    /// The account.
    pub account_id: AccountId,
    /// Its name.
    pub account_name: String,
    /// Name of the deal (东北分部调度自动化系统改造).
    pub name: String,
    /// Where the project is on the procurement path.
    pub stage: Stage,
    /// Open, won or lost.
    pub status: OpportunityStatus,
    /// The stage at which we first came in.
    pub first_contact_stage: Stage,
    /// What that means: first mover, late, no first-mover advantage, or 陪标 risk.
    pub entry_timing: EntryTiming,
    /// Amount in fen (分), exact.
    pub amount_fen: Option<i64>,
    /// The same in yuan with two decimals (`1250000.00`).
    pub amount: Option<String>,
    /// Expected close (`2027-03-31`).
    pub expected_close_on: Option<String>,
    /// Who works the deal (负责人).
    pub owner_id: Option<UserId>,
    /// That person's name.
    pub owner_name: Option<String>,
    /// Where the lead came from.
    pub source: Option<AccountSource>,
    /// Competitors in the deal.
    pub competitors: Option<String>,
    /// Why it was lost.
    pub lost_reason: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// The account's people who matter to the deal.
    pub contacts: Vec<DealContact>,
    /// When the stage last moved.
    pub stage_changed_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Set while in the recycle bin.
    pub deleted_at: Option<DateTime<Utc>>,
}

struct Row {
    id: OpportunityId,
    account_id: AccountId,
    account_name: String,
    name: String,
    stage: Stage,
    status: OpportunityStatus,
    first_contact_stage: Stage,
    amount_fen: Option<i64>,
    expected_close_on: Option<String>,
    owner_id: Option<UserId>,
    owner_name: Option<String>,
    source: Option<AccountSource>,
    competitors: Option<String>,
    lost_reason: Option<String>,
    notes: Option<String>,
    stage_changed_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
}
crate::from_row!(Row {
    id,
    account_id,
    account_name,
    name,
    stage,
    status,
    first_contact_stage,
    amount_fen,
    expected_close_on,
    owner_id,
    owner_name,
    source,
    competitors,
    lost_reason,
    notes,
    stage_changed_at,
    created_at,
    updated_at,
    deleted_at
});

const SELECT: &str = "SELECT o.id, o.account_id, a.name AS account_name, o.name, o.stage, o.status, \
     o.first_contact_stage, o.amount_fen, o.expected_close_on, o.owner_id, u.display_name AS owner_name, o.source, \
     o.competitors, o.lost_reason, o.notes, o.stage_changed_at, o.created_at, o.updated_at, o.deleted_at \
     FROM opportunities o JOIN accounts a ON a.id = o.account_id LEFT JOIN users u ON u.id = o.owner_id";

/// The fields of an opportunity, parsed and checked by the caller (status
/// settled with the stage by `domain::opportunity::settle`).
#[derive(Clone, Debug, PartialEq)]
pub struct OpportunityFields {
    /// Account.
    pub account_id: AccountId,
    /// Name.
    pub name: String,
    /// Stage.
    pub stage: Stage,
    /// Status.
    pub status: OpportunityStatus,
    /// The stage we came in at (not after `stage`).
    pub first_contact_stage: Stage,
    /// Amount in fen.
    pub amount_fen: Option<i64>,
    /// Expected close.
    pub expected_close_on: Option<NaiveDate>,
    /// Owner; on create, none means the account's owner, else the creator.
    pub owner_id: Option<UserId>,
    /// Lead source.
    pub source: Option<AccountSource>,
    /// Competitors.
    pub competitors: Option<String>,
    /// Why lost.
    pub lost_reason: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// People of the account on the deal.
    pub contact_ids: Vec<ContactId>,
}

impl OpportunityFields {
    /// The fields of a stored opportunity, to change some of them.
    pub fn of(o: &Opportunity) -> Self {
        Self {
            account_id: o.account_id,
            name: o.name.clone(),
            stage: o.stage,
            status: o.status,
            first_contact_stage: o.first_contact_stage,
            amount_fen: o.amount_fen,
            expected_close_on: o.expected_close_on.as_deref().and_then(|d| d.parse().ok()),
            owner_id: o.owner_id,
            source: o.source,
            competitors: o.competitors.clone(),
            lost_reason: o.lost_reason.clone(),
            notes: o.notes.clone(),
            contact_ids: o.contacts.iter().map(|c| c.id).collect(),
        }
    }
}

fn snapshot(o: &Opportunity) -> serde_json::Value {
    let mut v = serde_json::to_value(o).unwrap_or_default();
    if let Some(m) = v.as_object_mut() {
        for derived in [
            "id",
            "account_name",
            "owner_name",
            "entry_timing",
            "amount",
            "stage_changed_at",
            "created_at",
            "updated_at",
            "deleted_at",
        ] {
            m.remove(derived);
        }
        m.insert("contacts".into(), serde_json::json!(o.contacts.iter().map(|c| c.name.clone()).collect::<Vec<_>>()));
    }
    v
}

/// (opportunity, contact, name, title, stance)
type DealContactRow = (OpportunityId, ContactId, String, Option<String>, Option<Stance>);

async fn with_contacts(conn: &mut Conn<'_>, rows: Vec<Row>) -> Result<Vec<Opportunity>> {
    let mut people: Vec<(OpportunityId, DealContact)> = Vec::new();
    for chunk in rows.chunks(500) {
        let mut q = Sql::new(
            "SELECT oc.opportunity_id, c.id, c.name, c.title, c.stance FROM opportunity_contacts oc \
             JOIN contacts c ON c.id = oc.contact_id WHERE oc.opportunity_id IN (",
        );
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(r.id);
        }
        q.push(") ORDER BY c.name, c.id");
        let found: Vec<DealContactRow> = conn.fetch_all(q).await?;
        people
            .extend(found.into_iter().map(|(o, id, name, title, stance)| (o, DealContact { id, name, title, stance })));
    }
    Ok(rows
        .into_iter()
        .map(|r| Opportunity {
            contacts: people.iter().filter(|(o, _)| *o == r.id).map(|(_, c)| c.clone()).collect(),
            entry_timing: EntryTiming::of(r.first_contact_stage),
            amount: r.amount_fen.map(yuan_text),
            source: r.source,
            id: r.id,
            account_id: r.account_id,
            account_name: r.account_name,
            name: r.name,
            stage: r.stage,
            status: r.status,
            first_contact_stage: r.first_contact_stage,
            amount_fen: r.amount_fen,
            expected_close_on: r.expected_close_on,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            competitors: r.competitors,
            lost_reason: r.lost_reason,
            notes: r.notes,
            stage_changed_at: r.stage_changed_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
        })
        .collect())
}

async fn get_in_tx(tx: &mut Tx, ws: WorkspaceId, id: OpportunityId) -> Result<Opportunity> {
    let row: Row =
        tx.fetch_one(Sql::new(&format!("{SELECT} WHERE o.id = $1 AND o.workspace_id = $2")).arg(id).arg(ws)).await?;
    with_contacts(&mut Conn::Tx(tx), vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// The account must be live; the owner an active user; the people live
/// contacts of that account; and we cannot have come in after the stage the
/// project is at.
async fn check_refs(tx: &mut Tx, ws: WorkspaceId, f: &OpportunityFields) -> Result<()> {
    let account: Option<(Option<DateTime<Utc>>,)> = tx
        .fetch_optional(
            Sql::new("SELECT deleted_at FROM accounts WHERE id = $1 AND workspace_id = $2").arg(f.account_id).arg(ws),
        )
        .await?;
    if !matches!(account, Some((None,))) {
        return Err(Error::Invalid("account_id", "is not a live account of this workspace".into()));
    }
    if f.first_contact_stage > f.stage {
        return Err(Error::Invalid(
            "first_contact_stage",
            format!(
                "is after the stage the project is at ({}): we cannot have come in later than now",
                f.stage.label_zh()
            ),
        ));
    }
    refs::active_user(tx, ws, f.owner_id, "owner_id").await?;
    for c in &f.contact_ids {
        let row: Option<(AccountId, Option<DateTime<Utc>>)> = tx
            .fetch_optional(
                Sql::new("SELECT account_id, deleted_at FROM contacts WHERE id = $1 AND workspace_id = $2")
                    .arg(*c)
                    .arg(ws),
            )
            .await?;
        match row {
            Some((acc, None)) if acc == f.account_id => {}
            Some((_, None)) => {
                return Err(Error::Invalid("contact_ids", format!("{c} is a contact of another account")))
            }
            _ => return Err(Error::Invalid("contact_ids", format!("{c} is not a live contact"))),
        }
    }
    Ok(())
}

async fn write_contacts(tx: &mut Tx, ws: WorkspaceId, id: OpportunityId, contacts: &[ContactId]) -> Result<()> {
    tx.execute(Sql::new("DELETE FROM opportunity_contacts WHERE opportunity_id = $1").arg(id)).await?;
    let mut seen = Vec::new();
    for c in contacts {
        if seen.contains(c) {
            continue;
        }
        seen.push(*c);
        tx.execute(
            Sql::new("INSERT INTO opportunity_contacts (opportunity_id, contact_id, workspace_id) VALUES ($1, $2, $3)")
                .arg(id)
                .arg(*c)
                .arg(ws),
        )
        .await?;
    }
    Ok(())
}

fn field_args(q: Sql, f: &OpportunityFields) -> Sql {
    q.arg(f.account_id)
        .arg(f.name.as_str())
        .arg(f.stage.as_str())
        .arg(f.status.as_str())
        .arg(f.first_contact_stage.as_str())
        .arg(f.amount_fen)
        .arg(f.expected_close_on.map(|d| d.to_string()))
        .arg(f.owner_id)
        .arg(f.source.map(AccountSource::as_str))
        .arg(f.competitors.clone())
        .arg(f.lost_reason.clone())
        .arg(f.notes.clone())
}

/// Restarts the account's clocks as the deal moved: a new stage is
/// progress, a win is a deal.
async fn touch_account(tx: &mut Tx, ws: WorkspaceId, f: &OpportunityFields, now: DateTime<Utc>) -> Result<()> {
    ownership::touch(tx, ws, f.account_id, Touch::Progress, now).await?;
    if f.status == OpportunityStatus::Won {
        ownership::touch(tx, ws, f.account_id, Touch::Deal, now).await?;
    }
    Ok(())
}

/// Creates an opportunity. Without an owner it goes to the account's owner,
/// or, for an account in the pool, to `by`, who enters it.
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    by: UserId,
    f: &OpportunityFields,
    now: DateTime<Utc>,
) -> Result<Opportunity> {
    insert(tx, actor, by, f, now, true).await
}

/// Creates an imported opportunity: as [`create`], but history brought in
/// restarts none of the account's clocks (the deal did not move today).
pub async fn create_imported(
    tx: &mut Tx,
    actor: &Actor,
    by: UserId,
    f: &OpportunityFields,
    now: DateTime<Utc>,
) -> Result<Opportunity> {
    insert(tx, actor, by, f, now, false).await
}

async fn insert(
    tx: &mut Tx,
    actor: &Actor,
    by: UserId,
    f: &OpportunityFields,
    now: DateTime<Utc>,
    touch: bool,
) -> Result<Opportunity> {
    let ws = actor.workspace_id;
    check_refs(tx, ws, f).await?;
    let mut f = f.clone();
    if f.owner_id.is_none() {
        let (owner,): (Option<UserId>,) =
            tx.fetch_one(Sql::new("SELECT owner_id FROM accounts WHERE id = $1").arg(f.account_id)).await?;
        f.owner_id = Some(owner.unwrap_or(by));
    }
    let id = OpportunityId::new();
    let q = Sql::new(
        "INSERT INTO opportunities (account_id, name, stage, status, first_contact_stage, amount_fen, \
         expected_close_on, owner_id, source, competitors, lost_reason, notes, id, workspace_id, stage_changed_at, \
         created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $15, $15)",
    );
    tx.execute(field_args(q, &f).arg(id).arg(ws).arg(now).arg(by)).await?;
    write_contacts(tx, ws, id, &f.contact_ids).await?;
    if touch {
        touch_account(tx, ws, &f, now).await?;
    }
    let o = get_in_tx(tx, ws, id).await?;
    audit::record(
        tx,
        actor,
        Action::Create,
        "opportunity",
        id.uuid(),
        audit::diff(&serde_json::json!({}), &snapshot(&o)),
        now,
    )
    .await?;
    Ok(o)
}

/// Replaces an opportunity's fields; a new stage is dated and counts as
/// the account's progress.
pub async fn update(
    tx: &mut Tx,
    actor: &Actor,
    id: OpportunityId,
    f: &OpportunityFields,
    now: DateTime<Utc>,
) -> Result<Opportunity> {
    change(tx, actor, id, f, now, true).await
}

/// Updates from an import: as [`update`], restarting none of the account's clocks.
pub async fn update_imported(
    tx: &mut Tx,
    actor: &Actor,
    id: OpportunityId,
    f: &OpportunityFields,
    now: DateTime<Utc>,
) -> Result<Opportunity> {
    change(tx, actor, id, f, now, false).await
}

async fn change(
    tx: &mut Tx,
    actor: &Actor,
    id: OpportunityId,
    f: &OpportunityFields,
    now: DateTime<Utc>,
    touch: bool,
) -> Result<Opportunity> {
    let ws = actor.workspace_id;
    let before = get_in_tx(tx, ws, id).await?;
    if before.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    check_refs(tx, ws, f).await?;
    let moved = before.stage != f.stage || before.status != f.status;
    let q = Sql::new(
        "UPDATE opportunities SET account_id = $1, name = $2, stage = $3, status = $4, first_contact_stage = $5, \
         amount_fen = $6, expected_close_on = $7, owner_id = $8, source = $9, competitors = $10, lost_reason = $11, \
         notes = $12, updated_at = $13, stage_changed_at = CASE WHEN $14 THEN $13 ELSE stage_changed_at END \
         WHERE id = $15 AND workspace_id = $16",
    );
    tx.execute(field_args(q, f).arg(now).arg(moved).arg(id).arg(ws)).await?;
    if before.contacts.iter().map(|c| c.id).collect::<Vec<_>>() != f.contact_ids {
        write_contacts(tx, ws, id, &f.contact_ids).await?;
    }
    if moved && touch {
        touch_account(tx, ws, f, now).await?;
    }
    let after = get_in_tx(tx, ws, id).await?;
    audit::record(
        tx,
        actor,
        Action::Update,
        "opportunity",
        id.uuid(),
        audit::diff(&snapshot(&before), &snapshot(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// Moves an opportunity to the recycle bin, or back (its account must be live).
pub async fn set_deleted(
    tx: &mut Tx,
    actor: &Actor,
    id: OpportunityId,
    deleted: bool,
    now: DateTime<Utc>,
) -> Result<Opportunity> {
    let ws = actor.workspace_id;
    let before = get_in_tx(tx, ws, id).await?;
    if before.deleted_at.is_some() == deleted {
        return Ok(before);
    }
    if !deleted {
        let (gone,): (Option<DateTime<Utc>>,) =
            tx.fetch_one(Sql::new("SELECT deleted_at FROM accounts WHERE id = $1").arg(before.account_id)).await?;
        if gone.is_some() {
            return Err(Error::Conflict("account_deleted: restore the account first".into()));
        }
    }
    tx.execute(
        Sql::new("UPDATE opportunities SET deleted_at = $1, updated_at = $2 WHERE id = $3 AND workspace_id = $4")
            .arg(if deleted { Some(now) } else { None })
            .arg(now)
            .arg(id)
            .arg(ws),
    )
    .await?;
    let action = if deleted { Action::Delete } else { Action::Restore };
    let changes = serde_json::json!({"deleted": {"before": !deleted, "after": deleted}});
    audit::record(tx, actor, action, "opportunity", id.uuid(), changes, now).await?;
    get_in_tx(tx, ws, id).await
}

/// An opportunity the viewer may see (through its account), also from the recycle bin.
pub async fn get(db: &Db, viewer: Viewer, id: OpportunityId) -> Result<Opportunity> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE o.id = ").bind(id).push(" AND ");
    push_deal_visible(&mut q, viewer);
    let row: Row = db.fetch_one(q).await?;
    with_contacts(&mut Conn::Db(db), vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// Who sees a deal: whoever sees its account, and the deal's own owner
/// (a manager may give a deal to someone outside the account's team).
fn push_deal_visible(q: &mut Sql, viewer: Viewer) {
    let me = match viewer.scope {
        Scope::Workspace => None,
        Scope::Own(user) | Scope::Team(user, _) => Some(user),
    };
    q.push("((");
    push_visible(q, viewer, accounts::SCOPE);
    q.push(")");
    if let Some(user) = me {
        q.push(" OR (o.workspace_id = ").bind(viewer.workspace_id).push(" AND o.owner_id = ").bind(user).push(")");
    }
    q.push(")");
}

/// Opportunity list filters.
#[derive(Clone, Debug, Default)]
pub struct OpportunityFilter {
    /// At this account.
    pub account_id: Option<AccountId>,
    /// At this stage.
    pub stage: Option<Stage>,
    /// With this status.
    pub status: Option<OpportunityStatus>,
    /// Worked by this person.
    pub owner_id: Option<UserId>,
    /// Only deals we came into late (无先发优势 or 陪标风险).
    pub late_entry: bool,
    /// The recycle bin instead.
    pub deleted: bool,
    /// After this id (cursor).
    pub after: Option<OpportunityId>,
}

fn push_filter(q: &mut Sql, viewer: Viewer, f: &OpportunityFilter) {
    q.push(" WHERE ");
    push_deal_visible(q, viewer);
    q.push(if f.deleted {
        " AND o.deleted_at IS NOT NULL"
    } else {
        " AND o.deleted_at IS NULL AND a.deleted_at IS NULL"
    });
    if let Some(v) = f.account_id {
        q.push(" AND o.account_id = ").bind(v);
    }
    if let Some(v) = f.stage {
        q.push(" AND o.stage = ").bind(v.as_str());
    }
    if let Some(v) = f.status {
        q.push(" AND o.status = ").bind(v.as_str());
    }
    if let Some(v) = f.owner_id {
        q.push(" AND o.owner_id = ").bind(v);
    }
    if f.late_entry {
        q.push(" AND o.first_contact_stage IN (");
        let late: Vec<Stage> = Stage::ALL.iter().copied().filter(|s| EntryTiming::of(*s).is_risk()).collect();
        for (i, s) in late.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.bind(s.as_str());
        }
        q.push(")");
    }
}

/// Opportunities the viewer may see, in id order, `limit` at a time.
pub async fn list(db: &Db, viewer: Viewer, f: &OpportunityFilter, limit: i64) -> Result<Vec<Opportunity>> {
    let mut q = Sql::new(SELECT);
    push_filter(&mut q, viewer, f);
    if let Some(v) = f.after {
        q.push(" AND o.id > ").bind(v);
    }
    q.push(" ORDER BY o.id LIMIT ").bind(limit);
    let rows: Vec<Row> = db.fetch_all(q).await?;
    with_contacts(&mut Conn::Db(db), rows).await
}

/// The live opportunities of these accounts, and those with these ids, for
/// an import's batch (deals per account are few).
pub async fn existing_of(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    accounts: &[AccountId],
    ids: &[OpportunityId],
) -> Result<Vec<Opportunity>> {
    let accounts: Vec<Val> = accounts.iter().map(|a| (*a).into()).collect();
    let ids: Vec<Val> = ids.iter().map(|i| (*i).into()).collect();
    let mut rows: Vec<Row> = Vec::new();
    for (column, values) in [("o.account_id", accounts), ("o.id", ids)] {
        for chunk in values.chunks(500) {
            let mut q = Sql::new(SELECT);
            q.push(" WHERE o.deleted_at IS NULL AND o.workspace_id = ")
                .bind(ws)
                .push(" AND ")
                .push(column)
                .push(" IN (");
            for (i, v) in chunk.iter().enumerate() {
                q.push(if i == 0 { "" } else { ", " }).bind(v.clone());
            }
            q.push(")");
            rows.extend(conn.fetch_all::<Row>(q).await?);
        }
    }
    rows.sort_by_key(|r| r.id);
    rows.dedup_by_key(|r| r.id);
    with_contacts(conn, rows).await
}

/// One stage of the pipeline: how many deals and how much money.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PipelineStage {
    /// Stage.
    pub stage: Stage,
    /// Deals at it.
    pub count: i64,
    /// Their amounts together, in fen.
    pub amount_fen: i64,
}

/// The pipeline (销售漏斗) under the list's filters (the cursor aside):
/// count and amount per stage, in path order, stages without deals left out.
pub async fn pipeline(db: &Db, viewer: Viewer, f: &OpportunityFilter) -> Result<Vec<PipelineStage>> {
    let mut q = Sql::new("SELECT o.stage, COUNT(*), CAST(COALESCE(SUM(o.amount_fen), 0) AS BIGINT) FROM opportunities o JOIN accounts a ON a.id = o.account_id");
    push_filter(&mut q, viewer, f);
    q.push(" GROUP BY o.stage");
    let rows: Vec<(Stage, i64, i64)> = db.fetch_all(q).await?;
    let mut out: Vec<PipelineStage> =
        rows.into_iter().map(|(stage, count, amount_fen)| PipelineStage { stage, count, amount_fen }).collect();
    out.sort_by_key(|p| p.stage);
    Ok(out)
}
