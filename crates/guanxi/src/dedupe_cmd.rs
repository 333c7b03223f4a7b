//! `guanxi dedupe`: cluster a spreadsheet's company records into organisations
//! before importing it, with the same 查重 as on entry.

use crate::table;
use anyhow::{bail, Context};
use guanxi_domain::dedupe::{self, regions, Entry};
use guanxi_domain::{Phone, Uscc};
use std::path::Path;

/// What a run found.
#[derive(Debug, Default)]
pub struct Summary {
    /// Data rows read.
    pub rows: usize,
    /// Organisations found.
    pub clusters: usize,
    /// Rows that share their organisation with another row.
    pub duplicate_rows: usize,
    /// Phone numbers that could not be parsed (ignored for matching).
    pub invalid_phones: usize,
    /// USCCs that failed their check (ignored for matching).
    pub invalid_usccs: usize,
    /// The input's encoding.
    pub encoding: &'static str,
    /// Pairwise precision and recall against a truth column, when asked.
    pub scores: Option<(f64, f64)>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows ({}), {} organisations, {} rows are duplicates of another, {} invalid phones, {} invalid USCCs",
            self.rows, self.encoding, self.clusters, self.duplicate_rows, self.invalid_phones, self.invalid_usccs
        )?;
        if let Some((p, r)) = self.scores {
            write!(f, "; against the truth column: pairwise precision {p:.4}, recall {r:.4}")?;
        }
        Ok(())
    }
}

struct Raw {
    id: String,
    name: String,
    phones: String,
    uscc: String,
    city: String,
    truth: String,
}

