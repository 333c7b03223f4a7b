//! Accounts (企业客户): the organisations we sell to, with their phones and
//! tags, scoped by owner and team, soft-deleted and restorable, and found
//! again under other spellings through their stored 查重 key.

use crate::audit::{self, Action, Actor};
use crate::batch::Batch;
use crate::children::{self, Conn, PhoneNumber};
use crate::db::{Db, Sql, Tx, Val};
use crate::lifecycle;
use crate::pool::Pool;
use crate::scope::{push_visible, ScopeColumns, Viewer};
use crate::search;
use crate::{Dialect, Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::dedupe::{self, NameKey};
use guanxi_domain::pool::{release_due, IdleClocks};
use guanxi_domain::search::{self as terms, Indexed, Kind};
use guanxi_domain::{
    AccountId, AccountSource, Classification, Phone, PoolId, RelationshipStage, ReleaseReason, ReleaseRule, Scope,
    TeamId, UserId, WorkspaceId,
};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// An account as the API and pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Registered name.
    pub name: String,
    /// Short name used in conversation.
    pub short_name: Option<String>,
    /// 统一社会信用代码.
    pub uscc: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Administrative division code (GB/T 2260) of province, city or district.
    pub region_code: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Where it came from.
    pub source: AccountSource,
    /// Who referred it, for referrals.
    pub referrer: Option<String>,
    /// A / B / C.
    pub classification: Option<Classification>,
    /// Key account (大客户).
    pub key_account: bool,
    /// Criterion: our products fit (产品匹配).
    pub product_fit: bool,
    /// Criterion: buys centrally (集中采购).
    pub centralised_purchasing: bool,
    /// Criterion: buys continuously (持续采购).
    pub continuous_purchasing: bool,
    /// Relationship stage.
    pub relationship_stage: Option<RelationshipStage>,
    /// Owner (负责人).
    pub owner_id: Option<UserId>,
    /// Owner's name.
    pub owner_name: Option<String>,
    /// Team.
    pub team_id: Option<TeamId>,
    /// Team's name.
    pub team_name: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Phones (总机 first).
    pub phones: Vec<PhoneNumber>,
    /// Tags.
    pub tags: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Set while in the recycle bin.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set when merged into another account: the one to open instead.
    pub merged_into_id: Option<AccountId>,
    /// Its place in the pool (公海) and when it returns there.
    pub ownership: Ownership,
}

/// Where an account stands with the pool (公海).
#[derive(Clone, Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Ownership {
    /// The pool it sits in while unowned and returns to.
    pub pool_id: Option<PoolId>,
    /// Since when the current owner owns it.
    pub owned_at: Option<DateTime<Utc>>,
    /// When it returns to the pool unless something happens (距进入公海).
    pub release_due_at: Option<DateTime<Utc>>,
    /// The rule that will return it.
    pub release_rule: Option<ReleaseRule>,
    /// Until when an approved registration (报备) protects it.
    pub protected_until: Option<DateTime<Utc>>,
    /// When it last went to the pool.
    pub released_at: Option<DateTime<Utc>>,
    /// Why it last went to the pool.
    pub release_reason: Option<ReleaseReason>,
    /// The owner's words when releasing by hand.
    pub release_note: Option<String>,
    /// Who owned it before.
    pub previous_owner_id: Option<UserId>,
    /// Their name.
    pub previous_owner_name: Option<String>,
}

struct AccountRow {
    id: AccountId,
    name: String,
    short_name: Option<String>,
    uscc: Option<String>,
    industry: Option<String>,
    region_code: Option<String>,
    address: Option<String>,
    website: Option<String>,
    source: AccountSource,
    referrer: Option<String>,
    classification: Option<Classification>,
    key_account: bool,
    product_fit: bool,
    centralised_purchasing: bool,
    continuous_purchasing: bool,
    relationship_stage: Option<RelationshipStage>,
    owner_id: Option<UserId>,
    owner_name: Option<String>,
    team_id: Option<TeamId>,
    team_name: Option<String>,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    merged_into_id: Option<AccountId>,
    pool_id: Option<PoolId>,
    owned_at: Option<DateTime<Utc>>,
    release_due_at: Option<DateTime<Utc>>,
    release_rule: Option<ReleaseRule>,
    protected_until: Option<DateTime<Utc>>,
    released_at: Option<DateTime<Utc>>,
    release_reason: Option<ReleaseReason>,
    release_note: Option<String>,
    previous_owner_id: Option<UserId>,
    previous_owner_name: Option<String>,
}

crate::from_row!(AccountRow {
    id,
    name,
    short_name,
    uscc,
    industry,
    region_code,
    address,
    website,
    source,
    referrer,
    classification,
    key_account,
    product_fit,
    centralised_purchasing,
    continuous_purchasing,
    relationship_stage,
    owner_id,
    owner_name,
    team_id,
    team_name,
    notes,
    created_at,
    updated_at,
    deleted_at,
    merged_into_id,
    pool_id,
    owned_at,
    release_due_at,
    release_rule,
    protected_until,
    released_at,
    release_reason,
    release_note,
    previous_owner_id,
    previous_owner_name
});

macro_rules! account_columns {
    () => {
        "SELECT a.id, a.name, a.short_name, a.uscc, a.industry, a.region_code, a.address, a.website, a.source, \
         a.referrer, a.classification, a.key_account, a.product_fit, a.centralised_purchasing, a.continuous_purchasing, \
         a.relationship_stage, a.owner_id, o.display_name AS owner_name, a.team_id, t.name AS team_name, a.notes, \
         a.created_at, a.updated_at, a.deleted_at, a.merged_into_id, a.pool_id, a.owned_at, a.release_due_at, \
         a.release_rule, a.protected_until, a.released_at, a.release_reason, a.release_note, a.previous_owner_id, \
         p.display_name AS previous_owner_name "
    };
}

macro_rules! account_joins {
    () => {
        " LEFT JOIN users o ON o.id = a.owner_id LEFT JOIN teams t ON t.id = a.team_id \
         LEFT JOIN users p ON p.id = a.previous_owner_id"
    };
}

const SELECT: &str = concat!(account_columns!(), "FROM accounts a", account_joins!());

/// The list by name walks the accounts' name-order terms (`ao` + name, see
/// `guanxi_domain::search`) instead of an index on `accounts.name`: that index
/// grew at random places under a bulk write, whose terms are merged in order
/// when it ends. On SQLite the join's condition names the term, so that the
/// planner can also start from a selective filter and look each account's
/// term up; PostgreSQL, given that expression, guessed a handful of rows and
/// hashed both tables whole (0.9 s a page at a million), so there it joins
/// by id alone.
fn select_by_name(dialect: Dialect) -> String {
    let on = match dialect {
        Dialect::Sqlite => format!(
            "s.workspace_number = a.workspace_number AND s.term = '{}' || a.name AND s.entity_id = a.id",
            terms::name_order_term("")
        ),
        Dialect::Postgres => "s.entity_id = a.id".to_owned(),
    };
    format!(concat!(account_columns!(), "FROM accounts a JOIN search_terms s ON {}", account_joins!()), on)
}

const KIND: lifecycle::Kind = lifecycle::Kind { table: "accounts", entity: "account", search: Kind::Account };

