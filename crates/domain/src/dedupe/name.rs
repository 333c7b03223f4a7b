//! A company name reduced to what identifies the company: simplified
//! characters, no punctuation, no legal form, the region kept apart, and a
//! branch (分公司, 分行…) split from its head office.

use super::regions;
use pinyin::ToPinyin;
use unicode_normalization::UnicodeNormalization;

/// What a company name says, reduced for matching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameKey {
    /// The distinctive part (字号 and industry): 华为数字技术.
    pub core: String,
    /// The region named in front or in brackets, short form: 北京.
    pub region: Option<&'static str>,
    /// A branch's own part (上海分公司); `core` is then its head office's.
    pub branch: Option<String>,
    /// The core in toneless pinyin, for homophones: huaweishuzijishu.
    pub pinyin: String,
}

/// Legal forms, longest first: removed from the end of a name.
const LEGAL_FORMS: [&str; 16] = [
    "集团股份有限公司",
    "股份有限公司",
    "有限责任公司",
    "集团有限公司",
    "有限公司",
    "股份公司",
    "集团公司",
    "总公司",
    "有限合伙",
    "普通合伙",
    "合伙企业",
    "个人独资企业",
    "公司",
    "集团",
    "有限",
    "总部",
];

/// English legal forms, as whole trailing words.
const ENGLISH_FORMS: [&str; 12] = [
    "co",
    "ltd",
    "limited",
    "inc",
    "incorporated",
    "corp",
    "corporation",
    "company",
    "group",
    "llc",
    "plc",
    "holdings",
];

/// Qualifiers written in brackets that do not change which company it is: （控股）.
const BRACKET_QUALIFIERS: [&str; 3] = ["控股", "集团", "总部"];

/// Words that end the name of a branch.
const BRANCH_MARKERS: [&str; 14] = [
    "分公司",
    "分行",
    "支行",
    "分理处",
    "办事处",
    "代表处",
    "营业部",
    "分部",
    "分厂",
    "分店",
    "分院",
    "分所",
    "分中心",
    "子公司",
];

/// Words that, alone, are an industry rather than a name: a region before
/// them is part of the name (北京银行 is not 上海银行).
const GENERIC: [&str; 40] = [
    "银行",
    "农商银行",
    "商业银行",
    "农村商业银行",
    "信用社",
    "保险",
    "证券",
    "信托",
    "电力",
    "供电",
    "电网",
    "电信",
    "移动",
    "联通",
    "石油",
    "石化",
    "化工",
    "钢铁",
    "建设",
    "建筑",
    "建工",
    "科技",
    "技术",
    "电子",
    "医院",
    "人民医院",
    "大学",
    "学院",
    "研究院",
    "设计院",
    "电力设计院",
    "机场",
    "地铁",
    "燃气",
    "自来水",
    "水务",
    "交通",
    "城投",
    "投资",
    "能源",
];

/// Folds a name to comparable text: NFKC (full-width letters, digits,
/// brackets), traditional to simplified, lower case.
fn fold(name: &str) -> String {
    let nfkc: String = name.nfkc().collect();
    fast2s::convert(&nfkc).to_lowercase()
}

fn is_open(c: char) -> bool {
    matches!(c, '(' | '[' | '{' | '【' | '〔' | '「' | '《' | '<')
}

fn is_close(c: char) -> bool {
    matches!(c, ')' | ']' | '}' | '】' | '〕' | '」' | '》' | '>')
}

/// Takes bracketed parts out: a region in brackets becomes the region; other
/// bracketed text stays in the name (without the brackets).
fn take_brackets(s: &str) -> (String, Option<&'static str>) {
    let mut out = String::new();
    let mut region = None;
    let mut group = String::new();
    let mut depth = 0usize;
    for c in s.chars() {
        if is_open(c) {
            depth += 1;
            if depth == 1 {
                group.clear();
            }
        } else if is_close(c) && depth > 0 {
            depth -= 1;
            if depth == 0 {
                let inner: String = group.chars().filter(|c| c.is_alphanumeric()).collect();
                match regions::exactly(&inner) {
                    // （中国） says nothing about where: dropped.
                    Some(r) if regions::is_national(r) => {}
                    Some(r) => region = region.or(Some(r)),
                    None if LEGAL_FORMS.contains(&inner.as_str()) || BRACKET_QUALIFIERS.contains(&inner.as_str()) => {}
                    None => out.push_str(&group),
                }
            }
        } else if depth > 0 {
            group.push(c);
        } else {
            out.push(c);
        }
    }
    if depth > 0 {
        // An unclosed bracket: keep what followed it.
        out.push_str(&group);
    }
    (out, region)
}

/// Removes trailing English legal-form words: "Huawei Technologies Co., Ltd." → "huawei technologies".
fn strip_english_forms(s: &str) -> String {
    let mut words: Vec<&str> = s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    while words.len() > 1 && words.last().is_some_and(|w| ENGLISH_FORMS.contains(w)) {
        words.pop();
    }
    words.concat()
}

fn strip_legal_forms(mut s: String) -> String {
    loop {
        let before = s.len();
        for form in LEGAL_FORMS {
            if s.ends_with(form) && s.chars().count() > form.chars().count() {
                s.truncate(s.len() - form.len());
                break;
            }
        }
        if s.len() == before {
            return s;
        }
    }
}

