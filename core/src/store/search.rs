//! Text search that an index serves, on both backends: each searchable object has a document
//! row (`customer_search`, `subscription_search`: its id, tenant and the text of every
//! searchable field) that triggers keep in sync with the objects (migrations 0008).
//!
//! - SQLite indexes the documents with FTS5's trigram tokenizer, case and diacritics folded
//!   (`remove_diacritics 1`): a term matches any substring of at least three characters.
//! - PostgreSQL keeps the documents folded (`isp_fold`: lower case, `unaccent`) and indexes
//!   them with a `pg_trgm` GIN index, which serves `doc LIKE '%term%'`.
//!
//! A search is whitespace-separated terms, all of which must match (in any field). Terms
//! shorter than three characters narrow nothing a trigram index can find and are ignored as
//! long as one longer term remains; a search with none is a VALIDATION error. A term made of
//! digits and phone punctuation matches as typed or as its digits alone (`555-0123` finds
//! `5550123` and `555-0123`; `10.0.0.7` still finds the IP address).

use crate::db::{Backend, Sql};
use crate::error::{CoreError, CoreResult};

/// The shortest term a trigram index can find.
pub const MIN_TERM: usize = 3;
/// The longest search accepted.
pub const MAX_SEARCH: usize = 200;

/// One word of a search: what may match it (the word, and for a phone-like word also its
/// digits alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term(pub Vec<String>);

/// The terms of search `input`, lower-cased; VALIDATION on `field` when none is long enough.
pub fn terms(field: &str, input: &str) -> CoreResult<Vec<Term>> {
    let input = input.trim();
    if input.chars().count() > MAX_SEARCH {
        return Err(CoreError::validation(field, format!("must be at most {MAX_SEARCH} characters")));
    }
    let mut out: Vec<Term> = Vec::new();
    for raw in input.split_whitespace() {
        let word = raw.to_lowercase();
        let mut alternatives = Vec::new();
        if word.chars().count() >= MIN_TERM {
            alternatives.push(word.clone());
        }
        // Phone numbers are typed with all kinds of punctuation; documents carry the digits.
        let digits: String = word.chars().filter(char::is_ascii_digit).collect();
        let phone_like = word.chars().all(|c| c.is_ascii_digit() || "+-.()/".contains(c));
        if phone_like && digits.len() >= MIN_TERM && digits != word {
            alternatives.push(digits);
        }
        let term = Term(alternatives);
        if !term.0.is_empty() && !out.contains(&term) {
            out.push(term);
        }
    }
    if out.is_empty() {
        return Err(CoreError::validation(field, format!("needs a word of at least {MIN_TERM} characters")));
    }
    Ok(out)
}

/// `term` as an FTS5 string: a phrase in double quotes (a double quote doubled), so that
/// the trigram tokenizer matches it as a substring and nothing in it is query syntax.
fn fts_phrase(term: &str) -> String {
    format!("\"{}\"", term.replace('"', "\"\""))
}

/// `term` as a `LIKE ... ESCAPE '\'` pattern matching it anywhere.
fn like_anywhere(term: &str) -> String {
    let mut p = String::with_capacity(term.len() + 2);
    p.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Which search documents a statement reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Index {
    /// `customer_search` (customer_id): account number, name, email, phone (and its digits),
    /// address, and the logins, static IPs and ONU serials of the customer's subscriptions.
    Customers,
    /// `subscription_search` (subscription_id): login, static IP, MAC address, ONU serial.
    Subscriptions,
    /// `ticket_search` (ticket_id): subject, tags and every message (migration 0012).
    Tickets,
}

impl Index {
    fn table(self) -> &'static str {
        match self {
            Index::Customers => "customer_search",
            Index::Subscriptions => "subscription_search",
            Index::Tickets => "ticket_search",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Index::Customers => "customer_id",
            Index::Subscriptions => "subscription_id",
            Index::Tickets => "ticket_id",
        }
    }
}

