//! Contacts (联系人) and key persons (关键人): the people at an account, with
//! their stance, relationship strength and place in the power map. A contact
//! is seen by whoever may see its account; people who leave are marked, not
//! deleted, so that their history stays.

use crate::audit::{self, Action, Actor};
use crate::batch::Batch;
use crate::children::{self, Conn, PhoneNumber};
use crate::db::{Db, Sql, Tx, Val};
use crate::scope::{push_visible, Viewer};
use crate::{accounts, lifecycle, search, Error, Result};
use chrono::{DateTime, Utc};
use guanxi_domain::dedupe::Reason;
use guanxi_domain::search::{fold, Kind};
use guanxi_domain::{AccountId, BuyingRole, ContactId, Phone, RelationshipStrength, Stance, UserId, WorkspaceId};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// A contact as the API and pages show it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Contact {
    /// Id.
    pub id: ContactId,
    /// The account the person works at.
    pub account_id: AccountId,
    /// Its name.
    pub account_name: String,
    /// Name (刘建国).
    pub name: String,
    /// Department (调度中心).
    pub department: Option<String>,
    /// Title (主任, 总工); people are addressed by surname and title.
    pub title: Option<String>,
    /// Phones, the preferred first.
    pub phones: Vec<PhoneNumber>,
    /// E-mail addresses.
    pub emails: Vec<String>,
    /// WeChat id.
    pub wechat: Option<String>,
    /// 态度: supporter, neutral or opponent.
    pub stance: Option<Stance>,
    /// 客情: how well we know the person.
    pub relationship_strength: Option<RelationshipStrength>,
    /// 关键人.
    pub key_person: bool,
    /// Qualification: controls money (有钱).
    pub has_money: bool,
    /// Qualification: has authority (有权).
    pub has_authority: bool,
    /// Qualification: has the need (有需求).
    pub has_need: bool,
    /// Part in the purchase.
    pub buying_role: Option<BuyingRole>,
    /// Reports to (power map).
    pub reports_to_id: Option<ContactId>,
    /// That person's name.
    pub reports_to_name: Option<String>,
    /// `1975-03-08`, or `--03-08` without the year.
    pub birthday: Option<String>,
    /// Personal notes (family, hobbies, what matters to them).
    pub notes: Option<String>,
    /// Has left the company: kept with history, no longer offered for new touches.
    pub left_company: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// The account's owner.
    pub owner_id: Option<UserId>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Set while in the recycle bin.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Set when merged into another contact: the one to open instead.
    pub merged_into_id: Option<ContactId>,
}

struct ContactRow {
    id: ContactId,
    account_id: AccountId,
    account_name: String,
    name: String,
    department: Option<String>,
    title: Option<String>,
    wechat: Option<String>,
    stance: Option<Stance>,
    relationship_strength: Option<RelationshipStrength>,
    key_person: bool,
    has_money: bool,
    has_authority: bool,
    has_need: bool,
    buying_role: Option<BuyingRole>,
    reports_to_id: Option<ContactId>,
    reports_to_name: Option<String>,
    birthday: Option<String>,
    notes: Option<String>,
    left_company: bool,
    owner_id: Option<UserId>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    deleted_at: Option<DateTime<Utc>>,
    merged_into_id: Option<ContactId>,
}

crate::from_row!(ContactRow {
    id,
    account_id,
    account_name,
    name,
    department,
    title,
    wechat,
    stance,
    relationship_strength,
    key_person,
    has_money,
    has_authority,
    has_need,
    buying_role,
    reports_to_id,
    reports_to_name,
    birthday,
    notes,
    left_company,
    owner_id,
    created_at,
    updated_at,
    deleted_at,
    merged_into_id
});

const SELECT: &str = "SELECT c.id, c.account_id, a.name AS account_name, c.name, c.department, c.title, c.wechat, c.stance, \
     c.relationship_strength, c.key_person, c.has_money, c.has_authority, c.has_need, c.buying_role, c.reports_to_id, \
     r.name AS reports_to_name, c.birthday, c.notes, c.left_company, a.owner_id, c.created_at, c.updated_at, c.deleted_at, \
     c.merged_into_id FROM contacts c JOIN accounts a ON a.id = c.account_id LEFT JOIN contacts r ON r.id = c.reports_to_id";

