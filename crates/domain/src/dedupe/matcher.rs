//! Weighing two records: are they one organisation?
//!
//! Evidence, strongest first: the same USCC (one legal entity; two different
//! USCCs are two entities whatever the names say); the same reduced name in
//! compatible regions; a shared phone with a similar name; a one-character
//! typo or a homophone in a name long enough that chance is unlikely.
//! Short names that differ by a character (华为 / 华威) are only "possible":
//! shown to a person, never merged on their own.

use super::name::NameKey;
use super::regions;
use serde::Serialize;

/// A record as duplicate checking sees it.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// The reduced name.
    pub name: &'a NameKey,
    /// The USCC, if known (already validated).
    pub uscc: Option<&'a str>,
    /// Phone numbers in E.164.
    pub phones: &'a [String],
    /// The city (short form) from the address or region field, if known.
    pub city: Option<&'static str>,
}

/// Why two records were matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The same 统一社会信用代码.
    SameUscc,
    /// The same name once spelling, region and legal form are set aside.
    SameName,
    /// A shared phone number.
    SamePhone,
    /// Names one character apart.
    SimilarName,
    /// Names that sound the same.
    SameSound,
    /// One is a branch (分公司) of the other.
    Branch,
    /// A shared e-mail address (people).
    SameEmail,
    /// A shared WeChat id (people).
    SameWechat,
}

/// The verdict on two records.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub enum Verdict {
    /// One organisation: merge or open instead of creating.
    Same {
        /// Confidence, 0–1.
        score: f32,
        /// The evidence.
        reasons: Vec<Reason>,
    },
    /// Perhaps one organisation: show to a person, do not merge on its own.
    Possible {
        /// Confidence, 0–1.
        score: f32,
        /// The evidence.
        reasons: Vec<Reason>,
    },
    /// A branch and its head office (or two branches of one company): related records, not duplicates.
    Related,
    /// Different organisations.
    Different,
}

/// Levenshtein distance over characters, stopping early past `max`.
fn distance(a: &str, b: &str, max: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > max {
        return max + 1;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        let mut row_min = cur[0];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            row_min = row_min.min(cur[j + 1]);
        }
        if row_min > max {
            return max + 1;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

fn regions_compatible(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => regions::compatible(a, b),
        _ => true,
    }
}

/// Names at least this long (in characters) are distinctive enough that one
/// typo or a homophone still means the same company.
const DISTINCTIVE: usize = 6;

/// A trade name (字号) at least this long survives a one-character slip;
/// shorter ones (华为 / 华威) differ by a character between real companies.
const DISTINCTIVE_TRADE: usize = 4;

/// Words of industry and business line that end names, longest first. The
/// part of a name before them is its trade name (字号).
const INDUSTRY_WORDS: [&str; 64] = [
    "电子信息产业",
    "配电自动化",
    "继保自动化",
    "电力电子",
    "自动化",
    "信息技术",
    "数字技术",
    "系统技术",
    "工程技术",
    "工程咨询",
    "建设工程",
    "电力设计院",
    "设计院",
    "研究院",
    "科学研究院",
    "勘测设计院",
    "医疗电气",
    "机电设备",
    "电气设备",
    "开关设备",
    "自动化设备",
    "仪器仪表",
    "新能源",
    "变压器",
    "电力",
    "电气",
    "电器",
    "电子",
    "电缆",
    "电网",
    "科技",
    "技术",
    "软件",
    "网络",
    "信息",
    "能源",
    "设备",
    "工程",
    "实业",
    "贸易",
    "投资",
    "发展",
    "咨询",
    "服务",
    "制造",
    "材料",
    "环保",
    "通信",
    "传媒",
    "物流",
    "化工",
    "机械",
    "智能",
    "数字",
    "系统",
    "建设",
    "控股",
    "集团",
    "供电",
    "开关",
    "仪表",
    "继保",
    "配电",
    "银行",
];

/// The length, in characters, of a name's trade part: what is left once
/// industry words are taken off its end.
fn trade_len(core: &str) -> usize {
    let mut rest = core;
    'strip: loop {
        for w in INDUSTRY_WORDS {
            if rest.len() > w.len() && rest.ends_with(w) {
                rest = &rest[..rest.len() - w.len()];
                continue 'strip;
            }
        }
        return rest.chars().count();
    }
}

