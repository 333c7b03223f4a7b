//! Realistic dirty company lists with known truth, at any size: the data for
//! benchmarking `guanxi dedupe` and estimating its quality at scale.
//! Deterministic: the same size gives the same file.

use anyhow::Context;
use std::io::Write;
use std::path::Path;

/// A small, fast, seeded generator (xorshift64*): reproducible files.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Cities: short and full name, area code, digits of a local number (南宁 has seven).
pub(crate) const CITIES: [(&str, &str, &str, usize); 24] = [
    ("北京", "北京市", "010", 8),
    ("上海", "上海市", "021", 8),
    ("天津", "天津市", "022", 8),
    ("重庆", "重庆市", "023", 8),
    ("沈阳", "沈阳市", "024", 8),
    ("南京", "南京市", "025", 8),
    ("武汉", "武汉市", "027", 8),
    ("成都", "成都市", "028", 8),
    ("西安", "西安市", "029", 8),
    ("广州", "广州市", "020", 8),
    ("深圳", "深圳市", "0755", 8),
    ("杭州", "杭州市", "0571", 8),
    ("长春", "长春市", "0431", 8),
    ("哈尔滨", "哈尔滨市", "0451", 8),
    ("大连", "大连市", "0411", 8),
    ("济南", "济南市", "0531", 8),
    ("青岛", "青岛市", "0532", 8),
    ("郑州", "郑州市", "0371", 8),
    ("长沙", "长沙市", "0731", 8),
    ("苏州", "苏州市", "0512", 8),
    ("合肥", "合肥市", "0551", 8),
    ("福州", "福州市", "0591", 8),
    ("昆明", "昆明市", "0871", 8),
    ("南宁", "南宁市", "0771", 7),
];

/// Characters of trade names (字号).
pub(crate) const NAME_CHARS: &str = "华远大中兴通达恒瑞科信安泰明新创联鑫盛宏博智德天海金宝正东方凯锐晨辉景龙光宇星汇鼎诚嘉源润祥和云峰腾飞扬佳美康普益力聚合众立威越昌隆丰茂弘毅卓腾骏奥晟睿铭泓澜湘沁洲江岳川";
/// A look-alike or homophone for typos.
pub(crate) const TYPO_CHARS: &str = "化远达钟星同大衡锐课心按太名心闯连新胜红搏志得田嗨今保证冬芳恺瑞辰挥井隆广雨兴会顶成佳元闰翔合允锋藤非阳家每慷谱溢立巨和众利伟悦长龙风贸宏义桌藤俊傲胜瑞明宏兰相琴州将越穿";
pub(crate) const INDUSTRIES: [&str; 16] = [
    "电力科技",
    "电气设备",
    "自动化设备",
    "信息技术",
    "工程咨询",
    "电子科技",
    "能源科技",
    "建设工程",
    "智能科技",
    "软件技术",
    "网络科技",
    "机电设备",
    "电缆",
    "变压器",
    "开关设备",
    "仪器仪表",
];
pub(crate) const FORMS: [&str; 4] = ["有限公司", "有限责任公司", "股份有限公司", "集团有限公司"];

/// A valid USCC for a city's division code.
pub(crate) fn uscc(rng: &mut Rng) -> String {
    const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
    const WEIGHTS: [usize; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
    let mut body: Vec<u8> = b"91".to_vec();
    body.extend(format!("{:06}", 110000 + rng.below(500000)).bytes());
    for _ in 0..9 {
        body.push(ALPHABET[rng.below(31)]);
    }
    let sum: usize = body.iter().zip(WEIGHTS).map(|(c, w)| ALPHABET.iter().position(|a| a == c).unwrap_or(0) * w).sum();
    body.push(ALPHABET[(31 - sum % 31) % 31]);
    String::from_utf8(body).unwrap_or_default()
}

/// Writes `rows` records of organisations with 1–4 spellings each:
/// `record_id,name,phone,uscc,city,true_cluster`.
pub fn write(path: &Path, rows: usize) -> anyhow::Result<usize> {
    let file = std::fs::File::create(path).with_context(|| format!("cannot write {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    writeln!(out, "record_id,name,phone,uscc,city,true_cluster")?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let chars: Vec<char> = NAME_CHARS.chars().collect();
    let typos: Vec<char> = TYPO_CHARS.chars().collect();
    let (mut written, mut org) = (0usize, 0usize);
    // The registry allows one company per name and region: so do we.
    let mut taken = std::collections::HashSet::new();
    while written < rows {
        let (city, city_full, area, digits) = *rng.pick(&CITIES);
        let trade: String =
            (0..2 + usize::from(rng.chance(60)) + usize::from(rng.chance(20))).map(|_| *rng.pick(&chars)).collect();
        let industry = *rng.pick(&INDUSTRIES);
        if !taken.insert((city, trade.clone(), industry)) {
            continue;
        }
        org += 1;
        let form = *rng.pick(&FORMS);
        let local = format!("{}{}", 2 + rng.below(8), 1_000_000 + rng.below(8_999_999));
        let phone_digits = &local[..digits];
        let uscc = if rng.chance(30) { uscc(&mut rng) } else { String::new() };
        let spellings = 1 + if rng.chance(40) { 1 + rng.below(3) } else { 0 };
        for s in 0..spellings {
            if written == rows {
                break;
            }
            let mut trade_s = trade.clone();
            if s > 0 && rng.chance(10) && trade.chars().count() + industry.chars().count() >= 6 {
                // A typo in the trade name.
                let mut cs: Vec<char> = trade_s.chars().collect();
                let i = rng.below(cs.len());
                cs[i] = *rng.pick(&typos);
                trade_s = cs.into_iter().collect();
            }
            let name = match if s == 0 { 0 } else { rng.below(5) } {
                0 => format!("{city_full}{trade_s}{industry}{form}"),
                1 => format!("{trade_s}{industry}（{city}）{form}"),
                2 => format!("{city}{trade_s}{industry}{}", rng.pick(&FORMS)),
                3 => format!("{city} {trade_s}{industry} {form}"),
                _ => format!("{trade_s}{industry}({city}){form}"),
            };
            let phone = match rng.below(4) {
                0 => format!("{area}-{phone_digits}"),
                1 => format!("({area}){phone_digits}"),
                2 if s > 0 => String::new(),
                _ => format!("+86 {} {phone_digits}", area.trim_start_matches('0')),
            };
            let uscc_s = if s == 0 || rng.chance(50) { uscc.as_str() } else { "" };
            let city_col = if rng.chance(70) { city } else { "" };
            written += 1;
            writeln!(out, "r{written},{name},{phone},{uscc_s},{city_col},o{org}")?;
        }
    }
    out.flush()?;
    Ok(org)
}