const KIND: lifecycle::Kind = lifecycle::Kind { table: "contacts", entity: "contact", search: Kind::Contact };
const PHONES: children::Table = children::Table { name: "contact_phones", owner: "contact_id", numbered: false };
const EMAILS: children::Table = children::Table { name: "contact_emails", owner: "contact_id", numbered: false };
const TAGS: children::Table = children::Table { name: "contact_tags", owner: "contact_id", numbered: false };

/// The fields of a contact, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactFields {
    /// Account.
    pub account_id: AccountId,
    /// Name.
    pub name: String,
    /// Department.
    pub department: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Phones (parsed).
    pub phones: Vec<Phone>,
    /// E-mails (parsed).
    pub emails: Vec<String>,
    /// WeChat id (parsed).
    pub wechat: Option<String>,
    /// Stance.
    pub stance: Option<Stance>,
    /// Relationship strength.
    pub relationship_strength: Option<RelationshipStrength>,
    /// Key person and its qualification.
    pub key_person: bool,
    /// 有钱.
    pub has_money: bool,
    /// 有权.
    pub has_authority: bool,
    /// 有需求.
    pub has_need: bool,
    /// Buying role.
    pub buying_role: Option<BuyingRole>,
    /// Reports to.
    pub reports_to_id: Option<ContactId>,
    /// Birthday (ISO form).
    pub birthday: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// Has left.
    pub left_company: bool,
    /// Tags.
    pub tags: Vec<String>,
}

impl ContactFields {
    /// The fields of a stored contact, to change some of them.
    pub fn of(c: &Contact) -> Self {
        Self {
            account_id: c.account_id,
            name: c.name.clone(),
            department: c.department.clone(),
            title: c.title.clone(),
            phones: c.phones.iter().filter_map(PhoneNumber::parsed).collect(),
            emails: c.emails.clone(),
            wechat: c.wechat.clone(),
            stance: c.stance,
            relationship_strength: c.relationship_strength,
            key_person: c.key_person,
            has_money: c.has_money,
            has_authority: c.has_authority,
            has_need: c.has_need,
            buying_role: c.buying_role,
            reports_to_id: c.reports_to_id,
            birthday: c.birthday.clone(),
            notes: c.notes.clone(),
            left_company: c.left_company,
            tags: c.tags.clone(),
        }
    }
}

fn snapshot(c: &Contact) -> serde_json::Value {
    let mut v = serde_json::to_value(c).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        for derived in [
            "id",
            "account_name",
            "reports_to_name",
            "owner_id",
            "created_at",
            "updated_at",
            "deleted_at",
            "merged_into_id",
        ] {
            o.remove(derived);
        }
        o.insert("phones".into(), serde_json::json!(c.phones.iter().map(|p| p.display.clone()).collect::<Vec<_>>()));
    }
    v
}

async fn load_children(mut conn: Conn<'_>, rows: Vec<ContactRow>) -> Result<Vec<Contact>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id.uuid()).collect();
    let phones = children::phones(&mut conn, PHONES, &ids).await?;
    let emails = children::texts(&mut conn, EMAILS, "email", &ids).await?;
    let tags = children::texts(&mut conn, TAGS, "tag", &ids).await?;
    Ok(rows
        .into_iter()
        .map(|r| Contact {
            phones: children::of(&phones, r.id.uuid()),
            emails: children::of(&emails, r.id.uuid()),
            tags: children::of(&tags, r.id.uuid()),
            id: r.id,
            account_id: r.account_id,
            account_name: r.account_name,
            name: r.name,
            department: r.department,
            title: r.title,
            wechat: r.wechat,
            stance: r.stance,
            relationship_strength: r.relationship_strength,
            key_person: r.key_person,
            has_money: r.has_money,
            has_authority: r.has_authority,
            has_need: r.has_need,
            buying_role: r.buying_role,
            reports_to_id: r.reports_to_id,
            reports_to_name: r.reports_to_name,
            birthday: r.birthday,
            notes: r.notes,
            left_company: r.left_company,
            owner_id: r.owner_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
            deleted_at: r.deleted_at,
            merged_into_id: r.merged_into_id,
        })
        .collect())
}

