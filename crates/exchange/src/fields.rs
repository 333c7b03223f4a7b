//! What a column can hold, per kind of record, and the headers people give
//! those columns (Chinese and English, and Guanxi's own export), so that a
//! file maps itself when nobody picked a preset.

use serde::{Deserialize, Serialize};

/// A kind of record a file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// 客户.
    Accounts,
    /// 联系人.
    Contacts,
    /// 跟进记录: calls, visits, messages.
    Activities,
    /// 商机: deals along the procurement path.
    Opportunities,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Accounts, Kind::Contacts, Kind::Activities, Kind::Opportunities];

    /// As stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Accounts => "accounts",
            Kind::Contacts => "contacts",
            Kind::Activities => "activities",
            Kind::Opportunities => "opportunities",
        }
    }

    /// Parses the stored form.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The fields of this kind.
    pub fn fields(self) -> &'static [Field] {
        match self {
            Kind::Accounts => ACCOUNT_FIELDS,
            Kind::Contacts => CONTACT_FIELDS,
            Kind::Activities => ACTIVITY_FIELDS,
            Kind::Opportunities => OPPORTUNITY_FIELDS,
        }
    }

    /// The field with this key.
    pub fn field(self, key: &str) -> Option<&'static Field> {
        self.fields().iter().find(|f| f.key == key)
    }
}

/// A field a column can fill.
#[derive(Debug)]
pub struct Field {
    /// Its key, as in mappings and presets.
    pub key: &'static str,
    /// Several columns may fill it (phones, e-mails, tags): joined.
    pub multi: bool,
    /// Headers that mean it, compared after [`normalise`].
    pub labels: &'static [&'static str],
}

