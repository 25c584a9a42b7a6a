//! Reading an import file into a table of text cells: CSV (delimiter sniffed, UTF-8 with or
//! without BOM, Windows-1252 / Latin-1 detected or declared) and spreadsheets (XLSX, XLS, ODS
//! through calamine). Formula cells are never evaluated: a spreadsheet cell holding a formula
//! is refused with a row error (its cached value may be stale or absent).

use crate::error::{CoreError, CoreResult};
use calamine::{Data, Reader};
use std::io::Cursor;

/// Bounds on what one import may hold, so that a hostile or broken file gives a clear error
/// instead of exhausting memory.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Size of the file in bytes.
    pub max_file_bytes: usize,
    /// Data rows (the header not counted).
    pub max_rows: usize,
    /// Bytes in one cell.
    pub max_cell_bytes: usize,
    /// Bytes in one row (all its cells).
    pub max_row_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_file_bytes: 256 << 20, max_rows: 1_000_000, max_cell_bytes: 8 << 10, max_row_bytes: 64 << 10 }
    }
}

/// One data row: its line (1-based, the header is line 1 for CSV; the spreadsheet row
/// number for spreadsheets), its cells, and a problem that makes the whole row bad.
#[derive(Debug, Clone)]
pub struct Row {
    /// Row number as a person sees it in the file.
    pub line: usize,
    /// Cell texts, trimmed.
    pub cells: Vec<String>,
    /// (column index, reason) when the row cannot be used as read (too long, a formula).
    pub problem: Option<(Option<usize>, String)>,
}

/// A file read as text: header cells and rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Header cells, as written.
    pub headers: Vec<String>,
    /// Data rows; blank rows are dropped.
    pub rows: Vec<Row>,
}

/// How to read a CSV file's bytes.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    /// A declared encoding label (`utf-8`, `windows-1252`, `latin1`, ...); detected when None.
    pub encoding: Option<String>,
    /// A declared delimiter; sniffed among `,` `;` TAB `|` when None.
    pub delimiter: Option<u8>,
    /// A sheet name (spreadsheets); the first sheet when None.
    pub sheet: Option<String>,
}

fn file_error(message: impl std::fmt::Display) -> CoreError {
    CoreError::validation("file", message)
}

/// Whether `name` / `bytes` is a spreadsheet (by extension, or by the ZIP / OLE signature).
pub fn is_spreadsheet(name: &str, bytes: &[u8]) -> bool {
    let lower = name.to_ascii_lowercase();
    [".xlsx", ".xlsm", ".xls", ".xlsb", ".ods"].iter().any(|e| lower.ends_with(e))
        || bytes.starts_with(b"PK\x03\x04")
        || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Reads `bytes` (named `name`, for the format) into a table.
pub fn read(name: &str, bytes: &[u8], opts: &CsvOptions, limits: &Limits) -> CoreResult<Table> {
    if bytes.len() > limits.max_file_bytes {
        return Err(file_error(format!(
            "is {} bytes, over the limit of {} bytes; split it into several imports",
            bytes.len(),
            limits.max_file_bytes
        )));
    }
    let table =
        if is_spreadsheet(name, bytes) { read_sheet(bytes, opts, limits)? } else { read_csv(bytes, opts, limits)? };
    if table.headers.iter().all(|h| h.is_empty()) {
        return Err(file_error("is empty: no header row"));
    }
    if table.rows.is_empty() {
        return Err(file_error("has a header but no data rows"));
    }
    Ok(table)
}

/// The text of a CSV file: BOMs stripped, the declared encoding or UTF-8, else Windows-1252.
pub fn decode(bytes: &[u8], declared: Option<&str>) -> CoreResult<String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        let enc = if bytes[0] == 0xFF { encoding_rs::UTF_16LE } else { encoding_rs::UTF_16BE };
        let (text, _, bad) = enc.decode(bytes);
        if bad {
            return Err(file_error("is not valid UTF-16"));
        }
        return Ok(text.into_owned());
    }
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if body.contains(&0) {
        return Err(file_error("is not a text file (it contains NUL bytes); upload CSV, XLSX, XLS or ODS"));
    }
    match declared {
        Some(label) => {
            let enc = encoding_rs::Encoding::for_label(label.trim().as_bytes())
                .ok_or_else(|| file_error(format!("encoding {label:?} is not known")))?;
            let (text, bad) = enc.decode_without_bom_handling(body);
            if bad {
                let line = first_bad_line(body);
                return Err(file_error(format!("line {line} is not valid {}", enc.name())));
            }
            Ok(text.into_owned())
        }
        None => match std::str::from_utf8(body) {
            Ok(s) => Ok(s.to_string()),
            // Not UTF-8: the legacy single-byte encoding of spreadsheet programs on Western
            // systems (Windows-1252, a superset of Latin-1's printable characters).
            Err(_) => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(body).0.into_owned()),
        },
    }
}

