//! Chinese holidays when a salesperson greets their key people (seed 004):
//! the lunar ones (春节, 元宵, 端午, 中秋) move every year and come from the
//! lunisolar calendar (`chinese-lunisolar-calendar`, 1901–2100), never from a
//! list of dates typed in here.

use crate::account::vocabulary;
use chinese_lunisolar_calendar::LunisolarDate;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

vocabulary!(
    /// A holiday worth a greeting.
    Holiday {
        /// 元旦, 1 January.
        NewYear = "new_year" / "元旦",
        /// 春节, the first day of the first lunar month.
        SpringFestival = "spring_festival" / "春节",
        /// 元宵节, the fifteenth of the first lunar month.
        Lantern = "lantern" / "元宵节",
        /// 劳动节, 1 May.
        LabourDay = "labour_day" / "劳动节",
        /// 端午节, the fifth of the fifth lunar month.
        DragonBoat = "dragon_boat" / "端午节",
        /// 中秋节, the fifteenth of the eighth lunar month.
        MidAutumn = "mid_autumn" / "中秋节",
        /// 国庆节, 1 October.
        NationalDay = "national_day" / "国庆节",
    }
);

impl Holiday {
    /// The English name.
    pub fn label_en(self) -> &'static str {
        match self {
            Holiday::NewYear => "New Year's Day",
            Holiday::SpringFestival => "Spring Festival",
            Holiday::Lantern => "Lantern Festival",
            Holiday::LabourDay => "Labour Day",
            Holiday::DragonBoat => "Dragon Boat Festival",
            Holiday::MidAutumn => "Mid-Autumn Festival",
            Holiday::NationalDay => "National Day",
        }
    }

    /// Its date in Gregorian `year`; `None` outside the lunisolar table (1901–2100).
    pub fn date_in(self, year: i32) -> Option<NaiveDate> {
        let lunar = |month: u8, day: u8| {
            let y = u16::try_from(year).ok()?;
            LunisolarDate::from_ymd(y, month, false, day).ok().map(LunisolarDate::to_naive_date)
        };
        match self {
            Holiday::NewYear => NaiveDate::from_ymd_opt(year, 1, 1),
            Holiday::SpringFestival => lunar(1, 1),
            Holiday::Lantern => lunar(1, 15),
            Holiday::LabourDay => NaiveDate::from_ymd_opt(year, 5, 1),
            Holiday::DragonBoat => lunar(5, 5),
            Holiday::MidAutumn => lunar(8, 15),
            Holiday::NationalDay => NaiveDate::from_ymd_opt(year, 10, 1),
        }
    }
}

/// The holidays from `from` to `days` days later (both included), soonest first.
pub fn upcoming(from: NaiveDate, days: i64) -> Vec<(Holiday, NaiveDate)> {
    let until = from + chrono::Duration::days(days);
    let mut found: Vec<(Holiday, NaiveDate)> = (from.year()..=until.year())
        .flat_map(|y| Holiday::ALL.iter().filter_map(move |h| h.date_in(y).map(|d| (*h, d))))
        .filter(|(_, d)| *d >= from && *d <= until)
        .collect();
    found.sort_by_key(|(h, d)| (*d, *h));
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn lunar_holidays_fall_on_their_published_dates() {
        // As published in the State Council's holiday notices.
        assert_eq!(Holiday::SpringFestival.date_in(2025), Some(ymd(2025, 1, 29)));
        assert_eq!(Holiday::MidAutumn.date_in(2025), Some(ymd(2025, 10, 6)));
        assert_eq!(Holiday::DragonBoat.date_in(2025), Some(ymd(2025, 5, 31)));
        assert_eq!(Holiday::SpringFestival.date_in(2026), Some(ymd(2026, 2, 17)));
        assert_eq!(Holiday::DragonBoat.date_in(2026), Some(ymd(2026, 6, 19)));
        assert_eq!(Holiday::MidAutumn.date_in(2026), Some(ymd(2026, 9, 25)));
        assert_eq!(Holiday::Lantern.date_in(2026), Some(ymd(2026, 3, 3)));
        assert_eq!(Holiday::SpringFestival.date_in(2027), Some(ymd(2027, 2, 6)));
        assert_eq!(Holiday::SpringFestival.date_in(2200), None);
    }

    #[test]
    fn upcoming_crosses_the_year() {
        let found = upcoming(ymd(2026, 12, 28), 30);
        assert_eq!(found, vec![(Holiday::NewYear, ymd(2027, 1, 1))]);
        let found = upcoming(ymd(2026, 9, 20), 14);
        assert_eq!(found, vec![(Holiday::MidAutumn, ymd(2026, 9, 25)), (Holiday::NationalDay, ymd(2026, 10, 1))]);
        assert!(upcoming(ymd(2026, 11, 22), 7).is_empty());
    }
}
