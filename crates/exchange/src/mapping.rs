//! Which column fills which field: by hand, by a preset for another CRM's
//! export layout (data files in `presets/`), or guessed from the headers.

use crate::fields::{self, Field, Kind, IGNORE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A preset: the export layout of a system, per kind.
#[derive(Debug, Deserialize)]
pub struct Preset {
    /// Its key (`salesforce`).
    pub name: String,
    /// As shown.
    pub label: String,
    /// Header → field key, for accounts.
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    /// The same, for contacts.
    #[serde(default)]
    pub contacts: BTreeMap<String, String>,
    /// The same, for activities.
    #[serde(default)]
    pub activities: BTreeMap<String, String>,
    /// The same, for opportunities.
    #[serde(default)]
    pub opportunities: BTreeMap<String, String>,
}

impl Preset {
    fn columns(&self, kind: Kind) -> &BTreeMap<String, String> {
        match kind {
            Kind::Accounts => &self.accounts,
            Kind::Contacts => &self.contacts,
            Kind::Activities => &self.activities,
            Kind::Opportunities => &self.opportunities,
        }
    }
}

const PRESET_FILES: [&str; 5] = [
    include_str!("../presets/guanxi.toml"),
    include_str!("../presets/salesforce.toml"),
    include_str!("../presets/hubspot.toml"),
    include_str!("../presets/twenty.toml"),
    include_str!("../presets/odoo.toml"),
];

/// Every preset, read once from the data files compiled in.
pub fn presets() -> &'static [Preset] {
    static PRESETS: OnceLock<Vec<Preset>> = OnceLock::new();
    PRESETS.get_or_init(|| {
        PRESET_FILES
            .iter()
            .map(|text| match toml::from_str(text) {
                Ok(p) => p,
                // The files are ours and a unit test reads each: a broken one never ships.
                Err(e) => panic!("a preset file does not parse: {e}"),
            })
            .collect()
    })
}

/// The preset with this key.
pub fn preset(name: &str) -> Option<&'static Preset> {
    presets().iter().find(|p| p.name == name)
}

/// A column and the field it fills, as saved and sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ColumnMap {
    /// The header as in the file.
    pub column: String,
    /// The field key, or `ignore`.
    pub field: String,
}

/// A mapping of a file's columns, in the file's order.
#[derive(Clone, Debug)]
pub struct Mapping {
    /// The kind the file holds.
    pub kind: Kind,
    /// Per column: the field it fills, if any.
    pub columns: Vec<Option<&'static Field>>,
}

/// A mapping that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// No such preset.
    #[error("no preset {0:?}: use guanxi, salesforce, hubspot, twenty or odoo")]
    UnknownPreset(String),
    /// A field key the kind does not have.
    #[error("column {column:?}: {kind} have no field {field:?}")]
    UnknownField {
        /// Column.
        column: String,
        /// Kind.
        kind: &'static str,
        /// Field.
        field: String,
    },
    /// A mapped column the file does not have.
    #[error("the file has no column {0:?}")]
    UnknownColumn(String),
    /// Two columns for a field that takes one.
    #[error("columns {first:?} and {second:?} both fill {field}, which takes one column")]
    Twice {
        /// Field.
        field: &'static str,
        /// One column.
        first: String,
        /// The other.
        second: String,
    },
    /// A record cannot be made without it.
    #[error("no column fills {0}; map one")]
    Missing(&'static str),
}

impl Mapping {
    /// Guessed from the headers.
    pub fn guess(kind: Kind, headers: &[String]) -> Mapping {
        let columns = headers.iter().map(|h| fields::guess(kind, h).and_then(|k| kind.field(k))).collect();
        Mapping { kind, columns }.without_repeats()
    }

