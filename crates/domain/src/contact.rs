//! Contacts (联系人) and key persons (关键人): the vocabulary of seed 000 —
//! stance, relationship strength, buying role — and the values typed about
//! a person (WeChat id, birthday).

use crate::account::vocabulary;
use crate::values::FieldError;
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

vocabulary!(
    /// Where a person stands towards us (态度): seed 000's green and red boxes.
    Stance {
        /// 支持: will speak for us and introduce us.
        Supporter = "supporter" / "支持",
        /// 中立.
        Neutral = "neutral" / "中立",
        /// 反对: prefers a competitor.
        Opponent = "opponent" / "反对",
    }
);

vocabulary!(
    /// How well we know a person (客情), weakest first. Each level is a fact
    /// a salesperson can check, not a feeling.
    RelationshipStrength {
        /// 未接触: known by name only.
        Unknown = "unknown" / "未接触",
        /// 认识: met once, cards or WeChat exchanged.
        Acquainted = "acquainted" / "认识",
        /// 熟悉: takes our calls and meets when asked.
        Familiar = "familiar" / "熟悉",
        /// 信任: tells us what is going on inside (plans, budgets, rivals).
        Trusted = "trusted" / "信任",
        /// 至交: introduces us to others and speaks for us.
        Close = "close" / "至交",
    }
);

vocabulary!(
    /// The part a person plays in a purchase (采购角色).
    BuyingRole {
        /// 决策者: signs off the purchase.
        DecisionMaker = "decision_maker" / "决策者",
        /// 技术评估: judges the technical offer.
        TechnicalEvaluator = "technical_evaluator" / "技术评估",
        /// 使用者: will use what is bought.
        User = "user" / "使用者",
        /// 采购: runs the procurement and tender.
        Procurement = "procurement" / "采购",
        /// 影响者: has no vote but is listened to.
        Influencer = "influencer" / "影响者",
        /// 把关者: controls access to the others.
        Gatekeeper = "gatekeeper" / "把关者",
    }
);

/// A WeChat id (微信号): 6–20 letters, digits, `_` or `-` starting with a
/// letter, as WeChat requires, or the phone number many people use instead.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct WechatId(String);

impl WechatId {
    /// Parses a WeChat id as typed (full-width characters folded).
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s: String = raw.nfkc().collect::<String>().trim().to_owned();
        let digits = s.len() >= 5 && s.len() <= 20 && s.chars().all(|c| c.is_ascii_digit());
        let mut chars = s.chars();
        let id = (6..=20).contains(&s.len())
            && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if digits || id {
            Ok(Self(s))
        } else {
            Err(FieldError::new(
                field,
                "invalid_wechat",
                format!("{field} must be 6–20 letters, digits, _ or - starting with a letter, or a phone number"),
            ))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A birthday, with or without the year (people often tell only the day):
/// `1975-03-08` or `--03-08` (ISO 8601).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Birthday {
    /// The year, when known.
    pub year: Option<i32>,
    /// Month, 1–12.
    pub month: u32,
    /// Day, 1–31.
    pub day: u32,
}

impl Birthday {
    /// Parses `YYYY-MM-DD`, `--MM-DD` or `MM-DD` (also with `/` or 年月日), refusing
    /// days that do not exist and dates after `today`.
    pub fn parse(field: &str, raw: &str, today: NaiveDate) -> Result<Self, FieldError> {
        let s: String = raw.nfkc().collect::<String>().trim().to_owned();
        let bad = || {
            FieldError::new(
                field,
                "invalid_date",
                format!("{field} must be a date such as 1975-03-08, or --03-08 without the year"),
            )
        };
        let parts: Vec<&str> =
            s.trim_start_matches("--").split(['-', '/', '.', '年', '月', '日']).filter(|p| !p.is_empty()).collect();
        let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
        let (year, month, day) = match parts.as_slice() {
            [y, m, d] if y.len() == 4 => (Some(num(y)? as i32), num(m)?, num(d)?),
            [m, d] => (None, num(m)?, num(d)?),
            _ => return Err(bad()),
        };
        // 2000 is a leap year: --02-29 is a real birthday.
        let check_year = year.unwrap_or(2000);
        let date = NaiveDate::from_ymd_opt(check_year, month, day).ok_or_else(bad)?;
        if year.is_some() && (date > today || today.year() - check_year > 130) {
            return Err(FieldError::new(
                field,
                "out_of_range",
                format!("{field} must be a past date within 130 years"),
            ));
        }
        Ok(Self { year, month, day })
    }

