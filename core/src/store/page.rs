//! Keyset pagination behind the API's Relay connections: stable under inserts, and as fast
//! on page 1,000 as on page 1.

use crate::db::{Arg, Executor, FromRow, Sql};
use crate::error::{CoreError, CoreResult};

/// The largest page a client may ask for.
pub const MAX_PAGE: usize = 100;
/// The page size when the client names none.
pub const DEFAULT_PAGE: usize = 20;
/// The largest chunk an in-process reader (an export) may read with [`PageArgs::bulk`].
pub const BULK_PAGE: usize = 5000;

/// Value of the sort column at a cursor position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum SortKey {
    /// Integer column (ids, instants).
    I(i64),
    /// Text column (names, numbers).
    T(String),
}

/// A position in an ordered list: sort value plus the id that breaks ties.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// Sort column value.
    pub key: SortKey,
    /// Row id.
    pub id: i64,
    /// [`Order::tag`] of the list the cursor came from, for lists with several orders: a
    /// cursor of one order must not be read as a position in another with the same key type.
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "o")]
    pub order: Option<String>,
}

/// Relay arguments after decoding.
#[derive(Debug, Clone, Default)]
pub struct PageArgs {
    /// Items after this position.
    pub after: Option<Cursor>,
    /// Items before this position.
    pub before: Option<Cursor>,
    /// First n items.
    pub first: Option<usize>,
    /// Last n items.
    pub last: Option<usize>,
    /// Set only by in-process readers that walk a whole list in chunks (exports), never from
    /// a client's arguments: allows pages of up to [`BULK_PAGE`] instead of [`MAX_PAGE`].
    pub bulk: bool,
}

/// One page of results in display order.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// More items follow the last one.
    pub has_next: bool,
    /// More items precede the first one.
    pub has_previous: bool,
}

impl<T> Page<T> {
    /// Maps the items, keeping the page flags.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_next: self.has_next,
            has_previous: self.has_previous,
        }
    }
}

/// How a list is ordered: a column (NOT NULL) and a direction, ties broken by id.
#[derive(Debug, Clone, Copy)]
pub struct Order {
    /// Column name, qualified if needed (never user input).
    pub column: &'static str,
    /// Whether the column holds integers (else text).
    pub integer: bool,
    /// Descending order.
    pub desc: bool,
}

impl Order {
    /// A short name of this order (column and direction) that cursors carry.
    pub fn tag(&self) -> String {
        format!("{}{}", self.column, if self.desc { "-" } else { "+" })
    }
}

impl PageArgs {
    /// Checks the combination and returns (limit, backward).
    pub fn plan(&self) -> CoreResult<(usize, bool)> {
        if self.first.is_some() && self.last.is_some() {
            return Err(CoreError::validation("last", "use either first or last, not both"));
        }
        let n = self.first.or(self.last).unwrap_or(DEFAULT_PAGE);
        let max = if self.bulk { BULK_PAGE } else { MAX_PAGE };
        if n > max {
            let field = if self.first.is_some() { "first" } else { "last" };
            return Err(CoreError::validation(field, format!("must be at most {max}")));
        }
        Ok((n, self.last.is_some()))
    }
}

fn cursor_arg(c: &Cursor, order: &Order, field: &str) -> CoreResult<Arg> {
    if c.order.as_ref().is_some_and(|tag| *tag != order.tag()) {
        return Err(CoreError::validation(field, "cursor belongs to another sort order"));
    }
    match (&c.key, order.integer) {
        (SortKey::I(i), true) => Ok(Arg::I(*i)),
        (SortKey::T(t), false) => Ok(Arg::text(t.clone())),
        _ => Err(CoreError::validation(field, "cursor belongs to another sort order")),
    }
}

/// Appends the keyset conditions (as `AND ...`), ORDER BY and LIMIT for `args` to `sql`,
/// whose WHERE clause is already open. Returns (limit, backward) for [`finish`].
pub fn apply(sql: &mut Sql<'_>, order: Order, args: &PageArgs) -> CoreResult<(usize, bool)> {
    apply_on(sql, order.column, &id_column(order.column), order, args)
}

/// [`apply`] for a list ordered by an SQL expression `expr` (text, ascending unless
/// `order.desc`) rather than a column; `order.column` names the order in cursors, `id` is
/// the id column beside it. Such a list sorts what its filter selects (no index holds the
/// expression), so it is only for filters that select few rows, such as a search.
pub fn apply_expr(sql: &mut Sql<'_>, expr: &str, id: &str, order: Order, args: &PageArgs) -> CoreResult<(usize, bool)> {
    apply_on(sql, expr, id, order, args)
}

fn apply_on(sql: &mut Sql<'_>, col: &str, id: &str, order: Order, args: &PageArgs) -> CoreResult<(usize, bool)> {
    let (n, backward) = args.plan()?;
    for (cursor, after, field) in [(&args.after, true, "after"), (&args.before, false, "before")] {
        if let Some(c) = cursor {
            // "after" in ascending order means greater; "before" or descending flips it.
            let op = if after != order.desc { ">" } else { "<" };
            let v = cursor_arg(c, &order, field)?;
            // A row-value comparison lets SQLite and PostgreSQL seek straight to the cursor in
            // the (tenant_id, col, id) index; the equivalent OR form makes both scan from the start.
            sql.push(&format!(" AND ({col}, {id}) {op} (")).arg(v);
            sql.push(", ").arg(Arg::I(c.id)).push(")");
        }
    }
    // Walking backward means reading in the opposite order and reversing afterwards.
    let desc = order.desc != backward;
    let dir = if desc { "DESC" } else { "ASC" };
    sql.push(&format!(" ORDER BY {col} {dir}, {id} {dir} LIMIT {}", n + 1));
    Ok((n, backward))
}

