//! The public pool (公海) and ownership (seed 002): customers are the
//! company's, not a salesperson's. Unowned accounts sit in a pool anyone in
//! it may claim under its rules; an owned account that stays idle too long
//! goes back; nobody works an account someone else owns.

use crate::account::{vocabulary, Classification};
use crate::values::FieldError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

vocabulary!(
    /// Which rule sends an idle account back to the pool.
    ReleaseRule {
        /// N 天未跟进: no logged call or visit.
        NoActivity = "no_activity" / "未跟进",
        /// M 天商机无进展: no opportunity moved a stage.
        NoProgress = "no_progress" / "商机无进展",
        /// K 天未成交: no deal won.
        NoDeal = "no_deal" / "未成交",
    }
);

vocabulary!(
    /// Why an account is in the pool (公海), shown and filtered there.
    ReleaseReason {
        /// 手动退回, with the owner's words.
        Manual = "manual" / "手动退回",
        /// Returned by the no-activity rule.
        NoActivity = "no_activity" / "超期未跟进",
        /// Returned by the no-progress rule.
        NoProgress = "no_progress" / "商机无进展",
        /// Returned by the no-deal rule.
        NoDeal = "no_deal" / "超期未成交",
        /// 离职交接: the owner's accounts were handed to the pool.
        Handover = "handover" / "交接退回",
    }
);

impl From<ReleaseRule> for ReleaseReason {
    fn from(rule: ReleaseRule) -> Self {
        match rule {
            ReleaseRule::NoActivity => ReleaseReason::NoActivity,
            ReleaseRule::NoProgress => ReleaseReason::NoProgress,
            ReleaseRule::NoDeal => ReleaseReason::NoDeal,
        }
    }
}

vocabulary!(
    /// What a non-owner may not see of a pooled account until it is claimed.
    PoolField {
        /// Phone numbers: shown masked (138****5678).
        Phones = "phones" / "电话",
        /// The key persons: hidden.
        Contacts = "contacts" / "联系人",
        /// The street address: hidden.
        Address = "address" / "地址",
        /// The previous owners' notes: hidden.
        Notes = "notes" / "备注",
    }
);

vocabulary!(
    /// What a salesperson asks a manager to decide.
    RequestKind {
        /// 报备: to own a new customer met in the field (or a pooled one).
        Registration = "registration" / "报备",
        /// 转移: to take over an account someone else owns.
        Transfer = "transfer" / "转移申请",
    }
);

vocabulary!(
    /// Where a request stands.
    RequestStatus {
        /// 待审批.
        Pending = "pending" / "待审批",
        /// 已通过.
        Approved = "approved" / "已通过",
        /// 已拒绝.
        Rejected = "rejected" / "已拒绝",
        /// 已过期: nobody decided in time.
        Expired = "expired" / "已过期",
        /// 已撤回 (e.g. the requester left).
        Withdrawn = "withdrawn" / "已撤回",
    }
);

/// The return rules of one class of account; `None` turns a rule off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClassRules {
    /// Back to the pool after this many days without a logged activity.
    pub no_activity_days: Option<i64>,
    /// ... without opportunity progress.
    pub no_progress_days: Option<i64>,
    /// ... without a deal.
    pub no_deal_days: Option<i64>,
}

/// Return rules per class (A/B/C, and accounts not yet classified).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRules {
    /// A 类.
    pub a: ClassRules,
    /// B 类.
    pub b: ClassRules,
    /// C 类.
    pub c: ClassRules,
    /// 未分级.
    pub unclassified: ClassRules,
}

impl ReturnRules {
    /// The rules of a class.
    pub fn of(&self, class: Option<Classification>) -> &ClassRules {
        match class {
            Some(Classification::A) => &self.a,
            Some(Classification::B) => &self.b,
            Some(Classification::C) => &self.c,
            None => &self.unclassified,
        }
    }
}

/// A pool's rules (公海规则). Days are whole days of 24 hours.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PoolRules {
    /// The most accounts of this pool one person may own (拥有客户上限); `None`: no limit.
    pub max_owned: Option<i64>,
    /// The most claims one person may make per day (每天最多领取); `None`: no limit.
    pub daily_claims: Option<i64>,
    /// Days during which the previous owner may not claim a returned account back (前负责人 N 天内不可领取).
    pub cooldown_days: i64,
    /// Days before a return by rule that the owner is warned (提前 N 天提醒); 0: no warning.
    pub warn_days: i64,
    /// Days an approved registration (报备) protects the account from return by rule.
    pub protection_days: i64,
    /// Days a registration may wait for a decision before it lapses.
    pub registration_expiry_days: i64,
    /// When owned accounts return, per class.
    pub return_after: ReturnRules,
    /// What non-owners do not see in the pool.
    pub masked: Vec<PoolField>,
}

