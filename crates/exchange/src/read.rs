//! Reading the tables people actually have, one row at a time: CSV in UTF-8
//! (with or without a BOM), UTF-16, or GBK/GB18030 as Excel on Chinese
//! Windows saves it — detected, never asked — with its delimiter and header
//! row found; or the first sheet of an XLSX workbook, whose formulas are read
//! as the values Excel stored, never evaluated.

use encoding_rs::Encoding;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// How much of the file the encoding, delimiter and header are guessed from.
const SAMPLE: usize = 64 * 1024;
/// The longest cell kept: longer ones are refused, not cut.
pub const MAX_CELL: usize = 32 * 1024;
/// The longest record read at all: past it the file is not a table (or a
/// quote was never closed), and reading stops rather than fill memory.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;
/// How many rows at the top may precede the header (a title, an export date).
const HEADER_SEARCH: usize = 10;

/// What a file turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Delimited text.
    Csv {
        /// The encoding found.
        encoding: &'static Encoding,
        /// The delimiter found.
        delimiter: u8,
    },
    /// An Excel workbook (its first sheet).
    Xlsx,
}

impl Format {
    /// For the report: `CSV (GBK, ",")`, `XLSX`.
    pub fn describe(&self) -> String {
        match self {
            Format::Csv { encoding, delimiter } => {
                let d = match delimiter {
                    b'\t' => "tab".to_owned(),
                    d => format!("\"{}\"", *d as char),
                };
                format!("CSV ({}, {d})", encoding.name().to_uppercase())
            }
            Format::Xlsx => "XLSX".to_owned(),
        }
    }
}

/// One row of data: where it is and its cells, one per header column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    /// The line it starts on, as a text editor numbers them (for XLSX: the row).
    pub line: u64,
    /// The row as a spreadsheet numbers it (the header's row is counted).
    pub row: u64,
    /// Cells, exactly as many as the header has columns.
    pub cells: Vec<String>,
}

/// A row that cannot be read as one: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadRow {
    /// Line (as a text editor numbers them).
    pub line: u64,
    /// Spreadsheet row.
    pub row: u64,
    /// The column concerned, when one is.
    pub column: Option<String>,
    /// A stable code: `ragged`, `unterminated_quote`, `cell_too_long`, `excel_error`, `repeated_header`.
    pub code: &'static str,
    /// What is wrong, said so that it can be fixed.
    pub message: String,
    /// The cells as read, to write back into the file of bad rows.
    pub cells: Vec<String>,
}

/// Why a file cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading it.
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    /// Not a table.
    #[error("{0}")]
    NotATable(String),
    /// A broken workbook.
    #[error("cannot read the workbook: {0}")]
    Xlsx(String),
}

/// An open table: its header and what is left of its rows.
pub struct Table {
    /// What the file is.
    pub format: Format,
    /// Column names, trimmed.
    pub headers: Vec<String>,
    /// The header's spreadsheet row.
    pub header_row: u64,
    /// Rows read while looking for the header, handed out first.
    pending: std::collections::VecDeque<Raw>,
    source: Source,
    done: bool,
    /// Bytes of the file read so far (CSV).
    read: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// Counts the bytes read from the file, for progress.
struct Counted {
    inner: File,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// A record as the source gives it.
struct Raw {
    line: u64,
    row: u64,
    cells: Vec<String>,
    /// An unterminated quote ran from this record to the end of the file.
    unterminated: bool,
}

enum Source {
    Csv(Box<CsvSource>),
    Xlsx(Box<XlsxRows>),
}

/// A CSV reader one record ahead: only at the end of the file is it known
/// whether the last record ran on in an unclosed quote.
struct CsvSource {
    reader: csv::Reader<Guard<Box<dyn Read + Send>>>,
    records: u64,
    ahead: Option<Raw>,
    failed: Option<ReadError>,
}

impl CsvSource {
    fn read_one(&mut self) -> Result<Option<Raw>, ReadError> {
        let mut record = csv::StringRecord::new();
        match self.reader.read_record(&mut record) {
            Ok(false) => Ok(None),
            Ok(true) => {
                self.records += 1;
                // csv's own line count lags after CRLF: count the newlines before the record's first byte.
                let line = record.position().map_or(self.records, |p| self.reader.get_mut().line_at(p.byte()));
                // A line break inside a cell is a line break, whichever system wrote it.
                let cells = record
                    .iter()
                    .map(|c| if c.contains('\r') { c.replace("\r\n", "\n").replace('\r', "\n") } else { c.to_owned() })
                    .collect();
                Ok(Some(Raw { line, row: self.records, cells, unterminated: false }))
            }
            Err(e) => Err(csv_error(&e, self.reader.get_ref())),
        }
    }

