//! XLSX through rust_xlsxwriter in its constant-memory mode: each row goes to a temporary file
//! as it is written, so a million rows cost what a thousand do; the workbook is zipped into
//! the output (any `Write`: a file, stdout, an HTTP body) when the last row is in.
//!
//! Cells are typed: integers and money are numbers (money in the major unit, with the
//! currency's number format, `#,##0.00 "USD"`), dates and instants are date-formatted serial
//! numbers (instants in UTC), flags are booleans, text is text (never a formula: the writer
//! stores strings as strings, whatever they start with). The header row is bold and frozen,
//! and an autofilter covers the table.

use super::csv::header;
use super::table::{Cell, Column, ColumnType, Row};
use crate::error::{CoreError, CoreResult};
use chrono::{DateTime, NaiveDate};
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
use std::io::Write;

/// The most rows a worksheet holds (Excel's limit, header included).
pub const MAX_ROWS: u32 = 1_048_576;

fn err(e: XlsxError) -> CoreError {
    CoreError::internal_from("writing XLSX", e)
}

/// The Excel serial number of midnight of `d` (days since 1899-12-30).
pub fn serial_date(d: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid date");
    (d - epoch).num_days() as f64
}

/// The Excel serial number of the instant `ms` (Unix milliseconds) in UTC.
pub fn serial_instant(ms: i64) -> f64 {
    // 25569 is 1970-01-01 as an Excel serial date.
    25_569.0 + ms as f64 / 86_400_000.0
}

/// Writes a table as one worksheet, a chunk of rows at a time.
pub struct XlsxWriter {
    book: Workbook,
    sheet: Worksheet,
    columns: Vec<Column>,
    money: Format,
    date: Format,
    datetime: Format,
    scale: f64,
    next_row: u32,
}

impl XlsxWriter {
    /// Starts a worksheet named `name` with the header row.
    pub fn new(name: &str, columns: &[Column], currency: &str) -> CoreResult<Self> {
        let mut book = Workbook::new();
        let mut sheet = book.new_worksheet_with_constant_memory();
        sheet.set_name(name.chars().take(31).collect::<String>()).map_err(err)?;
        let exp = crate::validate::currency_exponent(currency);
        let decimals = if exp == 0 { String::new() } else { format!(".{}", "0".repeat(exp as usize)) };
        let money = Format::new().set_num_format(format!("#,##0{decimals} \"{currency}\""));
        let bold = Format::new().set_bold();
        for (i, c) in columns.iter().enumerate() {
            let i = i as u16;
            sheet.write_string_with_format(0, i, header(c, currency), &bold).map_err(err)?;
            let width: f64 = match c.ty {
                ColumnType::DateTime => 20.0,
                ColumnType::Date | ColumnType::Money => 13.0,
                ColumnType::Boolean | ColumnType::Integer => 10.0,
                ColumnType::Text => 18.0,
            };
            sheet.set_column_width(i, width.max(c.name.len() as f64 + 4.0)).map_err(err)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(err)?;
        Ok(Self {
            book,
            sheet,
            columns: columns.to_vec(),
            money,
            date: Format::new().set_num_format("yyyy-mm-dd"),
            datetime: Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            scale: 10f64.powi(exp as i32),
            next_row: 1,
        })
    }

    /// Appends rows; VALIDATION when the sheet would pass Excel's row limit.
    pub fn rows(&mut self, rows: &[Row]) -> CoreResult<()> {
        if u64::from(self.next_row) + rows.len() as u64 > u64::from(MAX_ROWS) {
            return Err(CoreError::validation(
                "format",
                format!("more than {} rows do not fit in an XLSX sheet; narrow the filters or use CSV", MAX_ROWS - 1),
            ));
        }
        for row in rows {
            let r = self.next_row;
            for (i, cell) in row.iter().enumerate() {
                let c = i as u16;
                let s = &mut self.sheet;
                match cell {
                    Cell::Null => continue,
                    Cell::Text(t) => s.write_string(r, c, t.as_str()),
                    Cell::Int(v) => s.write_number(r, c, *v as f64),
                    Cell::Money(v) => s.write_number_with_format(r, c, *v as f64 / self.scale, &self.money),
                    Cell::Date(d) => s.write_number_with_format(r, c, serial_date(*d), &self.date),
                    Cell::DateTime(ms) if DateTime::from_timestamp_millis(*ms).is_some() => {
                        s.write_number_with_format(r, c, serial_instant(*ms), &self.datetime)
                    }
                    Cell::DateTime(ms) => s.write_number(r, c, *ms as f64),
                    Cell::Bool(b) => s.write_boolean(r, c, *b),
                }
                .map_err(err)?;
            }
            self.next_row += 1;
        }
        Ok(())
    }

    /// Adds the autofilter over what was written and zips the workbook into `out`.
    pub fn finish<W: Write + Send>(mut self, out: W) -> CoreResult<W> {
        let last_col = self.columns.len().saturating_sub(1) as u16;
        self.sheet.autofilter(0, 0, self.next_row - 1, last_col).map_err(err)?;
        self.book.push_worksheet(self.sheet);
        let mut out = out;
        self.book.save_to_writer(&mut out).map_err(err)?;
        Ok(out)
    }
}