    /// The next birthday on or after `today` (29 February falls on 28 February
    /// in other years).
    pub fn next_on_or_after(self, today: NaiveDate) -> NaiveDate {
        let on = |y: i32| {
            NaiveDate::from_ymd_opt(y, self.month, self.day)
                .or_else(|| NaiveDate::from_ymd_opt(y, self.month, self.day - 1))
                .unwrap_or(today)
        };
        let this_year = on(today.year());
        if this_year >= today {
            this_year
        } else {
            on(today.year() + 1)
        }
    }

    /// Reads the stored form back.
    pub fn from_iso(s: &str) -> Option<Self> {
        let (year, rest) = match s.strip_prefix("--") {
            Some(md) => (None, md),
            None => (Some(s.get(..4)?.parse().ok()?), s.get(5..)?),
        };
        let (m, d) = rest.split_once('-')?;
        let (month, day) = (m.parse().ok()?, d.parse().ok()?);
        NaiveDate::from_ymd_opt(year.unwrap_or(2000), month, day)?;
        Some(Self { year, month, day })
    }

    /// The stored form: `1975-03-08` or `--03-08`.
    pub fn to_iso(self) -> String {
        match self.year {
            Some(y) => format!("{y:04}-{:02}-{:02}", self.month, self.day),
            None => format!("--{:02}-{:02}", self.month, self.day),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
    }

    #[test]
    fn the_next_birthday_comes_round() {
        let b = Birthday::from_iso("1975-11-25").unwrap();
        assert_eq!(b.next_on_or_after(today()), NaiveDate::from_ymd_opt(2026, 11, 25).unwrap());
        let past = Birthday::from_iso("--03-08").unwrap();
        assert_eq!(past.next_on_or_after(today()), NaiveDate::from_ymd_opt(2027, 3, 8).unwrap());
        let leap = Birthday::from_iso("--02-29").unwrap();
        assert_eq!(leap.next_on_or_after(today()), NaiveDate::from_ymd_opt(2027, 2, 28).unwrap());
        assert_eq!(Birthday::from_iso("1975-11-22").unwrap().next_on_or_after(today()), today(), "today counts");
    }

    #[test]
    fn wechat_ids_follow_wechat_rules() {
        assert_eq!(WechatId::parse("wechat", " wxid_ab12 ").unwrap().as_str(), "wxid_ab12");
        assert_eq!(WechatId::parse("wechat", "１３８００１３８０００").unwrap().as_str(), "13800138000");
        for bad in ["ab", "1abcdef", "有中文的微信", "a b c d e f", &"a".repeat(21)] {
            assert_eq!(WechatId::parse("wechat", bad).unwrap_err().code, "invalid_wechat", "{bad}");
        }
    }

    #[test]
    fn birthdays_with_or_without_year() {
        assert_eq!(Birthday::parse("birthday", "1975-03-08", today()).unwrap().to_iso(), "1975-03-08");
        assert_eq!(Birthday::parse("birthday", "--03-08", today()).unwrap().to_iso(), "--03-08");
        assert_eq!(Birthday::parse("birthday", "1975年3月8日", today()).unwrap().to_iso(), "1975-03-08");
        assert_eq!(Birthday::parse("birthday", "02-29", today()).unwrap().to_iso(), "--02-29");
        assert_eq!(Birthday::parse("birthday", "1975-02-30", today()).unwrap_err().code, "invalid_date");
        assert_eq!(Birthday::parse("birthday", "2030-01-01", today()).unwrap_err().code, "out_of_range");
        assert_eq!(Birthday::parse("birthday", "soon", today()).unwrap_err().code, "invalid_date");
    }

    #[test]
    fn vocabularies_round_trip() {
        for s in Stance::ALL {
            assert_eq!(Stance::parse(s.as_str()), Some(*s));
        }
        assert_eq!(RelationshipStrength::ALL.len(), 5);
        assert_eq!(BuyingRole::parse("decision_maker").map(BuyingRole::label_zh), Some("决策者"));
    }
}
