//! Opportunities (商机), seed 000: a project moves along the Chinese
//! procurement path, 立项 → 资金计划 → 可研 → 设计 → 厂家征询 → 可研审查 →
//! 招标 → 中标 → 合同 → 实施 → 回款, and *where we first came in* decides
//! the deal: before the feasibility study is written we can shape it; at
//! vendor consultation we are second or third; at review or tender we are
//! only there to make up the bidder count (陪标).

use crate::account::vocabulary;
use crate::values::FieldError;
use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

vocabulary!(
    /// A stage of the procurement path (采购阶段), in order.
    Stage {
        /// 立项: the project is proposed; we can help write the proposal.
        Initiation = "initiation" / "立项",
        /// 资金计划: the budget is planned.
        FundingPlan = "funding_plan" / "资金计划",
        /// 可研: the feasibility study (可研勘察).
        Feasibility = "feasibility" / "可研",
        /// 设计: the design, where there is no feasibility study.
        Design = "design" / "设计",
        /// 厂家征询: vendors are consulted.
        VendorConsultation = "vendor_consultation" / "厂家征询",
        /// 可研审查: the study is reviewed.
        FeasibilityReview = "feasibility_review" / "可研审查",
        /// 招标: the tender (组织采购).
        Tender = "tender" / "招标",
        /// 中标: the award.
        Award = "award" / "中标",
        /// 合同: the contract is signed.
        Contract = "contract" / "合同",
        /// 实施: delivery and implementation.
        Implementation = "implementation" / "实施",
        /// 回款: payment collected.
        Payment = "payment" / "回款",
    }
);

vocabulary!(
    /// Where a deal stands overall.
    OpportunityStatus {
        /// 进行中.
        Open = "open" / "进行中",
        /// 赢单: awarded to us (中标 or later).
        Won = "won" / "赢单",
        /// 输单: lost, at whatever stage, with the reason kept.
        Lost = "lost" / "输单",
    }
);

vocabulary!(
    /// What the stage of our first contact means for the deal (seed 000).
    EntryTiming {
        /// 先发优势: in at 立项 or 资金计划, we can help write the proposal and budget.
        FirstMover = "first_mover" / "先发优势",
        /// 稍晚: in at 可研 or 设计, "稍微有点晚了", be watchful.
        Late = "late" / "稍晚",
        /// 无先发优势: in at 厂家征询, another vendor came first.
        NoFirstMover = "no_first_mover" / "无先发优势",
        /// 陪标风险: in at 可研审查, 招标 or later, invited to make up the count.
        AccompanyBid = "accompany_bid" / "陪标风险",
    }
);

impl Stage {
    /// The stage's place on the path, from 0.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    /// 中标 and after: the deal is ours.
    pub fn is_won(self) -> bool {
        self >= Stage::Award
    }

    /// Reads a stage as people and other CRMs write it: the identifier, the
    /// Chinese label, or the usual synonyms (可研勘察, 组织采购, 签约…).
    pub fn read_loose(s: &str) -> Option<Self> {
        let s: String = s.nfkc().collect::<String>().trim().to_owned();
        if let Some(v) = Self::read(&s) {
            return Some(v);
        }
        let packed: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        let st = match packed.as_str() {
            "项目立项" | "立项阶段" | "请购" => Stage::Initiation,
            "预算" | "资金" | "资金计划阶段" => Stage::FundingPlan,
            "可研勘察" | "可行性研究" | "可研阶段" => Stage::Feasibility,
            "设计阶段" | "初步设计" => Stage::Design,
            "征询" | "厂家咨询" | "技术交流" => Stage::VendorConsultation,
            "评审" | "可研评审" => Stage::FeasibilityReview,
            "组织采购" | "投标" | "招投标" | "招标阶段" => Stage::Tender,
            "赢单" | "已中标" => Stage::Award,
            "签约" | "签合同" | "合同签订" => Stage::Contract,
            "交付" | "实施阶段" | "验收" => Stage::Implementation,
            "收款" | "已回款" => Stage::Payment,
            _ => return None,
        };
        Some(st)
    }
}

impl EntryTiming {
    /// What entering at `stage` means (seed 000: "在可研审查的时候再去 … 那不就是陪标吗").
    pub fn of(stage: Stage) -> Self {
        match stage {
            Stage::Initiation | Stage::FundingPlan => EntryTiming::FirstMover,
            Stage::Feasibility | Stage::Design => EntryTiming::Late,
            Stage::VendorConsultation => EntryTiming::NoFirstMover,
            _ => EntryTiming::AccompanyBid,
        }
    }

    /// Whether the deal is at risk because we came in late (shown in red).
    pub fn is_risk(self) -> bool {
        matches!(self, EntryTiming::NoFirstMover | EntryTiming::AccompanyBid)
    }
}