const fn f(key: &'static str, labels: &'static [&'static str]) -> Field {
    Field { key, multi: false, labels }
}

const fn many(key: &'static str, labels: &'static [&'static str]) -> Field {
    Field { key, multi: true, labels }
}

/// A column that is read and dropped (Guanxi's `updated_at`, say).
pub const IGNORE: &str = "ignore";

/// Account fields. `external_id` is the source system's id of the row;
/// `id` a Guanxi id (its own export).
pub static ACCOUNT_FIELDS: &[Field] = &[
    f("id", &["id", "guanxiid"]),
    f("external_id", &["externalid", "外部编号", "外部id", "客户编号", "客户编码", "recordid", "accountid"]),
    f(
        "name",
        &[
            "name",
            "accountname",
            "companyname",
            "company",
            "organization",
            "organisation",
            "客户名称",
            "公司名称",
            "企业名称",
            "单位名称",
            "客户",
            "名称",
            "公司",
            "单位",
            "客户全称",
        ],
    ),
    f("short_name", &["shortname", "简称", "客户简称", "公司简称"]),
    f("uscc", &["uscc", "统一社会信用代码", "信用代码", "社会信用代码", "税号", "纳税人识别号", "vat", "taxid"]),
    many(
        "phones",
        &[
            "phones",
            "phone",
            "phonenumber",
            "telephone",
            "tel",
            "电话",
            "总机",
            "联系电话",
            "公司电话",
            "座机",
            "传真",
            "fax",
        ],
    ),
    f("region_code", &["regioncode", "区划代码", "行政区划代码"]),
    f(
        "region",
        &["region", "地区", "区域", "所在地区", "省市", "省份", "城市", "所在城市", "city", "state", "province"],
    ),
    f("address", &["address", "street", "地址", "详细地址", "公司地址", "办公地址", "billingstreet", "streetaddress"]),
    f("website", &["website", "web", "url", "domain", "网址", "官网", "网站", "companydomainname"]),
    f("industry", &["industry", "行业", "所属行业"]),
    f("source", &["source", "leadsource", "accountsource", "来源", "客户来源", "线索来源"]),
    f("referrer", &["referrer", "referredby", "介绍人", "转介绍人", "推荐人"]),
    f("classification", &["classification", "class", "rating", "客户级别", "客户等级", "级别", "等级", "分类"]),
    f("key_account", &["keyaccount", "大客户", "是否大客户", "重点客户"]),
    f("relationship_stage", &["relationshipstage", "关系阶段", "客户阶段"]),
    f(
        "owner",
        &[
            "owner",
            "ownername",
            "owneremail",
            "accountowner",
            "负责人",
            "所属销售",
            "销售",
            "客户经理",
            "跟进人",
            "业务员",
        ],
    ),
    f("team", &["team", "teamname", "团队", "部门", "所属团队"]),
    many("tags", &["tags", "tag", "标签"]),
    many("notes", &["notes", "note", "description", "comment", "comments", "备注", "说明", "描述"]),
    f(IGNORE, &["updatedat", "createdat", "更新时间", "创建时间"]),
];

/// Contact fields. The account is found by `account_id` (a Guanxi id), by
/// `account_external_id` (an earlier import's or the source's id), or by
/// `account_name` with 查重.
pub static CONTACT_FIELDS: &[Field] = &[
    f("id", &["id", "guanxiid"]),
    f("external_id", &["externalid", "外部编号", "外部id", "联系人编号", "contactid", "recordid"]),
    f("account_id", &["accountid", "客户id"]),
    f("account_external_id", &["accountexternalid", "客户外部编号", "客户编号", "associatedcompanyid", "companyid"]),
    f(
        "account_name",
        &[
            "accountname",
            "account",
            "company",
            "companyname",
            "associatedcompany",
            "organization",
            "客户",
            "客户名称",
            "公司",
            "公司名称",
            "单位",
            "单位名称",
            "所属客户",
            "所属公司",
            "企业名称",
        ],
    ),
    f("name", &["name", "fullname", "contactname", "姓名", "联系人", "联系人姓名", "名字"]),
    f("last_name", &["lastname", "surname", "familyname", "姓"]),
    f("first_name", &["firstname", "givenname", "名"]),
    f("department", &["department", "dept", "部门"]),
    f("title", &["title", "jobtitle", "position", "function", "职务", "职位", "岗位", "头衔"]),
    many(
        "phones",
        &[
            "phones",
            "phone",
            "mobile",
            "mobilephone",
            "mobilephonenumber",
            "phonenumber",
            "手机",
            "手机号",
            "手机号码",
            "电话",
            "联系电话",
            "办公电话",
            "座机",
        ],
    ),
    many("emails", &["emails", "email", "emailaddress", "邮箱", "电子邮箱", "电子邮件", "邮件"]),
    f("wechat", &["wechat", "weixin", "微信", "微信号"]),
    f("stance", &["stance", "态度", "立场"]),
    f("relationship_strength", &["relationshipstrength", "客情", "关系强度", "熟悉程度"]),
    f("key_person", &["keyperson", "关键人", "是否关键人"]),
    f("buying_role", &["buyingrole", "role", "采购角色", "角色"]),
    f("birthday", &["birthday", "birthdate", "dateofbirth", "生日", "出生日期"]),
    many("notes", &["notes", "note", "description", "comment", "备注", "说明"]),
    many("tags", &["tags", "tag", "标签"]),
    f("left_company", &["leftcompany", "已离职", "离职"]),
    f(IGNORE, &["updatedat", "createdat", "更新时间", "创建时间"]),
];

/// Activity fields: the account as for contacts; the person met by name at
/// that account; who logged it (`author`, an e-mail or a name; by default the
/// account's owner); a hook (`hook`, with `hook_due`) when it leaves one.
pub static ACTIVITY_FIELDS: &[Field] = &[
    f("external_id", &["externalid", "外部编号", "外部id", "记录编号", "activityid", "taskid", "recordid"]),
    f("account_id", &["accountid", "客户id"]),
    f("account_external_id", &["accountexternalid", "客户外部编号", "客户编号", "whatid", "associatedcompanyid"]),
    f(
        "account_name",
        &[
            "accountname",
            "account",
            "company",
            "companyname",
            "客户",
            "客户名称",
            "公司",
            "公司名称",
            "单位",
            "单位名称",
        ],
    ),
    f("contact_name", &["contactname", "contact", "name", "联系人", "联系人姓名", "拜访对象", "对象", "姓名"]),
    f("kind", &["kind", "type", "activitytype", "tasksubtype", "跟进方式", "方式", "类型", "活动类型"]),
    f(
        "started_at",
        &[
            "startedat",
            "date",
            "activitydate",
            "startdatetime",
            "time",
            "跟进时间",
            "时间",
            "日期",
            "拜访时间",
            "通话时间",
        ],
    ),
    f("duration_minutes", &["durationminutes", "duration", "durationinminutes", "时长", "时长分钟", "通话时长"]),
    f("outcome", &["outcome", "result", "status", "结果", "跟进结果", "状态"]),
    many(
        "notes",
        &["notes", "note", "description", "subject", "comments", "备注", "内容", "跟进内容", "纪要", "说明", "摘要"],
    ),
    f("author", &["author", "owner", "assignedto", "loggedby", "跟进人", "负责人", "销售", "记录人"]),
    f("hook", &["hook", "nextstep", "下一步", "钩子", "下次跟进"]),
    f("hook_due", &["hookdue", "nextstepdate", "下次跟进时间", "下一步时间"]),
    f("opportunity_name", &["opportunityname", "opportunity", "dealname", "deal", "商机", "商机名称", "关联商机"]),
    f(IGNORE, &["updatedat", "createdat", "更新时间", "创建时间"]),
];

/// Opportunity fields: the deal, its account (by Guanxi id, the source's id
/// or name), the people on it by name, the stage and the stage we came in at.
pub static OPPORTUNITY_FIELDS: &[Field] = &[
    f("external_id", &["externalid", "外部编号", "外部id", "商机编号", "opportunityid", "dealid", "recordid", "id"]),
    f("account_id", &["accountid", "客户id"]),
    f("account_external_id", &["accountexternalid", "客户外部编号", "客户编号", "associatedcompanyid"]),
    f(
        "account_name",
        &[
            "accountname",
            "account",
            "company",
            "companyname",
            "customer",
            "客户",
            "客户名称",
            "公司",
            "公司名称",
            "单位名称",
        ],
    ),
    f("name", &["name", "opportunityname", "dealname", "opportunity", "商机", "商机名称", "项目", "项目名称"]),
    f("stage", &["stage", "stagename", "dealstage", "阶段", "商机阶段", "项目阶段", "采购阶段"]),
    f("status", &["status", "状态", "商机状态", "赢单输单"]),
    f("first_contact_stage", &["firstcontactstage", "介入阶段", "首次接触阶段", "介入时"]),
    f("amount", &["amount", "expectedrevenue", "value", "金额", "商机金额", "预计金额", "项目金额", "合同金额"]),
    f(
        "expected_close_on",
        &[
            "expectedcloseon",
            "closedate",
            "expectedclosing",
            "datedeadline",
            "预计成交日期",
            "预计成交",
            "结单日期",
            "预计签约日期",
        ],
    ),
    f("owner", &["owner", "dealowner", "salesperson", "opportunityowner", "负责人", "销售", "跟进人"]),
    f("source", &["source", "leadsource", "商机来源", "来源", "线索来源"]),
    f("competitors", &["competitors", "competitor", "竞争对手", "对手"]),
    f("lost_reason", &["lostreason", "closedlostreason", "输单原因", "丢单原因"]),
    many("contact_names", &["contactnames", "contacts", "contact", "联系人", "相关联系人", "关键人"]),
    many("notes", &["notes", "note", "description", "备注", "说明", "描述"]),
    f(IGNORE, &["updatedat", "createdat", "entrytiming", "amountfen", "更新时间", "创建时间"]),
];

/// A header as compared: lower case, full-width folded, without spaces,
/// punctuation or the `*` that marks a required column in templates.
pub fn normalise(header: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    header
        .nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| {
            !c.is_whitespace() && !matches!(c, '_' | '-' | '/' | '.' | '(' | ')' | '*' | ':' | '#' | '\u{feff}')
        })
        .collect()
}

/// Whether any kind knows this header (the header row is the one naming most).
pub fn is_known_header(header: &str) -> bool {
    let h = normalise(header);
    !h.is_empty() && Kind::ALL.iter().any(|k| k.fields().iter().any(|f| f.labels.contains(&h.as_str())))
}

/// The field a header means for `kind`, by the labels above.
pub fn guess(kind: Kind, header: &str) -> Option<&'static str> {
    let h = normalise(header);
    kind.fields().iter().find(|f| f.labels.contains(&h.as_str())).map(|f| f.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_normalised_and_unique_per_kind() {
        for kind in Kind::ALL {
            let mut seen = std::collections::HashSet::new();
            for field in kind.fields() {
                for l in field.labels {
                    assert_eq!(normalise(l), *l, "{} label {l} must be written normalised", field.key);
                    assert!(seen.insert(*l), "{kind:?}: label {l} means two fields");
                }
            }
        }
    }

    #[test]
    fn headers_people_write() {
        assert_eq!(guess(Kind::Accounts, "客户名称*"), Some("name"));
        assert_eq!(guess(Kind::Accounts, "Account Name"), Some("name"));
        assert_eq!(guess(Kind::Accounts, "统一社会信用代码"), Some("uscc"));
        assert_eq!(guess(Kind::Contacts, "手机号码"), Some("phones"));
        assert_eq!(guess(Kind::Contacts, "E-mail"), Some("emails"));
        assert_eq!(guess(Kind::Contacts, "公司名称"), Some("account_name"));
        assert_eq!(guess(Kind::Accounts, "喜欢的颜色"), None);
        assert!(is_known_header(" 电话 "));
    }
}