    /// By a preset, headers it does not name guessed.
    pub fn from_preset(kind: Kind, name: &str, headers: &[String]) -> Result<Mapping, MappingError> {
        let p = preset(name).ok_or_else(|| MappingError::UnknownPreset(name.to_owned()))?;
        let table = p.columns(kind);
        let columns = headers
            .iter()
            .map(|h| {
                let by_preset = table.get(h.as_str()).or_else(|| {
                    let n = fields::normalise(h);
                    table.iter().find(|(k, _)| fields::normalise(k) == n).map(|(_, v)| v)
                });
                match by_preset {
                    Some(key) => kind.field(key),
                    None => fields::guess(kind, h).and_then(|k| kind.field(k)),
                }
            })
            .collect();
        Ok(Mapping { kind, columns }.without_repeats())
    }

    /// As chosen by hand (or saved): every named column must exist, every field be the kind's.
    pub fn from_columns(kind: Kind, headers: &[String], chosen: &[ColumnMap]) -> Result<Mapping, MappingError> {
        let mut columns = vec![None; headers.len()];
        for c in chosen {
            let at = headers
                .iter()
                .position(|h| h == &c.column)
                .ok_or_else(|| MappingError::UnknownColumn(c.column.clone()))?;
            let field = kind.field(&c.field).ok_or_else(|| MappingError::UnknownField {
                column: c.column.clone(),
                kind: kind.as_str(),
                field: c.field.clone(),
            })?;
            columns[at] = Some(field);
        }
        let m = Mapping { kind, columns };
        for (i, f) in m.columns.iter().enumerate() {
            let Some(f) = f else { continue };
            if f.multi || f.key == IGNORE {
                continue;
            }
            if let Some(j) = m.columns[..i].iter().position(|g| g.is_some_and(|g| g.key == f.key)) {
                return Err(MappingError::Twice {
                    field: f.key,
                    first: headers[j].clone(),
                    second: headers[i].clone(),
                });
            }
        }
        Ok(m)
    }

    /// A field that takes one column keeps the first that fills it.
    fn without_repeats(mut self) -> Mapping {
        let mut seen: Vec<&str> = Vec::new();
        for c in self.columns.iter_mut() {
            if let Some(f) = c {
                if !f.multi && f.key != IGNORE {
                    if seen.contains(&f.key) {
                        *c = None;
                    } else {
                        seen.push(f.key);
                    }
                }
            }
        }
        self
    }

    /// Whether a column fills `key`.
    pub fn has(&self, key: &str) -> bool {
        self.columns.iter().any(|c| c.is_some_and(|f| f.key == key))
    }

    /// Refuses a mapping no record can be made from.
    pub fn check(&self) -> Result<(), MappingError> {
        match self.kind {
            Kind::Accounts if !self.has("name") && !self.has("id") => Err(MappingError::Missing("name")),
            Kind::Contacts
                if !(self.has("name") || self.has("last_name") || self.has("first_name") || self.has("id")) =>
            {
                Err(MappingError::Missing("name"))
            }
            Kind::Contacts
                if !(self.has("account_id")
                    || self.has("account_external_id")
                    || self.has("account_name")
                    || self.has("id")) =>
            {
                Err(MappingError::Missing("account_name"))
            }
            Kind::Activities
                if !(self.has("account_id") || self.has("account_external_id") || self.has("account_name")) =>
            {
                Err(MappingError::Missing("account_name"))
            }
            Kind::Activities if !self.has("started_at") => Err(MappingError::Missing("started_at")),
            Kind::Activities if !self.has("kind") => Err(MappingError::Missing("kind")),
            Kind::Opportunities
                if !(self.has("account_id") || self.has("account_external_id") || self.has("account_name")) =>
            {
                Err(MappingError::Missing("account_name"))
            }
            Kind::Opportunities if !self.has("name") => Err(MappingError::Missing("name")),
            Kind::Opportunities if !self.has("stage") => Err(MappingError::Missing("stage")),
            _ => Ok(()),
        }
    }

    /// The mapping as saved and shown: mapped columns only.
    pub fn to_columns(&self, headers: &[String]) -> Vec<ColumnMap> {
        headers
            .iter()
            .zip(&self.columns)
            .filter_map(|(h, f)| f.map(|f| ColumnMap { column: h.clone(), field: f.key.to_owned() }))
            .collect()
    }
}