/// Accounts are scoped by their owner and team.
pub const SCOPE: ScopeColumns<'static> =
    ScopeColumns { workspace: "a.workspace_id", owner: Some("a.owner_id"), team: "a.team_id" };

/// The fields of an account, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct AccountFields {
    /// Registered name.
    pub name: String,
    /// Short name.
    pub short_name: Option<String>,
    /// USCC (validated).
    pub uscc: Option<String>,
    /// Industry.
    pub industry: Option<String>,
    /// Division code (validated).
    pub region_code: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Website.
    pub website: Option<String>,
    /// Source.
    pub source: AccountSource,
    /// Referrer.
    pub referrer: Option<String>,
    /// Class.
    pub classification: Option<Classification>,
    /// Key account and its three criteria.
    pub key_account: bool,
    /// Criterion.
    pub product_fit: bool,
    /// Criterion.
    pub centralised_purchasing: bool,
    /// Criterion.
    pub continuous_purchasing: bool,
    /// Stage.
    pub relationship_stage: Option<RelationshipStage>,
    /// Owner.
    pub owner_id: Option<UserId>,
    /// Team.
    pub team_id: Option<TeamId>,
    /// Notes.
    pub notes: Option<String>,
    /// Phones (parsed).
    pub phones: Vec<Phone>,
    /// Tags.
    pub tags: Vec<String>,
}

impl AccountFields {
    /// An account with its name and source and nothing else yet.
    pub fn new(name: &str, source: AccountSource) -> Self {
        Self {
            name: name.to_owned(),
            short_name: None,
            uscc: None,
            industry: None,
            region_code: None,
            address: None,
            website: None,
            source,
            referrer: None,
            classification: None,
            key_account: false,
            product_fit: false,
            centralised_purchasing: false,
            continuous_purchasing: false,
            relationship_stage: None,
            owner_id: None,
            team_id: None,
            notes: None,
            phones: Vec::new(),
            tags: Vec::new(),
        }
    }
}

fn snapshot(a: &Account) -> serde_json::Value {
    let mut v = serde_json::to_value(a).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        for derived in
            ["id", "owner_name", "team_name", "created_at", "updated_at", "deleted_at", "merged_into_id", "ownership"]
        {
            o.remove(derived);
        }
        o.insert("phones".into(), serde_json::json!(a.phones.iter().map(|p| p.display.clone()).collect::<Vec<_>>()));
    }
    v
}

const PHONES: children::Table = children::Table { name: "account_phones", owner: "account_id", numbered: true };
const TAGS: children::Table = children::Table { name: "account_tags", owner: "account_id", numbered: false };

async fn load_children(mut conn: Conn<'_>, rows: Vec<AccountRow>) -> Result<Vec<Account>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id.uuid()).collect();
    let phones = children::phones(&mut conn, PHONES, &ids).await?;
    let tags = children::texts(&mut conn, TAGS, "tag", &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| Account {
            phones: children::of(&phones, r.id.uuid()),
            tags: children::of(&tags, r.id.uuid()),
            id: r.id,
            name: r.name,
            short_name: r.short_name,
            uscc: r.uscc,
            industry: r.industry,
            region_code: r.region_code,
            address: r.address,
            website: r.website,
            source: r.source,
            referrer: r.referrer,
            classification: r.classification,
            key_account: r.key_account,
            product_fit: r.product_fit,
            centralised_purchasing: r.centralised_purchasing,
            continuous_purchasing: r.continuous_purchasing,
            relationship_stage: r.relationship_stage,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            team_id: r.team_id,
            team_name: r.team_name,
            notes: r.notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            merged_into_id: r.merged_into_id,
            ownership: Ownership {
                pool_id: r.pool_id,
                owned_at: r.owned_at,
                release_due_at: r.release_due_at,
                release_rule: r.release_rule,
                protected_until: r.protected_until,
                released_at: r.released_at,
                release_reason: r.release_reason,
                release_note: r.release_note,
                previous_owner_id: r.previous_owner_id,
                previous_owner_name: r.previous_owner_name,
            },
        })
        .collect())
}

pub(crate) async fn get_in_tx(tx: &mut Tx, ws: WorkspaceId, id: AccountId) -> Result<Account> {
    let row: AccountRow =
        tx.fetch_one(Sql::new(&format!("{SELECT} WHERE a.id = $1 AND a.workspace_id = $2")).arg(id).arg(ws)).await?;
    load_children(Conn::Tx(tx), vec![row]).await?.pop().ok_or(Error::NotFound)
}

async fn check_refs(tx: &mut Tx, ws: WorkspaceId, owner: Option<UserId>, team: Option<TeamId>) -> Result<()> {
    crate::refs::active_user(tx, ws, owner, "owner_id").await?;
    crate::refs::live_team(tx, ws, team, "team_id").await
}

/// What an account was found by before a change.
fn indexed(a: &Account) -> Indexed<'_> {
    let mut names = vec![a.name.as_str()];
    names.extend(a.short_name.as_deref());
    Indexed { names, phones: a.phones.iter().map(|p| p.number.as_str()).collect(), uscc: a.uscc.as_deref() }
}

/// Rewrites an account's lists and its search terms (which were `old`).
async fn write_children(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: AccountId,
    old: &Indexed<'_>,
    f: &AccountFields,
) -> Result<()> {
    children::clear(tx, PHONES, id.uuid()).await?;
    children::clear(tx, TAGS, id.uuid()).await?;
    let number = crate::workspaces::number(&mut Conn::Tx(tx), ws).await?;
    let mut phones = children::phone_batch(PHONES);
    children::push_phones(&mut phones, tx, ws, Some(number), id.uuid(), &f.phones).await?;
    phones.flush(tx).await?;
    let mut tags = children::tag_batch(TAGS);
    children::push_tags(&mut tags, tx, ws, id.uuid(), &f.tags).await?;
    tags.flush(tx).await?;
    search::replace(tx, ws, Kind::Account, id.uuid(), old, &search::account_terms(f)).await
}

/// Writes every field (the values of [`field_vals`]), then `updated_at`, by id and workspace.
const UPDATE: &str = "UPDATE accounts SET name = $1, short_name = $2, uscc = $3, industry = $4, region_code = $5, \
     address = $6, website = $7, source = $8, referrer = $9, classification = $10, key_account = $11, product_fit = $12, \
     centralised_purchasing = $13, continuous_purchasing = $14, relationship_stage = $15, owner_id = $16, team_id = $17, \
     notes = $18, name_key = $19, name_region = $20, name_branch = $21, name_pinyin = $22, updated_at = $23 \
     WHERE id = $24 AND workspace_id = $25";

/// The values of every field, in the order of [`UPDATE`] and [`COLUMNS`].
fn field_vals(f: &AccountFields, key: &NameKey) -> Vec<Val> {
    vec![
        f.name.as_str().into(),
        f.short_name.clone().into(),
        f.uscc.clone().into(),
        f.industry.clone().into(),
        f.region_code.clone().into(),
        f.address.clone().into(),
        f.website.clone().into(),
        f.source.as_str().into(),
        f.referrer.clone().into(),
        f.classification.map(|c| c.as_str()).into(),
        f.key_account.into(),
        f.product_fit.into(),
        f.centralised_purchasing.into(),
        f.continuous_purchasing.into(),
        f.relationship_stage.map(|s| s.as_str()).into(),
        f.owner_id.into(),
        f.team_id.into(),
        f.notes.clone().into(),
        key.core.as_str().into(),
        key.region.into(),
        key.branch.clone().into(),
        key.pinyin.as_str().into(),
    ]
}