    fn next(&mut self) -> Result<Option<Raw>, ReadError> {
        if let Some(e) = self.failed.take() {
            return Err(e);
        }
        if self.ahead.is_none() {
            self.ahead = self.read_one()?;
        }
        let Some(mut current) = self.ahead.take() else { return Ok(None) };
        match self.read_one() {
            Ok(Some(next)) => self.ahead = Some(next),
            Ok(None) => current.unterminated = self.reader.get_ref().open_quote_at_end(),
            // The row before a broken one is still a row: hand it out, then the error.
            Err(e) => self.failed = Some(e),
        }
        Ok(Some(current))
    }
}

impl Table {
    /// Opens `path`: XLSX by its content (a zip), anything else as CSV.
    pub fn open(path: &Path) -> Result<Table, ReadError> {
        let mut file = File::open(path)?;
        let sample = read_sample(&mut file)?;
        if sample.starts_with(b"PK\x03\x04") {
            return Self::xlsx(path);
        }
        Self::csv(path, &sample)
    }

    fn csv(path: &Path, sample: &[u8]) -> Result<Table, ReadError> {
        if Encoding::for_bom(sample).is_none() && looks_binary(sample) {
            return Err(ReadError::NotATable(
                "the file is not text (it looks binary): save it from Excel as CSV or XLSX".into(),
            ));
        }
        let encoding = detect_encoding(sample);
        let (text, _, _) = encoding.decode(sample);
        let delimiter = detect_delimiter(&text);
        let counted = Counted { inner: File::open(path)?, read: Default::default() };
        let read = counted.read.clone();
        let decoded = encoding_rs_io::DecodeReaderBytesBuilder::new()
            .encoding(Some(encoding))
            .bom_override(true)
            .build(BufReader::with_capacity(256 * 1024, counted));
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(256 * 1024)
            .from_reader(Guard::new(Box::new(decoded) as Box<dyn Read + Send>));
        let mut table = Table {
            format: Format::Csv { encoding, delimiter },
            headers: Vec::new(),
            header_row: 0,
            pending: Default::default(),
            source: Source::Csv(Box::new(CsvSource { reader, records: 0, ahead: None, failed: None })),
            done: false,
            read: Some(read),
        };
        table.find_header()?;
        Ok(table)
    }

    fn xlsx(path: &Path) -> Result<Table, ReadError> {
        let rows = XlsxRows::open(path)?;
        let mut table = Table {
            format: Format::Xlsx,
            headers: Vec::new(),
            header_row: 0,
            pending: Default::default(),
            source: Source::Xlsx(Box::new(rows)),
            done: false,
            read: None,
        };
        table.find_header()?;
        Ok(table)
    }

    /// The header is the row among the first few that names the most known
    /// columns (`known` says whether a header cell is one), else the first
    /// with two cells filled; rows above it (a title, a date) are passed over.
    fn find_header(&mut self) -> Result<(), ReadError> {
        let mut first = Vec::new();
        while first.len() < HEADER_SEARCH {
            match self.raw()? {
                Some(r) => first.push(r),
                None => break,
            }
        }
        let filled = |r: &Raw| r.cells.iter().filter(|c| !c.trim().is_empty()).count();
        let score = |r: &Raw| r.cells.iter().filter(|c| crate::fields::is_known_header(c)).count();
        let best =
            first.iter().enumerate().max_by_key(|(i, r)| (score(r), std::cmp::Reverse(*i))).map(|(i, r)| (i, score(r)));
        let at = match best {
            Some((i, s)) if s > 0 => i,
            _ => first.iter().position(|r| filled(r) >= 2).ok_or_else(|| {
                ReadError::NotATable("no header row found: the first rows must name the columns".into())
            })?,
        };
        let header = first.remove(at);
        let _ = first.drain(..at);
        let mut headers: Vec<String> = header.cells.iter().map(|c| c.trim().to_owned()).collect();
        while headers.last().is_some_and(|h| h.is_empty()) {
            headers.pop();
        }
        self.headers = headers;
        self.header_row = header.row;
        self.pending = first.into();
        Ok(())
    }

