//! Phone numbers as Chinese users type them: parsed with libphonenumber's
//! metadata (the `rlibphonenumber` crate, a port of Google's library with
//! its regular expressions compiled once) after folding what input methods type,
//! stored in E.164 with the extension kept apart, shown the Chinese way.

use crate::values::FieldError;
use rlibphonenumber::{PhoneNumber, PhoneNumberFormat, PhoneNumberType as Type, Region};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// What kind of number it is (mobiles get SMS; landlines have area codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// 手机.
    Mobile,
    /// 座机.
    FixedLine,
    /// 400 / 800 numbers.
    TollFree,
    /// 95xxx nationwide service numbers (banks, carriers): no area code, no E.164 form.
    Service,
    /// Anything else libphonenumber accepts (including numbers abroad).
    Other,
}

/// A parsed phone number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Phone {
    /// E.164 (`+8613800138000`), or the bare service number (`95588`).
    number: String,
    /// The extension (分机), digits only.
    extension: Option<String>,
    kind: PhoneKind,
    /// How it is shown: `138 0013 8000`, `010-1234 5678 转 123`, `400-810-8888`.
    display: String,
}

const EXTENSION_MARKERS: [&str; 6] = ["分机号", "分机", "转", "ext.", "ext", "#"];

/// Splits off an extension written with a marker (转 / 分机 / ext / #) or, for
/// landlines, as a third hyphenated group (`0755-12345678-123`).
fn split_extension(s: &str) -> (String, Option<String>) {
    let lower = s.to_lowercase();
    for marker in EXTENSION_MARKERS {
        if let Some(i) = lower.find(marker) {
            let ext: String = lower[i + marker.len()..]
                .chars()
                .skip_while(|c| !c.is_ascii_digit())
                .take_while(char::is_ascii_digit)
                .collect();
            return (s[..i].to_owned(), (!ext.is_empty()).then_some(ext));
        }
    }
    let groups: Vec<&str> = s.split(['-', ' ']).filter(|g| !g.is_empty()).collect();
    if groups.len() == 3
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_digit()))
        && groups[0].starts_with('0')
        && !groups[0].starts_with("00")
        && (3..=4).contains(&groups[0].len())
        && (7..=8).contains(&groups[1].len())
        && (1..=6).contains(&groups[2].len())
    {
        return (format!("{}{}", groups[0], groups[1]), Some(groups[2].to_owned()));
    }
    (s.to_owned(), None)
}

/// Drops notes: bracketed text that is not part of the number (（微信同号）)
/// and any other letters or ideographs, keeping digits and a leading `+`.
fn number_chars(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut group = String::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '【' => {
                depth += 1;
                group.clear();
            }
            ')' | ']' | '】' if depth > 0 => {
                depth -= 1;
                // "(010)" is an area code; "(微信同号)" is a note.
                if group.chars().all(|g| g.is_ascii_digit() || g == ' ' || g == '-') {
                    out.push_str(&group);
                }
                group.clear();
            }
            _ if depth > 0 => group.push(c),
            '+' if out.is_empty() => out.push('+'),
            c if c.is_ascii_digit() => out.push(c),
            _ => {}
        }
    }
    out
}

impl Phone {
    /// Parses a number as typed; numbers without a country code are Chinese.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let folded: String = raw.nfkc().collect();
        let (number_part, extension) = split_extension(folded.trim());
        let mut digits = number_chars(&number_part);
        if digits.is_empty() || digits == "+" {
            return Err(FieldError::new(field, "required", format!("{field} must contain a phone number")));
        }
        if let Some(rest) = digits.strip_prefix("0086") {
            digits = format!("+86{rest}");
        }
        if !digits.starts_with('+') && digits.starts_with("95") && (5..=6).contains(&digits.len()) {
            return Ok(Phone {
                display: with_extension(digits.clone(), extension.as_deref()),
                number: digits,
                extension,
                kind: PhoneKind::Service,
            });
        }
        let invalid =
            || FieldError::new(field, "invalid_phone", format!("{field} is not a valid phone number: {}", raw.trim()));
        let parsed = PhoneNumber::parse(&digits, Some(Region::CN)).map_err(|_| invalid())?;
        // Valid means of a known type in its region's metadata: that is what
        // `is_valid` works out, so asking it as well would match the number
        // against the same patterns twice.
        let number_type = parsed.get_type();
        if number_type == Type::Unknown {
            return Err(invalid());
        }
        let kind = match number_type {
            Type::Mobile => PhoneKind::Mobile,
            Type::FixedLine | Type::FixedLineOrMobile => PhoneKind::FixedLine,
            Type::TollFree | Type::UAN | Type::SharedCost => PhoneKind::TollFree,
            _ => PhoneKind::Other,
        };
        let national = parsed.get_national_significant_number();
        // E.164 is the country code and the national number after a `+`.
        let number = format!("+{}{}", parsed.country_code, national);
        let display = if parsed.country_code == 86 {
            chinese_display(&parsed, &national, kind)
        } else {
            parsed.format_as(PhoneNumberFormat::International).into_owned()
        };
        Ok(Phone { display: with_extension(display, extension.as_deref()), number, extension, kind })
    }

    /// E.164 (or the bare 95xxx service number): the form stored and compared.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The extension, if any.
    pub fn extension(&self) -> Option<&str> {
        self.extension.as_deref()
    }

    /// What kind of number it is.
    pub fn kind(&self) -> PhoneKind {
        self.kind
    }

    /// As shown to Chinese users.
    pub fn display(&self) -> &str {
        &self.display
    }
}