/// The longest period any rule may name: ten years.
pub const MAX_DAYS: i64 = 3650;

impl Default for PoolRules {
    /// Common practice (and seed 002's spirit): key accounts get the longest
    /// leash, C accounts the shortest; the no-progress rule waits for
    /// opportunities to be recorded at all, so it is off.
    fn default() -> Self {
        let class = |activity, deal| ClassRules {
            no_activity_days: Some(activity),
            no_progress_days: None,
            no_deal_days: deal,
        };
        Self {
            max_owned: Some(200),
            daily_claims: Some(10),
            cooldown_days: 7,
            warn_days: 3,
            protection_days: 90,
            registration_expiry_days: 7,
            return_after: ReturnRules {
                a: class(90, None),
                b: class(60, Some(365)),
                c: class(30, Some(180)),
                unclassified: class(30, Some(180)),
            },
            masked: vec![PoolField::Phones, PoolField::Notes],
        }
    }
}

impl PoolRules {
    /// Every rule that is out of range, named by its path under `field`.
    pub fn check(&self, field: &str) -> Vec<FieldError> {
        let mut out = Vec::new();
        let mut days = |name: &str, v: Option<i64>, min: i64| {
            if let Some(v) = v {
                if !(min..=MAX_DAYS).contains(&v) {
                    out.push(FieldError::new(
                        &format!("{field}.{name}"),
                        "out_of_range",
                        format!("{field}.{name} must be between {min} and {MAX_DAYS} days, not {v}"),
                    ));
                }
            }
        };
        days("cooldown_days", Some(self.cooldown_days), 0);
        days("warn_days", Some(self.warn_days), 0);
        days("protection_days", Some(self.protection_days), 0);
        days("registration_expiry_days", Some(self.registration_expiry_days), 1);
        for (class, r) in [
            ("a", &self.return_after.a),
            ("b", &self.return_after.b),
            ("c", &self.return_after.c),
            ("unclassified", &self.return_after.unclassified),
        ] {
            days(&format!("return_after.{class}.no_activity_days"), r.no_activity_days, 1);
            days(&format!("return_after.{class}.no_progress_days"), r.no_progress_days, 1);
            days(&format!("return_after.{class}.no_deal_days"), r.no_deal_days, 1);
        }
        for (name, v) in [("max_owned", self.max_owned), ("daily_claims", self.daily_claims)] {
            if let Some(v) = v {
                if !(0..=1_000_000).contains(&v) {
                    out.push(FieldError::new(
                        &format!("{field}.{name}"),
                        "out_of_range",
                        format!("{field}.{name} must be between 0 and 1000000, not {v}"),
                    ));
                }
            }
        }
        out
    }

    /// Whether non-owners may not see `what`.
    pub fn masks(&self, what: PoolField) -> bool {
        self.masked.contains(&what)
    }
}

/// When each rule's count of idle days started: the later of the ownership
/// start and the last activity, opportunity progress or deal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdleClocks {
    /// Since the last logged activity.
    pub activity: DateTime<Utc>,
    /// Since the last opportunity progress.
    pub progress: DateTime<Utc>,
    /// Since the last deal.
    pub deal: DateTime<Utc>,
}

impl IdleClocks {
    /// All three starting at once: a new owner gets every full period.
    pub fn starting(at: DateTime<Utc>) -> Self {
        Self { activity: at, progress: at, deal: at }
    }
}

/// When an owned account returns to the pool, and by which rule: the
/// earliest rule to run out, but never inside a registration's protection.
/// `None` when no rule applies to its class.
pub fn release_due(
    rules: &ReturnRules,
    class: Option<Classification>,
    clocks: &IdleClocks,
    protected_until: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, ReleaseRule)> {
    let r = rules.of(class);
    let due = [
        (r.no_activity_days, clocks.activity, ReleaseRule::NoActivity),
        (r.no_progress_days, clocks.progress, ReleaseRule::NoProgress),
        (r.no_deal_days, clocks.deal, ReleaseRule::NoDeal),
    ]
    .into_iter()
    .filter_map(|(days, from, rule)| days.map(|d| (from + Duration::days(d), rule)))
    .min_by_key(|(at, _)| *at)?;
    Some(match protected_until {
        Some(until) if until > due.0 => (until, due.1),
        _ => due,
    })
}

