//! Where exported rows go: a CSV (UTF-8 with a BOM, so Excel on Chinese
//! Windows reads it; formula-like cells neutralised) or an XLSX written in
//! constant memory (one row held at a time; every cell a text cell, so that
//! phone numbers and ids keep their digits and nothing is ever a formula).

use crate::neutralise;
use rust_xlsxwriter::{Workbook, XlsxError};
use std::io::Write;

/// A file format of an export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// CSV, UTF-8 with a BOM.
    Csv,
    /// Excel workbook.
    Xlsx,
}

impl Format {
    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
        }
    }

    /// The media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// Rows an XLSX sheet holds, the header included (Excel's limit).
pub const XLSX_ROWS: u32 = 1_048_576;

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// Writing the CSV.
    #[error("cannot write the export: {0}")]
    Csv(#[from] csv::Error),
    /// Writing the file.
    #[error("cannot write the export: {0}")]
    Io(#[from] std::io::Error),
    /// Writing the workbook.
    #[error("cannot write the workbook: {0}")]
    Xlsx(#[from] XlsxError),
    /// More rows than a sheet holds.
    #[error("more than {0} rows do not fit an Excel sheet; export as CSV, or narrow the filters")]
    TooManyRows(u32),
}

/// An export being written.
pub enum Sheet {
    /// CSV to a writer, as it goes.
    Csv(Box<csv::Writer<Box<dyn Write + Send>>>),
    /// A workbook, saved to its file at the end.
    Xlsx {
        /// The workbook (its sheet's rows go to a temporary file as written).
        book: Box<Workbook>,
        /// Where it is saved.
        file: std::fs::File,
        /// The next row.
        row: u32,
    },
}

impl Sheet {
    /// A CSV to `out`, starting with the BOM and `header`.
    pub fn csv(mut out: Box<dyn Write + Send>, header: &[&str]) -> Result<Sheet, SheetError> {
        out.write_all(crate::BOM)?;
        let mut w = csv::Writer::from_writer(out);
        w.write_record(header)?;
        Ok(Sheet::Csv(Box::new(w)))
    }

    /// A workbook saved to `file` on [`Sheet::finish`], starting with `header`.
    pub fn xlsx(file: std::fs::File, header: &[&str]) -> Result<Sheet, SheetError> {
        let mut book = Box::new(Workbook::new());
        book.add_worksheet_with_constant_memory();
        let mut sheet = Sheet::Xlsx { book, file, row: 0 };
        let header: Vec<String> = header.iter().map(|h| (*h).to_owned()).collect();
        sheet.row(&header)?;
        Ok(sheet)
    }

    /// Opens an export of `format` with `header`: a CSV to `out`, or a workbook to `file`.
    pub fn open(format: Format, file: std::fs::File, header: &[&str]) -> Result<Sheet, SheetError> {
        match format {
            Format::Csv => Sheet::csv(Box::new(std::io::BufWriter::new(file)), header),
            Format::Xlsx => Sheet::xlsx(file, header),
        }
    }

    /// Adds a row.
    pub fn row(&mut self, cells: &[String]) -> Result<(), SheetError> {
        match self {
            Sheet::Csv(w) => write_csv_record(w, cells)?,
            Sheet::Xlsx { book, row, .. } => {
                if *row >= XLSX_ROWS {
                    return Err(SheetError::TooManyRows(XLSX_ROWS - 1));
                }
                let ws = book.worksheet_from_index(0)?;
                for (col, cell) in cells.iter().enumerate() {
                    if !cell.is_empty() {
                        ws.write_string(*row, col as u16, cell)?;
                    }
                }
                *row += 1;
            }
        }
        Ok(())
    }

    /// Writes what is left.
    pub fn finish(self) -> Result<(), SheetError> {
        match self {
            Sheet::Csv(mut w) => w.flush()?,
            Sheet::Xlsx { mut book, file, .. } => book.save_to_writer(std::io::BufWriter::new(file))?,
        }
        Ok(())
    }
}

/// Writes one CSV record, neutralising formula-like cells (copying only those).
pub fn write_csv_record<W: std::io::Write>(w: &mut csv::Writer<W>, cells: &[String]) -> Result<(), csv::Error> {
    for c in cells {
        match neutralise(c) {
            std::borrow::Cow::Borrowed(s) => w.write_field(s)?,
            std::borrow::Cow::Owned(s) => w.write_field(s)?,
        }
    }
    w.write_record(None::<&[u8]>)
}
