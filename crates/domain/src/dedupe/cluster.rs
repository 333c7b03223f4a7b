//! Clustering many records (a spreadsheet, an import) into organisations
//! without comparing every pair: records are only compared within blocks that
//! could hold a duplicate — the same reduced name, the same USCC, a shared
//! phone, a one-character deletion of a long name (which every single typo
//! shares), the same pinyin — and matches are joined with union-find.

use super::matcher::{compare, Record, Verdict};
use super::name::NameKey;
use std::collections::HashMap;

/// One input record, already reduced.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The reduced name.
    pub name: NameKey,
    /// Validated USCC.
    pub uscc: Option<String>,
    /// Phones in E.164.
    pub phones: Vec<String>,
    /// City short form.
    pub city: Option<&'static str>,
}

impl Entry {
    fn record(&self) -> Record<'_> {
        Record { name: &self.name, uscc: self.uscc.as_deref(), phones: &self.phones, city: self.city }
    }
}

struct UnionFind(Vec<u32>);

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.0[x as usize] != x {
            let parent = self.0[self.0[x as usize] as usize];
            self.0[x as usize] = parent;
            x = parent;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            // The smaller index becomes the root: cluster ids follow input order.
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.0[hi as usize] = lo;
        }
    }
}

/// A fast, non-cryptographic hash (the Fx mixing step) for block keys: a
/// collision only costs one extra comparison, since every pair is weighed.
#[derive(Default)]
struct BlockHasher(u64);

impl BlockHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn hash_of(parts: &[&str]) -> u64 {
    let mut h = BlockHasher::default();
    for p in parts {
        h.write(p.as_bytes());
        h.write(&[0xff]);
    }
    h.finish()
}

/// Blocks bigger than this are compared against their first member only:
/// a phone shared by hundreds of records is a switchboard, not a company.
const FULL_BLOCK: usize = 64;

/// Clusters records; returns each record's cluster (the index of the first
/// record of its cluster, so ids are stable for the same input).
pub fn cluster(entries: &[Entry]) -> Vec<u32> {
    let n = u32::try_from(entries.len()).unwrap_or(u32::MAX);
    let mut uf = UnionFind((0..n).collect());
    // (block key, record) pairs; sorted, equal keys form a block.
    let mut keys: Vec<(u64, u32)> = Vec::with_capacity(entries.len() * 4);
    for (i, e) in entries.iter().enumerate() {
        let i = i as u32;
        let core = e.name.core.as_str();
        if core.is_empty() {
            continue;
        }
        keys.push((hash_of(&["core", core]), i));
        if let Some(u) = &e.uscc {
            keys.push((hash_of(&["uscc", u]), i));
        }
        for p in &e.phones {
            keys.push((hash_of(&["phone", p]), i));
        }
        keys.push((hash_of(&["pinyin", &e.name.pinyin]), i));
        if core.chars().count() >= 6 {
            for (pos, c) in core.char_indices() {
                // The name without one character, hashed in two pieces: no allocation.
                // One buffer per variant is cheaper than hashing the pieces in
                // 8-byte chunks that would not line up with the whole.
                let mut v = Vec::with_capacity(core.len() + 4);
                v.extend_from_slice(b"del\xff");
                v.extend_from_slice(&core.as_bytes()[..pos]);
                v.extend_from_slice(&core.as_bytes()[pos + c.len_utf8()..]);
                let mut h = BlockHasher::default();
                h.write(&v);
                keys.push((h.finish(), i));
            }
        }
    }
    keys.sort_unstable();
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 {
            end += 1;
        }
        let block = &keys[start..end];
        // Small blocks: every pair. Large ones (a switchboard shared by
        // hundreds): each member against the first only.
        let pairs: Box<dyn Iterator<Item = (usize, usize)>> = if block.len() <= FULL_BLOCK {
            Box::new((0..block.len()).flat_map(|a| (a + 1..block.len()).map(move |b| (a, b))))
        } else {
            Box::new((1..block.len()).map(|b| (0, b)))
        };
        for (a, b) in pairs {
            let (x, y) = (block[a].1, block[b].1);
            if uf.find(x) == uf.find(y) {
                continue;
            }
            if let Verdict::Same { .. } = compare(&entries[x as usize].record(), &entries[y as usize].record()) {
                uf.union(x, y);
            }
        }
        start = end;
    }
    (0..n).map(|i| uf.find(i)).collect()
}