/// Whole days left until `due` (0 on the day itself, negative when overdue),
/// for "距进入公海 N 天".
pub fn days_left(due: DateTime<Utc>, now: DateTime<Utc>) -> i64 {
    let secs = (due - now).num_seconds();
    // Round towards the due time: 1.5 days left reads "1 天".
    secs.div_euclid(86_400)
}

/// A phone number as a non-owner sees it: a mobile keeps its first three
/// and last four digits (`138****5678`), a landline its area code and last
/// four (`0411-****8888`); the digits between are starred.
pub fn mask_phone(display: &str) -> String {
    match display.split_once('-') {
        Some((area, rest)) if !area.is_empty() && area.chars().all(|c| c.is_ascii_digit()) => {
            format!("{area}-{}", star(rest, 0))
        }
        _ => star(display, 3),
    }
}

/// Stars every digit but the first `head` and the last four (all of them
/// when there are too few), dropping the spaces inside the starred run.
fn star(text: &str, head: usize) -> String {
    let digits = text.chars().filter(char::is_ascii_digit).count();
    if digits <= head + 4 {
        return text.chars().map(|c| if c.is_ascii_digit() { '*' } else { c }).collect();
    }
    let mut seen = 0;
    text.chars()
        .filter_map(|c| {
            if !c.is_ascii_digit() {
                // Spaces inside the starred run would only reveal the grouping.
                return (!(c == ' ' && seen >= head && seen <= digits - 4)).then_some(c);
            }
            seen += 1;
            Some(if seen > head && seen <= digits - 4 { '*' } else { c })
        })
        .collect()
}

/// Why an ownership change is refused. Each is a rule of seed 002 a user can
/// act on; the HTTP edge gives each a stable code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Someone else owns this organisation (or a record 查重 says is the same one).
    #[error("{account_name} is owned by {owner_name}")]
    OwnedByOther {
        /// The owned record.
        account_id: crate::AccountId,
        /// Its name.
        account_name: String,
        /// Its owner.
        owner_id: crate::UserId,
        /// The owner's name.
        owner_name: String,
    },
    /// The caller owns it already.
    #[error("already yours")]
    AlreadyYours,
    /// The account is not in a pool the caller belongs to.
    #[error("not in your pool")]
    NotInPool,
    /// The previous owner's cooldown has not ended.
    #[error("cooldown until {until}")]
    Cooldown {
        /// When the previous owner may claim it again.
        until: DateTime<Utc>,
    },
    /// The person has made as many claims today as the pool allows.
    #[error("daily claim limit {limit}")]
    DailyClaims {
        /// Claims per day.
        limit: i64,
    },
    /// The person owns as many accounts of this pool as it allows.
    #[error("ownership limit {limit}")]
    OwnershipLimit {
        /// Whose limit.
        user_name: String,
        /// The pool's limit.
        limit: i64,
    },
    /// Only the owner (or their manager) may release an account.
    #[error("not the owner")]
    NotOwner,
    /// Someone else's registration (报备) of this organisation is pending.
    #[error("{account_name} is registered by {requester_name}")]
    RegisteredByOther {
        /// The registered record.
        account_id: crate::AccountId,
        /// Its name.
        account_name: String,
        /// Who filed the registration.
        requester_name: String,
    },
    /// Nobody decides their own request.
    #[error("own request")]
    OwnDecision,
    /// The request was decided already (or lapsed).
    #[error("not pending")]
    NotPending,
    /// Only the deciding side's manager (`may_decide`), or an admin, decides.
    #[error("not the decider")]
    NotDecider,
    /// The account changed hands since the request was made.
    #[error("owner changed")]
    OwnerChanged,
}

/// Whether someone may change a pool's rules and members: admins; a manager
/// only where the pool names them, as a member user or through their own
/// team. The default pool, open to everyone and named for nobody, is the
/// admins' alone: its rules bind every salesperson of the workspace.
pub fn may_configure(
    role: crate::Role,
    user: crate::UserId,
    team: Option<crate::TeamId>,
    member_users: &[crate::UserId],
    member_teams: &[crate::TeamId],
) -> bool {
    match role {
        crate::Role::Admin => true,
        crate::Role::Manager => member_users.contains(&user) || team.is_some_and(|t| member_teams.contains(&t)),
        _ => false,
    }
}

