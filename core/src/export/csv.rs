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
    let mut out = String::new();
    push_decimal(&mut out, minor, exp);
    out
}

/// Appends [`decimal`] of `minor` to `out`.
fn push_decimal(out: &mut String, minor: i64, exp: u32) {
    use std::fmt::Write as _;
    if exp == 0 {
        let _ = write!(out, "{minor}");
        return;
    }
    let div = 10u64.pow(exp);
    let a = minor.unsigned_abs();
    if minor < 0 {
        out.push('-');
    }
    let _ = write!(out, "{}.{:0width$}", a / div, a % div, width = exp as usize);
}

/// Appends `n` with at least `width` digits, zero-padded (`n` < 10^9).
fn push_padded(out: &mut String, n: u32, width: usize) {
    let mut digits = [b'0'; 10];
    let mut i = digits.len();
    let mut n = n;
    while n > 0 || i == digits.len() {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let start = i.min(digits.len() - width);
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
}

/// Appends `d` as `YYYY-MM-DD` (chrono's formatter for years outside 0..=9999). Written by
/// hand: chrono's format strings were a tenth of a CSV export's time.
fn push_date(out: &mut String, d: chrono::NaiveDate) {
    use chrono::Datelike;
    if !(0..=9999).contains(&d.year()) {
        use std::fmt::Write as _;
        let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        return;
    }
    push_padded(out, d.year() as u32, 4);
    out.push('-');
    push_padded(out, d.month(), 2);
    out.push('-');
    push_padded(out, d.day(), 2);
}

/// Appends instant `t` as RFC 3339 UTC with milliseconds (`2026-12-08T02:30:00.123Z`).
fn push_instant(out: &mut String, t: chrono::DateTime<chrono::Utc>) {
    use chrono::Timelike;
    push_date(out, t.date_naive());
    out.push('T');
    push_padded(out, t.hour(), 2);
    out.push(':');
    push_padded(out, t.minute(), 2);
    out.push(':');
    push_padded(out, t.second(), 2);
    out.push('.');
    push_padded(out, t.timestamp_subsec_millis().min(999), 3);
    out.push('Z');
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
                    Cell::Money(v) => push_decimal(&mut self.buf, *v, self.exp),
                    Cell::Date(d) => push_date(&mut self.buf, *d),
                    Cell::DateTime(ms) => match chrono::DateTime::from_timestamp_millis(*ms) {
                        Some(t) => push_instant(&mut self.buf, t),
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