/// The line of the first byte that is not UTF-8 (for the declared-UTF-8 error).
fn first_bad_line(body: &[u8]) -> usize {
    let at = std::str::from_utf8(body).err().map_or(body.len(), |e| e.valid_up_to());
    body[..at].iter().filter(|&&b| b == b'\n').count() + 1
}

/// The delimiter that splits the header line into the most fields, among `,` `;` TAB `|`.
pub fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let count = |d: char| {
        let mut quoted = false;
        header
            .chars()
            .filter(|&c| {
                if c == '"' {
                    quoted = !quoted;
                }
                !quoted && c == d
            })
            .count()
    };
    let mut best = (b',', 0);
    for d in [',', ';', '\t', '|'] {
        let n = count(d);
        if n > best.1 {
            best = (d as u8, n);
        }
    }
    best.0
}

fn check_row(cells: &[String], limits: &Limits) -> Option<(Option<usize>, String)> {
    if let Some(i) = cells.iter().position(|c| c.len() > limits.max_cell_bytes) {
        return Some((
            Some(i),
            format!("cell is {} bytes, over the limit of {}", cells[i].len(), limits.max_cell_bytes),
        ));
    }
    let total: usize = cells.iter().map(String::len).sum();
    (total > limits.max_row_bytes)
        .then(|| (None, format!("row is {total} bytes, over the limit of {} bytes", limits.max_row_bytes)))
}

fn read_csv(bytes: &[u8], opts: &CsvOptions, limits: &Limits) -> CoreResult<Table> {
    let text = decode(bytes, opts.encoding.as_deref())?;
    if text.trim().is_empty() {
        return Err(file_error("is empty"));
    }
    let delimiter = opts.delimiter.unwrap_or_else(|| sniff_delimiter(&text));
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(text.as_bytes());
    let mut table = Table::default();
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Err(file_error(format!("line {line}: {e}")));
            }
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cells: Vec<String> = record.iter().map(|c| c.trim().to_string()).collect();
        if cells.iter().all(String::is_empty) {
            continue;
        }
        if first {
            first = false;
            if let Some((_, why)) = check_row(&cells, limits) {
                return Err(file_error(format!("header (line {line}): {why}")));
            }
            table.headers = cells;
            continue;
        }
        if table.rows.len() == limits.max_rows {
            return Err(file_error(format!("has more than {} rows; split it into several imports", limits.max_rows)));
        }
        let problem = check_row(&cells, limits);
        // A rejected row keeps no text: a 10 MB row must not stay in memory.
        let cells = if problem.is_some() { Vec::new() } else { cells };
        table.rows.push(Row { line, cells, problem });
    }
    Ok(table)
}

/// A spreadsheet cell as text: whole numbers without `.0`, dates as `YYYY-MM-DD`.
fn cell_text(d: &Data) -> Result<String, String> {
    Ok(match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => match dt.as_datetime() {
            Some(t) if t.time() == chrono::NaiveTime::MIN => t.date().format("%Y-%m-%d").to_string(),
            Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
            None => return Err("is a date out of range".into()),
        },
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => return Err(format!("holds the spreadsheet error {e}")),
    })
}