/// The id column that goes with a (possibly table-qualified) sort column.
fn id_column(col: &str) -> String {
    match col.split_once('.') {
        Some((table, _)) => format!("{table}.id"),
        None => "id".to_string(),
    }
}

/// A list statement with what [`finish`] needs to turn its rows into a page.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The statement: filter, keyset conditions, order and `LIMIT n + 1`.
    pub sql: Sql<'static>,
    /// (limit, backward), from [`apply`].
    pub plan: (usize, bool),
}

impl ListQuery {
    /// Runs the statement and returns the page.
    pub async fn page<T: FromRow + Send + 'static>(&self, ex: impl Executor, args: &PageArgs) -> CoreResult<Page<T>> {
        Ok(finish(self.sql.fetch_all(ex).await?, self.plan, args))
    }
}

/// Lists count their rows up to this many; beyond it a count says "more than this" rather
/// than reading every row of a large tenant on every page (README: Counts).
pub const COUNT_LIMIT: i64 = 1000;

/// How many items a list has: exact up to [`COUNT_LIMIT`], that limit and `exact: false`
/// beyond it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// The number of items, at most [`COUNT_LIMIT`].
    pub value: i64,
    /// Whether `value` is the exact number (false: there are more).
    pub exact: bool,
}

impl Count {
    /// The count of `n` rows read with a limit of [`COUNT_LIMIT`] + 1.
    pub fn of(n: i64) -> Self {
        Self { value: n.min(COUNT_LIMIT), exact: n <= COUNT_LIMIT }
    }
}

/// `SELECT COUNT(*)` over at most [`COUNT_LIMIT`] + 1 rows of the rows `from_where` selects
/// (it appends ` FROM ... WHERE ...` to the statement it is given).
pub fn count_sql(from_where: impl FnOnce(&mut Sql<'static>) -> CoreResult<()>) -> CoreResult<Sql<'static>> {
    let mut sql = Sql::new("SELECT COUNT(*) FROM (SELECT 1");
    from_where(&mut sql)?;
    sql.push(&format!(" LIMIT {}) n", COUNT_LIMIT + 1));
    Ok(sql)
}

/// Runs a [`count_sql`] statement.
pub async fn count(ex: impl Executor, sql: &Sql<'_>) -> CoreResult<Count> {
    let (n,): (i64,) = sql.fetch_one(ex).await?;
    Ok(Count::of(n))
}

/// Turns the `limit + 1` rows read by [`apply`] into a page in display order.
pub fn finish<T>(mut rows: Vec<T>, (n, backward): (usize, bool), args: &PageArgs) -> Page<T> {
    let more = rows.len() > n;
    rows.truncate(n);
    if backward {
        rows.reverse();
        Page { items: rows, has_next: args.before.is_some(), has_previous: more }
    } else {
        Page { items: rows, has_next: more, has_previous: args.after.is_some() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_keyset_conditions() {
        let mut sql = Sql::new("SELECT * FROM c WHERE tenant_id = $1");
        sql.bind_next(1_i64);
        let args = PageArgs {
            after: Some(Cursor { key: SortKey::T("bob".into()), id: 7, order: None }),
            first: Some(10),
            ..Default::default()
        };
        let plan = apply(&mut sql, Order { column: "name", integer: false, desc: false }, &args).unwrap();
        assert_eq!(plan, (10, false));
        assert_eq!(
            sql.text(),
            "SELECT * FROM c WHERE tenant_id = $1 AND (name, id) > ($2, $3) ORDER BY name ASC, id ASC LIMIT 11"
        );
        let p = finish((0..11).collect::<Vec<_>>(), plan, &args);
        assert_eq!(p.items.len(), 10);
        assert!(p.has_next && p.has_previous);
    }

    #[test]
    fn backward_pages_come_out_in_display_order() {
        let mut sql = Sql::new("SELECT * FROM c WHERE 1 = 1");
        let args = PageArgs { last: Some(2), ..Default::default() };
        let plan = apply(&mut sql, Order { column: "c.created_at", integer: true, desc: true }, &args).unwrap();
        assert!(sql.text().ends_with("ORDER BY c.created_at ASC, c.id ASC LIMIT 3"));
        let p = finish(vec![1, 2, 3], plan, &args);
        assert_eq!(p.items, vec![2, 1]);
        assert!(p.has_previous && !p.has_next);
    }

    #[test]
    fn rejects_bad_combinations() {
        assert!(PageArgs { first: Some(101), ..Default::default() }.plan().is_err());
        assert_eq!(PageArgs { first: Some(BULK_PAGE), bulk: true, ..Default::default() }.plan().unwrap().0, BULK_PAGE);
        assert!(PageArgs { first: Some(BULK_PAGE + 1), bulk: true, ..Default::default() }.plan().is_err());
        assert!(PageArgs { first: Some(1), last: Some(1), ..Default::default() }.plan().is_err());
        let mut sql = Sql::new("x WHERE 1=1");
        let args = PageArgs { after: Some(Cursor { key: SortKey::I(3), id: 1, order: None }), ..Default::default() };
        let name = Order { column: "name", integer: false, desc: false };
        assert!(apply(&mut sql, name, &args).is_err());
        // Same key type, other direction: refused by the cursor's order tag.
        let asc = Cursor { key: SortKey::T("bob".into()), id: 1, order: Some(name.tag()) };
        let args = PageArgs { after: Some(asc), ..Default::default() };
        assert!(apply(&mut Sql::new("x WHERE 1=1"), name, &args).is_ok());
        assert!(apply(&mut Sql::new("x WHERE 1=1"), Order { desc: true, ..name }, &args).is_err());
    }
}