/// What a claim is decided on; the store gathers it under the claimant's
/// lock, so that concurrent claims see each other's counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimFacts {
    /// The claimant belongs to the account's pool.
    pub member: bool,
    /// When the claimant themself last released this account, if they did.
    pub released_by_claimant_at: Option<DateTime<Utc>>,
    /// Claims the claimant made today (the workspace's day).
    pub claims_today: i64,
    /// Accounts of this pool the claimant owns now.
    pub owned_in_pool: i64,
}

/// Why a claim is refused (the store adds names for the messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimRefusal {
    /// Not a member of the account's pool.
    NotInPool,
    /// The claimant released it and may take it back only from `until`.
    Cooldown {
        /// The end of the cooldown.
        until: DateTime<Utc>,
    },
    /// Today's claims are used up.
    DailyClaims {
        /// Claims a day.
        limit: i64,
    },
    /// The claimant owns as many of the pool's accounts as it allows.
    OwnershipLimit {
        /// Accounts a person may own in the pool.
        limit: i64,
    },
}

/// Whether someone may own one more of a pool's accounts, owning `owned`
/// now (claims, assignments, transfers and handovers all ask).
pub fn within_limit(rules: &PoolRules, owned: i64) -> Result<(), ClaimRefusal> {
    match rules.max_owned {
        Some(limit) if owned >= limit => Err(ClaimRefusal::OwnershipLimit { limit }),
        _ => Ok(()),
    }
}

/// Who may claim (领取) a pooled account: a member of its pool, past their
/// cooldown if they released it themself, under the day's claims and the
/// pool's ownership limit; refusals in that order.
pub fn may_claim(rules: &PoolRules, f: &ClaimFacts, now: DateTime<Utc>) -> Result<(), ClaimRefusal> {
    if !f.member {
        return Err(ClaimRefusal::NotInPool);
    }
    if let Some(at) = f.released_by_claimant_at {
        let until = at + Duration::days(rules.cooldown_days);
        if now < until {
            return Err(ClaimRefusal::Cooldown { until });
        }
    }
    if let Some(limit) = rules.daily_claims {
        if f.claims_today >= limit {
            return Err(ClaimRefusal::DailyClaims { limit });
        }
    }
    within_limit(rules, f.owned_in_pool)
}

/// What follows an account when it changes hands: seed 002's "the customer
/// is the company's", so nothing stays behind with the previous holder.
/// Only what the previous holder had at that account moves (a deal a manager
/// gave to someone else stays with them); pending transfer requests for the
/// account end, since the owner they named is no longer the owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Carry {
    /// The previous owner's open hooks and tasks at the account (recurring
    /// and restock reminders included).
    pub open_tasks: Fate,
    /// Open deals at the account owned by the previous holder (none: deals
    /// nobody owns, as an account in the pool leaves them).
    pub open_deals: Fate,
}

/// Where one kind of record goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// To the new owner.
    To(crate::UserId),
    /// Closed, with the reason "returned to the pool" (a hook nobody will keep).
    Close,
    /// Kept open, with no owner, until someone takes the account.
    Unowned,
}

/// The rule of [`Carry`]: to a person (claim, assignment, transfer, handover,
/// an owner set by hand) everything goes with the account; back to the pool
/// hooks are closed and deals wait, ownerless, for whoever claims it.
pub fn carry(to: Option<crate::UserId>) -> Carry {
    match to {
        Some(user) => Carry { open_tasks: Fate::To(user), open_deals: Fate::To(user) },
        None => Carry { open_tasks: Fate::Close, open_deals: Fate::Unowned },
    }
}

/// Whom a request is decided for: the side that must consent.
///
/// A registration (报备) asks for a customer nobody owns, so the requester's
/// side decides. A transfer takes an account from its owner, so the side
/// that gives it decides: the owner's manager or an admin, never the
/// requester's manager alone (one branch could otherwise take another's
/// account with its contacts, deals and touches).
pub fn deciding_side(kind: RequestKind) -> DecidingSide {
    match kind {
        RequestKind::Registration => DecidingSide::Requester,
        RequestKind::Transfer => DecidingSide::Owner,
    }
}

/// Whose manager decides a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecidingSide {
    /// The requester's team (or one above it).
    Requester,
    /// The current owner's team (or one above it).
    Owner,
}

