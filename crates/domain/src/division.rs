//! Administrative divisions (行政区划, GB/T 2260): province, city and district
//! codes, from the `gb2260` crate's data (latest revision it knows, 2016-07,
//! falling back to older revisions for codes since retired).

use crate::values::FieldError;

/// The name of a division code: 110108 → 海淀区.
pub fn division_name(code: &str) -> Option<&'static str> {
    gb2260::Division::search(code).map(|d| d.name)
}

/// The full path of a code: 110108 → [北京市, 市辖区?, 海淀区] without placeholders.
pub fn division_path(code: &str) -> Vec<&'static str> {
    let Some(d) = gb2260::Division::search(code) else { return Vec::new() };
    let mut out = Vec::new();
    for c in [format!("{}0000", &code[..2]), format!("{}00", &code[..4]), code.to_owned()] {
        if let Some(n) = division_name(&c) {
            if !matches!(n, "市辖区" | "县" | "省直辖县级行政区划" | "自治区直辖县级行政区划") && !out.contains(&n)
            {
                out.push(n);
            }
        }
    }
    if out.is_empty() {
        out.push(d.name);
    }
    out
}

/// Parses a six-digit division code that exists.
pub fn parse_division_code(field: &str, raw: &str) -> Result<String, FieldError> {
    let code = raw.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(
            field,
            "invalid_region",
            format!("{field} must be a six-digit administrative division code such as 110108"),
        ));
    }
    if division_name(code).is_none() {
        return Err(FieldError::new(
            field,
            "invalid_region",
            format!("{field} {code} is not an administrative division code"),
        ));
    }
    Ok(code.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_name_places() {
        assert_eq!(division_name("110000"), Some("北京市"));
        assert_eq!(division_path("110108"), vec!["北京市", "海淀区"]);
        assert_eq!(division_path("210102"), vec!["辽宁省", "沈阳市", "和平区"]);
        assert!(parse_division_code("region_code", "110108").is_ok());
        assert_eq!(parse_division_code("region_code", "999999").unwrap_err().code, "invalid_region");
        assert_eq!(parse_division_code("region_code", "北京").unwrap_err().code, "invalid_region");
    }
}