fn with_extension(display: String, extension: Option<&str>) -> String {
    match extension {
        Some(e) => format!("{display} 转 {e}"),
        None => display,
    }
}

fn chinese_display(n: &PhoneNumber, national: &str, kind: PhoneKind) -> String {
    match kind {
        // 138 0013 8000
        PhoneKind::Mobile if national.len() == 11 => {
            format!("{} {} {}", &national[..3], &national[3..7], &national[7..])
        }
        // 400-810-8888
        PhoneKind::TollFree if national.len() == 10 => {
            format!("{}-{}-{}", &national[..3], &national[3..6], &national[6..])
        }
        // 010-1234 5678, 0755-1234 5678, 0351-123 4567
        _ => {
            let formatted = n.format_as(PhoneNumberFormat::National);
            match formatted.split_once(' ') {
                Some((area, rest)) => format!("{area}-{rest}"),
                None => formatted.into_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Phone {
        Phone::parse("phone", s).unwrap_or_else(|e| panic!("{s}: {}", e.message))
    }

    #[test]
    fn mobiles_in_every_spelling_are_one_number() {
        for s in [
            "13800138000",
            "+86 138 0013 8000",
            "0086 13800138000",
            "+86-138-0013-8000",
            "１３８ ００１３ ８０００",
            "138-0013-8000（微信同号）",
            "138 0013 8000 微信同号",
        ] {
            let n = p(s);
            assert_eq!(n.number(), "+8613800138000", "{s}");
            assert_eq!(n.kind(), PhoneKind::Mobile, "{s}");
            assert_eq!(n.display(), "138 0013 8000", "{s}");
            assert_eq!(n.extension(), None, "{s}");
        }
    }

    #[test]
    fn landlines_keep_the_extension_apart() {
        let n = p("(010)12345678");
        assert_eq!((n.number(), n.kind()), ("+861012345678", PhoneKind::FixedLine));
        assert!(n.display().starts_with("010-"), "{}", n.display());
        for (s, ext) in [
            ("010-1234 5678 转 123", "123"),
            ("010-12345678分机123", "123"),
            ("0755-12345678-123", "123"),
            ("010 12345678 ext. 45", "45"),
            ("010-12345678#8", "8"),
        ] {
            let n = p(s);
            assert_eq!(n.extension(), Some(ext), "{s}");
            assert!(n.display().ends_with(&format!(" 转 {ext}")), "{s}: {}", n.display());
        }
        assert_eq!(p("0755-12345678-123").number(), "+8675512345678");
        // Local numbers are seven digits in some cities (南宁), eight in others.
        let n = p("0771-5123456");
        assert_eq!((n.number(), n.kind(), n.display()), ("+867715123456", PhoneKind::FixedLine, "0771-512 3456"));
        assert_eq!(Phone::parse("phone", "0771-51234567").unwrap_err().code, "invalid_phone");
    }

    #[test]
    fn toll_free_and_service_numbers_are_real_numbers() {
        let n = p("400-810-8888");
        assert_eq!((n.number(), n.kind(), n.display()), ("+864008108888", PhoneKind::TollFree, "400-810-8888"));
        let n = p("95588");
        assert_eq!((n.number(), n.kind()), ("95588", PhoneKind::Service));
    }

    #[test]
    fn numbers_abroad() {
        let n = p("+852 2123 4567");
        assert_eq!(n.number(), "+85221234567");
        assert!(n.display().starts_with("+852"));
    }

    #[test]
    fn bad_numbers_say_why() {
        for s in ["12345", "138001380001234", "abc", "+86 138 0013 800"] {
            let e = Phone::parse("phone", s).unwrap_err();
            assert_eq!(
                (e.field.as_str(), e.code.as_str()),
                ("phone", if s == "abc" { "required" } else { "invalid_phone" }),
                "{s}"
            );
        }
        assert_eq!(Phone::parse("phone", "  ").unwrap_err().code, "required");
    }
}
