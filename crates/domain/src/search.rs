//! What the search box indexes and how a query is read.
//!
//! A record is indexed under *terms*, each one row of an SQL table so that
//! every `guanxi serve` on one database answers alike. A term starts with the
//! record's kind (`a` account, `c` contact) and the term's kind:
//!
//! - `b` + a character bigram of the folded name: any 2+ character piece of a
//!   name is found through its bigrams (SQLite's trigram tokenizer cannot
//!   find 2-character queries such as 华为);
//! - `f` / `i` + the name's pinyin, full or initials, found by prefix
//!   (`gwdb` finds 国网东北…);
//! - `n` / `r` + a phone's digits as dialled, and reversed, for the first or
//!   last digits;
//! - `u` + the USCC;
//! - `o` + an account's registered name as stored: not searched, but the
//!   order of the list by name (a range scan of `ao…` terms), kept with the
//!   other terms so that a bulk write merges it in name order when it ends
//!   instead of growing an index of the accounts table at random places.

use crate::dedupe::{company_key, NameKey};
use pinyin::ToPinyin;
use unicode_normalization::UnicodeNormalization;

/// The kind of record a term indexes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// An account.
    Account,
    /// A contact.
    Contact,
}

impl Kind {
    fn prefix(self) -> char {
        match self {
            Kind::Account => 'a',
            Kind::Contact => 'c',
        }
    }
}

/// Folds a name for indexing and matching: NFKC, simplified characters,
/// lower case, letters and digits only.
pub fn fold(s: &str) -> String {
    let nfkc: String = s.nfkc().collect();
    fast2s::convert(&nfkc).to_lowercase().chars().filter(|c| c.is_alphanumeric()).collect()
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}' | '\u{20000}'..='\u{2ffff}')
}

/// Full pinyin and initials of a folded text; characters without a reading stay as they are.
pub fn pinyin(folded: &str) -> (String, String) {
    let mut full = String::with_capacity(folded.len() * 2);
    let mut initials = String::with_capacity(folded.len());
    let mut prev_alnum = false;
    for (c, p) in folded.chars().zip(folded.to_pinyin()) {
        match p {
            Some(p) => {
                full.push_str(p.plain());
                initials.push_str(p.first_letter());
                prev_alnum = false;
            }
            None => {
                full.push(c);
                // A Latin word contributes its first letter: "ABB中国" → "abbzg" / "azg".
                if !prev_alnum {
                    initials.push(c);
                }
                prev_alnum = true;
            }
        }
    }
    (full, initials)
}

fn bigrams(folded: &str) -> Vec<String> {
    let chars: Vec<char> = folded.chars().collect();
    if chars.len() == 1 {
        return vec![chars[0].to_string()];
    }
    let mut out: Vec<String> = chars.windows(2).map(|w| w.iter().collect()).collect();
    out.sort();
    out.dedup();
    out
}

/// The digit strings a phone is found by: as dialled in China (0 + area code
/// for landlines), the local number without area code, and reversed for
/// searching by the last digits.
fn phone_digits(number: &str) -> Vec<String> {
    let mut out = Vec::new();
    match number.strip_prefix("+86") {
        // Mobiles (1xx, 11 digits) and 400/800 numbers are dialled without a trunk 0.
        Some(nsn) if (nsn.starts_with('1') && nsn.len() == 11) || nsn.starts_with("400") || nsn.starts_with("800") => {
            out.push(nsn.to_owned())
        }
        Some(nsn) => {
            out.push(format!("0{nsn}"));
            // Beijing (10) and the 2x cities have two-digit area codes, the rest three.
            let area = if nsn.starts_with("10") || nsn.starts_with('2') { 2 } else { 3 };
            if let Some(local) = nsn.get(area..) {
                out.push(local.to_owned());
            }
        }
        None => out.push(number.trim_start_matches('+').to_owned()),
    }
    out
}

/// How the trade abbreviates the big customers' names: a salesperson types
/// `gwdb` for 国网东北 and means 国家电网…东北分部.
const ABBREVIATIONS: [(&str, &str); 8] = [
    ("国家电网", "国网"),
    ("中国南方电网", "南网"),
    ("南方电网", "南网"),
    ("中国石油化工", "中石化"),
    ("中国石油天然气", "中石油"),
    ("中国海洋石油", "中海油"),
    ("中国移动通信", "中国移动"),
    ("中国电力建设", "中国电建"),
];