pub(crate) async fn get_in_tx(tx: &mut Tx, ws: WorkspaceId, id: ContactId) -> Result<Contact> {
    let row: ContactRow =
        tx.fetch_one(Sql::new(&format!("{SELECT} WHERE c.id = $1 AND c.workspace_id = $2")).arg(id).arg(ws)).await?;
    load_children(Conn::Tx(tx), vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// The account must be live; the person reported to must be a live contact
/// of the same account, and not below this one (no circles in the power map).
async fn check_refs(tx: &mut Tx, ws: WorkspaceId, id: Option<ContactId>, f: &ContactFields) -> Result<()> {
    let account: Option<(Option<DateTime<Utc>>,)> = tx
        .fetch_optional(
            Sql::new("SELECT deleted_at FROM accounts WHERE id = $1 AND workspace_id = $2").arg(f.account_id).arg(ws),
        )
        .await?;
    if !matches!(account, Some((None,))) {
        return Err(Error::Invalid("account_id", "is not a live account of this workspace".into()));
    }
    let Some(mut boss) = f.reports_to_id else {
        return Ok(());
    };
    let bad = |why: &str| Error::Invalid("reports_to_id", why.to_owned());
    let row: Option<(AccountId, Option<DateTime<Utc>>)> = tx
        .fetch_optional(
            Sql::new("SELECT account_id, deleted_at FROM contacts WHERE id = $1 AND workspace_id = $2")
                .arg(boss)
                .arg(ws),
        )
        .await?;
    match row {
        Some((acc, None)) if acc == f.account_id => {}
        Some((_, None)) => return Err(bad("must be a contact of the same account")),
        _ => return Err(bad("is not a live contact")),
    }
    // Walk up from the new boss; meeting this contact would close a circle.
    for _ in 0..1000 {
        if Some(boss) == id {
            return Err(bad("would make a circle: this contact is above that one"));
        }
        let up: Option<(Option<ContactId>,)> =
            tx.fetch_optional(Sql::new("SELECT reports_to_id FROM contacts WHERE id = $1").arg(boss)).await?;
        match up {
            Some((Some(next),)) => boss = next,
            _ => return Ok(()),
        }
    }
    Err(bad("chain is too long"))
}

/// Rewrites a contact's lists and its search terms (which were those of `before`).
async fn write_children(
    tx: &mut Tx,
    ws: WorkspaceId,
    id: ContactId,
    before: &Contact,
    f: &ContactFields,
) -> Result<()> {
    for t in [PHONES, EMAILS, TAGS] {
        children::clear(tx, t, id.uuid()).await?;
    }
    push_children(&mut Batches::new(), tx, ws, id, f).await?.flush(tx).await?;
    let old: Vec<&str> = before.phones.iter().map(|p| p.number.as_str()).collect();
    let new: Vec<&str> = f.phones.iter().map(|p| p.number()).collect();
    search::replace(
        tx,
        ws,
        Kind::Contact,
        id.uuid(),
        &search::contact_terms(&before.name, &old),
        &search::contact_terms(&f.name, &new),
    )
    .await
}

/// The side-table batches of contacts.
struct Batches {
    phones: Batch,
    emails: Batch,
    tags: Batch,
}

impl Batches {
    fn new() -> Self {
        Self {
            phones: children::phone_batch(PHONES),
            emails: children::email_batch(EMAILS),
            tags: children::tag_batch(TAGS),
        }
    }

    async fn flush(&mut self, tx: &mut Tx) -> Result<()> {
        for b in [&mut self.phones, &mut self.emails, &mut self.tags] {
            b.flush(tx).await?;
        }
        Ok(())
    }
}

async fn push_children<'b>(
    b: &'b mut Batches,
    tx: &mut Tx,
    ws: WorkspaceId,
    id: ContactId,
    f: &ContactFields,
) -> Result<&'b mut Batches> {
    children::push_phones(&mut b.phones, tx, ws, None, id.uuid(), &f.phones).await?;
    children::push_emails(&mut b.emails, tx, ws, id.uuid(), &f.emails).await?;
    children::push_tags(&mut b.tags, tx, ws, id.uuid(), &f.tags).await?;
    Ok(b)
}

/// Writes every field (the values of [`field_vals`]), then `updated_at`, by id and workspace.
const UPDATE: &str = "UPDATE contacts SET account_id = $1, name = $2, department = $3, title = $4, wechat = $5, \
     stance = $6, relationship_strength = $7, key_person = $8, has_money = $9, has_authority = $10, has_need = $11, \
     buying_role = $12, reports_to_id = $13, birthday = $14, notes = $15, left_company = $16, name_key = $17, \
     updated_at = $18 WHERE id = $19 AND workspace_id = $20";