/// The status a deal takes from what was asked and its stage: lost when
/// said (with a reason), won from 中标 on, open otherwise. A deal asked to
/// be won before 中标, or to be open at 中标 or later, is refused.
pub fn settle(stage: Stage, asked: Option<OpportunityStatus>) -> Result<OpportunityStatus, FieldError> {
    match asked {
        Some(OpportunityStatus::Lost) => Ok(OpportunityStatus::Lost),
        Some(OpportunityStatus::Won) if !stage.is_won() => Err(FieldError::new(
            "status",
            "stage_not_won",
            format!(
                "status won needs stage award (中标) or later; the stage is {} ({})",
                stage.as_str(),
                stage.label_zh()
            ),
        )),
        Some(OpportunityStatus::Open) if stage.is_won() => Err(FieldError::new(
            "status",
            "stage_won",
            format!(
                "at stage {} ({}) the deal is won; set an earlier stage to reopen it",
                stage.as_str(),
                stage.label_zh()
            ),
        )),
        _ if stage.is_won() => Ok(OpportunityStatus::Won),
        _ => Ok(OpportunityStatus::Open),
    }
}

/// The largest amount one may enter, in yuan: one trillion (一万亿).
pub const MAX_YUAN: i64 = 1_000_000_000_000;

/// Parses an amount of money as people type it, into fen (分): `1234.5`,
/// `¥1,234.56`, `１２万`, `12.5万元`, `1.2亿`, `RMB 80,000`. Full-width
/// characters are folded first; more than two decimals of a yuan, a
/// negative amount or more than [`MAX_YUAN`] are refused.
pub fn parse_amount(field: &str, raw: &str) -> Result<i64, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "invalid_amount",
            format!("{field} must be an amount in yuan such as 1234.56, ¥1,234.56 or 12.5万, not {raw:?}"),
        )
    };
    let folded: String = raw.nfkc().collect();
    let mut s: String = folded.chars().filter(|c| !c.is_whitespace() && *c != ',' && *c != '，').collect();
    for prefix in ["¥", "RMB", "rmb", "CNY", "cny"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
        }
    }
    if let Some(rest) = s.strip_suffix("元") {
        s = rest.to_owned();
    }
    // Fen per unit of what is left.
    let (digits, scale): (&str, i128) = if let Some(d) = s.strip_suffix("亿") {
        (d, 10_000_000_000)
    } else if let Some(d) = s.strip_suffix('万') {
        (d, 1_000_000)
    } else {
        (s.as_str(), 100)
    };
    if digits.starts_with('-') {
        return Err(FieldError::new(field, "negative", format!("{field} must not be negative")));
    }
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || whole.len() > 15
        || frac.len() > 12
    {
        return Err(bad());
    }
    let whole_v: i128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| bad())? };
    let frac_v: i128 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad())? };
    let denom = 10i128.pow(frac.len() as u32);
    let fen_num = whole_v * scale * denom + frac_v * scale;
    if fen_num % denom != 0 {
        return Err(FieldError::new(
            field,
            "too_precise",
            format!("{field} has more than two decimals of a yuan (分 is the smallest unit): {raw:?}"),
        ));
    }
    let fen = fen_num / denom;
    if fen > i128::from(MAX_YUAN) * 100 {
        return Err(FieldError::new(field, "too_large", format!("{field} is more than one trillion yuan")));
    }
    i64::try_from(fen).map_err(|_| bad())
}

/// An amount in fen as a table shows it: `¥1,234.56` (no decimals when whole yuan).
pub fn format_yuan(fen: i64) -> String {
    let yuan = fen / 100;
    let cents = (fen % 100).abs();
    let digits = yuan.abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if fen < 0 { "-" } else { "" };
    if cents == 0 {
        format!("{sign}¥{grouped}")
    } else {
        format!("{sign}¥{grouped}.{cents:02}")
    }
}

/// An amount for a summary: `12.5万`, `3.2亿`, or yuan below ten thousand.
pub fn format_wan(fen: i64) -> String {
    let yuan = fen as f64 / 100.0;
    let trim = |v: f64| {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
    };
    if yuan.abs() >= 100_000_000.0 {
        format!("{}亿", trim(yuan / 100_000_000.0))
    } else if yuan.abs() >= 10_000.0 {
        format!("{}万", trim(yuan / 10_000.0))
    } else {
        format!("{}", yuan.round() as i64)
    }
}

