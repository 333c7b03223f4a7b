//! Activities (跟进记录) and hooks (钩子), seeds 000 and 001: every call or
//! visit is logged with its outcome and what was learned, and leaves a hook —
//! the next contact, agreed, at a precise time, with a purpose — or says why
//! there is none. Refusals are activities too: "each refusal charges the
//! reciprocity".

use crate::account::vocabulary;
use crate::values::FieldError;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

vocabulary!(
    /// How the touch happened (跟进方式).
    ActivityKind {
        /// 打电话.
        Call = "call" / "电话",
        /// 见面拜访.
        Visit = "visit" / "拜访",
        /// 微信.
        Wechat = "wechat" / "微信",
        /// 邮件.
        Email = "email" / "邮件",
        /// 会议 (several people, ours and theirs).
        Meeting = "meeting" / "会议",
    }
);

vocabulary!(
    /// What came of it.
    Outcome {
        /// 接通 / 见到了.
        Connected = "connected" / "已沟通",
        /// 无人接听.
        NoAnswer = "no_answer" / "无人接听",
        /// 拒绝: kept, not thrown away.
        Refused = "refused" / "被拒绝",
        /// 约好回电.
        CallBack = "call_back" / "约好回电",
        /// 约到拜访.
        MeetingBooked = "meeting_booked" / "约到拜访",
        /// 获得信息.
        InfoObtained = "info_obtained" / "获得信息",
    }
);

vocabulary!(
    /// What kind of fact was learned.
    LearnedKind {
        /// 预算.
        Budget = "budget" / "预算",
        /// 时间表 (立项, 招标…).
        Timeline = "timeline" / "时间表",
        /// 决策人.
        DecisionMaker = "decision_maker" / "决策人",
        /// 竞争对手.
        Competitor = "competitor" / "竞争对手",
        /// 需求.
        Need = "need" / "需求",
        /// 其他.
        Other = "other" / "其他",
    }
);

vocabulary!(
    /// Why a touch leaves no hook: it must be said (seed 000: never leave without one).
    NoHookReason {
        /// 丢单.
        DealLost = "deal_lost" / "丢单",
        /// 客户不再需要.
        NoNeed = "no_need" / "客户无需求",
        /// 联系人离职.
        ContactLeft = "contact_left" / "联系人离职",
        /// 已有下一步安排 (another open hook covers it).
        AlreadyPlanned = "already_planned" / "已有后续安排",
    }
);

/// The longest a touch can last: a day.
pub const MAX_MINUTES: i64 = 24 * 60;

/// A hook's time must be this far ahead at most: beyond a year it is not a
/// next step, it is a wish.
pub const MAX_HOOK_DAYS: i64 = 366;

/// Checks a touch's timing: not in the future (it happened), a duration
/// within a day. Returns every problem, each named by its field.
pub fn check_timing(started_at: DateTime<Utc>, minutes: Option<i64>, now: DateTime<Utc>) -> Vec<FieldError> {
    let mut out = Vec::new();
    // Clocks differ a little between phones and the server.
    if started_at > now + Duration::minutes(5) {
        out.push(FieldError::new(
            "started_at",
            "in_future",
            "started_at is in the future: log a touch once it happened",
        ));
    }
    if let Some(m) = minutes {
        if !(0..=MAX_MINUTES).contains(&m) {
            out.push(FieldError::new(
                "duration_minutes",
                "out_of_range",
                format!("duration_minutes must be between 0 and {MAX_MINUTES}, not {m}"),
            ));
        }
    }
    out
}

/// Checks a hook's time: ahead of now, within a year.
pub fn check_hook_time(field: &str, due_at: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), FieldError> {
    if due_at <= now {
        return Err(FieldError::new(
            field,
            "in_past",
            format!("{field} is not in the future: a hook is the next step"),
        ));
    }
    if due_at > now + Duration::days(MAX_HOOK_DAYS) {
        return Err(FieldError::new(field, "too_far", format!("{field} is more than a year ahead")));
    }
    Ok(())
}

