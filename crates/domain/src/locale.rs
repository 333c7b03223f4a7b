//! The UI languages: zh-CN first, English second.

use serde::{Deserialize, Serialize};

/// A UI language a user can choose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default, utoipa::ToSchema)]
pub enum Locale {
    /// 简体中文, the default.
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Locale {
    /// All locales, default first.
    pub const ALL: [Locale; 2] = [Locale::ZhCn, Locale::En];

    /// The BCP 47 tag, as stored and as used in `lang=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// Parses a stored tag; unknown tags are `None`.
    pub fn parse(tag: &str) -> Option<Self> {
        match tag {
            "zh-CN" | "zh" | "zh-cn" | "zh-Hans" => Some(Locale::ZhCn),
            "en" | "en-US" | "en-GB" => Some(Locale::En),
            _ => None,
        }
    }

    /// Picks the best locale from an `Accept-Language` header, zh-CN when nothing matches.
    pub fn from_accept_language(header: &str) -> Self {
        header
            .split(',')
            .filter_map(|part| part.split(';').next())
            .map(str::trim)
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or("").to_ascii_lowercase();
                match primary.as_str() {
                    "zh" => Some(Locale::ZhCn),
                    "en" => Some(Locale::En),
                    _ => None,
                }
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_prefers_first_known() {
        assert_eq!(Locale::from_accept_language("en-US,en;q=0.9,zh;q=0.8"), Locale::En);
        assert_eq!(Locale::from_accept_language("zh-TW,en;q=0.5"), Locale::ZhCn);
        assert_eq!(Locale::from_accept_language("fr-FR"), Locale::ZhCn);
    }
}
