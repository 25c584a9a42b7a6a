//! Document numbers from templates such as `INV-{YYYY}-{SEQ:5}`, drawn from a gapless
//! per-tenant sequence row that is updated in the transaction issuing the document (a
//! rolled-back transaction gives its number back).

use crate::db::{query_as, Tx};
use crate::error::{CoreError, CoreResult};
use chrono::{Datelike, NaiveDate};

/// Checks a template: at most 40 characters, exactly one `{SEQ}` or `{SEQ:n}` (n 1-12),
/// and only the placeholders `{YYYY}`, `{YY}`, `{MM}`.
pub fn validate(template: &str) -> Result<(), String> {
    if template.is_empty() || template.len() > 40 {
        return Err("must be 1-40 characters".into());
    }
    let mut seq = 0;
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}').ok_or("has an unclosed {")? + open;
        let token = &rest[open + 1..close];
        match token {
            "YYYY" | "YY" | "MM" => {}
            "SEQ" => seq += 1,
            t if t.starts_with("SEQ:") => {
                let n: u32 = t[4..].parse().map_err(|_| "has a bad {SEQ:n} width")?;
                if !(1..=12).contains(&n) {
                    return Err("{SEQ:n} width must be 1-12".into());
                }
                seq += 1;
            }
            other => return Err(format!("has an unknown placeholder {{{other}}}")),
        }
        rest = &rest[close + 1..];
    }
    if rest.contains('}') || seq != 1 {
        return Err("must contain {SEQ} or {SEQ:n} exactly once".into());
    }
    Ok(())
}

/// The sequence scope: numbering restarts each year when the template shows the year.
pub fn scope(template: &str, date: NaiveDate) -> String {
    if template.contains("{YYYY}") || template.contains("{YY}") {
        date.year().to_string()
    } else {
        String::new()
    }
}

/// The template filled in for `date` and sequence value `seq`.
pub fn render(template: &str, date: NaiveDate, seq: i64) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len() - 1, |c| c + open);
        let token = &rest[open + 1..close];
        match token {
            "YYYY" => out.push_str(&format!("{:04}", date.year())),
            "YY" => out.push_str(&format!("{:02}", date.year() % 100)),
            "MM" => out.push_str(&format!("{:02}", date.month())),
            "SEQ" => out.push_str(&seq.to_string()),
            t => {
                let w: usize = t.strip_prefix("SEQ:").and_then(|n| n.parse().ok()).unwrap_or(1);
                out.push_str(&format!("{seq:0w$}"));
            }
        }
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Draws the next number of `kind` (`INVOICE`, `RECEIPT`, `CREDIT_NOTE`) inside `tx`.
pub async fn next(tx: &mut Tx, tenant_id: i64, kind: &str, template: &str, date: NaiveDate) -> CoreResult<String> {
    let seq = reserve(tx, tenant_id, kind, template, date, 1).await?;
    Ok(render(template, date, seq))
}

/// Reserves `count` consecutive sequence values of `kind` for documents dated `date` inside
/// `tx`, in one statement, and returns the first. Still gapless: the caller uses every value
/// in the same transaction, and a rollback gives the whole block back.
pub async fn reserve(
    tx: &mut Tx,
    tenant_id: i64,
    kind: &str,
    template: &str,
    date: NaiveDate,
    count: i64,
) -> CoreResult<i64> {
    if count < 1 {
        return Err(CoreError::internal("a number block must hold at least one number"));
    }
    let (first,): (i64,) = query_as(RESERVE_SQL)
        .bind(tenant_id)
        .bind(kind)
        .bind(scope(template, date))
        .bind(count)
        .fetch_one(&mut *tx)
        .await?;
    checked_first(Some(first))
}

/// Reserves `$4` values of sequence (`$1` tenant, `$2` kind, `$3` scope) and returns the first.
pub(crate) const RESERVE_SQL: &str = "INSERT INTO number_sequences (tenant_id, kind, scope, next_value) \
     VALUES ($1, $2, $3, $4 + 1) ON CONFLICT (tenant_id, kind, scope) DO UPDATE SET next_value = \
     number_sequences.next_value + $4 RETURNING next_value - $4";

/// The first value of a block [`RESERVE_SQL`] returned, checked.
pub(crate) fn checked_first(first: Option<i64>) -> CoreResult<i64> {
    match first {
        Some(f) if f >= 1 => Ok(f),
        Some(_) => Err(CoreError::internal("number sequence went below 1")),
        None => Err(CoreError::internal("no number block was reserved")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_validates_templates() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        assert_eq!(render("INV-{YYYY}-{SEQ:5}", d, 42), "INV-2024-00042");
        assert_eq!(render("{YY}{MM}/{SEQ}", d, 7), "2402/7");
        assert_eq!(scope("INV-{YYYY}-{SEQ:5}", d), "2024");
        assert_eq!(scope("R{SEQ:6}", d), "");
        assert!(validate("INV-{YYYY}-{SEQ:5}").is_ok());
        assert!(validate("INV-{YYYY}").is_err());
        assert!(validate("{SEQ}{SEQ}").is_err());
        assert!(validate("{SEQ:0}").is_err());
        assert!(validate("{DAY}{SEQ}").is_err());
        assert!(validate("X{SEQ").is_err());
    }
}