/// Every column an insert writes: the fields, then identity and times, then
/// the pool and, for an owned account, its clocks and return date.
const COLUMNS: &str = "name, short_name, uscc, industry, region_code, address, website, source, referrer, \
     classification, key_account, product_fit, centralised_purchasing, continuous_purchasing, relationship_stage, \
     owner_id, team_id, notes, name_key, name_region, name_branch, name_pinyin, id, workspace_id, workspace_number, \
     created_at, updated_at, pool_id, owned_at, activity_clock_at, progress_clock_at, deal_clock_at, release_due_at, release_rule";

/// Inserts accounts (already checked) into `pool` with their phones, tags
/// and search terms, in multi-row statements: one account from a form or a
/// million from `guanxi gen`. An owned account's idle clocks start now.
/// Audit is the caller's.
pub async fn insert_many(
    tx: &mut Tx,
    ws: WorkspaceId,
    pool: &Pool,
    rows: &[(AccountId, AccountFields)],
    terms: &mut search::Indexer,
    now: DateTime<Utc>,
) -> Result<()> {
    let keys: Vec<NameKey> = rows.iter().map(|(_, f)| dedupe::company_key(&f.name)).collect();
    let keyed: Vec<(AccountId, &AccountFields, &NameKey)> =
        rows.iter().zip(&keys).map(|((id, f), key)| (*id, f, key)).collect();
    insert_keyed(tx, ws, pool, &keyed, terms, now).await
}

/// [`insert_many`] with each name's key (`dedupe::company_key` of the
/// fields' name) already worked out: an import has it from 查重, and working
/// it out again was 3 % of the writing thread at a million rows, and 2 % more
/// for the search terms.
pub async fn insert_keyed(
    tx: &mut Tx,
    ws: WorkspaceId,
    pool: &Pool,
    rows: &[(AccountId, &AccountFields, &NameKey)],
    terms: &mut search::Indexer,
    now: DateTime<Utc>,
) -> Result<()> {
    let number = crate::workspaces::number(&mut Conn::Tx(tx), ws).await?;
    let mut accounts = Batch::new("accounts", COLUMNS);
    for &(id, f, key) in rows {
        let mut vals = field_vals(f, key);
        vals.extend([Val::from(id), ws.into(), number.into(), now.into(), now.into(), pool.id.into()]);
        let owned = f.owner_id.map(|_| now);
        let due = owned
            .and_then(|at| release_due(&pool.rules.return_after, f.classification, &IdleClocks::starting(at), None));
        vals.extend([
            owned.into(),
            owned.into(),
            owned.into(),
            owned.into(),
            due.map(|d| d.0).into(),
            due.map(|d| d.1.as_str()).into(),
        ]);
        accounts.push(tx, vals).await?;
    }
    accounts.flush(tx).await?;
    let (mut phones, mut tags) = (children::phone_batch(PHONES), children::tag_batch(TAGS));
    for &(id, f, key) in rows {
        children::push_phones(&mut phones, tx, ws, Some(number), id.uuid(), &f.phones).await?;
        children::push_tags(&mut tags, tx, ws, id.uuid(), &f.tags).await?;
        terms.push_terms(tx, ws, Kind::Account, id.uuid(), search::account_terms_keyed(f, key)).await?;
    }
    phones.flush(tx).await?;
    tags.flush(tx).await?;
    terms.flush(tx).await
}

/// Creates an account; `extra` is added to the audit entry (e.g. the reason a duplicate warning was overridden).
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    fields: &AccountFields,
    extra: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<Account> {
    check_refs(tx, actor.workspace_id, fields.owner_id, fields.team_id).await?;
    let id = AccountId::new();
    let pool = crate::pool::default_of(Conn::Tx(tx), actor.workspace_id).await?;
    if let Some(owner) = fields.owner_id {
        crate::ownership::check_limit(tx, actor.workspace_id, &pool, owner, id).await?;
    }
    let mut terms = search::Indexer::direct();
    insert_many(tx, actor.workspace_id, &pool, &[(id, fields.clone())], &mut terms, now).await?;
    let account = get_in_tx(tx, actor.workspace_id, id).await?;
    let mut changes = audit::diff(&serde_json::json!({}), &snapshot(&account));
    if let (Some(extra), Some(obj)) = (extra, changes.as_object_mut()) {
        obj.insert("duplicate_override".into(), serde_json::json!({"before": null, "after": extra}));
    }
    audit::record(tx, actor, Action::Create, "account", id.uuid(), changes, now).await?;
    Ok(account)
}

