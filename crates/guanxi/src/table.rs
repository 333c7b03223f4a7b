//! Opening the CSV files `guanxi dedupe` reads, in any encoding
//! `guanxi_exchange::read` detects (UTF-8 with or without a BOM, UTF-16,
//! GBK/GB18030), decoded as a stream.

use anyhow::{bail, Context};
use encoding_rs::Encoding;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How much of the file the encoding is guessed from.
const SAMPLE: usize = 64 * 1024;

/// A CSV reader over a file of any of those encodings, and the encoding found.
pub fn open_csv(path: &Path) -> anyhow::Result<(csv::Reader<Box<dyn Read>>, &'static Encoding)> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut sample = vec![0u8; SAMPLE];
    let mut filled = 0;
    while filled < SAMPLE {
        let n = file.read(&mut sample[filled..]).with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    sample.truncate(filled);
    if sample.iter().take(8192).filter(|b| **b == 0).count() > 16 && Encoding::for_bom(&sample).is_none() {
        bail!("{} is not a text file (it looks binary); save it as CSV", path.display());
    }
    let encoding = guanxi_exchange::read::detect_encoding(&sample);
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let decoded =
        encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(encoding)).bom_override(true).build(file);
    let reader =
        csv::ReaderBuilder::new().flexible(false).has_headers(true).from_reader(Box::new(decoded) as Box<dyn Read>);
    Ok((reader, encoding))
}

/// A CSV error said the way a person fixes it: which line, what is wrong.
pub fn describe(e: &csv::Error) -> String {
    let line = e.position().map(|p| p.line());
    match (e.kind(), line) {
        (csv::ErrorKind::UnequalLengths { expected_len, len, .. }, Some(l)) => {
            format!(
                "line {l} has {len} fields but the header has {expected_len}; check for a stray comma or a missing one"
            )
        }
        (csv::ErrorKind::Utf8 { .. }, Some(l)) => format!("line {l} is not valid text in the detected encoding"),
        (_, Some(l)) => format!("line {l}: {e}"),
        (_, None) => e.to_string(),
    }
}
