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

/// Administrative placeholders between a municipality and its districts.
const PLACEHOLDERS: [&str; 4] = ["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"];

/// The divisions directly below `parent` (provinces when `None`), as
/// (code, name), in code order. Placeholders (北京市 → 市辖区 → 东城区) are
/// skipped: a municipality's children are its districts.
pub fn division_children(parent: Option<&str>) -> Vec<(String, &'static str)> {
    let probe = |codes: Vec<String>| -> Vec<(String, &'static str)> {
        codes.into_iter().filter_map(|c| gb2260::Division::get(&c).map(|d| (c, d.name))).collect()
    };
    let Some(parent) = parent else {
        return probe((11..=82).map(|p| format!("{p}0000")).collect());
    };
    if parent.len() != 6 || !parent.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let level = if parent.ends_with("0000") {
        probe((1..=99).map(|c| format!("{}{c:02}00", &parent[..2])).collect())
    } else if parent.ends_with("00") {
        probe((1..=99).map(|d| format!("{}{d:02}", &parent[..4])).collect())
    } else {
        Vec::new()
    };
    level
        .into_iter()
        .flat_map(
            |(code, name)| {
                if PLACEHOLDERS.contains(&name) {
                    division_children(Some(&code))
                } else {
                    vec![(code, name)]
                }
            },
        )
        .collect()
}

/// The division a written place names, most precise part last: `辽宁省 沈阳市`,
/// `辽宁/沈阳/和平区`, `北京 海淀`. Each part may drop its 省/市/区/县 and
/// must name a child of the part before it. `None` when a part names nothing.
pub fn division_by_names(text: &str) -> Option<String> {
    let parts: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '-' | ',' | '，' | '、' | '>'))
        .filter(|p| !p.is_empty())
        .collect();
    let named = |children: &[(String, &'static str)], part: &str| -> Option<String> {
        let found = children.iter().find(|(_, name)| *name == part).or_else(|| {
            children.iter().find(|(_, name)| {
                part.chars().count() >= 2 && name.starts_with(part) && name.chars().count() <= part.chars().count() + 3
            })
        });
        found.map(|(code, _)| code.clone())
    };
    let mut at: Option<String> = None;
    for (i, part) in parts.iter().enumerate() {
        let here = named(&division_children(at.as_deref()), part);
        at = match (here, i) {
            (Some(code), _) => Some(code),
            // A city named without its province (大连, 苏州市).
            (None, 0) => {
                let cities: Vec<(String, &'static str)> =
                    division_children(None).iter().flat_map(|(p, _)| division_children(Some(p))).collect();
                Some(named(&cities, part)?)
            }
            (None, _) => return None,
        };
    }
    at
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
    fn places_as_written() {
        assert_eq!(division_by_names("辽宁省 沈阳市").as_deref(), Some("210100"));
        assert_eq!(division_by_names("辽宁/沈阳/和平区").as_deref(), Some("210102"));
        assert_eq!(division_by_names("北京 海淀").as_deref(), Some("110108"));
        assert_eq!(division_by_names("广东省").as_deref(), Some("440000"));
        assert_eq!(division_by_names("大连").as_deref(), Some("210200"));
        assert_eq!(division_by_names("火星 沈阳"), None);
        assert_eq!(division_by_names("火星"), None);
        assert_eq!(division_by_names(""), None);
    }

    #[test]
    fn children_of_provinces_cities_and_municipalities() {
        let provinces = division_children(None);
        assert!(provinces.len() >= 31 && provinces.contains(&("210000".to_owned(), "辽宁省")), "{provinces:?}");
        let liaoning = division_children(Some("210000"));
        assert!(liaoning.contains(&("210100".to_owned(), "沈阳市")), "{liaoning:?}");
        let shenyang = division_children(Some("210100"));
        assert!(shenyang.contains(&("210102".to_owned(), "和平区")), "{shenyang:?}");
        // Beijing's districts, past the 市辖区 placeholder.
        let beijing = division_children(Some("110000"));
        assert!(beijing.contains(&("110108".to_owned(), "海淀区")), "{beijing:?}");
        assert!(division_children(Some("110108")).is_empty() && division_children(Some("x")).is_empty());
    }

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
