//! The script library (话术, seeds 000 and 001) and the SPIN question bank:
//! prepared wording a salesperson reads beside the logging form, with
//! placeholders filled from the account and the person.

use crate::account::vocabulary;
use crate::values::FieldError;
use serde::{Deserialize, Serialize};

vocabulary!(
    /// What a script is for.
    ScriptKind {
        /// 开场白: open fast, say who and why.
        Opening = "opening" / "开场白",
        /// 见面理由: purpose, process, payoff (目的 过程 收益).
        Reason = "reason" / "见面理由",
        /// 异议处理.
        Objection = "objection" / "异议处理",
        /// 促成: ask for the next step.
        Closing = "closing" / "促成",
        /// SPIN: situation questions.
        SpinSituation = "spin_situation" / "SPIN 背景问题",
        /// SPIN: problem questions.
        SpinProblem = "spin_problem" / "SPIN 难点问题",
        /// SPIN: implication questions.
        SpinImplication = "spin_implication" / "SPIN 暗示问题",
        /// SPIN: need-payoff questions.
        SpinNeedPayoff = "spin_need_payoff" / "SPIN 需求效益问题",
    }
);

/// The placeholders a script may use, and what fills them.
pub const PLACEHOLDERS: [&str; 5] = ["{客户}", "{联系人}", "{职务}", "{我}", "{我司}"];

/// What fills the placeholders.
#[derive(Clone, Debug, Default)]
pub struct Fill<'a> {
    /// The account's short name, or its name.
    pub account: Option<&'a str>,
    /// The person's name.
    pub contact: Option<&'a str>,
    /// Their title.
    pub title: Option<&'a str>,
    /// The salesperson's name.
    pub me: &'a str,
    /// Our company (the workspace).
    pub company: &'a str,
}

/// Refuses a placeholder that does not exist (`{客户名}`), naming it.
pub fn check(field: &str, body: &str) -> Result<(), FieldError> {
    let mut rest = body;
    while let Some(start) = rest.find('{') {
        let Some(len) = rest[start..].find('}') else {
            return Err(FieldError::new(
                field,
                "unclosed_placeholder",
                format!("{field} opens a placeholder with {{ that never closes"),
            ));
        };
        let token = &rest[start..start + len + 1];
        if !PLACEHOLDERS.contains(&token) {
            return Err(FieldError::new(
                field,
                "unknown_placeholder",
                format!("{field} uses {token}, which is not one of {}", PLACEHOLDERS.join(" ")),
            ));
        }
        rest = &rest[start + len + 1..];
    }
    Ok(())
}

/// Fills a script's placeholders; one without a value reads as a blank to
/// fill in by voice (＿＿).
pub fn render(body: &str, f: &Fill<'_>) -> String {
    let blank = "＿＿";
    body.replace("{客户}", f.account.unwrap_or(blank))
        .replace("{联系人}", f.contact.unwrap_or(blank))
        .replace("{职务}", f.title.unwrap_or(blank))
        .replace("{我}", f.me)
        .replace("{我司}", f.company)
}

/// The starter set every workspace begins with, written from seeds 000 and 001.
pub const STARTER: &[(ScriptKind, &str, &str)] = &[
    (ScriptKind::Opening, "开门见山", "{联系人}{职务}您好，我是{我司}的{我}。给您打电话是想用五分钟说一件和{客户}调度自动化有关的事，您现在方便吗？"),
    (ScriptKind::Opening, "引荐开场", "{联系人}{职务}您好，我是{我司}的{我}，是刘主任建议我直接联系您的。"),
    (ScriptKind::Reason, "目的 过程 收益", "目的：了解{客户}明年技改的需求。过程：10:50 到，35 分钟，我们三个人，带一份同类单位的方案。收益：您拿到一份可直接参考的改造思路，不占您更多时间。"),
    (ScriptKind::Objection, "已有合作厂家", "理解，换厂家风险大。我们不是要替换谁，只想把同类单位的做法给您做个参考，您看下周二还是周四方便？"),
    (ScriptKind::Objection, "没有预算", "明白。很多单位也是先把方案放进明年的资金计划，我们可以先帮您把可研需要的材料准备好。"),
    (ScriptKind::Closing, "留钩子", "那我们就定在{客户}，下周二上午 10:50，我带方案过来，35 分钟。到时候我提前一天再跟您确认。"),
    (ScriptKind::SpinSituation, "现状", "{客户}现在用的调度系统是哪一年上线的？"),
    (ScriptKind::SpinProblem, "难点", "现在的系统在哪些情况下最让您操心？"),
    (ScriptKind::SpinImplication, "影响", "这个问题如果到迎峰度夏还没解决，会对供电可靠性考核有什么影响？"),
    (ScriptKind::SpinNeedPayoff, "价值", "如果这个问题解决了，对您今年的考核意味着什么？"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_checked_and_filled() {
        assert!(STARTER.iter().all(|(_, _, body)| check("body", body).is_ok()), "the starter set is valid");
        assert_eq!(check("body", "您好{客户名}").unwrap_err().code, "unknown_placeholder");
        assert_eq!(check("body", "您好{客户").unwrap_err().code, "unclosed_placeholder");
        let f = Fill {
            account: Some("东北局"), contact: Some("刘建国"), title: None, me: "张伟", company: "关系电气"
        };
        assert_eq!(
            render("{联系人}{职务}您好，我是{我司}的{我}，{客户}", &f),
            "刘建国＿＿您好，我是关系电气的张伟，东北局"
        );
    }
}