/// Pairwise precision and recall of predicted clusters against true labels.
pub fn pairwise_scores(predicted: &[u32], truth: &[u32]) -> (f64, f64) {
    let pairs = |labels: &[u32]| -> HashMap<u32, Vec<usize>> {
        let mut m: HashMap<u32, Vec<usize>> = HashMap::new();
        for (i, l) in labels.iter().enumerate() {
            m.entry(*l).or_default().push(i);
        }
        m
    };
    let (p, t) = (pairs(predicted), pairs(truth));
    let count = |groups: &HashMap<u32, Vec<usize>>| {
        groups.values().map(|g| g.len() * g.len().saturating_sub(1) / 2).sum::<usize>()
    };
    let mut both = 0usize;
    for g in p.values() {
        for (k, &a) in g.iter().enumerate() {
            for &b in &g[k + 1..] {
                if truth[a] == truth[b] {
                    both += 1;
                }
            }
        }
    }
    let (np, nt) = (count(&p), count(&t));
    let precision = if np == 0 { 1.0 } else { both as f64 / np as f64 };
    let recall = if nt == 0 { 1.0 } else { both as f64 / nt as f64 };
    (precision, recall)
}

#[cfg(test)]
mod tests {
    use super::super::company_key;
    use super::*;
    use crate::{Phone, Uscc};

    /// The labelled set in `data/dedupe/labelled.csv`: dirty records of real
    /// kinds (regions in front or in brackets, legal forms, traditional
    /// characters, full-width, typos, homophones, branches, hard negatives).
    const LABELLED: &str = include_str!("../../../../data/dedupe/labelled.csv");

    #[test]
    fn labelled_set_precision_and_recall() {
        let mut entries = Vec::new();
        let mut truth_names: Vec<String> = Vec::new();
        let mut names = Vec::new();
        for line in LABELLED.lines().skip(1) {
            let cols: Vec<&str> = line.split(',').collect();
            assert_eq!(cols.len(), 6, "{line}");
            let phones = if cols[2].is_empty() {
                vec![]
            } else {
                vec![Phone::parse("phone", cols[2]).unwrap().number().to_owned()]
            };
            let uscc = (!cols[3].is_empty()).then(|| Uscc::parse("uscc", cols[3]).unwrap().as_str().to_owned());
            let city = (!cols[4].is_empty()).then(|| super::super::regions::exactly(cols[4])).flatten();
            entries.push(Entry { name: company_key(cols[1]), uscc, phones, city });
            truth_names.push(cols[5].to_owned());
            names.push(cols[1].to_owned());
        }
        let mut ids: Vec<String> = truth_names.clone();
        ids.sort();
        ids.dedup();
        let truth: Vec<u32> = truth_names.iter().map(|t| ids.iter().position(|x| x == t).unwrap() as u32).collect();
        let predicted = cluster(&entries);
        let (precision, recall) = pairwise_scores(&predicted, &truth);
        let mut report = String::new();
        for i in 0..entries.len() {
            for j in i + 1..entries.len() {
                let (p, t) = (predicted[i] == predicted[j], truth[i] == truth[j]);
                if p != t {
                    report.push_str(&format!(
                        "{} {} / {}\n",
                        if p { "wrongly merged:" } else { "missed:" },
                        names[i],
                        names[j]
                    ));
                }
            }
        }
        println!("labelled set: {} records, precision {precision:.3}, recall {recall:.3}\n{report}", entries.len());
        assert!(precision >= 0.98, "precision {precision:.3} < 0.98\n{report}");
        assert!(recall >= 0.95, "recall {recall:.3} < 0.95\n{report}");
    }
}