/// The FTS5 expression of `terms`: every term, each as any of its alternatives.
fn fts_expr(terms: &[Term]) -> String {
    terms
        .iter()
        .map(|t| format!("({})", t.0.iter().map(|a| fts_phrase(a)).collect::<Vec<_>>().join(" OR ")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// For a statement that counts (or otherwise needs only some of) the matches: on SQLite,
/// appends ` FROM <index>_fts CROSS JOIN <table> ON <table>.id = <index>_fts.rowid WHERE
/// <index>_fts MATCH ... AND` and returns true, so that the caller's conditions follow and the
/// statement walks the index's matches one by one, stopping at its LIMIT. (The
/// [`push_match`] form, `id IN (...)`, reads every match first: for a common surname that is a
/// quarter of the tenant, to count a thousand of them.) Returns false, appending nothing, on
/// PostgreSQL, whose planner chooses the order itself: the caller then uses [`push_match`].
pub fn push_from_matches(sql: &mut Sql<'_>, backend: Backend, index: Index, table: &str, terms: &[Term]) -> bool {
    if backend != Backend::Sqlite {
        return false;
    }
    let fts = format!("{}_fts", index.table());
    sql.push(&format!(" FROM {fts} CROSS JOIN {table} ON {table}.id = {fts}.rowid WHERE {fts} MATCH "))
        .arg(fts_expr(terms))
        .push(" AND");
    true
}

/// Appends ` AND <id_column> IN (ids of the documents of `tenant_id` matching every term)` to
/// `sql`, whose WHERE clause is open.
pub fn push_match(sql: &mut Sql<'_>, backend: Backend, index: Index, id_column: &str, tenant_id: i64, terms: &[Term]) {
    let (table, key) = (index.table(), index.key());
    sql.push(&format!(" AND {id_column} IN ("));
    match backend {
        Backend::Sqlite => {
            // The FTS table's rowid is the document's key; the tenant is checked on the
            // object itself by the caller's WHERE.
            sql.push(&format!("SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH ")).arg(fts_expr(terms));
        }
        Backend::Postgres => {
            sql.push(&format!("SELECT {key} FROM {table} WHERE tenant_id = ")).arg(tenant_id);
            for t in terms {
                sql.push(" AND (");
                for (i, a) in t.0.iter().enumerate() {
                    if i > 0 {
                        sql.push(" OR ");
                    }
                    sql.push("doc LIKE isp_fold(").arg(like_anywhere(a)).push(") ESCAPE '\\'");
                }
                sql.push(")");
            }
        }
    }
    sql.push(")");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(words: &[&[&str]]) -> Vec<Term> {
        words.iter().map(|w| Term(w.iter().map(|s| s.to_string()).collect())).collect()
    }

    #[test]
    fn terms_are_words_of_three_characters_or_more() {
        assert_eq!(terms("search", "  João  SILVA ").unwrap(), t(&[&["joão"], &["silva"]]));
        assert_eq!(terms("search", "li wei").unwrap(), t(&[&["wei"]]), "short words are dropped");
        assert_eq!(terms("search", "(555) 012-3456").unwrap(), t(&[&["(555)", "555"], &["012-3456", "0123456"]]));
        assert_eq!(terms("search", "+1-555-0123").unwrap(), t(&[&["+1-555-0123", "15550123"]]));
        assert_eq!(terms("search", "10.0.0.7").unwrap(), t(&[&["10.0.0.7", "10007"]]), "the IP as typed too");
        assert_eq!(terms("search", "5550123").unwrap(), t(&[&["5550123"]]));
        assert_eq!(terms("search", "aa:bb:cc").unwrap(), t(&[&["aa:bb:cc"]]));
        assert_eq!(terms("search", "silva silva").unwrap(), t(&[&["silva"]]));
        assert_eq!(terms("search", "(55)").unwrap(), t(&[&["(55)"]]), "two digits with punctuation");
        let e = terms("search", "li").unwrap_err();
        assert!(matches!(e, CoreError::Validation { ref field, .. } if field == "search"), "{e}");
        assert!(terms("search", &"x".repeat(201)).is_err());
    }

    #[test]
    fn terms_cannot_inject_query_syntax() {
        assert_eq!(fts_phrase("a\"b OR c"), "\"a\"\"b OR c\"");
        assert_eq!(like_anywhere("50%_a\\"), "%50\\%\\_a\\\\%");
        let mut sql = Sql::new("SELECT id FROM customers WHERE tenant_id = 1");
        push_match(&mut sql, Backend::Postgres, Index::Customers, "id", 1, &t(&[&["silva"], &["555-0", "5550"]]));
        assert_eq!(
            sql.text(),
            "SELECT id FROM customers WHERE tenant_id = 1 AND id IN (SELECT customer_id FROM customer_search \
             WHERE tenant_id = $1 AND (doc LIKE isp_fold($2) ESCAPE '\\') AND (doc LIKE isp_fold($3) ESCAPE '\\' \
             OR doc LIKE isp_fold($4) ESCAPE '\\'))"
        );
        let mut sql = Sql::new("SELECT id FROM customers WHERE tenant_id = 1");
        push_match(&mut sql, Backend::Sqlite, Index::Customers, "id", 1, &t(&[&["silva"], &["555-0", "5550"]]));
        assert_eq!(sql.args()[0], crate::db::Value::text("(\"silva\") AND (\"555-0\" OR \"5550\")"));
    }
}