    fn raw(&mut self) -> Result<Option<Raw>, ReadError> {
        match &mut self.source {
            Source::Csv(csv) => csv.next(),
            Source::Xlsx(rows) => rows.next_row(),
        }
    }

    /// How many bytes of the file have been read (CSV; a little ahead of the rows handed out).
    pub fn position(&self) -> Option<u64> {
        self.read.as_ref().map(|r| r.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// The next row, a row that cannot be read as one, or `None` at the end.
    /// A file that stops being a table (a record past [`MAX_RECORD`])
    /// answers `Err` and ends.
    pub fn next_row(&mut self) -> Option<Result<Result<Row, BadRow>, ReadError>> {
        loop {
            if self.done {
                return None;
            }
            let raw = match self.pending.pop_front() {
                Some(r) => r,
                None => match self.raw() {
                    Ok(Some(r)) => r,
                    Ok(None) => {
                        self.done = true;
                        return None;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                },
            };
            if raw.cells.iter().all(|c| c.trim().is_empty()) {
                continue;
            }
            return Some(Ok(self.check(raw)));
        }
    }

    fn check(&self, raw: Raw) -> Result<Row, BadRow> {
        let width = self.headers.len();
        let bad = |code, column: Option<&str>, message: String, cells: Vec<String>| BadRow {
            line: raw.line,
            row: raw.row,
            column: column.map(str::to_owned),
            code,
            message,
            cells,
        };
        if raw.unterminated {
            return Err(bad(
                "unterminated_quote",
                None,
                format!(
                    "a quote (\") opened on line {} is never closed, so everything after it reads as one cell; close it or remove it",
                    raw.line
                ),
                raw.cells,
            ));
        }
        let mut cells = raw.cells;
        // Trailing empty cells past the header (a trailing comma) are harmless.
        while cells.len() > width && cells.last().is_some_and(|c| c.trim().is_empty()) {
            cells.pop();
        }
        if cells.len() != width && !matches!(self.format, Format::Xlsx) {
            let message = format!(
                "line {} has {} cells but the header has {width}; check for a stray or missing delimiter or quote",
                raw.line,
                cells.len()
            );
            return Err(bad("ragged", None, message, cells));
        }
        cells.resize(width, String::new());
        if cells.iter().zip(&self.headers).all(|(c, h)| c.trim() == h) {
            return Err(bad("repeated_header", None, "the header row repeats here (two files joined?)".into(), cells));
        }
        for (c, h) in cells.iter().zip(&self.headers) {
            if c.len() > MAX_CELL {
                let message = format!("the cell holds {} bytes; at most {MAX_CELL} are kept", c.len());
                let mut shown = cells.clone();
                for s in shown.iter_mut().filter(|s| s.len() > MAX_CELL) {
                    s.truncate(s.floor_char_boundary(256));
                    s.push('…');
                }
                return Err(bad("cell_too_long", Some(h), message, shown));
            }
            if let Some(code) = c.strip_prefix(EXCEL_ERROR) {
                return Err(bad("excel_error", Some(h), format!("the cell holds Excel's error {code}"), cells.clone()));
            }
        }
        Ok(Row { line: raw.line, row: raw.row, cells })
    }
}

/// Marks an XLSX cell holding an error value (`#N/A`, `#REF!`): no text starts so.
const EXCEL_ERROR: &str = "\u{0}#";

fn read_sample(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut sample = vec![0u8; SAMPLE];
    let mut filled = 0;
    while filled < SAMPLE {
        let n = file.read(&mut sample[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    sample.truncate(filled);
    Ok(sample)
}

fn looks_binary(sample: &[u8]) -> bool {
    let head = &sample[..sample.len().min(8192)];
    head.iter().filter(|b| **b == 0).count() > 16
        || head.iter().filter(|b| b.is_ascii_control() && !matches!(b, b'\n' | b'\r' | b'\t')).count() > head.len() / 10
}

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
    let guess = detector.guess(Some(b"cn"), chardetng::Utf8Detection::Allow);
    // GB18030 is GBK's superset: it decodes every GBK file and the rarer characters too.
    if guess == encoding_rs::GBK {
        encoding_rs::GB18030
    } else {
        guess
    }
}

/// The delimiter that splits the first lines most evenly: comma, tab,
/// semicolon (Excel in some locales) or bar; quoted text is not counted.
pub fn detect_delimiter(text: &str) -> u8 {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).take(20).collect();
    let count = |line: &str, d: char| {
        let mut quoted = false;
        line.chars()
            .filter(|c| {
                if *c == '"' {
                    quoted = !quoted;
                }
                !quoted && *c == d
            })
            .count()
    };
    let mut best = (0usize, b',');
    for d in [',', '\t', ';', '|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count(l, d)).collect();
        let Some(&most) = counts.iter().max() else { continue };
        // The header's count, if most lines share it; else the most common line's.
        let steady = counts.iter().filter(|c| **c == most).count();
        let score = most * steady;
        if score > best.0 {
            best = (score, d as u8);
        }
    }
    best.1
}

fn csv_error(e: &csv::Error, guard: &Guard<Box<dyn Read + Send>>) -> ReadError {
    if let csv::ErrorKind::Io(io) = e.kind() {
        if io.kind() == std::io::ErrorKind::InvalidData && guard.too_long {
            return ReadError::NotATable(format!(
                "the record starting on line {} is longer than {} MB: a quote opened there is never closed, or the file is not a table",
                guard.record_line,
                MAX_RECORD / (1024 * 1024)
            ));
        }
        return ReadError::NotATable(format!("cannot read the file: {io}"));
    }
    match e.position() {
        Some(p) => ReadError::NotATable(format!("line {}: {e}", p.line())),
        None => ReadError::NotATable(e.to_string()),
    }
}

/// Watches the decoded text as the CSV reader pulls it: where records start
/// (a newline outside quotes), whether a quote is open at the end, and how
/// long the current record is, failing the read past [`MAX_RECORD`] so that
/// a file that is one endless record never fills memory.
struct Guard<R> {
    inner: R,
    /// Bytes passed through, and where the newlines among those not yet asked about are.
    offset: u64,
    newlines: std::collections::VecDeque<u64>,
    lines_before: u64,
    quoted: bool,
    line: u64,
    record_line: u64,
    record_len: usize,
    too_long: bool,
    at_end: bool,
}

impl<R> Guard<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            offset: 0,
            newlines: Default::default(),
            lines_before: 0,
            quoted: false,
            line: 1,
            record_line: 1,
            record_len: 0,
            too_long: false,
            at_end: false,
        }
    }

    /// The line (from 1) of a record starting at `offset`, for offsets asked in increasing
    /// order. After CRLF csv puts a record's start on the LF itself: a newline at the offset counts.
    fn line_at(&mut self, offset: u64) -> u64 {
        while self.newlines.front().is_some_and(|n| *n <= offset) {
            self.newlines.pop_front();
            self.lines_before += 1;
        }
        self.lines_before + 1
    }

    /// At the end of the file with a quote still open.
    fn open_quote_at_end(&self) -> bool {
        self.at_end && self.quoted
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            self.at_end = true;
        }
        for &b in &buf[..n] {
            self.offset += 1;
            match b {
                b'"' => self.quoted = !self.quoted,
                b'\n' => {
                    self.newlines.push_back(self.offset - 1);
                    self.line += 1;
                    if !self.quoted {
                        self.record_line = self.line;
                        self.record_len = 0;
                        continue;
                    }
                }
                _ => {}
            }
            self.record_len += 1;
        }
        if self.record_len > MAX_RECORD {
            self.too_long = true;
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "record too long"));
        }
        Ok(n)
    }
}

