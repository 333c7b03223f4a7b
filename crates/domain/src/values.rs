//! Values parsed from outside input. Each constructor is the only way in and
//! says, on failure, which rule was broken; the HTTP edge names the field.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// Why one input field was refused: a stable code and a message a person can act on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    /// The field's name as the client sent it (`email`, `password`, ...).
    pub field: String,
    /// A stable snake_case code (`required`, `too_long`, `invalid_email`, ...).
    pub code: String,
    /// A human-readable explanation.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), code: code.to_owned(), message: message.into() }
    }
}

/// Folds what Chinese input methods type (full-width letters, digits, ＠, U+3000
/// spaces) with Unicode NFKC, then trims.
fn fold(s: &str) -> String {
    let folded: String = s.nfkc().collect();
    folded.trim().to_owned()
}

/// Names keep what the user typed (a registered name has full-width brackets);
/// only surrounding spaces, full-width U+3000 included, are trimmed. Matching
/// of spellings is duplicate checking's job, not storage's.
fn bounded_text(field: &str, raw: &str, max_chars: usize, lines: bool) -> Result<String, FieldError> {
    let s = if lines { raw.trim().replace("\r\n", "\n").replace('\r', "\n") } else { raw.trim().to_owned() };
    if s.is_empty() {
        return Err(FieldError::new(field, "required", format!("{field} must not be empty")));
    }
    let n = s.chars().count();
    if n > max_chars {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("{field} has {n} characters; at most {max_chars} are allowed"),
        ));
    }
    if s.chars().any(|c| c.is_control() && !(lines && matches!(c, '\n' | '\t'))) {
        return Err(FieldError::new(field, "control_characters", format!("{field} contains control characters")));
    }
    Ok(s)
}