/// Every column an insert writes: the fields, then identity and times.
const COLUMNS: &str = "account_id, name, department, title, wechat, stance, relationship_strength, key_person, \
     has_money, has_authority, has_need, buying_role, reports_to_id, birthday, notes, left_company, name_key, \
     id, workspace_id, created_at, updated_at";

/// The values of every field, in the order of [`UPDATE`] and [`COLUMNS`].
fn field_vals(f: &ContactFields) -> Vec<Val> {
    vec![
        f.account_id.into(),
        f.name.as_str().into(),
        f.department.clone().into(),
        f.title.clone().into(),
        f.wechat.clone().into(),
        f.stance.map(|s| s.as_str()).into(),
        f.relationship_strength.map(|s| s.as_str()).into(),
        f.key_person.into(),
        f.has_money.into(),
        f.has_authority.into(),
        f.has_need.into(),
        f.buying_role.map(|s| s.as_str()).into(),
        f.reports_to_id.into(),
        f.birthday.clone().into(),
        f.notes.clone().into(),
        f.left_company.into(),
        fold(&f.name).into(),
    ]
}

/// Inserts contacts (already checked) with their phones, e-mails, tags and
/// search terms in multi-row statements: one from a form, millions from
/// `guanxi gen`. Audit is the caller's.
pub async fn insert_many(
    tx: &mut Tx,
    ws: WorkspaceId,
    rows: &[(ContactId, ContactFields)],
    terms: &mut search::Indexer,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut contacts = Batch::new("contacts", COLUMNS);
    for (id, f) in rows {
        let mut vals = field_vals(f);
        vals.extend([Val::from(*id), ws.into(), now.into(), now.into()]);
        contacts.push(tx, vals).await?;
    }
    contacts.flush(tx).await?;
    let mut b = Batches::new();
    for (id, f) in rows {
        push_children(&mut b, tx, ws, *id, f).await?;
        let phones: Vec<&str> = f.phones.iter().map(|p| p.number()).collect();
        terms.push(tx, ws, Kind::Contact, id.uuid(), &search::contact_terms(&f.name, &phones)).await?;
    }
    b.flush(tx).await?;
    terms.flush(tx).await
}

/// Creates a contact; `extra` goes into the audit entry (a duplicate override's reason).
pub async fn create(
    tx: &mut Tx,
    actor: &Actor,
    f: &ContactFields,
    extra: Option<serde_json::Value>,
    now: DateTime<Utc>,
) -> Result<Contact> {
    check_refs(tx, actor.workspace_id, None, f).await?;
    let id = ContactId::new();
    insert_many(tx, actor.workspace_id, &[(id, f.clone())], &mut search::Indexer::direct(), now).await?;
    let contact = get_in_tx(tx, actor.workspace_id, id).await?;
    let mut changes = audit::diff(&serde_json::json!({}), &snapshot(&contact));
    if let (Some(extra), Some(obj)) = (extra, changes.as_object_mut()) {
        obj.insert("duplicate_override".into(), serde_json::json!({"before": null, "after": extra}));
    }
    audit::record(tx, actor, Action::Create, "contact", id.uuid(), changes, now).await?;
    Ok(contact)
}

/// Replaces a contact's fields.
pub async fn update(
    tx: &mut Tx,
    actor: &Actor,
    id: ContactId,
    f: &ContactFields,
    now: DateTime<Utc>,
) -> Result<Contact> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    if before.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    check_refs(tx, actor.workspace_id, Some(id), f).await?;
    tx.execute(Sql::new(UPDATE).args(field_vals(f)).arg(now).arg(id).arg(actor.workspace_id)).await?;
    if f.account_id != before.account_id {
        // Moving to another account leaves the old power map: nobody there reports to this person any more.
        tx.execute(Sql::new("UPDATE contacts SET reports_to_id = NULL WHERE reports_to_id = $1").arg(id)).await?;
    }
    write_children(tx, actor.workspace_id, id, &before, f).await?;
    let after = get_in_tx(tx, actor.workspace_id, id).await?;
    audit::record(
        tx,
        actor,
        Action::Update,
        "contact",
        id.uuid(),
        audit::diff(&snapshot(&before), &snapshot(&after)),
        now,
    )
    .await?;
    Ok(after)
}