/// Where two names differ first, in characters.
fn first_difference(a: &str, b: &str) -> usize {
    a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count()
}

/// Whether a one-character difference is a slip of the same name rather than
/// another company: a misspelt industry word (科技 / 科枝) is; two real
/// industry words (电气 / 电器) are two lines of business; in the trade name
/// only a long one survives a slip.
fn slip_is_harmless(a: &str, b: &str) -> bool {
    let at = first_difference(a, b);
    let (ta, tb) = (trade_len(a), trade_len(b));
    match (at >= ta, at >= tb) {
        (true, true) => false,
        (true, false) | (false, true) => true,
        (false, false) => ta.min(tb) >= DISTINCTIVE_TRADE,
    }
}

/// Weighs two records.
pub fn compare(a: &Record<'_>, b: &Record<'_>) -> Verdict {
    let (na, nb) = (a.name, b.name);
    if let (Some(x), Some(y)) = (a.uscc, b.uscc) {
        return if x == y { Verdict::Same { score: 1.0, reasons: vec![Reason::SameUscc] } } else { Verdict::Different };
    }
    let same_core = na.core == nb.core;
    let len = na.core.chars().count().min(nb.core.chars().count());
    // A one-character difference that changes a place (东北 / 华北 电力设计院)
    // is another organisation, not a typo.
    let same_places = || regions::contained(&na.core) == regions::contained(&nb.core);
    let one_apart = !same_core && len >= DISTINCTIVE && distance(&na.core, &nb.core, 1) <= 1 && same_places();
    let sound_alike = !same_core && na.pinyin == nb.pinyin && !na.pinyin.is_empty() && same_places();
    let harmless = (one_apart || sound_alike) && slip_is_harmless(&na.core, &nb.core);
    let typo = one_apart && harmless;
    let sound = sound_alike && harmless;
    let similar_head = same_core || typo || sound;
    if similar_head && na.branch != nb.branch {
        return Verdict::Related;
    }
    let shared_phone = a.phones.iter().any(|p| b.phones.contains(p));
    let regions_ok = regions_compatible(na.region, nb.region);
    let cities_ok = regions_compatible(a.city.or(na.region), b.city.or(nb.region));
    if same_core && regions_ok {
        let mut reasons = vec![Reason::SameName];
        if shared_phone {
            reasons.push(Reason::SamePhone);
        }
        return Verdict::Same { score: if shared_phone { 0.99 } else { 0.95 }, reasons };
    }
    if (typo || sound) && regions_ok && cities_ok {
        let mut reasons = vec![if typo { Reason::SimilarName } else { Reason::SameSound }];
        if shared_phone {
            reasons.push(Reason::SamePhone);
            return Verdict::Same { score: 0.93, reasons };
        }
        return if len >= DISTINCTIVE {
            Verdict::Same { score: 0.85, reasons }
        } else {
            Verdict::Possible { score: 0.7, reasons }
        };
    }
    if shared_phone {
        // A shared switchboard alone is weak (groups, agents); with a similar name it is strong.
        let d = distance(&na.core, &nb.core, 2);
        if d <= 2 && regions_ok {
            return Verdict::Same { score: 0.9, reasons: vec![Reason::SamePhone, Reason::SimilarName] };
        }
        return Verdict::Possible { score: 0.5, reasons: vec![Reason::SamePhone] };
    }
    // Short names a character apart, or the same name in other regions: for a person to judge.
    let short_typo = len >= 2 && distance(&na.core, &nb.core, 1) <= 1;
    if short_typo || sound || same_core {
        let reasons = vec![if sound {
            Reason::SameSound
        } else if same_core {
            Reason::SameName
        } else {
            Reason::SimilarName
        }];
        return Verdict::Possible { score: 0.6, reasons };
    }
    Verdict::Different
}

#[cfg(test)]
mod tests {
    use super::super::company_key;
    use super::*;

    fn verdict(a: &str, b: &str) -> Verdict {
        verdict_with(a, &[], b, &[])
    }

    fn verdict_with(a: &str, pa: &[&str], b: &str, pb: &[&str]) -> Verdict {
        let (ka, kb) = (company_key(a), company_key(b));
        let pa: Vec<String> = pa.iter().map(|s| s.to_string()).collect();
        let pb: Vec<String> = pb.iter().map(|s| s.to_string()).collect();
        compare(
            &Record { name: &ka, uscc: None, phones: &pa, city: None },
            &Record { name: &kb, uscc: None, phones: &pb, city: None },
        )
    }

