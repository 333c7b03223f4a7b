//! Reading spreadsheets people actually have: CSV in UTF-8 (with or without
//! a BOM), UTF-16, or GBK/GB18030 as Excel on Chinese Windows saves it —
//! detected, never asked — decoded as a stream.

use anyhow::{bail, Context};
use encoding_rs::Encoding;
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// How much of the file the encoding is guessed from.
const SAMPLE: usize = 64 * 1024;

/// Guesses a file's encoding: its BOM, else valid UTF-8, else what chardetng
/// finds likely for Chinese text (GBK/GB18030 in practice).
pub fn detect_encoding(sample: &[u8]) -> &'static Encoding {
    if let Some((enc, _)) = Encoding::for_bom(sample) {
        return enc;
    }
    match std::str::from_utf8(sample) {
        Ok(_) => return encoding_rs::UTF_8,
        // Only cut mid-character at the end of the sample: still UTF-8.
        Err(e) if e.error_len().is_none() => return encoding_rs::UTF_8,
        Err(_) => {}
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(sample, false);
    detector.guess(Some(b"cn"), chardetng::Utf8Detection::Allow)
}

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
    let encoding = detect_encoding(&sample);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_what_excel_writes() {
        let text = "record_id,name\n1,北京华为数字技术有限公司\n";
        assert_eq!(detect_encoding(text.as_bytes()), encoding_rs::UTF_8);
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(text.as_bytes());
        assert_eq!(detect_encoding(&bom), encoding_rs::UTF_8);
        let long = text.repeat(20);
        let (gbk, _, _) = encoding_rs::GBK.encode(&long);
        assert_eq!(detect_encoding(&gbk), encoding_rs::GBK);
        // encoding_rs only encodes to UTF-8-compatible targets; UTF-16 is built by hand.
        let mut with_bom = vec![0xFF, 0xFE];
        with_bom.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(detect_encoding(&with_bom), encoding_rs::UTF_16LE);
    }
}