/// Moves a contact to the recycle bin, or back.
pub async fn set_deleted(
    tx: &mut Tx,
    actor: &Actor,
    id: ContactId,
    deleted: bool,
    now: DateTime<Utc>,
) -> Result<Contact> {
    let before = get_in_tx(tx, actor.workspace_id, id).await?;
    if before.deleted_at.is_some() == deleted {
        return Ok(before);
    }
    lifecycle::set_deleted(tx, actor, KIND, id.uuid(), before.merged_into_id.is_some(), deleted, now).await?;
    get_in_tx(tx, actor.workspace_id, id).await
}

/// A live contact of the account with exactly this name (for idempotent loads).
pub async fn find_by_name(db: &Db, account: AccountId, name: &str) -> Result<Option<ContactId>> {
    let q = Sql::new("SELECT id FROM contacts WHERE account_id = $1 AND name = $2 AND deleted_at IS NULL LIMIT 1");
    Ok(db.fetch_optional::<(ContactId,)>(q.arg(account).arg(name)).await?.map(|r| r.0))
}

/// The same, inside a transaction.
pub async fn find_by_name_in(tx: &mut Tx, account: AccountId, name: &str) -> Result<Option<ContactId>> {
    let q = Sql::new("SELECT id FROM contacts WHERE account_id = $1 AND name = $2 AND deleted_at IS NULL LIMIT 1");
    Ok(tx.fetch_optional::<(ContactId,)>(q.arg(account).arg(name)).await?.map(|r| r.0))
}

/// A contact the viewer may see (through its account), also from the recycle bin.
pub async fn get(db: &Db, viewer: Viewer, id: ContactId) -> Result<Contact> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE c.id = ").bind(id).push(" AND ");
    push_visible(&mut q, viewer, accounts::SCOPE);
    let row: ContactRow = db.fetch_one(q).await?;
    load_children(Conn::Db(db), vec![row]).await?.pop().ok_or(Error::NotFound)
}

/// Contact list filters.
#[derive(Clone, Debug, Default)]
pub struct ContactFilter {
    /// At this account.
    pub account_id: Option<AccountId>,
    /// With this stance.
    pub stance: Option<Stance>,
    /// In this buying role.
    pub buying_role: Option<BuyingRole>,
    /// Key persons only.
    pub key_person: Option<bool>,
    /// With tag.
    pub tag: Option<String>,
    /// Include people who have left.
    pub include_left: bool,
    /// Only people who have left.
    pub only_left: bool,
    /// Changed since.
    pub updated_since: Option<DateTime<Utc>>,
    /// The recycle bin instead.
    pub deleted: bool,
    /// After this id (cursor).
    pub after: Option<ContactId>,
}

/// Contacts the viewer may see, in id order, `limit` at a time.
pub async fn list(db: &Db, viewer: Viewer, f: &ContactFilter, limit: i64) -> Result<Vec<Contact>> {
    let mut q = Sql::new(SELECT);
    q.push(" WHERE ");
    push_visible(&mut q, viewer, accounts::SCOPE);
    q.push(if f.deleted {
        " AND c.deleted_at IS NOT NULL AND c.merged_into_id IS NULL"
    } else {
        " AND c.deleted_at IS NULL AND a.deleted_at IS NULL"
    });
    if let Some(v) = f.account_id {
        q.push(" AND c.account_id = ").bind(v);
    }
    if let Some(v) = f.stance {
        q.push(" AND c.stance = ").bind(v.as_str());
    }
    if let Some(v) = f.buying_role {
        q.push(" AND c.buying_role = ").bind(v.as_str());
    }
    if let Some(v) = f.key_person {
        q.push(" AND c.key_person = ").bind(v);
    }
    if let Some(v) = &f.tag {
        q.push(" AND c.id IN (SELECT contact_id FROM contact_tags WHERE tag = ").bind(v.as_str()).push(")");
    }
    // The recycle bin shows everyone in it, whether they had left or not.
    if f.only_left {
        q.push(" AND c.left_company = ").bind(true);
    } else if !f.include_left && !f.deleted {
        q.push(" AND c.left_company = ").bind(false);
    }
    if let Some(v) = f.updated_since {
        q.push(" AND c.updated_at >= ").bind(v);
    }
    if let Some(v) = f.after {
        q.push(" AND c.id > ").bind(v);
    }
    q.push(" ORDER BY c.id LIMIT ").bind(limit);
    let rows: Vec<ContactRow> = db.fetch_all(q).await?;
    load_children(Conn::Db(db), rows).await
}

/// An existing contact that may be the person being entered.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ContactCandidate {
    /// The contact.
    pub id: ContactId,
    /// Name.
    pub name: String,
    /// Their account's name.
    pub account_name: String,
    /// Confidence, 0–1.
    pub score: f32,
    /// Why.
    pub reasons: Vec<Reason>,
}