/// An amount in fen as the API and exports write it: yuan with two decimals (`1234.50`).
pub fn yuan_text(fen: i64) -> String {
    format!("{}.{:02}", fen / 100, (fen % 100).abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_in_order_and_won_from_award_on() {
        assert_eq!(Stage::ALL.len(), 11);
        assert_eq!(Stage::Initiation.index(), 0);
        assert_eq!(Stage::Payment.index(), 10);
        assert!(Stage::Tender < Stage::Award);
        assert!(!Stage::Tender.is_won());
        assert!(Stage::Award.is_won() && Stage::Payment.is_won());
    }

    #[test]
    fn entry_timing_follows_the_seed() {
        assert_eq!(EntryTiming::of(Stage::Initiation), EntryTiming::FirstMover);
        assert_eq!(EntryTiming::of(Stage::FundingPlan), EntryTiming::FirstMover);
        assert_eq!(EntryTiming::of(Stage::Feasibility), EntryTiming::Late);
        assert_eq!(EntryTiming::of(Stage::Design), EntryTiming::Late);
        assert_eq!(EntryTiming::of(Stage::VendorConsultation), EntryTiming::NoFirstMover);
        assert_eq!(EntryTiming::of(Stage::FeasibilityReview), EntryTiming::AccompanyBid);
        assert_eq!(EntryTiming::of(Stage::Tender), EntryTiming::AccompanyBid);
        assert!(EntryTiming::AccompanyBid.is_risk() && EntryTiming::NoFirstMover.is_risk());
        assert!(!EntryTiming::Late.is_risk());
    }

    #[test]
    fn status_follows_the_stage_unless_lost() {
        assert_eq!(settle(Stage::Tender, None).unwrap(), OpportunityStatus::Open);
        assert_eq!(settle(Stage::Award, None).unwrap(), OpportunityStatus::Won);
        assert_eq!(settle(Stage::Tender, Some(OpportunityStatus::Lost)).unwrap(), OpportunityStatus::Lost);
        assert_eq!(settle(Stage::Design, Some(OpportunityStatus::Won)).unwrap_err().code, "stage_not_won");
        assert_eq!(settle(Stage::Contract, Some(OpportunityStatus::Open)).unwrap_err().code, "stage_won");
    }

    #[test]
    fn stages_are_read_as_people_write_them() {
        assert_eq!(Stage::read_loose("可研"), Some(Stage::Feasibility));
        assert_eq!(Stage::read_loose("可研勘察"), Some(Stage::Feasibility));
        assert_eq!(Stage::read_loose("组织采购"), Some(Stage::Tender));
        assert_eq!(Stage::read_loose("vendor_consultation"), Some(Stage::VendorConsultation));
        assert_eq!(Stage::read_loose(" 招 标 "), Some(Stage::Tender));
        assert_eq!(Stage::read_loose("谈判"), None);
    }

    #[test]
    fn amounts_are_read_as_typed() {
        assert_eq!(parse_amount("amount", "1234.5"), Ok(123_450));
        assert_eq!(parse_amount("amount", "¥1,234.56"), Ok(123_456));
        assert_eq!(parse_amount("amount", "￥１，２３４"), Ok(123_400), "full-width from a Chinese IME");
        assert_eq!(parse_amount("amount", "12.5万"), Ok(12_500_000));
        assert_eq!(parse_amount("amount", "12.5万元"), Ok(12_500_000));
        assert_eq!(parse_amount("amount", "1.2亿"), Ok(12_000_000_000));
        assert_eq!(parse_amount("amount", "RMB 80,000"), Ok(8_000_000));
        assert_eq!(parse_amount("amount", "0"), Ok(0));
        assert_eq!(parse_amount("amount", "1.234").unwrap_err().code, "too_precise");
        assert_eq!(parse_amount("amount", "-5").unwrap_err().code, "negative");
        assert_eq!(parse_amount("amount", "abc").unwrap_err().code, "invalid_amount");
        assert_eq!(parse_amount("amount", "万").unwrap_err().code, "invalid_amount");
        assert_eq!(parse_amount("amount", "2万亿").unwrap_err().code, "invalid_amount");
        assert_eq!(parse_amount("amount", "10001亿").unwrap_err().code, "too_large");
        assert!(parse_amount("amount", "1.2亿").is_ok());
    }

    #[test]
    fn amounts_are_shown_in_yuan_and_wan() {
        assert_eq!(format_yuan(123_456), "¥1,234.56");
        assert_eq!(format_yuan(100_000_000), "¥1,000,000");
        assert_eq!(format_yuan(5), "¥0.05");
        assert_eq!(format_wan(12_500_000), "12.5万");
        assert_eq!(format_wan(32_000_000_000), "3.2亿");
        assert_eq!(format_wan(800_000), "8000");
        assert_eq!(yuan_text(123_450), "1234.50");
    }
}