    fn is_same(v: &Verdict) -> bool {
        matches!(v, Verdict::Same { .. })
    }

    #[test]
    fn spellings_of_one_company_are_the_same() {
        assert!(is_same(&verdict("北京华为数字技术有限公司", "华为数字技术（北京）有限公司")));
        assert!(is_same(&verdict("北京华为数字技术有限公司", "華為數字技術（北京）有限公司")));
        // A typo in a long name.
        assert!(is_same(&verdict("沈阳远大电力电子科技有限公司", "沈阳远大电力电子科枝有限公司")));
    }

    #[test]
    fn close_names_of_different_companies_are_not_merged() {
        assert!(!is_same(&verdict("华为技术有限公司", "华威技术有限公司")), "homophone, short: only possible");
        assert!(matches!(verdict("华为技术有限公司", "华威技术有限公司"), Verdict::Possible { .. }));
        assert_eq!(verdict("北京银行", "上海银行"), Verdict::Different);
        assert!(!is_same(&verdict("深圳华为数字技术有限公司", "华为数字技术（北京）有限公司")), "regions disagree");
    }

    #[test]
    fn slips_in_short_trade_names_need_more_evidence() {
        assert!(
            !is_same(&verdict("沈阳华远电力科技有限公司", "沈阳华达电力科技有限公司")),
            "two companies, one character apart"
        );
        assert!(!is_same(&verdict("正泰电气股份有限公司", "正泰电器股份有限公司")), "two lines of business");
        assert!(
            is_same(&verdict("沈阳远大电力电子科技有限公司", "沈阳远大电力电子科枝有限公司")),
            "a misspelt industry word"
        );
        assert!(
            is_same(&verdict("杭州海康威视数字技术有限公司", "杭州海康威士数字技术有限公司")),
            "a long trade name survives a slip"
        );
        let v = verdict_with(
            "沈阳华远电力科技有限公司",
            &["+862412345678"],
            "沈阳华达电力科技有限公司",
            &["+862412345678"],
        );
        assert!(is_same(&v), "with a shared phone: {v:?}");
    }

    #[test]
    fn a_different_place_is_not_a_typo() {
        assert!(!is_same(&verdict(
            "中国电力工程顾问集团东北电力设计院有限公司",
            "中国电力工程顾问集团华北电力设计院有限公司"
        )));
    }

    #[test]
    fn branches_are_related_not_duplicates() {
        assert_eq!(verdict("华为技术有限公司", "华为技术有限公司上海分公司"), Verdict::Related);
        assert_eq!(verdict("华为技术有限公司北京分公司", "华为技术有限公司上海分公司"), Verdict::Related);
        assert!(is_same(&verdict("华为技术有限公司上海分公司", "华为技术有限公司上海市分公司")));
    }

    #[test]
    fn phones_and_registry_codes() {
        let v = verdict_with("远大科技", &["+862412345678"], "远大科枝", &["+862412345678"]);
        assert!(is_same(&v), "{v:?}");
        let v = verdict_with("远大科技", &["+862412345678"], "星河地产", &["+862412345678"]);
        assert!(matches!(v, Verdict::Possible { .. }), "a shared switchboard alone is not enough: {v:?}");
        let (a, b) = (company_key("甲公司"), company_key("完全不同的名字"));
        let same = compare(
            &Record { name: &a, uscc: Some("91110108551385082Q"), phones: &[], city: None },
            &Record { name: &b, uscc: Some("91110108551385082Q"), phones: &[], city: None },
        );
        assert_eq!(same, Verdict::Same { score: 1.0, reasons: vec![Reason::SameUscc] });
        let (a, b) = (company_key("华为技术有限公司"), company_key("华为技术有限公司"));
        let two = compare(
            &Record { name: &a, uscc: Some("91110108551385082Q"), phones: &[], city: None },
            &Record { name: &b, uscc: Some("914403001922038216"), phones: &[], city: None },
        );
        assert_eq!(two, Verdict::Different, "two registry codes are two legal entities");
    }

    #[test]
    fn distance_counts_characters() {
        assert_eq!(distance("华为技术", "华威技术", 3), 1);
        assert_eq!(distance("abc", "abc", 0), 0);
        assert!(distance("短", "很长很长的名字", 2) > 2);
    }
}