macro_rules! text_value {
    ($(#[$doc:meta])* $name:ident, $max:expr) => {
        text_value!($(#[$doc])* $name, $max, false);
    };
    ($(#[$doc:meta])* $name:ident, $max:expr, $lines:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The most characters allowed.
            pub const MAX_CHARS: usize = $max;
            /// Trims surrounding (also full-width) spaces and checks length and characters.
            pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
                bounded_text(field, raw, $max, $lines).map(Self)
            }
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The owned text.
            pub fn into_string(self) -> String {
                self.0
            }
        }
    };
}

text_value!(
    /// A person's name as shown in the UI (张伟, Zhang Wei).
    DisplayName,
    100
);
text_value!(
    /// A contact's name (刘建国); the title (主任, 总工) is kept apart.
    PersonName,
    50
);
text_value!(
    /// A team's name (东北大区).
    TeamName,
    100
);
text_value!(
    /// A workspace's name (the selling company).
    WorkspaceName,
    200
);
text_value!(
    /// An account's registered name (华为数字技术（北京）有限公司).
    AccountName,
    200
);
text_value!(
    /// An opportunity's name (东北分部调度自动化系统改造).
    OpportunityName,
    200
);
text_value!(
    /// A short text field of an account (short name, industry, referrer, tag).
    ShortText,
    100
);
text_value!(
    /// A longer text (address, website).
    LongText,
    500
);
text_value!(
    /// Free notes: line breaks (stored as `\n`) and tabs allowed.
    Notes,
    5000,
    true
);

/// An e-mail address, trimmed and lower-cased, checked against RFC 5321/5322.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// The longest address SMTP allows.
    pub const MAX_CHARS: usize = 254;

    /// Parses an address; full-width characters typed by Chinese IMEs (＠, ．, 。) are folded.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let folded = fold(raw).replace('。', ".").to_lowercase();
        if folded.is_empty() {
            return Err(FieldError::new(field, "required", format!("{field} must not be empty")));
        }
        if folded.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("{field} is longer than {} characters", Self::MAX_CHARS),
            ));
        }
        let valid = email_address::EmailAddress::parse_with_options(
            &folded,
            email_address::Options::default().without_display_text().without_domain_literal(),
        )
        .is_ok();
        // A bare host without a dot (user@localhost) is never a real colleague's address.
        let domain_ok = folded.rsplit_once('@').is_some_and(|(_, d)| d.contains('.') && !d.ends_with('.'));
        if !valid || !domain_ok {
            return Err(FieldError::new(field, "invalid_email", format!("{field} is not a valid e-mail address")));
        }
        Ok(Self(folded))
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: long enough to resist guessing, short enough to hash quickly.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    /// Fewest characters of a new password.
    pub const MIN_CHARS: usize = 8;
    /// Most characters (argon2 would take any length; this bounds the work per request).
    pub const MAX_CHARS: usize = 256;

    /// Checks a new password's length; it is never trimmed, since spaces may be intended.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let n = raw.chars().count();
        if n == 0 {
            return Err(FieldError::new(field, "required", format!("{field} must not be empty")));
        }
        if n < Self::MIN_CHARS {
            return Err(FieldError::new(
                field,
                "too_short",
                format!("{field} needs at least {} characters", Self::MIN_CHARS),
            ));
        }
        if n > Self::MAX_CHARS {
            return Err(FieldError::new(
                field,
                "too_long",
                format!("{field} has more than {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The secret, for hashing only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// An IANA time-zone name a workspace shows times in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    /// The default of a new workspace: China has one zone and no daylight saving.
    pub const DEFAULT: &'static str = "Asia/Shanghai";

    /// Parses a zone name known to the tz database.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        s.parse::<chrono_tz::Tz>().map(|_| Self(s.to_owned())).map_err(|_| {
            FieldError::new(
                field,
                "invalid_time_zone",
                format!("{field} is not a known time zone such as Asia/Shanghai"),
            )
        })
    }

    /// The zone.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0.parse().unwrap_or(chrono_tz::Asia::Shanghai)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_folded_and_checked() {
        assert_eq!(Email::parse("email", " Zhang.Wei＠Example．com ").unwrap().as_str(), "zhang.wei@example.com");
        for bad in ["", "zhang", "zhang@", "@example.com", "a b@example.com", "zhang@localhost"] {
            assert!(Email::parse("email", bad).is_err(), "{bad} should be refused");
        }
        let long = format!("{}@example.com", "a".repeat(300));
        assert_eq!(Email::parse("email", &long).unwrap_err().code, "too_long");
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("display_name", "\u{3000}张伟 ").unwrap().as_str(), "张伟");
        assert_eq!(DisplayName::parse("display_name", "  ").unwrap_err().code, "required");
        assert_eq!(DisplayName::parse("display_name", &"张".repeat(101)).unwrap_err().code, "too_long");
        assert_eq!(DisplayName::parse("display_name", "a\u{0}b").unwrap_err().code, "control_characters");
        assert_eq!(DisplayName::parse("display_name", "a\nb").unwrap_err().code, "control_characters");
        assert_eq!(Notes::parse("notes", "第一行\r\n第二行\t完").unwrap().as_str(), "第一行\n第二行\t完");
        assert_eq!(Notes::parse("notes", "a\u{7}b").unwrap_err().code, "control_characters");
    }

    #[test]
    fn names_keep_full_width_brackets() {
        assert_eq!(
            WorkspaceName::parse("name", "华为数字技术（北京）有限公司").unwrap().as_str(),
            "华为数字技术（北京）有限公司"
        );
    }

    #[test]
    fn password_bounds() {
        assert_eq!(Password::parse("password", "").unwrap_err().code, "required");
        assert_eq!(Password::parse("password", "short").unwrap_err().code, "too_short");
        assert!(Password::parse("password", "long enough").is_ok());
        assert!(!format!("{:?}", Password::parse("p", "secret123").unwrap()).contains("secret"));
    }

    #[test]
    fn time_zone() {
        assert!(TimeZoneName::parse("time_zone", "Asia/Shanghai").is_ok());
        assert!(TimeZoneName::parse("time_zone", "Mars/Olympus").is_err());
    }
}
