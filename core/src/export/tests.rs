use super::csv::{decimal, is_formula, CsvWriter};
use super::table::{col, Cell, ColumnType as T, Keyset};
use super::xlsx::{serial_date, serial_instant, XlsxWriter};
use super::{Filters, Format};
use crate::store::page::{Cursor, Page, SortKey};
use chrono::NaiveDate;

fn csv_of(rows: &[Vec<Cell>]) -> String {
    let cols = [col("Name", T::Text), col("Amount", T::Money), col("On", T::Date), col("Ok", T::Boolean)];
    let mut w = CsvWriter::new(Vec::new(), &cols, "USD").unwrap();
    w.rows(rows).unwrap();
    String::from_utf8(w.finish().unwrap()).unwrap()
}

#[test]
fn csv_is_rfc4180_with_typed_values() {
    let d = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let out = csv_of(&[vec![
        Cell::Text("Silva, \"Ana\"\nline 2".into()),
        Cell::Money(-1234),
        Cell::Date(d),
        Cell::Bool(true),
    ]]);
    assert_eq!(out, "Name,Amount (USD),On,Ok\r\n\"Silva, \"\"Ana\"\"\nline 2\",-12.34,2026-03-01,true\r\n");
}

#[test]
fn csv_neutralises_formulas_in_text_only() {
    for s in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
        assert!(is_formula(s), "{s:?}");
        let out = csv_of(&[vec![Cell::Text(s.into()), Cell::Money(-500), Cell::Null, Cell::Null]]);
        let line = out.lines().nth(1).unwrap();
        assert!(line.starts_with("'") || line.starts_with("\"'"), "{s:?} -> {line:?}");
        // A negative amount is a number and is not touched.
        assert!(line.ends_with(",-5.00,,"), "{line:?}");
    }
    assert!(!is_formula("Ana") && !is_formula("") && !is_formula("a=b"));
}

#[test]
fn money_decimals_follow_the_currency() {
    assert_eq!(decimal(2999, 2), "29.99");
    assert_eq!(decimal(-5, 2), "-0.05");
    assert_eq!(decimal(1500, 0), "1500");
    assert_eq!(decimal(1, 3), "0.001");
    assert_eq!(decimal(i64::MIN, 2), "-92233720368547758.08");
}

#[test]
fn dates_and_instants_read_and_write_as_chrono_does() {
    let cols = [col("On", T::Date), col("At", T::DateTime)];
    let mut cells = Vec::new();
    for ms in [0, 1, 999, 86_399_999, 1_765_161_000_123, -1, -86_400_001, 253_402_300_799_999, 253_402_300_800_000] {
        let t = chrono::DateTime::from_timestamp_millis(ms).unwrap();
        cells.push((t, vec![Cell::Date(t.date_naive()), Cell::DateTime(ms)]));
    }
    let mut w = CsvWriter::new(Vec::new(), &cols, "USD").unwrap();
    w.rows(&cells.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>()).unwrap();
    let out = String::from_utf8(w.finish().unwrap()).unwrap();
    for ((t, _), line) in cells.iter().zip(out.lines().skip(1)) {
        let want = format!("{},{}", t.format("%Y-%m-%d"), t.format("%Y-%m-%dT%H:%M:%S%.3fZ"));
        assert_eq!(line, want);
    }
    for s in ["2026-03-01", "0001-01-01", "9999-12-31", "2024-02-29"] {
        assert_eq!(Cell::date(s), Cell::Date(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()), "{s}");
    }
    for s in ["2025-02-29", "2026-13-01", "2026-3-01", "20260301", "2026-03-0x", "+026-03-01", ""] {
        assert_eq!(Cell::date(s), Cell::Text(s.to_string()), "{s}");
    }
}

#[test]
fn excel_serial_numbers() {
    assert_eq!(serial_date(NaiveDate::from_ymd_opt(1970, 1, 1).unwrap()), 25_569.0);
    assert_eq!(serial_date(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()), 46_023.0);
    assert_eq!(serial_instant(86_400_000 / 2), 25_569.5);
}