/// The rows of an XLSX workbook's first sheet, streamed by calamine's cell
/// reader on a thread of its own (the reader borrows the workbook), a
/// bounded channel apart, so that a large sheet is never held whole.
struct XlsxRows {
    rows: std::sync::mpsc::Receiver<Result<Raw, ReadError>>,
}

impl XlsxRows {
    fn open(path: &Path) -> Result<Self, ReadError> {
        use calamine::Reader;
        let mut book: calamine::Xlsx<BufReader<File>> =
            calamine::open_workbook(path).map_err(|e: calamine::XlsxError| ReadError::Xlsx(e.to_string()))?;
        let sheet = book
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| ReadError::NotATable("the workbook has no sheet".into()))?;
        let (tx, rows) = std::sync::mpsc::sync_channel(256);
        std::thread::Builder::new().name("xlsx-reader".into()).spawn(move || {
            let mut cells = match book.worksheet_cells_reader(&sheet) {
                Ok(c) => c,
                Err(e) => {
                    let _ = tx.send(Err(ReadError::Xlsx(e.to_string())));
                    return;
                }
            };
            let mut current: Option<(u32, Vec<String>)> = None;
            loop {
                let next = match cells.next_cell() {
                    Ok(c) => c.map(|c| (c.get_position(), xlsx_text(c.get_value()))),
                    Err(e) => {
                        let _ = tx.send(Err(ReadError::Xlsx(e.to_string())));
                        return;
                    }
                };
                let row_of = next.as_ref().map(|((r, _), _)| *r);
                if let Some((row, cells)) = current.take_if(|(row, _)| Some(*row) != row_of) {
                    let n = u64::from(row) + 1;
                    // The receiver gone (the import stopped): stop reading.
                    if tx.send(Ok(Raw { line: n, row: n, cells, unterminated: false })).is_err() {
                        return;
                    }
                }
                let Some(((row, col), text)) = next else { return };
                let (_, cells) = current.get_or_insert_with(|| (row, Vec::new()));
                let col = col as usize;
                if cells.len() <= col {
                    cells.resize(col + 1, String::new());
                }
                cells[col] = text;
            }
        })?;
        Ok(Self { rows })
    }

    fn next_row(&mut self) -> Result<Option<Raw>, ReadError> {
        match self.rows.recv() {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }
}

