//! Building statements: [`Sql`] for text assembled at run time (filters, pages, IN lists),
//! [`query`] / [`query_as`] for fixed text with values bound in order.

use super::exec::Executor;
use super::row::FromRow;
use super::value::{Encode, Value};
use crate::error::{CoreError, CoreResult};
use std::marker::PhantomData;

/// A statement assembled at run time with numbered `$n` placeholders.
///
/// Values may borrow (`Sql<'a>`); statements kept beyond their inputs own them.
#[derive(Debug, Default, Clone)]
pub struct Sql<'a> {
    text: String,
    args: Vec<Value<'a>>,
}

impl<'a> Sql<'a> {
    /// Starts a statement.
    pub fn new(text: &str) -> Self {
        Self { text: text.to_string(), args: Vec::new() }
    }

    /// A statement whose text already holds `$1 ... $n` for `args`.
    pub fn with(text: &str, args: Vec<Value<'a>>) -> Self {
        Self { text: text.to_string(), args }
    }

    /// Binds the next placeholder number to a value whose `$n` the text already holds (or
    /// will hold: `$n` may appear anywhere in the text).
    pub fn bind_next(&mut self, arg: impl Encode<'a>) -> &mut Self {
        self.args.push(arg.encode());
        self
    }

    /// Binds `arg` to the next placeholder number and returns its text (`$n`) without
    /// appending it, for an expression used in more than one place.
    pub fn param(&mut self, arg: impl Encode<'a>) -> String {
        self.args.push(arg.encode());
        format!("${}", self.args.len())
    }

    /// Appends raw SQL (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: impl Encode<'a>) -> &mut Self {
        self.args.push(arg.encode());
        self.text.push('$');
        self.text.push_str(&self.args.len().to_string());
        self
    }

    /// Appends `(a, b, c)` placeholders for an `IN` list.
    pub fn in_list(&mut self, ids: &[i64]) -> &mut Self {
        self.push("(");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(*id);
        }
        self.push(")")
    }

    /// Appends `(a, b, c)` placeholders for an `IN` list of texts.
    pub fn in_texts(&mut self, values: impl IntoIterator<Item = &'a str>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(v);
        }
        self.push(")")
    }

    /// Appends `(a, b, c)` with one placeholder per value.
    pub fn values(&mut self, values: impl IntoIterator<Item = Value<'a>>) -> &mut Self {
        self.push("(");
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(v);
        }
        self.push(")")
    }

    /// The statement text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bound arguments, in placeholder order.
    pub fn args(&self) -> &[Value<'a>] {
        &self.args
    }

    /// Every row.
    pub async fn fetch_all<T: FromRow + Send + 'static>(&self, ex: impl Executor) -> CoreResult<Vec<T>> {
        ex.fetch_all(&self.text, &self.args).await
    }

    /// The first row, if any.
    pub async fn fetch_optional<T: FromRow + Send + 'static>(&self, ex: impl Executor) -> CoreResult<Option<T>> {
        ex.fetch_optional(&self.text, &self.args).await
    }

    /// The first row; NOT_FOUND when there is none.
    pub async fn fetch_one<T: FromRow + Send + 'static>(&self, ex: impl Executor) -> CoreResult<T> {
        ex.fetch_optional(&self.text, &self.args).await?.ok_or(CoreError::NotFound("record"))
    }

    /// Executes it; returns the rows changed.
    pub async fn execute(&self, ex: impl Executor) -> CoreResult<u64> {
        ex.execute(&self.text, &self.args).await
    }
}

/// A fixed statement and the values bound to its placeholders in order.
#[must_use = "a query does nothing until it is executed"]
pub struct Query<'q> {
    sql: &'q str,
    args: Vec<Value<'q>>,
}

/// A statement for [`Query::execute`] (or a typed fetch); bind its values with
/// [`Query::bind`].
pub fn query(sql: &str) -> Query<'_> {
    Query { sql, args: Vec::new() }
}

impl<'q> Query<'q> {
    /// Binds the next placeholder.
    pub fn bind(mut self, v: impl Encode<'q>) -> Self {
        self.args.push(v.encode());
        self
    }

    /// Executes it; returns the rows changed.
    pub async fn execute(self, ex: impl Executor) -> CoreResult<u64> {
        ex.execute(self.sql, &self.args).await
    }
}

/// A fixed statement read as rows of `T`.
#[must_use = "a query does nothing until it is executed"]
pub struct QueryAs<'q, T> {
    sql: &'q str,
    args: Vec<Value<'q>>,
    row: PhantomData<fn() -> T>,
}

/// A statement whose rows are read as `T`; bind its values with [`QueryAs::bind`].
pub fn query_as<T: FromRow>(sql: &str) -> QueryAs<'_, T> {
    QueryAs { sql, args: Vec::new(), row: PhantomData }
}

impl<'q, T: FromRow + Send + 'static> QueryAs<'q, T> {
    /// Binds the next placeholder.
    pub fn bind(mut self, v: impl Encode<'q>) -> Self {
        self.args.push(v.encode());
        self
    }

    /// Every row.
    pub async fn fetch_all(self, ex: impl Executor) -> CoreResult<Vec<T>> {
        ex.fetch_all(self.sql, &self.args).await
    }

    /// The first row, if any.
    pub async fn fetch_optional(self, ex: impl Executor) -> CoreResult<Option<T>> {
        ex.fetch_optional(self.sql, &self.args).await
    }

    /// The first row; NOT_FOUND when there is none.
    pub async fn fetch_one(self, ex: impl Executor) -> CoreResult<T> {
        ex.fetch_optional(self.sql, &self.args).await?.ok_or(CoreError::NotFound("record"))
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern and wraps it in `%`.
pub fn like_pattern(search: &str) -> String {
    let mut p = String::with_capacity(search.len() + 2);
    p.push('%');
    for c in search.trim().to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        let mut s = Sql::new("SELECT * FROM t WHERE a = ");
        s.arg(1_i64).push(" AND b IN ").in_list(&[2, 3]).push(" AND c LIKE ").arg(like_pattern("50%_a"));
        assert_eq!(s.text(), "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) AND c LIKE $4");
        assert_eq!(s.args()[3], Value::text("%50\\%\\_a%"));
    }
}