/// Replaces an account's fields.
pub async fn update(
    tx: &mut Tx,
    actor: &Actor,
    id: AccountId,
    fields: &AccountFields,
    now: DateTime<Utc>,
) -> Result<Account> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    if before.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    check_refs(tx, actor.workspace_id, fields.owner_id, fields.team_id).await?;
    let key = dedupe::company_key(&fields.name);
    let q = Sql::new(UPDATE);
    tx.execute(q.args(field_vals(fields, &key)).arg(now).arg(id).arg(actor.workspace_id)).await?;
    if before.owner_id != fields.owner_id {
        crate::ownership::owner_changed(tx, actor.workspace_id, id, before.owner_id, fields.owner_id, now).await?;
        crate::ownership::carry(tx, actor, id, before.owner_id, fields.owner_id, now).await?;
    } else if before.classification != fields.classification {
        crate::ownership::refresh(tx, actor.workspace_id, id).await?;
    }
    write_children(tx, actor.workspace_id, id, &indexed(&before), fields).await?;
    let after = get_in_tx(tx, actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Update,
        "account",
        id.uuid(),
        audit::diff(&snapshot(&before), &snapshot(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// The fields of a live account, inside a transaction (an import's update).
pub async fn fields_in_tx(tx: &mut Tx, ws: WorkspaceId, id: AccountId) -> Result<AccountFields> {
    let a = get_in_tx(tx, ws, id).await?;
    if a.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    Ok(fields_of(&a))
}

/// The fields of a stored account, to change some of them.
pub fn fields_of(a: &Account) -> AccountFields {
    AccountFields {
        name: a.name.clone(),
        short_name: a.short_name.clone(),
        uscc: a.uscc.clone(),
        industry: a.industry.clone(),
        region_code: a.region_code.clone(),
        address: a.address.clone(),
        website: a.website.clone(),
        source: a.source,
        referrer: a.referrer.clone(),
        classification: a.classification,
        key_account: a.key_account,
        product_fit: a.product_fit,
        centralised_purchasing: a.centralised_purchasing,
        continuous_purchasing: a.continuous_purchasing,
        relationship_stage: a.relationship_stage,
        owner_id: a.owner_id,
        team_id: a.team_id,
        notes: a.notes.clone(),
        phones: a.phones.iter().filter_map(PhoneNumber::parsed).collect(),
        tags: a.tags.clone(),
    }
}

/// The kept record's value, or the other's when the kept one has none.
fn fill<T: Clone>(keep: &Option<T>, other: &Option<T>) -> Option<T> {
    keep.clone().or_else(|| other.clone())
}

/// Merges account `gone` into `keep`: empty fields of `keep` are filled from
/// `gone`, phones, tags and notes are joined, every contact moves over, and
/// `gone` is retired with a pointer to `keep` so that its id still leads
/// somewhere. Two different USCCs are two legal entities and are refused.
pub async fn merge(
    tx: &mut Tx,
    actor: &Actor,
    keep: AccountId,
    gone: AccountId,
    now: DateTime<Utc>,
) -> Result<Account> {
    let ws = actor.workspace_id;
    if keep == gone {
        return Err(Error::Invalid(
            "duplicate_id",
            "must be another account: an account cannot be merged into itself".into(),
        ));
    }
    let a = get_in_tx(tx, ws, keep).await?;
    let b = get_in_tx(tx, ws, gone)
        .await
        .map_err(|_| Error::Invalid("duplicate_id", "is not an account of this workspace".into()))?;
    if a.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    if b.deleted_at.is_some() {
        return Err(Error::Invalid("duplicate_id", "is in the recycle bin or already merged".into()));
    }
    if let (Some(x), Some(y)) = (&a.uscc, &b.uscc) {
        if x != y {
            return Err(Error::Invalid(
                "duplicate_id",
                format!("has USCC {y}, this account {x}: two legal entities are not merged"),
            ));
        }
    }
    let mut f = fields_of(&a);
    let other = fields_of(&b);
    f.short_name = fill(&f.short_name, &other.short_name);
    f.uscc = fill(&f.uscc, &other.uscc);
    f.industry = fill(&f.industry, &other.industry);
    f.region_code = fill(&f.region_code, &other.region_code);
    f.address = fill(&f.address, &other.address);
    f.website = fill(&f.website, &other.website);
    f.referrer = fill(&f.referrer, &other.referrer);
    f.classification = fill(&f.classification, &other.classification);
    f.relationship_stage = fill(&f.relationship_stage, &other.relationship_stage);
    f.team_id = fill(&f.team_id, &other.team_id);
    f.owner_id = fill(&f.owner_id, &other.owner_id);
    f.key_account |= other.key_account;
    f.product_fit |= other.product_fit;
    f.centralised_purchasing |= other.centralised_purchasing;
    f.continuous_purchasing |= other.continuous_purchasing;
    f.notes = match (&f.notes, &other.notes) {
        (Some(x), Some(y)) if x != y => Some(format!("{x}\n\n[{}]\n{y}", b.name)),
        _ => fill(&f.notes, &other.notes),
    };
    children::union(&mut f.phones, other.phones);
    children::union(&mut f.tags, other.tags);
    // The retired record gives up its USCC first: the kept one may take it
    // (one live account per USCC, migration 26).
    tx.execute(Sql::new("UPDATE accounts SET uscc_shared = $1 WHERE id = $2").arg(true).arg(gone)).await?;
    // The merged name is kept out of the 查重 key: the kept record is checked as is.
    let key = dedupe::company_key(&f.name);
    let q = Sql::new(UPDATE);
    tx.execute(q.args(field_vals(&f, &key)).arg(now).arg(keep).arg(ws)).await?;
    write_children(tx, ws, keep, &indexed(&a), &f).await?;
    let after = get_in_tx(tx, ws, keep).await?;
    let moved = move_children(tx, ws, keep, gone, b.owner_id, after.owner_id, now).await?;
    let changes = audit::diff(&snapshot(&a), &snapshot(&after));
    let (k, g) = ((keep.uuid(), after.name.as_str()), (gone.uuid(), b.name.as_str()));
    lifecycle::retire(tx, actor, KIND, k, g, changes, moved, now).await?;
    // Of records that shared a USCC before it was unique (migration 26), the
    // kept one holds it once no other live record does.
    tx.execute(
        Sql::new(
            "UPDATE accounts SET uscc_shared = $1 WHERE id = $2 AND uscc IS NOT NULL AND NOT EXISTS (SELECT 1 FROM accounts o \
             WHERE o.workspace_id = $3 AND o.uscc = accounts.uscc AND o.id <> $2 AND o.deleted_at IS NULL \
             AND o.uscc_shared = $1)",
        )
        .arg(false)
        .arg(keep)
        .arg(ws),
    )
    .await?;
    Ok(after)
}

/// Everything that hangs off a merged account moves to the one kept: its
/// people, touches, hooks and tasks, deals, purchases, import keys and the
/// history of requests for it (a pending one ends: it asked about a record
/// that is no more). What its owner had open goes to the kept account's
/// owner, as when an account changes hands. Answers what moved, by kind.
async fn move_children(
    tx: &mut Tx,
    ws: WorkspaceId,
    keep: AccountId,
    gone: AccountId,
    gone_owner: Option<UserId>,
    keep_owner: Option<UserId>,
    now: DateTime<Utc>,
) -> Result<serde_json::Value> {
    let plain = |table: &str, stamp: bool| {
        let sql = format!("UPDATE {table} SET account_id = $1 WHERE account_id = $2 AND workspace_id = $3");
        let q = Sql::new(&sql.replace(" WHERE", if stamp { ", updated_at = $4 WHERE" } else { " WHERE" }));
        let q = q.arg(keep).arg(gone).arg(ws);
        if stamp {
            q.arg(now)
        } else {
            q
        }
    };
    tx.execute(
        Sql::new(
            "UPDATE ownership_requests SET status = 'withdrawn', decided_at = $1 \
             WHERE account_id = $2 AND workspace_id = $3 AND status = 'pending'",
        )
        .arg(now)
        .arg(gone)
        .arg(ws),
    )
    .await?;
    let contacts = tx.execute(plain("contacts", true)).await?;
    let touches = tx.execute(plain("activities", false)).await?;
    let purchases = tx.execute(plain("purchases", false)).await?;
    let requests = tx.execute(plain("ownership_requests", false)).await?;
    // What the retired record's owner had open there follows the kept record's owner.
    let handed = |table: &str, column: &str| {
        let sql = format!(
            "UPDATE {table} SET account_id = $1, updated_at = $2, {column} = CASE WHEN status = 'open' AND {column} = $5 \
             THEN COALESCE($6, {column}) ELSE {column} END WHERE account_id = $3 AND workspace_id = $4"
        );
        Sql::new(&sql).arg(keep).arg(now).arg(gone).arg(ws).arg(gone_owner).arg(keep_owner)
    };
    let tasks = tx.execute(handed("tasks", "assignee_id")).await?;
    let deals = tx.execute(handed("opportunities", "owner_id")).await?;
    let keys = tx
        .execute(
            Sql::new("UPDATE import_keys SET entity_id = $1 WHERE entity_id = $2 AND workspace_id = $3 AND kind = 'accounts'")
                .arg(keep)
                .arg(gone)
                .arg(ws),
        )
        .await?;
    Ok(serde_json::json!({
        "contacts_moved": contacts, "touches_moved": touches, "tasks_moved": tasks, "deals_moved": deals,
        "purchases_moved": purchases, "requests_moved": requests, "import_keys_moved": keys,
    }))
}

/// Whether a live account of `name`'s 查重 key was saved at or after
/// `since`, read in the writing transaction (a create's last look, under its
/// lock on the key).
pub async fn name_key_saved_since(tx: &mut Tx, ws: WorkspaceId, name: &str, since: DateTime<Utc>) -> Result<bool> {
    let key = dedupe::company_key(name);
    let number = crate::workspaces::number(&mut Conn::Tx(tx), ws).await?;
    let q = Sql::new(
        "SELECT id FROM accounts WHERE workspace_number = $1 AND name_key = $2 AND deleted_at IS NULL \
         AND created_at >= $3 LIMIT 1",
    )
    .arg(number)
    .arg(key.core.as_str())
    .arg(since);
    Ok(tx.fetch_optional::<(AccountId,)>(q).await?.is_some())
}

/// A live account sharing its USCC with another (saved before migration 26).
#[derive(Clone, Debug)]
pub struct SharedUscc {
    /// The workspace's name.
    pub workspace: String,
    /// The USCC they share.
    pub uscc: String,
    /// The account.
    pub account_id: AccountId,
    /// Its name.
    pub name: String,
    /// Its owner's name.
    pub owner: Option<String>,
    /// When it was entered (the oldest holds the USCC).
    pub created_at: DateTime<Utc>,
}
crate::from_row!(SharedUscc { workspace, uscc, account_id, name, owner, created_at });

/// Every group of live accounts that share a USCC, oldest first in each:
/// what `guanxi dedupe --existing` lists for merging.
pub async fn sharing_a_uscc(db: &Db) -> Result<Vec<SharedUscc>> {
    db.fetch_all(Sql::new(
        "SELECT w.name AS workspace, a.uscc, a.id AS account_id, a.name, u.display_name AS owner, a.created_at \
         FROM accounts a JOIN workspaces w ON w.id = a.workspace_id LEFT JOIN users u ON u.id = a.owner_id \
         WHERE a.deleted_at IS NULL AND a.uscc IS NOT NULL AND EXISTS (SELECT 1 FROM accounts o \
           WHERE o.workspace_id = a.workspace_id AND o.uscc = a.uscc AND o.id <> a.id AND o.deleted_at IS NULL) \
         ORDER BY w.name, a.uscc, a.id",
    ))
    .await
}

/// Whether a unique violation is the one live account per USCC of a
/// workspace (migration 26; PostgreSQL names the index, SQLite the columns).
pub fn is_uscc_taken(rule: &str) -> bool {
    rule.contains("accounts_uscc_live") || rule.contains("accounts.uscc")
}

/// Ids of the accounts merged into this one (their history is its history).
pub async fn merged_into(db: &Db, id: AccountId) -> Result<Vec<AccountId>> {
    let rows: Vec<(AccountId,)> =
        db.fetch_all(Sql::new("SELECT id FROM accounts WHERE merged_into_id = $1 ORDER BY id").arg(id)).await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Moves an account to the recycle bin, or back.
pub async fn set_deleted(
    tx: &mut Tx,
    actor: &Actor,
    id: AccountId,
    deleted: bool,
    now: DateTime<Utc>,
) -> Result<Account> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    if before.deleted_at.is_some() == deleted {
        return Ok(before);
    }
    lifecycle::set_deleted(tx, actor, KIND, id.uuid(), before.merged_into_id.is_some(), deleted, now).await?;
    get_in_tx(tx, actor.workspace_id, id).await
}

/// A live account of the workspace with exactly this name (for idempotent loads).
pub async fn find_by_name(db: &Db, ws: WorkspaceId, name: &str) -> Result<Option<AccountId>> {
    let row: Option<(AccountId,)> = db
        .fetch_optional(
            Sql::new("SELECT id FROM accounts WHERE workspace_id = $1 AND name = $2 AND deleted_at IS NULL LIMIT 1")
                .arg(ws)
                .arg(name),
        )
        .await?;
    Ok(row.map(|r| r.0))
}

/// Which of these accounts the viewer may see, in one query.
/// The owners of these accounts of the workspace (`None`: in the pool).
pub async fn owners(db: &Db, ws: WorkspaceId, ids: &[AccountId]) -> Result<Vec<(AccountId, Option<UserId>)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new("SELECT id, owner_id FROM accounts WHERE workspace_id = ");
    q.bind(ws).push(" AND id IN (").bind_list(ids).push(")");
    db.fetch_all(q).await
}

/// Those of `ids` the viewer sees: the accounts an import may update or
/// link to, as `get` (and so the API) finds them.
pub async fn visible(conn: &mut Conn<'_>, viewer: Viewer, ids: &[AccountId]) -> Result<Vec<AccountId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(4000) {
        let mut q = Sql::new("SELECT a.id FROM accounts a WHERE a.id IN (");
        for (i, id) in chunk.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(") AND ");
        push_visible(&mut q, viewer, SCOPE);
        out.extend(conn.fetch_all::<(AccountId,)>(q).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// An account the viewer may see (deleted ones too, for the recycle bin).
pub async fn get(db: &Db, viewer: Viewer, id: AccountId) -> Result<Account> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE a.id = ").bind(id).push(" AND ");
    push_visible(&mut q, viewer, SCOPE);
    let row: AccountRow = db.fetch_one(q).await?;
    load_children(Conn::Db(db), vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// The order of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountSort {
    /// Oldest first (creation order).
    #[default]
    Created,
    /// Most recently changed first.
    Updated,
    /// By name.
    Name,
    /// Soonest return to the pool first (我的客户); accounts no rule returns last.
    ReleaseDue,
}

/// List filters.
#[derive(Clone, Debug, Default)]
pub struct AccountFilter {
    /// Order.
    pub sort: AccountSort,
    /// For `Updated` and `Name`: the sort value of the last row seen, with `after` as its id.
    pub after_key: Option<String>,
    /// Owned by.
    pub owner_id: Option<UserId>,
    /// In team.
    pub team_id: Option<TeamId>,
    /// From source.
    pub source: Option<AccountSource>,
    /// Of class.
    pub classification: Option<Classification>,
    /// In stage.
    pub relationship_stage: Option<RelationshipStage>,
    /// With tag.
    pub tag: Option<String>,
    /// In this province, city or district (a valid division code).
    pub region_code: Option<String>,
    /// Changed since.
    pub updated_since: Option<DateTime<Utc>>,
    /// The recycle bin instead of live accounts.
    pub deleted: bool,
    /// After this id (cursor).
    pub after: Option<AccountId>,
    /// Only the unowned accounts of this pool (公海).
    pub pool_id: Option<PoolId>,
    /// In this industry.
    pub industry: Option<String>,
    /// Last returned to the pool for this reason.
    pub release_reason: Option<ReleaseReason>,
}

/// Stands in for "never" when sorting by return date, so that keyset
/// comparisons need no NULL handling (which the two databases order differently).
fn never() -> DateTime<Utc> {
    // 9999-12-31T00:00:00Z
    DateTime::from_timestamp(253_402_214_400, 0).unwrap_or_default()
}

/// The return date as sorted: `never` for accounts no rule returns.
fn push_due(q: &mut Sql) {
    q.push("COALESCE(a.release_due_at, ").bind(never()).push(")");
}

/// The key an account is sorted by in `sort` order (for the next page's cursor).
pub fn sort_key(a: &Account, sort: AccountSort) -> Option<String> {
    match sort {
        AccountSort::Created => None,
        AccountSort::Updated => Some(a.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        AccountSort::Name => Some(a.name.clone()),
        AccountSort::ReleaseDue => {
            Some(a.ownership.release_due_at.unwrap_or_else(never).to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        }
    }
}

/// Accounts the viewer may see in the filter's order, `limit` at a time.
pub async fn list(db: &Db, viewer: Viewer, f: &AccountFilter, limit: i64) -> Result<Vec<Account>> {
    // A salesperson's own accounts (found by owner, thousands at most) are
    // sorted by name: looking up each one's name-order term cost more than
    // the sort. Wider views walk the terms in order.
    let walk_terms = f.sort == AccountSort::Name && !matches!(viewer.scope, Scope::Own(_));
    let mut q = if walk_terms { Sql::new(&select_by_name(db.dialect())) } else { Sql::new(SELECT) };
    push_filter(&mut q, viewer, f);
    // The byte order of the terms (`COLLATE "C"` on PostgreSQL), whichever way is taken.
    let name = if db.dialect() == Dialect::Postgres { "a.name COLLATE \"C\"" } else { "a.name" };
    let cursor = f.after.zip(f.after_key.as_deref());

    // Keyset pagination: rows strictly after the last one seen, in the
    // list's order, as `col >= key AND (col > key OR id > last)`: a lower
    // bound the index is entered at (SQLite cannot seek to an `OR`'s).
    match (f.sort, cursor) {
        (AccountSort::Created, _) => {
            if let Some(id) = f.after {
                q.push(" AND a.id > ").bind(id);
            }
        }
        (AccountSort::Updated, Some((id, key))) => {
            let t = cursor_time(key)?;
            q.push(" AND a.updated_at <= ").bind(t);
            q.push(" AND (a.updated_at < ").bind(t).push(" OR a.id < ").bind(id).push(")");
        }
        (AccountSort::Name, _) if walk_terms => {
            let (lo, hi) = terms::NAME_ORDER_RANGE;
            crate::workspaces::push_number(q.push(" AND s.workspace_number = "), viewer.workspace_id);
            // One lower bound only: given two, SQLite may enter the index at the wrong one.
            match cursor {
                Some((id, key)) => {
                    let key = terms::name_order_term(key);
                    q.push(" AND s.term >= ").bind(key.as_str()).push(" AND s.term < ").bind(hi);
                    q.push(" AND (s.term > ").bind(key.as_str()).push(" OR s.entity_id > ").bind(id).push(")");
                }
                None => {
                    q.push(" AND s.term >= ").bind(lo).push(" AND s.term < ").bind(hi);
                }
            }
        }
        (AccountSort::Name, Some((id, key))) => {
            q.push(" AND ").push(name).push(" >= ").bind(key);
            q.push(" AND (").push(name).push(" > ").bind(key).push(" OR a.id > ").bind(id).push(")");
        }
        (AccountSort::ReleaseDue, Some((id, key))) => {
            let t = cursor_time(key)?;
            q.push(" AND ");
            push_due(&mut q);
            q.push(" >= ").bind(t).push(" AND (");
            push_due(&mut q);
            q.push(" > ").bind(t).push(" OR a.id > ").bind(id).push(")");
        }
        _ => {}
    }
    match f.sort {
        AccountSort::Created => q.push(" ORDER BY a.id LIMIT "),
        AccountSort::Updated => q.push(" ORDER BY a.updated_at DESC, a.id DESC LIMIT "),
        AccountSort::Name if walk_terms => q.push(" ORDER BY s.term, s.entity_id LIMIT "),
        AccountSort::Name => q.push(" ORDER BY ").push(name).push(", a.id LIMIT "),
        AccountSort::ReleaseDue => {
            q.push(" ORDER BY ");
            push_due(&mut q);
            q.push(", a.id LIMIT ")
        }
    }
    .bind(limit);
    let rows: Vec<AccountRow> = db.fetch_all(q).await?;
    load_children(Conn::Db(db), rows).await
}

/// The time in a cursor of the lists ordered by a time.
fn cursor_time(key: &str) -> Result<DateTime<Utc>> {
    Ok(DateTime::parse_from_rfc3339(key)
        .map_err(|_| Error::Invalid("cursor", "is not one this server issued".into()))?
        .with_timezone(&Utc))
}

/// An account as an export writes it: fields as stored, phones and tags
/// already joined by `; ` (phones in their order, tags sorted).
#[derive(Debug)]
pub struct ExportRow {
    pub id: AccountId,
    pub name: String,
    pub short_name: Option<String>,
    pub uscc: Option<String>,
    pub phones: Option<String>,
    pub region_code: Option<String>,
    pub address: Option<String>,
    pub website: Option<String>,
    pub industry: Option<String>,
    pub source: String,
    pub referrer: Option<String>,
    pub classification: Option<String>,
    pub key_account: bool,
    pub relationship_stage: Option<String>,
    pub owner_name: Option<String>,
    pub team_name: Option<String>,
    pub tags: Option<String>,
    pub notes: Option<String>,
    pub updated_at: DateTime<Utc>,
}

crate::from_row!(ExportRow {
    id,
    name,
    short_name,
    uscc,
    phones,
    region_code,
    address,
    website,
    industry,
    source,
    referrer,
    classification,
    key_account,
    relationship_stage,
    owner_name,
    team_name,
    tags,
    notes,
    updated_at
});

/// One pass over the accounts with their lists aggregated, instead of a
/// page query and two list queries per thousand accounts (`{agg}` is the
/// dialect's ordered string aggregate).
const EXPORT: &str = "SELECT a.id, a.name, a.short_name, a.uscc, \
     (SELECT {agg}(display, '; ' ORDER BY position) FROM account_phones WHERE account_id = a.id) AS phones, \
     a.region_code, a.address, a.website, a.industry, a.source, a.referrer, a.classification, a.key_account, \
     a.relationship_stage, o.display_name AS owner_name, t.name AS team_name, \
     (SELECT {agg}(tag, '; ' ORDER BY tag) FROM account_tags WHERE account_id = a.id) AS tags, a.notes, a.updated_at \
     FROM accounts a LEFT JOIN users o ON o.id = a.owner_id LEFT JOIN teams t ON t.id = a.team_id";

/// Every account the filter selects within the viewer's scope, in creation
/// order, `chunk` at a time from one snapshot (see [`Db::stream`]).
pub fn export_rows(
    db: &Db,
    viewer: Viewer,
    f: &AccountFilter,
    chunk: usize,
) -> tokio::sync::mpsc::Receiver<Result<Vec<ExportRow>>> {
    let agg = match db.dialect() {
        crate::Dialect::Sqlite => "group_concat",
        crate::Dialect::Postgres => "string_agg",
    };
    let mut q = Sql::new(&EXPORT.replace("{agg}", agg));
    push_filter(&mut q, viewer, f);
    q.push(" ORDER BY a.id");
    db.stream(q, chunk)
}

/// `WHERE` and the filter's conditions on `accounts a` within the viewer's scope.
fn push_filter(q: &mut Sql, viewer: Viewer, f: &AccountFilter) {
    q.push(" WHERE ");
    push_visible(q, viewer, SCOPE);
    // Merged-away accounts are not in the recycle bin: their record lives on in the kept one.
    q.push(if f.deleted {
        " AND a.deleted_at IS NOT NULL AND a.merged_into_id IS NULL"
    } else {
        " AND a.deleted_at IS NULL"
    });
    if let Some(v) = f.owner_id {
        q.push(" AND a.owner_id = ").bind(v);
    }
    if let Some(v) = f.team_id {
        q.push(" AND a.team_id = ").bind(v);
    }
    if let Some(v) = f.source {
        q.push(" AND a.source = ").bind(v.as_str());
    }
    if let Some(v) = f.classification {
        q.push(" AND a.classification = ").bind(v.as_str());
    }
    if let Some(v) = f.relationship_stage {
        q.push(" AND a.relationship_stage = ").bind(v.as_str());
    }
    if let Some(v) = &f.tag {
        q.push(" AND a.id IN (SELECT account_id FROM account_tags WHERE tag = ").bind(v.as_str()).push(")");
    }
    if let Some(code) = &f.region_code {
        // A province (210000) holds every code starting 21, a city (210100) every code starting 2101.
        let prefix = code.strip_suffix("0000").or_else(|| code.strip_suffix("00")).unwrap_or(code);
        q.push(" AND a.region_code LIKE ").bind(format!("{prefix}%"));
    }
    if let Some(v) = f.updated_since {
        q.push(" AND a.updated_at >= ").bind(v);
    }
    if let Some(v) = f.pool_id {
        q.push(" AND a.pool_id = ").bind(v).push(" AND a.owner_id IS NULL");
    }
    if let Some(v) = &f.industry {
        q.push(" AND a.industry = ").bind(v.as_str());
    }
    if let Some(v) = f.release_reason {
        q.push(" AND a.release_reason = ").bind(v.as_str());
    }
}

/// An existing account that might be the same organisation as a new one.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    /// The account.
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Its owner (`null`: in the pool).
    pub owner_id: Option<UserId>,
    /// Its owner's name (the account may be outside your scope: only this much is shown).
    pub owner_name: Option<String>,
    /// Confidence, 0–1.
    pub score: f32,
    /// `same` (would be refused) or `possible` (shown as a warning).
    pub verdict: &'static str,
    /// Why.
    pub reasons: Vec<dedupe::Reason>,
}

struct CandidateRow {
    id: AccountId,
    name: String,
    uscc: Option<String>,
    owner_id: Option<UserId>,
    owner_name: Option<String>,
    region_code: Option<String>,
}

crate::from_row!(CandidateRow { id, name, uscc, owner_id, owner_name, region_code });

/// Existing live accounts of the workspace that may be the same organisation,
/// best first. Workspace-wide on purpose: nobody may create a second record of
/// an organisation someone else owns (seed 002), even one they cannot see.
pub async fn duplicates(
    db: &Db,
    ws: WorkspaceId,
    name: &str,
    uscc: Option<&str>,
    phones: &[Phone],
    except: Option<AccountId>,
) -> Result<Vec<Candidate>> {
    let key = dedupe::company_key(name);
    let mut q = Sql::new(
        "SELECT a.id, a.name, a.uscc, a.owner_id, o.display_name AS owner_name, a.region_code FROM accounts a LEFT JOIN users o ON o.id = a.owner_id \
         WHERE a.workspace_id = ",
    );
    // One union of indexed SELECTs: an OR of two `IN (subquery)` made
    // PostgreSQL scan every account (680 ms at 1.5M accounts, against 0.4).
    q.bind(ws).push(" AND a.deleted_at IS NULL AND a.id IN (");
    let numbers: Vec<&str> = phones.iter().map(Phone::number).collect();
    let number = crate::workspaces::number(&mut Conn::Db(db), ws).await?;
    q.push_union_of_ids(
        &[
            ("SELECT id FROM accounts WHERE name_key", &[key.core.as_str()]),
            ("SELECT id FROM accounts WHERE name_pinyin", &[key.pinyin.as_str()]),
            ("SELECT id FROM accounts WHERE uscc", uscc.as_slice()),
            ("SELECT account_id AS id FROM account_phones WHERE number", &numbers),
        ],
        ("workspace_number", number.into()),
    );
    // A slip of one character (华为数子 for 华为数字) shares no key: found by the pieces of its name.
    let similar = search::similar_names(db, ws, &key.core).await?;
    if !similar.is_empty() {
        q.push(" UNION SELECT id FROM accounts WHERE id IN (");
        for (i, id) in similar.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(")");
    }
    q.push(") LIMIT 50");
    let rows: Vec<CandidateRow> = db.fetch_all(q).await?;
    // Every candidate's phones in one query, not one query per candidate.
    let mut stored: Vec<(AccountId, String)> = Vec::new();
    if !rows.is_empty() {
        let mut pq = Sql::new("SELECT account_id, number FROM account_phones WHERE account_id IN (");
        for (i, r) in rows.iter().enumerate() {
            if i > 0 {
                pq.push(", ");
            }
            pq.bind(r.id);
        }
        pq.push(")");
        stored = db.fetch_all(pq).await?;
    }
    let mut out = Vec::new();
    let new_phones: Vec<String> = phones.iter().map(|p| p.number().to_owned()).collect();
    for r in rows {
        if Some(r.id) == except {
            continue;
        }
        let other_phones: Vec<String> = stored.iter().filter(|(id, _)| *id == r.id).map(|(_, n)| n.clone()).collect();
        let other_key = dedupe::company_key(&r.name);
        let city = |code: &Option<String>| code.as_deref().and_then(region_short);
        let verdict = dedupe::compare(
            &dedupe::Record { name: &key, uscc, phones: &new_phones, city: None },
            &dedupe::Record {
                name: &other_key,
                uscc: r.uscc.as_deref(),
                phones: &other_phones,
                city: city(&r.region_code),
            },
        );
        let (verdict, score, reasons) = match verdict {
            dedupe::Verdict::Same { score, reasons } => ("same", score, reasons),
            dedupe::Verdict::Possible { score, reasons } => ("possible", score, reasons),
            dedupe::Verdict::Related | dedupe::Verdict::Different => continue,
        };
        out.push(Candidate {
            id: r.id,
            name: r.name,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            score,
            verdict,
            reasons,
        });
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(out)
}

/// The short name of the city (or province) a division code is in.
fn region_short(code: &str) -> Option<&'static str> {
    let city =
        gb2260_name(&format!("{}00", &code.get(..4)?)).or_else(|| gb2260_name(&format!("{}0000", &code.get(..2)?)))?;
    dedupe::regions::exactly(city)
}

fn gb2260_name(code: &str) -> Option<&'static str> {
    guanxi_domain::division_name(code)
}

/// A live account that shares a key with one of many new records (a batch
/// of an import), with what 查重 weighs.
#[derive(Clone, Debug)]
pub struct Existing {
    /// The account.
    pub id: AccountId,
    /// Its name.
    pub name: String,
    /// Its name's 查重 key as stored (what `company_key` gave when it was
    /// written): the key it was found by, so not worked out again.
    pub key: NameKey,
    /// USCC.
    pub uscc: Option<String>,
    /// Owner.
    pub owner_id: Option<UserId>,
    /// Owner's name.
    pub owner_name: Option<String>,
    /// Division code.
    pub region_code: Option<String>,
    /// Those of its phones (E.164) that were asked about: all that 查重 compares.
    pub phones: Vec<String>,
}

struct ExistingRow {
    id: AccountId,
    name: String,
    name_key: String,
    name_region: Option<String>,
    name_branch: Option<String>,
    name_pinyin: String,
    uscc: Option<String>,
    owner_id: Option<UserId>,
    owner_name: Option<String>,
    region_code: Option<String>,
}
crate::from_row!(ExistingRow {
    id,
    name,
    name_key,
    name_region,
    name_branch,
    name_pinyin,
    uscc,
    owner_id,
    owner_name,
    region_code
});

/// Live accounts of the workspace sharing a name key, pinyin key, USCC or
/// phone with any of the given: the candidates of [`duplicates`] for a whole
/// batch in two queries, to be weighed by the caller. Each candidate's
/// `phones` are those of its phones that are among `phones`.
pub async fn existing_matching(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    keys: &[&str],
    pinyins: &[&str],
    usccs: &[&str],
    phones: &[&str],
) -> Result<Vec<Existing>> {
    if keys.is_empty() && pinyins.is_empty() && usccs.is_empty() && phones.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new(
        "SELECT a.id, a.name, a.name_key, a.name_region, a.name_branch, a.name_pinyin, a.uscc, a.owner_id, \
         o.display_name AS owner_name, a.region_code FROM ",
    );
    // SQLite: the union joined by rowid, which every index entry holds,
    // rather than by id, which is one more B-tree to descend per candidate
    // (35 % of the query). PostgreSQL: the ids as an array that the primary
    // key is probed with; joined to the union, whose estimate is thousands
    // of rows, it scanned the whole table into a hash join instead (0.77 s
    // against 0.29 s for 2,000 rows' keys at 1.5M accounts).
    let (parts, head, tail) = match conn.dialect() {
        Dialect::Sqlite => (
            [
                "SELECT rowid AS id FROM accounts WHERE name_key",
                "SELECT rowid AS id FROM accounts WHERE name_pinyin",
                "SELECT rowid AS id FROM accounts WHERE uscc",
                "SELECT (SELECT rowid FROM accounts WHERE id = account_phones.account_id) AS id FROM account_phones WHERE number",
            ],
            "(",
            ") m JOIN accounts a ON a.rowid = m.id LEFT JOIN users o ON o.id = a.owner_id WHERE a.deleted_at IS NULL",
        ),
        Dialect::Postgres => (
            [
                "SELECT id FROM accounts WHERE name_key",
                "SELECT id FROM accounts WHERE name_pinyin",
                "SELECT id FROM accounts WHERE uscc",
                "SELECT account_id AS id FROM account_phones WHERE number",
            ],
            "accounts a LEFT JOIN users o ON o.id = a.owner_id WHERE a.deleted_at IS NULL AND a.id = ANY(ARRAY(",
            "))",
        ),
    };
    // By the workspace's number, which these indexes lead with (migration 23).
    let number = crate::workspaces::number(conn, ws).await?;
    q.push(head);
    q.push_union_of_ids(
        &[(parts[0], keys), (parts[1], pinyins), (parts[2], usccs), (parts[3], phones)],
        ("workspace_number", number.into()),
    );
    q.push(tail);
    let rows: Vec<ExistingRow> = conn.fetch_all(q).await?;
    // Of the candidates' phones only those among `phones` can count (查重
    // asks whether two records share one): found by the number index, not by
    // reading every phone of thousands of candidates (a third of the time).
    let mut stored: HashMap<Uuid, Vec<String>> = HashMap::new();
    if !phones.is_empty() {
        let mut pq = Sql::new("SELECT account_id, number FROM account_phones WHERE number IN (");
        pq.bind_list(phones).push(") AND workspace_number = ").bind(number);
        for (id, n) in conn.fetch_all::<(Uuid, String)>(pq).await? {
            stored.entry(id).or_default().push(n);
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| Existing {
            phones: stored.remove(&r.id.uuid()).unwrap_or_default(),
            id: r.id,
            key: stored_key(&r.name, r.name_key, r.name_region.as_deref(), r.name_branch, r.name_pinyin),
            name: r.name,
            uscc: r.uscc,
            owner_id: r.owner_id,
            owner_name: r.owner_name,
            region_code: r.region_code,
        })
        .collect())
}

/// A name's 查重 key as stored with its account. Every write stores what
/// `company_key` gives, so a change to `company_key` needs a migration that
/// keys the stored names again (candidates are found by the stored keys
/// too); debug builds, so every test, check that the two agree.
fn stored_key(name: &str, core: String, region: Option<&str>, branch: Option<String>, pinyin: String) -> NameKey {
    let key = NameKey { core, region: region.and_then(dedupe::regions::exactly), branch, pinyin };
    debug_assert_eq!(key, dedupe::company_key(name), "the stored 查重 key of {name:?}");
    key
}

/// The city a stored account's division code is in, as 查重 compares it.
pub fn city_of(region_code: Option<&str>) -> Option<&'static str> {
    region_code.and_then(region_short)
}

/// How many live accounts of the pool `user` owns now.
pub async fn owned_count(db: &Db, ws: WorkspaceId, pool: PoolId, user: UserId) -> Result<i64> {
    let q = Sql::new(
        "SELECT COUNT(*) FROM accounts WHERE workspace_id = $1 AND owner_id = $2 AND pool_id = $3 AND deleted_at IS NULL",
    );
    let (n,): (i64,) = db.fetch_one(q.arg(ws).arg(user).arg(pool)).await?;
    Ok(n)
}

/// Those of `ids` that are live accounts of the workspace.
pub async fn live(conn: &mut Conn<'_>, ws: WorkspaceId, ids: &[AccountId]) -> Result<Vec<AccountId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(4000) {
        let mut q = Sql::new("SELECT id FROM accounts WHERE workspace_id = ");
        q.bind(ws).push(" AND deleted_at IS NULL AND id IN (");
        for (i, id) in chunk.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(")");
        out.extend(conn.fetch_all::<(AccountId,)>(q).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// Writes the audit entries of accounts an import created: one per account,
/// naming the import and the row, in multi-row statements.
pub async fn audit_imported(
    tx: &mut Tx,
    actor: &Actor,
    import: guanxi_domain::ImportId,
    rows: &[(AccountId, u64)],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut b = audit::batch();
    for (id, line) in rows {
        let changes = serde_json::json!({"imported": {"before": null, "after": {"import": import, "line": line}}});
        audit::push(&mut b, tx, actor, Action::Create, "account", id.uuid(), changes, now).await?;
    }
    b.flush(tx).await
}