/// The kind a file most likely holds: the one whose fields its headers name
/// most, contacts only when some column links to an account.
pub fn guess_kind(headers: &[String], preset_name: Option<&str>) -> Kind {
    let score = |kind: Kind| {
        let m = match preset_name {
            Some(p) => Mapping::from_preset(kind, p, headers).unwrap_or_else(|_| Mapping::guess(kind, headers)),
            None => Mapping::guess(kind, headers),
        };
        let n = m.columns.iter().filter(|c| c.is_some_and(|f| f.key != IGNORE)).count();
        let linked = m.has("account_name") || m.has("account_id") || m.has("account_external_id");
        (n, linked)
    };
    let (accounts, _) = score(Kind::Accounts);
    let (contacts, linked) = score(Kind::Contacts);
    let (activities, _) = score(Kind::Activities);
    let touches = {
        let m = Mapping::guess(Kind::Activities, headers);
        m.has("started_at") && m.has("kind")
    };
    let (opportunities, _) = score(Kind::Opportunities);
    let deals = {
        let m = Mapping::guess(Kind::Opportunities, headers);
        m.has("stage") && m.has("name")
    };
    if linked && deals && opportunities >= contacts && opportunities > accounts {
        Kind::Opportunities
    } else if linked && touches && activities >= contacts && activities > accounts {
        Kind::Activities
    } else if linked && contacts > accounts {
        Kind::Contacts
    } else {
        Kind::Accounts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_preset_parses_and_names_known_fields() {
        assert_eq!(presets().len(), PRESET_FILES.len());
        for p in presets() {
            for kind in Kind::ALL {
                for (column, key) in p.columns(kind) {
                    assert!(kind.field(key).is_some(), "preset {}: {column} → unknown field {key}", p.name);
                }
            }
        }
    }

    #[test]
    fn guesses_the_kind_from_the_columns() {
        assert_eq!(guess_kind(&headers(&["客户名称", "电话", "统一社会信用代码", "行业"]), None), Kind::Accounts);
        assert_eq!(guess_kind(&headers(&["姓名", "公司", "职务", "手机", "邮箱"]), None), Kind::Contacts);
        assert_eq!(
            guess_kind(&headers(&["Id", "AccountId", "FirstName", "LastName", "Title", "Email"]), Some("salesforce")),
            Kind::Contacts
        );
        assert_eq!(guess_kind(&headers(&["Id", "Name", "Phone", "Website"]), Some("salesforce")), Kind::Accounts);
    }

    #[test]
    fn hand_mappings_are_checked() {
        let h = headers(&["公司", "号码", "号码2"]);
        let ok = Mapping::from_columns(
            Kind::Accounts,
            &h,
            &[
                ColumnMap { column: "公司".into(), field: "name".into() },
                ColumnMap { column: "号码".into(), field: "phones".into() },
                ColumnMap { column: "号码2".into(), field: "phones".into() },
            ],
        )
        .unwrap();
        assert!(ok.has("phones") && ok.check().is_ok());
        let twice = Mapping::from_columns(
            Kind::Accounts,
            &h,
            &[
                ColumnMap { column: "公司".into(), field: "name".into() },
                ColumnMap { column: "号码".into(), field: "name".into() },
            ],
        );
        assert!(matches!(twice, Err(MappingError::Twice { field: "name", .. })));
        let unknown =
            Mapping::from_columns(Kind::Accounts, &h, &[ColumnMap { column: "公司".into(), field: "colour".into() }]);
        assert!(matches!(unknown, Err(MappingError::UnknownField { .. })));
        let none =
            Mapping::from_columns(Kind::Contacts, &h, &[ColumnMap { column: "公司".into(), field: "name".into() }]);
        assert_eq!(none.unwrap().check(), Err(MappingError::Missing("account_name")));
    }
}