/// Calls needed before a workspace's own figures replace the default hours.
pub const MIN_CALLS: u32 = 50;

/// Seed 001: people answer between 11:00 and 12:00 and after 16:00.
pub const DEFAULT_HOURS: [u32; 3] = [11, 16, 17];

/// How calls went in one hour of the day (local time).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct HourStat {
    /// Hour of the day, 0–23.
    pub hour: u32,
    /// Calls started in that hour.
    pub calls: u32,
    /// Of which the other side answered.
    pub connected: u32,
}

/// When to call: calls by local hour, and the recommended hours — the hours
/// (with at least a few calls) whose answer rate beats the workspace's own,
/// best first; the seed's hours until there are `MIN_CALLS` calls.
pub fn best_hours(calls: &[(DateTime<Utc>, bool)], tz: chrono_tz::Tz) -> (Vec<HourStat>, Vec<u32>, bool) {
    use chrono::Timelike;
    let mut by_hour: Vec<HourStat> = (0..24).map(|hour| HourStat { hour, ..HourStat::default() }).collect();
    for (at, connected) in calls {
        let h = &mut by_hour[at.with_timezone(&tz).hour() as usize];
        h.calls += 1;
        h.connected += u32::from(*connected);
    }
    let total: u32 = by_hour.iter().map(|h| h.calls).sum();
    if total < MIN_CALLS {
        return (by_hour, DEFAULT_HOURS.to_vec(), false);
    }
    let answered: u32 = by_hour.iter().map(|h| h.connected).sum();
    let overall = f64::from(answered) / f64::from(total);
    let rate = |h: &HourStat| f64::from(h.connected) / f64::from(h.calls.max(1));
    let mut good: Vec<&HourStat> = by_hour.iter().filter(|h| h.calls >= 5 && rate(h) > overall).collect();
    good.sort_by(|a, b| rate(b).total_cmp(&rate(a)).then(a.hour.cmp(&b.hour)));
    let hours = good.iter().take(4).map(|h| h.hour).collect();
    (by_hour, hours, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timing_and_hooks_are_checked() {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 10, 50, 0).unwrap();
        assert!(check_timing(now - Duration::hours(1), Some(35), now).is_empty());
        let bad: Vec<String> =
            check_timing(now + Duration::hours(2), Some(-5), now).into_iter().map(|e| e.field).collect();
        assert_eq!(bad, ["started_at", "duration_minutes"]);
        assert!(check_hook_time("hook.due_at", now + Duration::minutes(30), now).is_ok());
        assert_eq!(check_hook_time("hook.due_at", now, now).unwrap_err().code, "in_past");
        assert_eq!(check_hook_time("hook.due_at", now + Duration::days(400), now).unwrap_err().code, "too_far");
        assert_eq!(Outcome::parse("refused"), Some(Outcome::Refused));
        assert_eq!(ActivityKind::Visit.label_zh(), "拜访");
    }

    #[test]
    fn the_workspace_learns_when_people_answer() {
        let tz = chrono_tz::Asia::Shanghai;
        // 09:00 and 11:00 Beijing time are 01:00 and 03:00 UTC.
        let at = |h: u32, d: u32| Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap();
        let few: Vec<_> = (1..10).map(|d| (at(1, d), false)).collect();
        let (_, hours, learned) = best_hours(&few, tz);
        assert_eq!((hours, learned), (DEFAULT_HOURS.to_vec(), false), "too few calls: the seed's hours");
        let mut many: Vec<_> = (1..29).map(|d| (at(1, d), d % 4 == 0)).collect();
        many.extend((1..29).map(|d| (at(3, d), d % 4 != 0)));
        let (by_hour, hours, learned) = best_hours(&many, tz);
        assert!(learned);
        assert_eq!(hours, [11], "11:00 answers, 09:00 does not");
        assert_eq!((by_hour[9].calls, by_hour[9].connected), (28, 7));
    }
}
