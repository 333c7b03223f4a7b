//! Accounts (企业客户): the vocabulary of seed 002 — where an account came
//! from, its class, the key-account criteria and the relationship stage.

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $id:literal / $zh:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The identifier stored and sent.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $id),+ }
            }

            /// Parses a stored identifier.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($id => Some($name::$variant),)+ _ => None }
            }

            /// The Chinese label users know.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh),+ }
            }

            /// Reads a value as a person types it in a spreadsheet: the
            /// identifier in any case, the Chinese label, or one of the
            /// label's halves (`陌拜` or `电话` of `陌拜/电话`).
            pub fn read(s: &str) -> Option<Self> {
                let s = s.trim();
                let lower = s.to_lowercase().replace([' ', '-'], "_");
                let packed = s.replace(' ', "");
                Self::ALL.iter().copied().find(|v| {
                    let label = v.label_zh().replace(' ', "");
                    v.as_str() == lower || label == packed || label.split('/').any(|half| half == packed)
                })
            }
        }
    };
}

pub(crate) use vocabulary;

vocabulary!(
    /// Where an account came from (客户来源).
    AccountSource {
        /// 展会.
        TradeShow = "trade_show" / "展会",
        /// 转介绍: record who referred it.
        Referral = "referral" / "转介绍",
        /// 陌生拜访或电话.
        ColdCall = "cold_call" / "陌拜/电话",
        /// 官网.
        Website = "website" / "官网",
        /// 行业协会.
        IndustryAssociation = "industry_association" / "行业协会",
        /// 政管部门.
        GovernmentBody = "government_body" / "政管部门",
        /// 渠道商.
        ChannelPartner = "channel_partner" / "渠道商",
        /// 其他.
        Other = "other" / "其他",
    }
);

vocabulary!(
    /// The account's class (客户级别).
    Classification {
        /// A 类: the most valuable.
        A = "a" / "A 类",
        /// B 类.
        B = "b" / "B 类",
        /// C 类.
        C = "c" / "C 类",
    }
);

vocabulary!(
    /// The stage of the relationship with a key account (seed 002).
    RelationshipStage {
        /// 建立期: getting to know the people and their needs.
        Building = "building" / "建立期",
        /// 稳定期: trust established, regular business.
        Stable = "stable" / "稳定期",
        /// 强化期: deepening, more lines of business.
        Strengthening = "strengthening" / "强化期",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip() {
        for s in AccountSource::ALL {
            assert_eq!(AccountSource::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Classification::parse("a"), Some(Classification::A));
        assert_eq!(RelationshipStage::Building.label_zh(), "建立期");
        assert_eq!(AccountSource::parse("spam"), None);
        assert_eq!(AccountSource::read("展会"), Some(AccountSource::TradeShow));
        assert_eq!(AccountSource::read("电话"), Some(AccountSource::ColdCall));
        assert_eq!(AccountSource::read("Trade Show"), Some(AccountSource::TradeShow));
        assert_eq!(Classification::read("A类"), Some(Classification::A));
        assert_eq!(Classification::read("B"), Some(Classification::B));
        assert_eq!(Classification::read("D"), None);
    }
}