fn abbreviated(folded: &str) -> String {
    ABBREVIATIONS
        .iter()
        .find(|(long, _)| folded.starts_with(long))
        .map(|(long, short)| format!("{short}{}", &folded[long.len()..]))
        .unwrap_or_else(|| folded.to_owned())
}

/// What a record is indexed by.
#[derive(Clone, Debug, Default)]
pub struct Indexed<'a> {
    /// Names: the registered name first, then short names.
    pub names: Vec<&'a str>,
    /// Phones in E.164 (or service numbers).
    pub phones: Vec<&'a str>,
    /// USCC, for accounts.
    pub uscc: Option<&'a str>,
}

/// The terms of one record, without duplicates.
pub fn terms(kind: Kind, rec: &Indexed<'_>) -> Vec<String> {
    terms_keyed(kind, rec, None)
}

/// [`terms`], given an account's registered name's key when it is known
/// already (an import has it from 查重), instead of reducing the name again.
pub fn terms_keyed(kind: Kind, rec: &Indexed<'_>, key: Option<&NameKey>) -> Vec<String> {
    let k = kind.prefix();
    let mut out = Vec::new();
    if let (Kind::Account, Some(name)) = (kind, rec.names.first()) {
        out.push(name_order_term(name));
    }
    for (i, name) in rec.names.iter().enumerate() {
        let folded = fold(name);
        if folded.is_empty() {
            continue;
        }
        for b in bigrams(&folded) {
            out.push(format!("{k}b{b}"));
        }
        let mut spoken = vec![folded.clone()];
        // A company is also found by its name without region and legal form
        // ("huawei" finds 北京华为数字技术有限公司), with its branch
        // (国家电网东北分部), and as the industry abbreviates it (国网东北分部).
        if kind == Kind::Account && i == 0 {
            let reduced;
            let key = match key {
                Some(key) => key,
                None => {
                    reduced = company_key(name);
                    &reduced
                }
            };
            let core = fold(&key.core);
            let with_branch = fold(&format!("{}{}", key.core, key.branch.as_deref().unwrap_or("")));
            for form in [core, with_branch] {
                let short = abbreviated(&form);
                for f in [form, short] {
                    if !f.is_empty() && !spoken.contains(&f) {
                        spoken.push(f);
                    }
                }
            }
        }
        for s in spoken {
            let (full, initials) = pinyin(&s);
            out.push(format!("{k}f{full}"));
            out.push(format!("{k}i{initials}"));
        }
    }
    for p in &rec.phones {
        for d in phone_digits(p) {
            out.push(format!("{k}r{}", d.chars().rev().collect::<String>()));
            out.push(format!("{k}n{d}"));
        }
    }
    if let Some(u) = rec.uscc {
        out.push(format!("{k}u{u}"));
    }
    out.sort();
    out.dedup();
    out
}

/// Shortest query that is searched.
pub const MIN_QUERY_CHARS: usize = 2;
/// Fewest digits that search phones by their last digits.
const MIN_DIGITS: usize = 4;
/// Fewest digits that search phones by their first digits: fewer are an area
/// code or a mobile prefix (0245, 1380), shared by tens of thousands.
const MIN_FIRST_DIGITS: usize = 7;

/// How a query is looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The query folded like names.
    pub folded: String,
    /// Bigrams the name must all contain (without the kind prefix); empty when
    /// the query is not searched by name pieces.
    pub bigrams: Vec<String>,
    /// Term prefixes (without the kind prefix) any of which matches.
    pub prefixes: Vec<String>,
}