/// Whether someone may decide a request: never their own; admins always;
/// managers whose team contains the deciding side's team. `manages` tells
/// whether the decider's team contains a team.
pub fn may_decide(
    kind: RequestKind,
    decider: crate::UserId,
    role: crate::Role,
    requester: crate::UserId,
    manages: impl Fn(DecidingSide) -> bool,
) -> Result<(), Refusal> {
    if decider == requester {
        return Err(Refusal::OwnDecision);
    }
    match role {
        crate::Role::Admin => Ok(()),
        crate::Role::Manager if manages(deciding_side(kind)) => Ok(()),
        _ => Err(Refusal::NotDecider),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_goes_with_the_account() {
        let u = crate::UserId::new();
        assert_eq!(carry(Some(u)), Carry { open_tasks: Fate::To(u), open_deals: Fate::To(u) });
        assert_eq!(carry(None), Carry { open_tasks: Fate::Close, open_deals: Fate::Unowned });
    }
    use chrono::TimeZone;

    fn t(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, 9, 0, 0).unwrap()
    }

    #[test]
    fn the_earliest_rule_decides_and_protection_postpones_it() {
        let rules = PoolRules::default().return_after;
        let fresh = IdleClocks::starting(t(1));
        assert_eq!(
            release_due(&rules, Some(Classification::C), &fresh, None),
            Some((t(1) + Duration::days(30), ReleaseRule::NoActivity))
        );
        // A recent visit moves the activity clock; the no-deal rule stays.
        let visited = IdleClocks { activity: t(1) + Duration::days(170), ..fresh };
        assert_eq!(
            release_due(&rules, Some(Classification::C), &visited, None),
            Some((t(1) + Duration::days(180), ReleaseRule::NoDeal))
        );
        let until = t(1) + Duration::days(400);
        assert_eq!(
            release_due(&rules, Some(Classification::C), &visited, Some(until)),
            Some((until, ReleaseRule::NoDeal))
        );
        let off = ReturnRules { a: ClassRules::default(), ..rules };
        assert_eq!(release_due(&off, Some(Classification::A), &fresh, None), None, "no rule, no return");
        assert_eq!(days_left(t(4), t(1)), 3);
        assert_eq!(days_left(t(4), t(1) + Duration::hours(12)), 2);
        assert_eq!(days_left(t(1), t(2)), -1);
    }

    #[test]
    fn a_pool_is_configured_by_admins_and_the_managers_it_names() {
        use crate::{Role, TeamId, UserId};
        let (me, other) = (UserId::new(), UserId::new());
        let (mine, theirs) = (TeamId::new(), TeamId::new());
        assert!(may_configure(Role::Admin, me, None, &[], &[]), "admins, even the default pool");
        assert!(!may_configure(Role::Manager, me, Some(mine), &[], &[]), "the default pool names nobody");
        assert!(!may_configure(Role::Manager, me, Some(mine), &[other], &[theirs]));
        assert!(may_configure(Role::Manager, me, Some(mine), &[], &[mine]));
        assert!(may_configure(Role::Manager, me, None, &[me], &[]));
        for role in [Role::Sales, Role::Service] {
            assert!(!may_configure(role, me, Some(mine), &[me], &[mine]));
        }
    }

    #[test]
    fn a_transfer_is_decided_by_the_side_that_gives_the_account() {
        use crate::{Role, UserId};
        let (requester, decider) = (UserId::new(), UserId::new());
        let only = |side: DecidingSide| move |s: DecidingSide| s == side;
        let t = RequestKind::Transfer;
        let r = RequestKind::Registration;
        // The requester's manager alone may not give away another team's account.
        assert_eq!(
            may_decide(t, decider, Role::Manager, requester, only(DecidingSide::Requester)),
            Err(Refusal::NotDecider)
        );
        assert_eq!(may_decide(t, decider, Role::Manager, requester, only(DecidingSide::Owner)), Ok(()));
        assert_eq!(may_decide(r, decider, Role::Manager, requester, only(DecidingSide::Requester)), Ok(()));
        assert_eq!(
            may_decide(r, decider, Role::Manager, requester, only(DecidingSide::Owner)),
            Err(Refusal::NotDecider)
        );
        for kind in [t, r] {
            assert_eq!(may_decide(kind, decider, Role::Admin, requester, |_| false), Ok(()));
            assert_eq!(may_decide(kind, requester, Role::Admin, requester, |_| true), Err(Refusal::OwnDecision));
            for role in [Role::Sales, Role::Service] {
                assert_eq!(may_decide(kind, decider, role, requester, |_| true), Err(Refusal::NotDecider));
            }
        }
    }

    #[test]
    fn rules_out_of_range_are_named() {
        let mut r = PoolRules { cooldown_days: -1, ..PoolRules::default() };
        r.return_after.b.no_activity_days = Some(0);
        r.max_owned = Some(-5);
        let fields: Vec<String> = r.check("rules").into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["rules.cooldown_days", "rules.return_after.b.no_activity_days", "rules.max_owned"]);
        assert!(PoolRules::default().check("rules").is_empty());
    }

    #[test]
    fn phones_are_masked_but_recognisable() {
        assert_eq!(mask_phone("138 1234 5678"), "138****5678");
        assert_eq!(mask_phone("024-2313 0000"), "024-****0000");
        assert_eq!(mask_phone("0411-8262 8888"), "0411-****8888");
        assert_eq!(mask_phone("400-810-8888"), "400-***-8888");
        assert_eq!(mask_phone("+86 138 1234 5678"), "+86 1******5678");
        assert_eq!(mask_phone("12345"), "*****");
        assert_eq!(mask_phone("95598"), "*****");
    }

    mod claims {
        use super::super::*;
        use proptest::prelude::*;

        fn now() -> DateTime<Utc> {
            DateTime::parse_from_rfc3339("2026-12-08T10:00:00Z").unwrap().with_timezone(&Utc)
        }

        fn rules(max_owned: Option<i64>, daily: Option<i64>, cooldown: i64) -> PoolRules {
            PoolRules { max_owned, daily_claims: daily, cooldown_days: cooldown, ..PoolRules::default() }
        }

        fn facts() -> impl Strategy<Value = (bool, Option<i64>, i64, i64)> {
            (any::<bool>(), proptest::option::of(-400i64..400), 0i64..60, 0i64..600)
        }

        proptest! {
            /// Nobody ever owns more of a pool than its limit allows through a claim.
            #[test]
            fn a_claim_never_passes_the_ownership_limit(
                limit in 0i64..500, owned in 0i64..600, (member, released, today, _) in facts(),
            ) {
                let now = now();
                let f = ClaimFacts {
                    member,
                    released_by_claimant_at: released.map(|h| now - Duration::hours(h)),
                    claims_today: today,
                    owned_in_pool: owned,
                };
                if may_claim(&rules(Some(limit), None, 7), &f, now).is_ok() {
                    prop_assert!(owned < limit);
                }
            }

            /// The cooldown refuses exactly the claimant's own release, until it ends.
            #[test]
            fn the_cooldown_holds_only_the_releaser_and_only_until_it_ends(
                cooldown in 0i64..30, hours_ago in -100i64..1000,
            ) {
                let now = now();
                let at = now - Duration::hours(hours_ago);
                let f = ClaimFacts { member: true, released_by_claimant_at: Some(at), claims_today: 0, owned_in_pool: 0 };
                let until = at + Duration::days(cooldown);
                let decided = may_claim(&rules(None, None, cooldown), &f, now);
                if now < until {
                    prop_assert_eq!(decided, Err(ClaimRefusal::Cooldown { until }));
                } else {
                    prop_assert_eq!(decided, Ok(()));
                }
                let someone_else = ClaimFacts { released_by_claimant_at: None, ..f };
                prop_assert_eq!(may_claim(&rules(None, None, cooldown), &someone_else, now), Ok(()));
            }

            /// Fewer claims today or fewer accounts owned never turn an allowed claim into a refusal.
            #[test]
            fn fewer_claims_and_fewer_accounts_never_hurt(
                max in proptest::option::of(0i64..100), daily in proptest::option::of(0i64..20),
                (member, released, today, owned) in facts(), less_today in 0i64..60, less_owned in 0i64..600,
            ) {
                let now = now();
                let r = rules(max, daily, 7);
                let f = ClaimFacts {
                    member,
                    released_by_claimant_at: released.map(|h| now - Duration::hours(h)),
                    claims_today: today,
                    owned_in_pool: owned,
                };
                let fewer = ClaimFacts {
                    claims_today: today.min(less_today),
                    owned_in_pool: owned.min(less_owned),
                    ..f
                };
                if may_claim(&r, &f, now).is_ok() {
                    prop_assert_eq!(may_claim(&r, &fewer, now), Ok(()));
                }
                if !member {
                    prop_assert_eq!(may_claim(&r, &f, now), Err(ClaimRefusal::NotInPool));
                }
            }
        }
    }
}
