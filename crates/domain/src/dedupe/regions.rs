//! Region names that appear in company names: provinces and prefectures from
//! the national administrative-division codes (GB/T 2260, via the `gb2260`
//! crate, revision 2016-07), plus the macro-regions and the country prefix
//! that names also carry (东北, 华北, 中国).

use std::collections::HashMap;
use std::sync::LazyLock;

/// A region name as it may appear in a company name, and its canonical short form.
#[derive(Debug)]
pub struct RegionName {
    /// As written: 北京市, 广东省, 延边朝鲜族自治州, 北京, 延边.
    pub written: String,
    /// Canonical short form compared between records: 北京, 广东, 延边.
    pub short: String,
    /// For a prefecture, its province's short form (深圳 → 广东).
    pub province: Option<String>,
}

/// Suffixes of division names, longest first.
const SUFFIXES: [&str; 9] =
    ["特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "自治州", "地区", "省", "市"];

/// Names that are administrative placeholders, not places.
const PLACEHOLDERS: [&str; 4] = ["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"];

/// Macro-regions and national prefixes used in names (国网东北分部, 中国银行).
const EXTRA: [&str; 10] = ["中国", "中华", "东北", "华北", "华东", "华南", "华中", "西北", "西南", "全国"];

fn short_form(name: &str) -> String {
    for suffix in SUFFIXES {
        if let Some(stem) = name.strip_suffix(suffix) {
            let chars: Vec<char> = stem.chars().collect();
            // 延边朝鲜族自治州 → 延边; 内蒙古自治区 → 内蒙古: ethnic names follow the place.
            if suffix == "自治州" && chars.len() > 2 {
                return chars[..2].iter().collect();
            }
            if stem.chars().count() >= 2 {
                return stem.to_owned();
            }
        }
    }
    name.to_owned()
}

fn build() -> Vec<RegionName> {
    let mut out: Vec<RegionName> = Vec::new();
    let mut add = |written: &str, short: String, province: Option<String>| {
        if written.chars().count() >= 2 && !out.iter().any(|r| r.written == written) {
            out.push(RegionName { written: written.to_owned(), short, province });
        }
    };
    for p in 11..=82 {
        let Some(province) = gb2260::Division::get(&format!("{p}0000")) else { continue };
        let short = short_form(province.name);
        add(province.name, short.clone(), None);
        add(&short, short.clone(), None);
        for c in 1..=99 {
            let Some(pref) = gb2260::Division::get(&format!("{p}{c:02}00")) else { continue };
            if PLACEHOLDERS.contains(&pref.name) {
                continue;
            }
            let s = short_form(pref.name);
            let parent = (s != short).then(|| short.clone());
            add(pref.name, s.clone(), parent.clone());
            add(&s, s.clone(), parent);
        }
    }
    for e in EXTRA {
        add(e, e.to_owned(), None);
    }
    // Longest first, so 北京市 wins over 北京 and 内蒙古自治区 over 内蒙古.
    out.sort_by(|a, b| b.written.chars().count().cmp(&a.written.chars().count()).then(a.written.cmp(&b.written)));
    out
}

/// Every region name, longest first.
pub static REGIONS: LazyLock<Vec<RegionName>> = LazyLock::new(build);

/// Region names by their first and by their last character: a name is
/// checked against the few that could match, not all of them.
static BY_FIRST: LazyLock<HashMap<char, Vec<usize>>> = LazyLock::new(|| index(|r| r.written.chars().next()));
static BY_LAST: LazyLock<HashMap<char, Vec<usize>>> = LazyLock::new(|| index(|r| r.written.chars().last()));

fn index(key: impl Fn(&RegionName) -> Option<char>) -> HashMap<char, Vec<usize>> {
    let mut map: HashMap<char, Vec<usize>> = HashMap::new();
    for (i, r) in REGIONS.iter().enumerate() {
        if let Some(c) = key(r) {
            map.entry(c).or_default().push(i);
        }
    }
    map
}

/// The region a text starts with, if any: (its canonical short name, bytes it takes).
pub fn leading(text: &str) -> Option<(&'static str, usize)> {
    let first = text.chars().next()?;
    BY_FIRST
        .get(&first)?
        .iter()
        .map(|i| &REGIONS[*i])
        .find(|r| text.starts_with(&r.written))
        .map(|r| (r.short.as_str(), r.written.len()))
}

/// Whether a "region" is the whole country (中国, 中华, 全国): no place at all.
pub fn is_national(short: &str) -> bool {
    matches!(short, "中国" | "中华" | "全国")
}

/// Every region named inside a text, in order: 东北电力设计院 → [东北].
pub fn contained(text: &str) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        match leading(&text[i..]) {
            Some((short, len)) => {
                out.push(short);
                i += len;
            }
            None => i += text[i..].chars().next().map_or(1, char::len_utf8),
        }
    }
    out
}

/// Whether two regions can describe one company: equal, or a city and its province.
pub fn compatible(a: &str, b: &str) -> bool {
    a == b || province_of(a) == Some(b) || province_of(b) == Some(a)
}

static PROVINCE_OF: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| REGIONS.iter().filter_map(|r| r.province.as_deref().map(|p| (r.short.as_str(), p))).collect());

static BY_WRITTEN: LazyLock<HashMap<&'static str, &'static str>> =
    LazyLock::new(|| REGIONS.iter().map(|r| (r.written.as_str(), r.short.as_str())).collect());

fn province_of(short: &str) -> Option<&'static str> {
    PROVINCE_OF.get(short).copied()
}

/// The region a whole text names, if it is exactly one: (北京) → 北京. A
/// short form names itself, so a stored name key's region (`name_region`)
/// reads back as the one [`super::company_key`] gave.
pub fn exactly(text: &str) -> Option<&'static str> {
    BY_WRITTEN.get(text).copied()
}

/// The region a text ends with, if any: (short name, byte offset where it starts).
pub fn trailing(text: &str) -> Option<(&'static str, usize)> {
    let last = text.chars().last()?;
    BY_LAST
        .get(&last)?
        .iter()
        .map(|i| &REGIONS[*i])
        .find(|r| text.ends_with(&r.written))
        .map(|r| (r.short.as_str(), text.len() - r.written.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_short_form_names_itself() {
        for r in REGIONS.iter() {
            assert_eq!(exactly(&r.short), Some(r.short.as_str()), "{}", r.short);
        }
    }

    #[test]
    fn provinces_and_prefectures_from_the_codes() {
        assert!(REGIONS.len() > 600, "{} names", REGIONS.len());
        assert_eq!(exactly("北京市"), Some("北京"));
        assert_eq!(exactly("北京"), Some("北京"));
        assert_eq!(exactly("广东省"), Some("广东"));
        assert_eq!(exactly("深圳市"), Some("深圳"));
        assert_eq!(exactly("内蒙古自治区"), Some("内蒙古"));
        assert_eq!(exactly("延边朝鲜族自治州"), Some("延边"));
        assert_eq!(exactly("沈阳"), Some("沈阳"));
        assert_eq!(exactly("东北"), Some("东北"));
        assert_eq!(exactly("市辖区"), None);
        assert_eq!(leading("北京市华为"), Some(("北京", "北京市".len())));
        assert!(compatible("深圳", "广东") && compatible("广东", "深圳") && compatible("北京", "北京"));
        assert!(!compatible("深圳", "北京"));
    }
}