/// Reads a query; `None` when it is too short to search.
pub fn plan(query: &str) -> Option<Plan> {
    let folded = fold(query);
    if folded.chars().count() < MIN_QUERY_CHARS {
        return None;
    }
    let mut prefixes = Vec::new();
    let digits: String = {
        let nfkc: String = query.nfkc().collect();
        let mut d: String = nfkc.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '+')).collect();
        for intl in ["0086", "86"] {
            if d.len() > 11 && d.starts_with(intl) {
                d = d[intl.len()..].to_owned();
            }
        }
        d
    };
    if digits.len() >= MIN_DIGITS && digits.chars().all(|c| c.is_ascii_digit()) {
        if digits.len() >= MIN_FIRST_DIGITS {
            prefixes.push(format!("n{digits}"));
        }
        prefixes.push(format!("r{}", digits.chars().rev().collect::<String>()));
    }
    if folded.len() >= 6 && folded.chars().all(|c| c.is_ascii_alphanumeric()) {
        prefixes.push(format!("u{}", folded.to_uppercase()));
    }
    if folded.chars().all(|c| c.is_ascii_lowercase()) {
        prefixes.push(format!("f{folded}"));
        prefixes.push(format!("i{folded}"));
    }
    // Pieces of names: anything with a Han character or a letter (Latin names
    // such as ABB are found by their pieces too); digits alone are phone numbers.
    let bigrams = if folded.chars().any(|c| is_han(c) || c.is_alphabetic()) { bigrams(&folded) } else { Vec::new() };
    Some(Plan { folded, bigrams, prefixes })
}

/// The term that places an account in the list by name: its registered name
/// as stored, so that the terms' order is the names' order.
pub fn name_order_term(name: &str) -> String {
    format!("ao{name}")
}

/// The range `[lo, hi)` of every account's [`name_order_term`].
pub const NAME_ORDER_RANGE: (&str, &str) = ("ao", "ap");

/// The term a prefix or bigram is stored under for a kind of record.
pub fn term(kind: Kind, body: &str) -> String {
    format!("{}{body}", kind.prefix())
}

