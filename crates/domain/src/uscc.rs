//! 统一社会信用代码 (USCC, GB 32100-2015) and the 15-digit business
//! registration numbers older records carry (GB/T 7064 check digit).

use crate::values::FieldError;
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

/// The 31 characters a USCC uses: no I, O, Z, S or V.
const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of the first 17 positions: 3^(i-1) mod 31.
const WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// A company's registry code, checked.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Uscc(String);

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|a| *a == c).map(|p| p as u32)
}

/// The check character the first 17 characters call for.
fn check_char(body: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (c, w) in body.iter().zip(WEIGHTS) {
        sum += value_of(*c)? * w;
    }
    let r = (31 - sum % 31) % 31;
    Some(ALPHABET[r as usize])
}

/// The ISO 7064 MOD 11,10 check of a 15-digit registration number.
fn mod_11_10_ok(digits: &[u8]) -> bool {
    let mut p = 10u32;
    for d in &digits[..14] {
        let s = (p + u32::from(d - b'0')) % 10;
        let s = if s == 0 { 10 } else { s };
        p = (s * 2) % 11;
    }
    (p + u32::from(digits[14] - b'0')) % 10 == 1
}

impl Uscc {
    /// Parses a code as typed: full-width characters (from Chinese input
    /// methods), lower case, spaces and hyphens are folded away first.
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let folded: String =
            raw.nfkc().filter(|c| !c.is_whitespace() && *c != '-').collect::<String>().to_ascii_uppercase();
        let b = folded.as_bytes();
        if b.is_empty() {
            return Err(FieldError::new(field, "required", format!("{field} must not be empty")));
        }
        if b.len() == 15 && b.iter().all(u8::is_ascii_digit) {
            return if mod_11_10_ok(b) {
                Ok(Self(folded))
            } else {
                Err(FieldError::new(
                    field,
                    "invalid_uscc",
                    format!("{field} is a 15-digit registration number whose check digit is wrong"),
                ))
            };
        }
        if b.len() != 18 {
            return Err(FieldError::new(
                field,
                "invalid_uscc",
                format!("{field} must have 18 characters (统一社会信用代码) or 15 digits (old registration number); it has {}", folded.chars().count()),
            ));
        }
        if let Some(bad) = folded.chars().find(|c| !c.is_ascii() || value_of(*c as u8).is_none()) {
            return Err(FieldError::new(
                field,
                "invalid_uscc",
                format!("{field} contains {bad:?}, which a 统一社会信用代码 never does (no I, O, Z, S, V)"),
            ));
        }
        if !b[2..8].iter().all(u8::is_ascii_digit) {
            return Err(FieldError::new(
                field,
                "invalid_uscc",
                format!("{field}: characters 3–8 must be the digits of an administrative division code"),
            ));
        }
        match check_char(&b[..17]) {
            Some(c) if c == b[17] => Ok(Self(folded)),
            _ => Err(FieldError::new(
                field,
                "invalid_uscc",
                format!("{field}: the check character (the last one) does not match; the code is mistyped"),
            )),
        }
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The administrative division code (GB/T 2260) of the registering office,
    /// which names province and city without asking anyone; `None` for old
    /// 15-digit numbers.
    pub fn division_code(&self) -> Option<&str> {
        (self.0.len() == 18).then(|| &self.0[2..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_published_codes_in_any_typing() {
        for code in ["91350100M000100Y43", "91110108551385082Q", "914403001922038216"] {
            assert_eq!(Uscc::parse("uscc", code).unwrap().as_str(), code);
        }
        // Full-width (as a Chinese IME types it), lower case, spaces and hyphens.
        assert_eq!(Uscc::parse("uscc", "９１１１０１０８５５１３８５０８２ｑ").unwrap().as_str(), "91110108551385082Q");
        assert_eq!(Uscc::parse("uscc", " 9111-0108 5513 8508 2q ").unwrap().as_str(), "91110108551385082Q");
        assert_eq!(Uscc::parse("uscc", "91110108551385082Q").unwrap().division_code(), Some("110108"));
    }

    #[test]
    fn refuses_mistyped_codes_with_the_reason() {
        let e = Uscc::parse("uscc", "91110108551385082R").unwrap_err();
        assert_eq!((e.field.as_str(), e.code.as_str()), ("uscc", "invalid_uscc"));
        assert!(e.message.contains("check character"));
        assert!(Uscc::parse("uscc", "9111010855138508").unwrap_err().message.contains("18 characters"));
        assert!(Uscc::parse("uscc", "91110108551385082O").unwrap_err().message.contains("'O'"));
        assert!(Uscc::parse("uscc", "91ABCDEF551385082Q").unwrap_err().message.contains("division code"));
        assert_eq!(Uscc::parse("uscc", "").unwrap_err().code, "required");
        assert!(Uscc::parse("uscc", "统一社会信用代码九一一一〇一〇八").is_err());
    }

    #[test]
    fn every_single_character_typo_is_caught() {
        let good = b"91110108551385082Q";
        for i in 0..18 {
            for &c in ALPHABET.iter() {
                if c == good[i] {
                    continue;
                }
                let mut typo = good.to_vec();
                typo[i] = c;
                let typo = String::from_utf8(typo).unwrap();
                assert!(Uscc::parse("uscc", &typo).is_err(), "{typo} should fail");
            }
        }
    }

    #[test]
    fn old_registration_numbers() {
        // Build a valid 15-digit number by finding its check digit.
        let body = b"11010800000001";
        let good = (0..10u8).map(|d| [&body[..], &[b'0' + d]].concat()).find(|n| mod_11_10_ok(n)).unwrap();
        let good = String::from_utf8(good).unwrap();
        assert_eq!(Uscc::parse("uscc", &good).unwrap().division_code(), None);
        let mut bad = good.clone().into_bytes();
        bad[14] = if bad[14] == b'9' { b'0' } else { bad[14] + 1 };
        assert!(Uscc::parse("uscc", &String::from_utf8(bad).unwrap()).is_err());
    }
}
