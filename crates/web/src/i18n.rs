//! UI texts in zh-CN (first) and English, from `i18n/*.toml` compiled into
//! the binary. A missing English text falls back to Chinese; a test keeps the
//! two catalogs' keys equal and every key used by a template defined.

use guanxi_domain::Locale;
use std::collections::HashMap;

const ZH_CN: &str = include_str!("../i18n/zh-CN.toml");
const EN: &str = include_str!("../i18n/en.toml");

/// Both catalogs, loaded once at start.
#[derive(Debug)]
pub struct Catalogs {
    zh: HashMap<String, String>,
    en: HashMap<String, String>,
}

/// Flattens `[section] key = "text"` into `section.key`.
fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        match v {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out),
            _ => {}
        }
    }
}

fn parse(src: &str, name: &str) -> HashMap<String, String> {
    let table: toml::Table = src.parse().unwrap_or_else(|e| panic!("i18n catalog {name} is not valid TOML: {e}"));
    let mut out = HashMap::new();
    flatten("", &table, &mut out);
    out
}

impl Catalogs {
    /// Parses the compiled-in catalogs.
    pub fn load() -> Self {
        Self { zh: parse(ZH_CN, "zh-CN"), en: parse(EN, "en") }
    }

    /// The text of a key in a locale.
    pub fn text<'a>(&'a self, locale: Locale, key: &'a str) -> &'a str {
        let primary = match locale {
            Locale::ZhCn => &self.zh,
            Locale::En => &self.en,
        };
        primary.get(key).or_else(|| self.zh.get(key)).map(String::as_str).unwrap_or(key)
    }

    /// Keys of each catalog (for the consistency test).
    pub fn keys(&self) -> (Vec<&str>, Vec<&str>) {
        let mut zh: Vec<&str> = self.zh.keys().map(String::as_str).collect();
        let mut en: Vec<&str> = self.en.keys().map(String::as_str).collect();
        zh.sort_unstable();
        en.sort_unstable();
        (zh, en)
    }
}

/// A translator bound to one locale, handed to templates as `tr`.
#[derive(Clone, Copy, Debug)]
pub struct Tr<'a> {
    /// The language.
    pub locale: Locale,
    catalogs: &'a Catalogs,
}

impl<'a> Tr<'a> {
    /// Binds a locale.
    pub fn new(catalogs: &'a Catalogs, locale: Locale) -> Self {
        Self { locale, catalogs }
    }

    /// The text of a key (the key itself when no catalog has it).
    pub fn t<'k>(&self, key: &'k str) -> &'k str
    where
        'a: 'k,
    {
        self.catalogs.text(self.locale, key)
    }

    /// The `lang` attribute.
    pub fn lang(&self) -> &'static str {
        self.locale.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogs_have_the_same_keys() {
        let c = Catalogs::load();
        let (zh, en) = c.keys();
        let missing_en: Vec<_> = zh.iter().filter(|k| !en.contains(k)).collect();
        let missing_zh: Vec<_> = en.iter().filter(|k| !zh.contains(k)).collect();
        assert!(
            missing_en.is_empty() && missing_zh.is_empty(),
            "missing in en: {missing_en:?}; missing in zh-CN: {missing_zh:?}"
        );
    }

    #[test]
    fn every_key_used_in_templates_and_code_exists() {
        let c = Catalogs::load();
        let (zh, _) = c.keys();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates", "src", "src/pages", "src/pages/settings", "src/api"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let p = entry.unwrap().path();
                if p.is_file() {
                    sources.push((p.clone(), std::fs::read_to_string(&p).unwrap()));
                }
            }
        }
        let mut missing = Vec::new();
        for (path, text) in &sources {
            for marker in ["tr.t(\"", "t(\""] {
                for piece in text.split(marker).skip(1) {
                    let key = piece.split('"').next().unwrap_or("");
                    if key.contains('.') && !key.contains(' ') && !zh.contains(&key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        missing.sort();
        missing.dedup();
        assert!(missing.is_empty(), "keys used but not in the catalogs: {missing:#?}");
    }
}