/// Live contacts of the workspace that may be the same person: the same
/// mobile, e-mail or WeChat anywhere, or the same name at the same account.
pub async fn duplicates(
    db: &Db,
    ws: WorkspaceId,
    f: &ContactFields,
    except: Option<ContactId>,
) -> Result<Vec<ContactCandidate>> {
    let mut q = Sql::new(
        "SELECT c.id, c.name, a.name, c.account_id, c.name_key, c.wechat FROM contacts c JOIN accounts a ON a.id = c.account_id \
         WHERE c.workspace_id = ",
    );
    q.bind(ws).push(" AND c.deleted_at IS NULL AND ((c.account_id = ").bind(f.account_id);
    q.push(" AND c.name_key = ").bind(fold(&f.name)).push(")");
    if let Some(w) = &f.wechat {
        q.push(" OR c.wechat = ").bind(w.as_str());
    }
    // A switchboard is shared by a whole office: only personal numbers identify a person.
    let personal: Vec<&str> = f
        .phones
        .iter()
        .filter(|p| p.kind() == guanxi_domain::PhoneKind::Mobile || p.extension().is_some())
        .map(|p| p.number())
        .collect();
    let list = |q: &mut Sql, table: &str, col: &str, values: &[&str]| {
        if values.is_empty() {
            return;
        }
        q.push(" OR c.id IN (SELECT contact_id FROM ").push(table).push(" WHERE workspace_id = ").bind(ws);
        q.push(" AND ").push(col).push(" IN (");
        for (i, v) in values.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*v);
        }
        q.push("))");
    };
    list(&mut q, "contact_phones", "number", &personal);
    let emails: Vec<&str> = f.emails.iter().map(String::as_str).collect();
    list(&mut q, "contact_emails", "email", &emails);
    q.push(") LIMIT 20");
    let rows: Vec<(ContactId, String, String, AccountId, String, Option<String>)> = db.fetch_all(q).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0.uuid()).collect();
    let mut conn = Conn::Db(db);
    let phones = children::phones(&mut conn, PHONES, &ids).await?;
    let stored_emails = children::texts(&mut conn, EMAILS, "email", &ids).await?;
    let mut out = Vec::new();
    for (id, name, account_name, account_id, key, wechat) in rows {
        if Some(id) == except {
            continue;
        }
        let mut reasons = Vec::new();
        let mut score: f32 = 0.0;
        if children::of(&phones, id.uuid()).iter().any(|p| personal.contains(&p.number.as_str())) {
            reasons.push(Reason::SamePhone);
            score = score.max(0.95);
        }
        if children::of(&stored_emails, id.uuid()).iter().any(|e| f.emails.contains(e)) {
            reasons.push(Reason::SameEmail);
            score = score.max(0.95);
        }
        if wechat.is_some() && wechat == f.wechat {
            reasons.push(Reason::SameWechat);
            score = score.max(0.9);
        }
        if account_id == f.account_id && key == fold(&f.name) {
            reasons.push(Reason::SameName);
            score = score.max(0.8);
        }
        if !reasons.is_empty() {
            out.push(ContactCandidate { id, name, account_name, score, reasons });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    Ok(out)
}

/// Merges contact `gone` into `keep`: empty fields filled, phones, e-mails,
/// tags and notes joined, people who reported to `gone` now report to `keep`,
/// and `gone` is retired with a pointer to `keep`.
pub async fn merge(
    tx: &mut Tx,
    actor: &Actor,
    keep: ContactId,
    gone: ContactId,
    now: DateTime<Utc>,
) -> Result<Contact> {
    let ws = actor.workspace_id;
    if keep == gone {
        return Err(Error::Invalid(
            "duplicate_id",
            "must be another contact: a contact cannot be merged into itself".into(),
        ));
    }
    let a = get_in_tx(tx, ws, keep).await?;
    let b = get_in_tx(tx, ws, gone)
        .await
        .map_err(|_| Error::Invalid("duplicate_id", "is not a contact of this workspace".into()))?;
    if a.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    if b.deleted_at.is_some() {
        return Err(Error::Invalid("duplicate_id", "is in the recycle bin or already merged".into()));
    }
    let mut f = ContactFields::of(&a);
    let o = ContactFields::of(&b);
    let fill = |x: &Option<String>, y: &Option<String>| x.clone().or_else(|| y.clone());
    f.department = fill(&f.department, &o.department);
    f.title = fill(&f.title, &o.title);
    f.wechat = fill(&f.wechat, &o.wechat);
    f.birthday = fill(&f.birthday, &o.birthday);
    f.stance = f.stance.or(o.stance);
    f.relationship_strength = f.relationship_strength.max(o.relationship_strength);
    f.buying_role = f.buying_role.or(o.buying_role);
    if f.reports_to_id.is_none() && o.reports_to_id != Some(keep) && o.account_id == f.account_id {
        f.reports_to_id = o.reports_to_id;
    }
    f.key_person |= o.key_person;
    f.has_money |= o.has_money;
    f.has_authority |= o.has_authority;
    f.has_need |= o.has_need;
    f.notes = match (&f.notes, &o.notes) {
        (Some(x), Some(y)) if x != y => Some(format!("{x}\n\n[{}]\n{y}", b.name)),
        _ => fill(&f.notes, &o.notes),
    };
    children::union(&mut f.phones, o.phones);
    children::union(&mut f.emails, o.emails);
    children::union(&mut f.tags, o.tags);
    // The boss taken over from the duplicate must not close a circle.
    if f.reports_to_id.is_some() && check_refs(tx, ws, Some(keep), &f).await.is_err() {
        f.reports_to_id = None;
    }
    // Whoever reported to the retired record reports to the kept one (same account only).
    tx.execute(
        Sql::new("UPDATE contacts SET reports_to_id = $1 WHERE reports_to_id = $2 AND account_id = $3 AND id <> $1")
            .arg(keep)
            .arg(gone)
            .arg(f.account_id),
    )
    .await?;
    tx.execute(Sql::new("UPDATE contacts SET reports_to_id = NULL WHERE reports_to_id = $1").arg(gone)).await?;
    tx.execute(Sql::new(UPDATE).args(field_vals(&f)).arg(now).arg(keep).arg(ws)).await?;
    write_children(tx, ws, keep, &a, &f).await?;
    let after = get_in_tx(tx, ws, keep).await?;
    let changes = audit::diff(&snapshot(&a), &snapshot(&after));
    let (k, g) = ((keep.uuid(), after.name.as_str()), (gone.uuid(), b.name.as_str()));
    lifecycle::retire(tx, actor, KIND, k, g, changes, serde_json::json!({}), now).await?;
    Ok(after)
}

/// A person whose birthday is known, at an account someone owns.
#[derive(Clone, Debug)]
pub struct Birthday {
    /// The person.
    pub contact_id: ContactId,
    /// Their name.
    pub name: String,
    /// Their account's name.
    pub account_name: String,
    /// Stored `1975-03-08` or `--03-08`.
    pub birthday: String,
}
crate::from_row!(Birthday { contact_id, name, account_name, birthday });

/// The people with a known birthday at the accounts `owner` owns (still there, not merged away).
pub async fn birthdays_of(db: &Db, ws: WorkspaceId, owner: UserId) -> Result<Vec<Birthday>> {
    db.fetch_all(
        Sql::new(
            "SELECT c.id AS contact_id, c.name, a.name AS account_name, c.birthday FROM contacts c \
             JOIN accounts a ON a.id = c.account_id WHERE a.workspace_id = $1 AND a.owner_id = $2 \
             AND a.deleted_at IS NULL AND c.deleted_at IS NULL AND c.left_company = FALSE AND c.birthday IS NOT NULL",
        )
        .arg(ws)
        .arg(owner),
    )
    .await
}

/// A live contact sharing a personal phone, e-mail or WeChat id, or a name
/// at the same account, with one of many new ones (a batch of an import).
#[derive(Clone, Debug)]
pub struct ExistingContact {
    /// The contact.
    pub id: ContactId,
    /// Name.
    pub name: String,
    /// Folded name.
    pub name_key: String,
    /// Account.
    pub account_id: AccountId,
    /// Account's name.
    pub account_name: String,
    /// WeChat id.
    pub wechat: Option<String>,
    /// Phones (E.164).
    pub phones: Vec<String>,
    /// E-mails.
    pub emails: Vec<String>,
}

/// Candidates of [`duplicates`] for a whole batch: the same personal phone,
/// e-mail or WeChat id anywhere in the workspace, or the same folded name at
/// one of `accounts`.
pub async fn existing_matching(
    conn: &mut Conn<'_>,
    ws: WorkspaceId,
    phones: &[&str],
    emails: &[&str],
    wechats: &[&str],
    accounts: &[AccountId],
    name_keys: &[&str],
) -> Result<Vec<ExistingContact>> {
    let mut q = Sql::new("SELECT c.id, c.name, c.name_key, c.account_id, a.name, c.wechat FROM (");
    let mut first = !q.push_union_of_ids(
        &[
            ("SELECT contact_id AS id FROM contact_phones WHERE number", phones),
            ("SELECT contact_id AS id FROM contact_emails WHERE email", emails),
            ("SELECT id FROM contacts WHERE wechat", wechats),
        ],
        ("workspace_id", ws.into()),
    );
    if !accounts.is_empty() && !name_keys.is_empty() {
        q.push(if first { "" } else { " UNION " });
        first = false;
        q.push("SELECT id FROM contacts WHERE account_id IN (").bind_list(accounts);
        q.push(") AND name_key IN (").bind_list(name_keys).push(")");
    }
    if first {
        return Ok(Vec::new());
    }
    q.push(") m JOIN contacts c ON c.id = m.id JOIN accounts a ON a.id = c.account_id WHERE c.deleted_at IS NULL AND c.workspace_id = ").bind(ws);
    let rows: Vec<(ContactId, String, String, AccountId, String, Option<String>)> = conn.fetch_all(q).await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0.uuid()).collect();
    let mut phones: HashMap<Uuid, Vec<String>> = HashMap::new();
    let mut emails: HashMap<Uuid, Vec<String>> = HashMap::new();
    for chunk in ids.chunks(4000) {
        for (id, p) in children::phones(conn, PHONES, chunk).await? {
            phones.entry(id).or_default().push(p.number);
        }
        for (id, e) in children::texts(conn, EMAILS, "email", chunk).await? {
            emails.entry(id).or_default().push(e);
        }
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, name_key, account_id, account_name, wechat)| ExistingContact {
            phones: phones.remove(&id.uuid()).unwrap_or_default(),
            emails: emails.remove(&id.uuid()).unwrap_or_default(),
            id,
            name,
            name_key,
            account_id,
            account_name,
            wechat,
        })
        .collect())
}

