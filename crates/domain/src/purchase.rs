//! Restocking (seed 003: "客户大概手中的材料快用完了 … 提醒客户该进货了"):
//! from what an account buys and how often, when to remind it to order again.

use crate::values::FieldError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// The longest purchase cycle one may state, in days (two years).
pub const MAX_CYCLE_DAYS: i64 = 730;

/// Days of notice before the customer runs out (at most half the cycle).
pub const NOTICE_DAYS: i64 = 7;

/// Where a purchase cycle comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CycleSource {
    /// Someone said how long a purchase lasts.
    Stated,
    /// The mean gap between the account's purchases of the item.
    Learned,
}

/// Checks a stated cycle.
pub fn check_cycle(field: &str, days: i64) -> Result<i64, FieldError> {
    if (1..=MAX_CYCLE_DAYS).contains(&days) {
        Ok(days)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("{field} must be between 1 and {MAX_CYCLE_DAYS} days, not {days}"),
        ))
    }
}

/// The purchase cycle of an item: the latest stated one, else the mean gap
/// between distinct purchase dates (two at least), else unknown.
pub fn cycle(dates: &[NaiveDate], stated: Option<i64>) -> Option<(i64, CycleSource)> {
    if let Some(d) = stated {
        return Some((d, CycleSource::Stated));
    }
    let mut d: Vec<NaiveDate> = dates.to_vec();
    d.sort();
    d.dedup();
    let (first, last) = (d.first()?, d.last()?);
    let gaps = d.len() as i64 - 1;
    (gaps > 0).then(|| (((*last - *first).num_days() + gaps / 2) / gaps).max(1)).map(|c| (c, CycleSource::Learned))
}

/// The day to remind: when the last purchase runs out, less the notice, but
/// never before tomorrow.
pub fn restock_on(last: NaiveDate, cycle_days: i64, today: NaiveDate) -> NaiveDate {
    let notice = NOTICE_DAYS.min(cycle_days / 2);
    (last + chrono::Duration::days(cycle_days - notice)).max(today + chrono::Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, day).unwrap()
    }

    #[test]
    fn the_cycle_is_stated_or_learned() {
        assert_eq!(cycle(&[d(1, 1)], None), None, "one purchase says nothing of a cycle");
        assert_eq!(cycle(&[d(3, 2), d(1, 1), d(2, 1)], None), Some((30, CycleSource::Learned)));
        assert_eq!(cycle(&[d(1, 1), d(1, 1)], None), None, "the same day twice is one purchase");
        assert_eq!(cycle(&[d(1, 1)], Some(45)), Some((45, CycleSource::Stated)));
        assert_eq!(check_cycle("cycle_days", 0).unwrap_err().code, "out_of_range");
    }

    #[test]
    fn reminded_a_week_before_running_out_but_not_in_the_past() {
        assert_eq!(restock_on(d(1, 1), 30, d(1, 2)), d(1, 24));
        assert_eq!(restock_on(d(1, 1), 6, d(1, 2)), d(1, 4), "short cycles: half the cycle ahead");
        assert_eq!(restock_on(d(1, 1), 30, d(3, 1)), d(3, 2), "entered late: tomorrow");
    }
}