/// A cell's value as text: numbers without a spurious `.0` (phone numbers
/// typed as numbers), dates as ISO dates, errors marked.
fn xlsx_text(v: &calamine::DataRef<'_>) -> String {
    use calamine::DataRef as D;
    match v {
        D::Empty => String::new(),
        D::String(s) => s.clone(),
        D::SharedString(s) => (*s).to_owned(),
        D::Int(i) => i.to_string(),
        D::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        D::Float(f) => f.to_string(),
        D::Bool(b) => b.to_string(),
        D::DateTime(d) => match d.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => d.as_f64().to_string(),
        },
        D::DateTimeIso(s) | D::DurationIso(s) => s.clone(),
        D::Error(e) => format!("{EXCEL_ERROR}{e}"),
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
        assert_eq!(detect_encoding(&gbk), encoding_rs::GB18030);
        // encoding_rs only encodes to UTF-8-compatible targets; UTF-16 is built by hand.
        let mut with_bom = vec![0xFF, 0xFE];
        with_bom.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(detect_encoding(&with_bom), encoding_rs::UTF_16LE);
    }

    #[test]
    fn finds_the_delimiter_outside_quotes() {
        assert_eq!(detect_delimiter("名称,电话\n华为,010\n"), b',');
        assert_eq!(detect_delimiter("名称\t电话\t地址\n华为\t010\t\"北京,海淀\"\n"), b'\t');
        assert_eq!(detect_delimiter("名称;电话\n\"华为, 北京\";010\n"), b';');
        assert_eq!(detect_delimiter("名称\n华为\n"), b',');
    }
}

#[cfg(test)]
mod lines {
    use super::*;

    #[test]
    fn rows_say_their_line_and_spreadsheet_row() {
        let dir = std::env::temp_dir().join(format!("gx-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.csv");
        std::fs::write(&path, "标题,,\r\nname,phones,notes\r\n甲,1,\"多\r\n行\"\r\n乙,2,x\r\n").unwrap();
        let mut t = Table::open(&path).unwrap();
        assert_eq!((t.headers.clone(), t.header_row), (vec!["name".to_owned(), "phones".into(), "notes".into()], 2));
        let a = t.next_row().unwrap().unwrap().unwrap();
        assert_eq!((a.line, a.row, a.cells[2].as_str()), (3, 3, "多\n行"));
        let b = t.next_row().unwrap().unwrap().unwrap();
        assert_eq!((b.line, b.row), (5, 4));
        assert!(t.next_row().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