/// Those of `ids` whose account the viewer sees: the contacts an import may
/// update, as `get` (and so the API's update) finds them.
pub async fn visible(conn: &mut Conn<'_>, viewer: Viewer, ids: &[ContactId]) -> Result<Vec<ContactId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(4000) {
        let mut q = Sql::new("SELECT c.id FROM contacts c JOIN accounts a ON a.id = c.account_id WHERE c.id IN (");
        for (i, id) in chunk.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(") AND ");
        push_visible(&mut q, viewer, accounts::SCOPE);
        out.extend(conn.fetch_all::<(ContactId,)>(q).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// Those of `ids` that are live contacts of the workspace.
pub async fn live(conn: &mut Conn<'_>, ws: WorkspaceId, ids: &[ContactId]) -> Result<Vec<ContactId>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(4000) {
        let mut q = Sql::new("SELECT id FROM contacts WHERE workspace_id = ");
        q.bind(ws).push(" AND deleted_at IS NULL AND id IN (");
        for (i, id) in chunk.iter().enumerate() {
            q.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
        q.push(")");
        out.extend(conn.fetch_all::<(ContactId,)>(q).await?.into_iter().map(|r| r.0));
    }
    Ok(out)
}

/// The fields of a live contact, inside a transaction (an import's update).
pub async fn fields_in_tx(tx: &mut Tx, ws: WorkspaceId, id: ContactId) -> Result<ContactFields> {
    let c = get_in_tx(tx, ws, id).await?;
    if c.deleted_at.is_some() {
        return Err(Error::NotFound);
    }
    Ok(ContactFields::of(&c))
}

/// Writes the audit entries of contacts an import created, one per contact.
pub async fn audit_imported(
    tx: &mut Tx,
    actor: &Actor,
    import: guanxi_domain::ImportId,
    rows: &[(ContactId, u64)],
    now: DateTime<Utc>,
) -> Result<()> {
    let mut b = audit::batch();
    for (id, line) in rows {
        let changes = serde_json::json!({"imported": {"before": null, "after": {"import": import, "line": line}}});
        audit::push(&mut b, tx, actor, Action::Create, "contact", id.uuid(), changes, now).await?;
    }
    b.flush(tx).await
}