#[test]
fn xlsx_is_a_zip_with_a_sheet_and_refuses_too_many_rows() {
    let cols = [col("N", T::Integer), col("Amount", T::Money)];
    let mut w = XlsxWriter::new("payments", &cols, "EUR").unwrap();
    w.rows(&[vec![Cell::Int(1), Cell::Money(250)], vec![Cell::Null, Cell::Money(-1)]]).unwrap();
    let out = w.finish(Vec::new()).unwrap();
    assert!(out.starts_with(b"PK"), "not a zip");
    let mut w = XlsxWriter::new("x", &cols, "EUR").unwrap();
    let many = vec![vec![Cell::Int(1), Cell::Null]; super::xlsx::MAX_ROWS as usize];
    assert!(matches!(w.rows(&many), Err(crate::CoreError::Validation { .. })));
}

#[test]
fn filters_check_names_and_values() {
    let f = Filters::new([("status".to_string(), "ACTIVE,SUSPENDED".to_string()), ("bogus".into(), "1".into())]);
    let err = f.check(&["status"]).unwrap_err().to_string();
    assert!(err.starts_with("bogus:"), "{err}");
    let list: Vec<crate::store::subscriptions::SubscriptionStatus> = f.list("status").unwrap().unwrap();
    assert_eq!(list.len(), 2);
    let bad = Filters::new([("status".to_string(), "NOPE".to_string())]);
    let e = bad.list::<crate::store::subscriptions::SubscriptionStatus>("status").unwrap_err().to_string();
    assert!(e.starts_with("status:") && e.contains("NOPE"), "{e}");
    // Global IDs (base64url "Type:n") and plain numbers; the wrong type is refused.
    let f = Filters::new([("customerId".to_string(), "Q3VzdG9tZXI6NDI".to_string()), ("planId".into(), "7".into())]);
    assert_eq!(f.id("customerId", "Customer").unwrap(), Some(42));
    assert!(f.id("customerId", "Plan").is_err());
    assert_eq!(f.id("planId", "Plan").unwrap(), Some(7));
    let f = Filters::new([("from".to_string(), "2026-13-01".to_string()), ("x".into(), "  ".into())]);
    assert!(f.date("from").is_err());
    assert!(f.check(&["from"]).is_ok(), "blank values count as absent");
    assert_eq!(Format::from_ext("XLSX"), Some(Format::Xlsx));
    assert_eq!(Format::from_ext("pdf"), None);
}

#[test]
fn every_kind_has_a_unique_name_and_filters() {
    let names: Vec<&str> = super::kinds().map(|k| k.name).collect();
    let mut dedup = names.clone();
    dedup.sort_unstable();
    dedup.dedup();
    assert_eq!(names.len(), dedup.len());
    for n in ["customers", "subscriptions", "invoices", "payments", "radius-sessions", "usage", "audit-log"] {
        assert!(names.contains(&n), "{n}");
    }
    for n in ["revenue-by-plan", "collections", "ageing"] {
        assert!(names.contains(&n), "{n}");
    }
}

/// The keyset reader asks for each chunk after the last item of the previous one, and stops
/// after the chunk that has no next page.
#[tokio::test]
async fn keyset_walks_chunks_by_cursor() {
    use super::table::Source;
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let page: super::table::PageFn<i64> =
        Box::new(move |_db: crate::db::Db, args: crate::store::page::PageArgs| -> super::table::PageFuture<i64> {
            log.lock().unwrap().push(args.after.as_ref().map(|c| c.id));
            let start = args.after.map_or(0, |c| c.id);
            let n = args.first.unwrap() as i64;
            let items: Vec<i64> = (start + 1..=(start + n).min(5)).collect();
            let has_next = start + n < 5;
            Box::pin(async move { Ok(Page { items, has_next, has_previous: false }) })
        });
    let mut k = Keyset::new(
        page,
        Box::new(|i: &i64| Cursor { key: SortKey::I(*i), id: *i, order: None }),
        Box::new(|_db: crate::db::Db, items: Vec<i64>| -> super::table::RowsFuture {
            Box::pin(async move { Ok(items.into_iter().map(|i| vec![Cell::Int(i)]).collect()) })
        }),
    )
    .chunked(2);
    let dir = std::env::temp_dir().join(format!("export-keyset-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = crate::db::Db::connect(&format!("sqlite://{}?mode=rwc", dir.join("k.db").display()), 2).await.unwrap();
    let mut all = Vec::new();
    while let Some(rows) = k.next_chunk(&db).await.unwrap() {
        all.extend(rows);
    }
    assert_eq!(all, (1..=5).map(|i| vec![Cell::Int(i)]).collect::<Vec<_>>());
    assert_eq!(*seen.lock().unwrap(), vec![None, Some(2), Some(4)]);
    let _ = std::fs::remove_dir_all(dir);
}