/// The smallest string greater than every string starting with `prefix`
/// (for `term >= prefix AND term < upper`): the last character bumped.
pub fn prefix_upper(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = char::from_u32(last as u32 + 1) {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    String::from(char::MAX)
}

/// How well a found record answers the query, 0–100; `None` when a name found
/// through bigrams does not really contain the query (bigrams out of order).
pub fn score(plan: &Plan, names: &[&str], matched_term: Option<&str>) -> Option<u8> {
    let folded: Vec<String> = names.iter().map(|n| fold(n)).collect();
    let q = plan.folded.as_str();
    if folded.first().is_some_and(|n| n == q) {
        return Some(100);
    }
    if let Some(t) = matched_term {
        // t has the kind prefix, then the term kind.
        let body = t.get(2..).unwrap_or("");
        return Some(match t.chars().nth(1) {
            Some('u') => 95,
            Some('n') | Some('r') if body.len() + 1 == plan.prefixes.first().map_or(0, String::len) => 95,
            Some('n') | Some('r') => 85,
            Some('f') | Some('i') if body == q => 80,
            _ => 65,
        });
    }
    if folded.first().is_some_and(|n| n.starts_with(q)) {
        Some(90)
    } else if folded.iter().skip(1).any(|n| n == q || n.starts_with(q)) {
        Some(85)
    } else if folded.iter().any(|n| n.contains(q)) {
        Some(60)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> Vec<String> {
        terms(Kind::Account, &Indexed { names: vec![name], ..Default::default() })
    }

    #[test]
    fn an_account_is_placed_in_name_order_by_its_registered_name_alone() {
        let order = |name: &str, short: Option<&str>| -> Vec<String> {
            let names = std::iter::once(name).chain(short).collect();
            let t = terms(Kind::Account, &Indexed { names, ..Default::default() });
            t.into_iter().filter(|t| t.as_str() >= NAME_ORDER_RANGE.0 && t.as_str() < NAME_ORDER_RANGE.1).collect()
        };
        // As stored, not folded; the short name adds none.
        assert_eq!(order("ABB（中国）有限公司", Some("ABB")), vec!["aoABB（中国）有限公司".to_owned()]);
        // A name with nothing to search by is still listed.
        assert_eq!(order("…", None), vec!["ao…".to_owned()]);
        // The terms sort as the names do.
        let mut names = ["华为技术有限公司", "ABB（中国）有限公司", "阿里巴巴", "ABC", "华为"];
        let mut by_term: Vec<String> = names.iter().flat_map(|n| order(n, None)).collect();
        by_term.sort();
        names.sort();
        assert_eq!(by_term, names.iter().map(|n| name_order_term(n)).collect::<Vec<_>>());
        // Contacts have no list by name to keep.
        let c = terms(Kind::Contact, &Indexed { names: vec!["王建国"], ..Default::default() });
        assert!(c.iter().all(|t| !t.starts_with("co")), "{c:?}");
    }

    #[test]
    fn names_are_indexed_by_bigrams_and_pinyin() {
        let t = account("國網東北分部");
        for want in ["ab国网", "ab网东", "ab东北", "afguowangdongbeifenbu", "aigwdbfb"] {
            assert!(t.contains(&want.to_owned()), "{want} missing from {t:?}");
        }
        // As the trade abbreviates it.
        let t = account("国家电网有限公司东北分部");
        assert!(t.contains(&"aigwdbfb".to_owned()), "{t:?}");
        assert!(t.contains(&"afguowangdongbeifenbu".to_owned()), "{t:?}");
        // Without region and legal form too.
        let t = account("北京华为数字技术有限公司");
        assert!(t.contains(&"afhuaweishuzijishu".to_owned()), "{t:?}");
        assert!(t.contains(&"aihwszjs".to_owned()), "{t:?}");
    }

    #[test]
    fn a_known_key_gives_the_terms_the_name_gives() {
        for name in ["国家电网有限公司东北分部", "北京华为数字技术有限公司", "ABB（中国）有限公司", "北京银行"]
        {
            let rec = Indexed { names: vec![name, "简称"], phones: vec!["+8613800138000"], uscc: None };
            let key = company_key(name);
            assert_eq!(terms_keyed(Kind::Account, &rec, Some(&key)), terms(Kind::Account, &rec), "{name}");
        }
        // The key is the account's registered name's: another key gives other terms.
        let rec = Indexed { names: vec!["北京华为数字技术有限公司"], ..Default::default() };
        let other = company_key("上海电气集团股份有限公司");
        assert_ne!(terms_keyed(Kind::Account, &rec, Some(&other)), terms(Kind::Account, &rec));
    }

    #[test]
    fn phones_by_first_and_last_digits() {
        let t =
            terms(Kind::Contact, &Indexed { phones: vec!["+861012345678", "+8613800138000"], ..Default::default() });
        for want in ["cn01012345678", "cn12345678", "cr87654321010", "cn13800138000", "cr00083100831"] {
            assert!(t.contains(&want.to_owned()), "{want} missing from {t:?}");
        }
    }

    #[test]
    fn queries_are_read_by_what_they_look_like() {
        let p = plan("华为").unwrap();
        assert_eq!((p.bigrams, p.prefixes), (vec!["华为".to_owned()], vec![]));
        let p = plan("gwdb").unwrap();
        assert_eq!(p.prefixes, vec!["fgwdb", "igwdb"]);
        assert_eq!(p.bigrams, vec!["db", "gw", "wd"]);
        let p = plan("010-1234 5678").unwrap();
        assert_eq!(p.prefixes, vec!["n01012345678", "r87654321010", "u01012345678"]);
        assert!(p.bigrams.is_empty());
        let p = plan("+86 138 0013 8000").unwrap();
        assert_eq!(p.prefixes[0], "n13800138000");
        // Four digits are the last ones: as first digits they would be an area code.
        assert_eq!(plan("0245").unwrap().prefixes, vec!["r5420"]);
        assert_eq!(plan("华"), None);
        assert_eq!(plan(" - "), None);
    }

    #[test]
    fn a_found_name_must_contain_the_query() {
        let p = plan("东北国网").unwrap();
        assert_eq!(score(&p, &["国网东北分部"], None), None);
        let p = plan("国网东北").unwrap();
        assert_eq!(score(&p, &["国网东北分部"], None), Some(90));
        assert_eq!(score(&p, &["国家电网东北分部", "国网东北"], None), Some(85));
        assert_eq!(score(&p, &["国网东北"], None), Some(100));
        assert_eq!(score(&p, &["辽宁国网东北公司"], None), Some(60));
    }

    #[test]
    fn prefix_upper_bounds_a_range() {
        assert_eq!(prefix_upper("afgw"), "afgx");
        assert!("afgwdb" < prefix_upper("afgw").as_str());
    }
}