/// Reads, clusters and writes `record_id,cluster_id`; `truth` names a column
/// holding true organisation labels to score against.
pub fn run(input: &Path, output: &Path, truth: Option<&str>) -> anyhow::Result<Summary> {
    let phase = std::time::Instant::now();
    let (mut reader, encoding) = table::open_csv(input)?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| anyhow::anyhow!("{}: {}", input.display(), table::describe(&e)))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let (Some(id_col), Some(name_col)) = (col("record_id"), col("name")) else {
        bail!(
            "{} needs the columns record_id and name (optional: phone, uscc, city); it has: {}",
            input.display(),
            headers.join(", ")
        );
    };
    let (phone_col, uscc_col, city_col) = (col("phone"), col("uscc"), col("city"));
    let truth_col = match truth {
        Some(t) => Some(col(&t.to_lowercase()).with_context(|| format!("{} has no column {t}", input.display()))?),
        None => None,
    };
    let get = |r: &csv::StringRecord, c: Option<usize>| c.and_then(|c| r.get(c)).unwrap_or("").to_owned();
    let used = [Some(id_col), Some(name_col), phone_col, uscc_col, city_col];
    let mut raws = Vec::new();
    let mut last: Option<csv::StringRecord> = None;
    for record in reader.records() {
        let record = record.map_err(|e| anyhow::anyhow!("{}: {}", input.display(), table::describe(&e)))?;
        let line = record.position().map_or(0, |p| p.line());
        // A quote left open swallows the lines after it into one field.
        if used.iter().flatten().any(|c| record.get(*c).is_some_and(|v| v.contains(['\n', '\r']))) {
            bail!(
                "{}: line {line} has a line break inside a field: a quotation mark is probably never closed",
                input.display()
            );
        }
        let id = get(&record, Some(id_col));
        if id.trim().is_empty() {
            bail!("{}: line {line} has an empty record_id; every row needs one", input.display());
        }
        raws.push(Raw {
            id,
            name: get(&record, Some(name_col)),
            phones: get(&record, phone_col),
            uscc: get(&record, uscc_col),
            city: get(&record, city_col),
            truth: get(&record, truth_col),
        });
        last = Some(record);
    }
    if let Some(record) = last {
        // An unclosed quote in an unused column runs to the end of the file.
        if record.iter().any(|v| v.contains('\n') && v.ends_with(['\n', '\r'])) {
            let line = record.position().map_or(0, |p| p.line());
            bail!("{}: a quotation mark on line {line} is never closed", input.display());
        }
    }
    let mut summary = Summary { rows: raws.len(), encoding: encoding.name(), ..Summary::default() };
    tracing::debug!(rows = raws.len(), elapsed_s = phase.elapsed().as_secs_f64(), "read");

    // Two kinds of work side by side: phones and USCCs on one thread (the
    // phone library's rule cache is behind a single lock, so splitting its
    // calls across threads only makes them wait), names on the other.
    let (contacts, names) = std::thread::scope(|s| {
        let contacts = s.spawn(|| parse_contacts(&raws));
        let names: Vec<(dedupe::NameKey, Option<&'static str>)> = raws
            .iter()
            .map(|r| {
                (dedupe::company_key(&r.name), regions::exactly(r.city.trim()).filter(|c| !regions::is_national(c)))
            })
            .collect();
        (contacts.join(), names)
    });
    let (contacts, bad_phones, bad_usccs) =
        contacts.map_err(|_| anyhow::anyhow!("parsing phones failed in a worker thread"))?;
    summary.invalid_phones = bad_phones;
    summary.invalid_usccs = bad_usccs;
    let entries: Vec<Entry> = names
        .into_iter()
        .zip(contacts)
        .map(|((name, city), (phones, uscc))| Entry { name, uscc, phones, city })
        .collect();
    tracing::debug!(elapsed_s = phase.elapsed().as_secs_f64(), "names reduced");
    let clusters = dedupe::cluster(&entries);
    drop(entries);
    tracing::debug!(elapsed_s = phase.elapsed().as_secs_f64(), "clustered");

    let mut sizes = std::collections::HashMap::<u32, usize>::new();
    for c in &clusters {
        *sizes.entry(*c).or_default() += 1;
    }
    summary.clusters = sizes.len();
    summary.duplicate_rows = clusters.iter().filter(|c| sizes[c] > 1).count();
    if truth_col.is_some() {
        let mut labels = std::collections::HashMap::<&str, u32>::new();
        let truth: Vec<u32> = raws
            .iter()
            .map(|r| {
                let next = labels.len() as u32;
                *labels.entry(r.truth.as_str()).or_insert(next)
            })
            .collect();
        summary.scores = Some(dedupe::pairwise_scores(&clusters, &truth));
    }

    let mut writer = csv::Writer::from_path(output).with_context(|| format!("cannot write {}", output.display()))?;
    writer.write_record(["record_id", "cluster_id"])?;
    for (raw, c) in raws.iter().zip(&clusters) {
        writer.write_record([raw.id.as_str(), raws[*c as usize].id.as_str()])?;
    }
    writer.flush().with_context(|| format!("cannot write {}", output.display()))?;
    Ok(summary)
}

/// Parses every row's phones and USCC: (per row, invalid phones, invalid USCCs).
#[allow(clippy::type_complexity)]
fn parse_contacts(rows: &[Raw]) -> (Vec<(Vec<String>, Option<String>)>, usize, usize) {
    let (mut bad_phones, mut bad_usccs) = (0, 0);
    let parsed = rows
        .iter()
        .map(|r| {
            let mut phones = Vec::new();
            for p in r.phones.split([';', '；', '/', '、', '|']).map(str::trim).filter(|p| !p.is_empty()) {
                match Phone::parse("phone", p) {
                    Ok(p) => phones.push(p.number().to_owned()),
                    Err(_) => bad_phones += 1,
                }
            }
            let uscc = match r.uscc.trim() {
                "" => None,
                u => match Uscc::parse("uscc", u) {
                    Ok(u) => Some(u.as_str().to_owned()),
                    Err(_) => {
                        bad_usccs += 1;
                        None
                    }
                },
            };
            (phones, uscc)
        })
        .collect();
    (parsed, bad_phones, bad_usccs)
}
