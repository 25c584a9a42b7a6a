//! CSV (RFC 4180: comma-separated, CRLF line ends, fields quoted when they hold a comma, a
//! quote or a line break) with a header row, UTF-8 without a byte order mark.
//!
//! Money is a plain decimal number of the currency's major unit (`29.99`), the currency named
//! in the column header; dates are `YYYY-MM-DD`; instants RFC 3339 UTC; flags `true`/`false`.
//! A text cell that a spreadsheet would evaluate as a formula (it starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return) is prefixed with `'`, which spreadsheets show as text and
//! never evaluate (OWASP "CSV injection"). Numbers are typed cells, never prefixed: `-5.00`
//! stays a negative amount.

use super::table::{Cell, Column, ColumnType, Row};
use crate::error::{CoreError, CoreResult};
use std::io::Write;

/// Whether `s` would be read as a formula by a spreadsheet program.
pub fn is_formula(s: &str) -> bool {
    matches!(s.as_bytes().first(), Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r'))
}

/// `s`, prefixed with `'` when a spreadsheet would evaluate it.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if is_formula(s) {
        std::borrow::Cow::Owned(format!("'{s}"))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// `minor` units as a decimal of the major unit with `exp` decimals (`-1234`, 2 -> `-12.34`).
pub fn decimal(minor: i64, exp: u32) -> String {
    if exp == 0 {
        return minor.to_string();
    }
    let div = 10u64.pow(exp);
    let a = minor.unsigned_abs();
    let sign = if minor < 0 { "-" } else { "" };
    format!("{sign}{}.{:0width$}", a / div, a % div, width = exp as usize)
}

/// The header of `c` in a table of `currency`: money columns name the currency.
pub fn header(c: &Column, currency: &str) -> String {
    if c.ty == ColumnType::Money {
        format!("{} ({currency})", c.name)
    } else {
        c.name.to_string()
    }
}

/// Writes a table as CSV to `W`, a chunk of rows at a time.
pub struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
    exp: u32,
    buf: String,
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> CoreError {
    CoreError::internal_from("writing CSV", e)
}

impl<W: Write> CsvWriter<W> {
    /// Starts the file with the header row.
    pub fn new(out: W, columns: &[Column], currency: &str) -> CoreResult<Self> {
        let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(out);
        out.write_record(columns.iter().map(|c| neutralise(&header(c, currency)).into_owned())).map_err(io)?;
        Ok(Self { out, exp: crate::validate::currency_exponent(currency), buf: String::new() })
    }

    /// Appends rows.
    pub fn rows(&mut self, rows: &[Row]) -> CoreResult<()> {
        use std::fmt::Write as _;
        for row in rows {
            for cell in row {
                self.buf.clear();
                match cell {
                    Cell::Null => {}
                    Cell::Text(s) => {
                        if is_formula(s) {
                            self.buf.push('\'');
                        }
                        self.buf.push_str(s);
                    }
                    Cell::Int(v) => {
                        let _ = write!(self.buf, "{v}");
                    }
                    Cell::Money(v) => self.buf.push_str(&decimal(*v, self.exp)),
                    Cell::Date(d) => {
                        let _ = write!(self.buf, "{}", d.format("%Y-%m-%d"));
                    }
                    Cell::DateTime(ms) => match chrono::DateTime::from_timestamp_millis(*ms) {
                        Some(t) => {
                            let _ = write!(self.buf, "{}", t.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
                        }
                        None => {
                            let _ = write!(self.buf, "{ms}");
                        }
                    },
                    Cell::Bool(b) => self.buf.push_str(if *b { "true" } else { "false" }),
                }
                self.out.write_field(&self.buf).map_err(io)?;
            }
            self.out.write_record(None::<&[u8]>).map_err(io)?;
        }
        Ok(())
    }

    /// Flushes the rest and returns the output.
    pub fn finish(self) -> CoreResult<W> {
        self.out.into_inner().map_err(|e| CoreError::internal(format!("writing CSV: {}", e.error())))
    }
}