/// Splits "华为技术有限公司上海分公司" into the head office and "上海分公司".
fn split_branch(s: &str) -> Option<(String, String)> {
    let marker = BRANCH_MARKERS.iter().find(|m| s.ends_with(*m))?;
    let before = &s[..s.len() - marker.len()];
    // After the head office's legal form…
    let after_form = LEGAL_FORMS.iter().filter_map(|f| before.rfind(f).map(|i| i + f.len())).max();
    let split = match after_form {
        Some(i) if i > 0 => i,
        // …or before the region the branch is named after (中国银行北京分行)…
        _ => match regions::trailing(before) {
            Some((_, start)) if start > 0 => start,
            // …or at the marker itself.
            _ => before.len(),
        },
    };
    let head = s[..split].to_owned();
    if head.chars().count() < 2 {
        return None;
    }
    let branch = &s[split..];
    // 上海市分公司 and 上海分公司 are the same branch.
    let branch = match regions::leading(branch) {
        Some((short, len)) => format!("{short}{}", &branch[len..]),
        None => branch.to_owned(),
    };
    Some((head, branch))
}

fn pinyin_of(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for (c, p) in s.chars().zip(s.to_pinyin()) {
        match p {
            Some(p) => out.push_str(p.plain()),
            None => out.push(c),
        }
    }
    out
}

/// Reduces a company name for matching.
pub fn company_key(name: &str) -> NameKey {
    let folded = fold(name);
    let (text, bracket_region) = take_brackets(&folded);
    let text = strip_english_forms(&text);
    let (head, branch) = match split_branch(&text) {
        Some((head, branch)) => (head, Some(branch)),
        None => (text, None),
    };
    let mut core = strip_legal_forms(head);
    let mut region = bracket_region;
    // Leading regions (广东省深圳市…): the most specific one is kept.
    while let Some((short, len)) = regions::leading(&core) {
        let rest = &core[len..];
        let rest_core = strip_legal_forms(rest.to_owned());
        if rest_core.chars().count() < 3 || GENERIC.contains(&rest_core.as_str()) {
            // The region is part of the name (北京银行); written the short way
            // so that 江苏省电力设计院 and 江苏电力设计院 agree.
            if !regions::is_national(short) {
                core = format!("{short}{rest}");
            }
            break;
        }
        if !regions::is_national(short) {
            region = Some(short);
        }
        core = rest.to_owned();
    }
    let core = strip_legal_forms(core);
    let pinyin = pinyin_of(&core);
    NameKey { core, region, branch, pinyin }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> (String, Option<&'static str>, Option<String>) {
        let k = company_key(s);
        (k.core, k.region, k.branch)
    }

    #[test]
    fn one_company_under_many_spellings() {
        let want = ("华为数字技术".to_owned(), Some("北京"), None);
        for s in [
            "北京华为数字技术有限公司",
            "华为数字技术（北京）有限公司",
            "华为数字技术(北京)有限公司",
            "北京市华为数字技术有限责任公司",
            "華為數字技術（北京）有限公司",
            "华为 数字技术（北京）有限公司 ",
            "【北京】华为数字技术股份有限公司",
        ] {
            assert_eq!(key(s), want, "{s}");
        }
    }

    #[test]
    fn regions_before_industry_words_are_part_of_the_name() {
        assert_eq!(key("北京银行股份有限公司").0, "北京银行");
        assert_eq!(key("上海银行").0, "上海银行");
        assert_eq!(key("中国银行股份有限公司").0, "中国银行");
        assert_eq!(key("中国石油天然气股份有限公司"), ("石油天然气".to_owned(), None, None));
    }

    #[test]
    fn branches_are_split_from_their_head_office() {
        assert_eq!(key("华为技术有限公司上海分公司"), ("华为技术".to_owned(), None, Some("上海分公司".to_owned())));
        assert_eq!(key("华为技术有限公司上海市分公司").2, Some("上海分公司".to_owned()));
        assert_eq!(key("中国银行北京分行"), ("中国银行".to_owned(), None, Some("北京分行".to_owned())));
        assert_eq!(key("国家电网有限公司东北分部").2, Some("东北分部".to_owned()));
    }

    #[test]
    fn english_names() {
        assert_eq!(key("Huawei Technologies Co., Ltd.").0, "huaweitechnologies");
        assert_eq!(key("HUAWEI TECHNOLOGIES CO LTD").0, "huaweitechnologies");
    }

    #[test]
    fn qualifiers_and_region_spellings() {
        assert_eq!(key("北京中关村科技发展（控股）股份有限公司").0, key("中关村科技发展（北京）股份有限公司").0);
        assert_eq!(key("施耐德电气（中国）有限公司"), ("施耐德电气".to_owned(), None, None));
        assert_eq!(key("延边朝鲜族自治州供电公司").0, key("延边供电公司").0);
        assert_eq!(key("江苏省电力设计院").0, "江苏电力设计院");
    }

    #[test]
    fn pinyin_for_homophones() {
        assert_eq!(company_key("华为技术有限公司").pinyin, "huaweijishu");
        assert_eq!(company_key("华威技术有限公司").pinyin, "huaweijishu");
    }
}