fn read_sheet(bytes: &[u8], opts: &CsvOptions, limits: &Limits) -> CoreResult<Table> {
    let mut book = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| file_error(format!("is not a readable spreadsheet: {e}")))?;
    let names = book.sheet_names();
    let sheet = match &opts.sheet {
        Some(s) => names.iter().find(|n| n.eq_ignore_ascii_case(s)).cloned(),
        None => names.first().cloned(),
    }
    .ok_or_else(|| file_error(format!("has no sheet {}", opts.sheet.as_deref().unwrap_or("at all"))))?;
    let range = book.worksheet_range(&sheet).map_err(|e| file_error(format!("sheet {sheet}: {e}")))?;
    if range.height() > limits.max_rows + 1 {
        return Err(file_error(format!("has more than {} rows; split it into several imports", limits.max_rows)));
    }
    // Formulas are never evaluated; a cell that holds one is refused (see the module doc).
    let formulas = book.worksheet_formula(&sheet).ok();
    let (row0, col0) = range.start().unwrap_or((0, 0));
    let mut table = Table::default();
    let mut first = true;
    for (i, r) in range.rows().enumerate() {
        let abs_row = row0 + i as u32;
        let line = abs_row as usize + 1;
        let mut problem = None;
        let mut cells = Vec::with_capacity(r.len());
        for (j, d) in r.iter().enumerate() {
            let formula =
                formulas.as_ref().and_then(|f| f.get_value((abs_row, col0 + j as u32))).filter(|f| !f.is_empty());
            if let Some(f) = formula {
                problem
                    .get_or_insert((Some(j), format!("is a formula (={f}); formulas are not evaluated: paste values")));
                cells.push(String::new());
                continue;
            }
            match cell_text(d) {
                Ok(t) => cells.push(t),
                Err(why) => {
                    problem.get_or_insert((Some(j), why));
                    cells.push(String::new());
                }
            }
        }
        if problem.is_none() && cells.iter().all(String::is_empty) {
            continue;
        }
        if first {
            first = false;
            if let Some((_, why)) = problem.or_else(|| check_row(&cells, limits)) {
                return Err(file_error(format!("header (row {line}): {why}")));
            }
            table.headers = cells;
            continue;
        }
        let problem = problem.or_else(|| check_row(&cells, limits));
        let cells = if problem.is_some() && cells.iter().map(String::len).sum::<usize>() > limits.max_row_bytes {
            Vec::new()
        } else {
            cells
        };
        table.rows.push(Row { line, cells, problem });
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiters_are_sniffed_from_the_header() {
        assert_eq!(sniff_delimiter("name;email;login\na;b;c"), b';');
        assert_eq!(sniff_delimiter("name\temail\tlogin"), b'\t');
        assert_eq!(sniff_delimiter("name|email|login"), b'|');
        assert_eq!(sniff_delimiter("\"a;b\",c,d"), b',');
    }

    #[test]
    fn encodings_are_detected_or_declared() {
        assert_eq!(decode(b"\xEF\xBB\xBFname\nJos\xC3\xA9", None).unwrap(), "name\nJosé");
        assert_eq!(decode(b"name\nJos\xE9", None).unwrap(), "name\nJosé");
        assert_eq!(decode(b"name\nJos\xE9", Some("latin1")).unwrap(), "name\nJosé");
        let e = decode(b"name\nok\nJos\xE9", Some("utf-8")).unwrap_err().to_string();
        assert!(e.contains("line 3") && e.contains("UTF-8"), "{e}");
        assert!(decode(b"PK\x00\x01", None).unwrap_err().to_string().contains("NUL"));
        assert!(decode(b"a", Some("klingon")).is_err());
    }

    #[test]
    fn limits_name_the_row() {
        let limits = Limits { max_row_bytes: 100, ..Limits::default() };
        let long = "x".repeat(5000);
        let csv = format!("name,login\nA,a\nB,{long}\n");
        let t = read("f.csv", csv.as_bytes(), &CsvOptions::default(), &limits).unwrap();
        assert!(t.rows[0].problem.is_none());
        let (_, why) = t.rows[1].problem.clone().unwrap();
        assert_eq!(t.rows[1].line, 3);
        assert!(why.contains("over the limit"), "{why}");
        assert!(t.rows[1].cells.is_empty());
        let few = Limits { max_rows: 1, ..Limits::default() };
        assert!(read("f.csv", csv.as_bytes(), &CsvOptions::default(), &few)
            .unwrap_err()
            .to_string()
            .contains("more than 1 rows"));
        let small = Limits { max_file_bytes: 10, ..Limits::default() };
        assert!(read("f.csv", csv.as_bytes(), &CsvOptions::default(), &small).is_err());
    }

    #[test]
    fn empty_files_are_refused() {
        let l = Limits::default();
        assert!(read("f.csv", b"", &CsvOptions::default(), &l).unwrap_err().to_string().contains("empty"));
        assert!(read("f.csv", b"\xEF\xBB\xBF\n\n", &CsvOptions::default(), &l)
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(read("f.csv", b"name,login\n", &CsvOptions::default(), &l)
            .unwrap_err()
            .to_string()
            .contains("no data"));
    }
}
