//! One module per aggregate: plain async functions over [`crate::db::Db`], each taking the
//! tenant id (from the caller's credentials) and filtering by it.

pub mod audit;
pub mod auth_log;
pub mod customers;
pub mod devices;
pub mod nas;
pub mod page;
pub mod plans;
pub mod radius_sessions;
pub mod subscriptions;
pub mod tenants;
pub mod tokens;
pub mod usage;
pub mod users;

use crate::db::Db;
use crate::error::CoreResult;
use sqlx::any::AnyArguments;
use sqlx::query::QueryAs;
use sqlx::Any;

/// Defines a text-backed domain enum: stored as its upper-case name, exposed to GraphQL
/// under the same name, parsed with a validation error naming the field.
#[macro_export]
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
        pub enum $name { $($(#[$vm])* #[serde(rename = $text)] #[cfg_attr(feature = "graphql", graphql(name = $text))] $variant),+ }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Stored and displayed name.
            pub fn as_str(self) -> &'static str { match self { $($name::$variant => $text),+ } }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::CoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($text => Ok($name::$variant),)+
                    _ => Err($crate::CoreError::validation($field, format!("unknown value {s:?}"))) }
            }
        }

        impl $crate::lite::FromColumn for $name {
            fn column(row: &$crate::lite::rusqlite::Row<'_>, i: usize) -> $crate::lite::rusqlite::Result<Self> {
                $crate::lite::enum_column(row, i)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }

        impl sqlx::Type<sqlx::Any> for $name {
            fn type_info() -> sqlx::any::AnyTypeInfo { <str as sqlx::Type<sqlx::Any>>::type_info() }
            fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool { <str as sqlx::Type<sqlx::Any>>::compatible(ty) }
        }

        impl<'q> sqlx::Encode<'q, sqlx::Any> for $name {
            fn encode_by_ref(&self, buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>)
                -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Any> for $name {
            fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                let s = <&str as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
                Ok(s.parse::<$name>().map_err(|e| e.to_string())?)
            }
        }
    };
}

/// A bound SQL parameter.
#[derive(Debug, Clone)]
pub enum Arg {
    /// Integer.
    I(i64),
    /// Text.
    T(String),
}

/// How the direct SQLite path reads a statement's rows.
type LiteRead<T> = fn(&crate::lite::Conn<'_>, &str, &[Arg]) -> CoreResult<Vec<T>>;

/// A SQL statement assembled at run time with numbered `$n` placeholders.
#[derive(Debug, Default)]
pub struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    /// Starts a statement.
    pub fn new(text: &str) -> Self {
        Self { text: text.to_string(), args: Vec::new() }
    }

    /// Appends raw SQL (never user input).
    pub fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `arg`.
    pub fn arg(&mut self, arg: Arg) -> &mut Self {
        self.args.push(arg);
        self.text.push_str(&format!("${}", self.args.len()));
        self
    }

    /// Appends `(a, b, c)` placeholders for an `IN` list.
    pub fn in_list(&mut self, ids: &[i64]) -> &mut Self {
        self.push("(");
        for (i, id) in ids.iter().enumerate() {
            if i > 0 {
                self.push(", ");
            }
            self.arg(Arg::I(*id));
        }
        self.push(")")
    }

    /// The statement text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bound arguments, in placeholder order.
    pub fn args(&self) -> &[Arg] {
        &self.args
    }

    /// Whether the statement scans rather than seeks: a `LIKE` search reads every row of the
    /// tenant, so on the direct SQLite path it runs on a blocking thread, not inline.
    fn scans(&self) -> bool {
        self.text.contains(" LIKE ")
    }

    /// Every row, through the direct SQLite path when there is one (see [`crate::lite`]).
    pub async fn fetch_all<T>(&self, db: &Db) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin + 'static,
    {
        self.fetch_with(db, |c, sql, args| c.fetch_all(sql, args)).await
    }

    /// [`fetch_all`](Self::fetch_all) for a row type the direct SQLite path reads straight
    /// from its columns ([`crate::lite::LiteRow`]).
    pub async fn fetch_rows<T>(&self, db: &Db) -> CoreResult<Vec<T>>
    where
        T: crate::lite::LiteRow + for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin + 'static,
    {
        self.fetch_with(db, |c, sql, args| c.fetch_rows(sql, args)).await
    }

    /// Every row: on the direct SQLite path read by `read` (inline, or on a blocking thread for
    /// scans), through sqlx otherwise.
    async fn fetch_with<T>(&self, db: &Db, read: LiteRead<T>) -> CoreResult<Vec<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin + 'static,
    {
        match db.lite() {
            Some(l) if self.scans() => {
                let (text, args) = (self.text.clone(), self.args.clone());
                l.read_off_thread(move |c| read(c, &text, &args)).await
            }
            Some(l) => l.read(|c| read(c, &self.text, &self.args)),
            None => Ok(self.query_as::<T>().fetch_all(db.x()).await?),
        }
    }

    /// The first row, if any, through the direct SQLite path when there is one.
    pub async fn fetch_optional<T>(&self, db: &Db) -> CoreResult<Option<T>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
    {
        match db.lite() {
            Some(l) => l.read(|c| c.fetch_optional(&self.text, &self.args)),
            None => Ok(self.query_as::<T>().fetch_optional(db.x()).await?),
        }
    }

    /// A typed query with every argument bound.
    pub fn query_as<T>(&self) -> QueryAs<'_, Any, T, AnyArguments<'_>>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        let mut q = sqlx::query_as::<Any, T>(&self.text);
        for a in &self.args {
            q = match a {
                Arg::I(i) => q.bind(*i),
                Arg::T(s) => q.bind(s.as_str()),
            };
        }
        q
    }

    /// An untyped query with every argument bound.
    pub fn query(&self) -> sqlx::query::Query<'_, Any, AnyArguments<'_>> {
        let mut q = sqlx::query::<Any>(&self.text);
        for a in &self.args {
            q = match a {
                Arg::I(i) => q.bind(*i),
                Arg::T(s) => q.bind(s.as_str()),
            };
        }
        q
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
        s.arg(Arg::I(1)).push(" AND b IN ").in_list(&[2, 3]).push(" AND c LIKE ").arg(Arg::T(like_pattern("50%_a")));
        assert_eq!(s.text(), "SELECT * FROM t WHERE a = $1 AND b IN ($2, $3) AND c LIKE $4");
        assert!(matches!(&s.args[3], Arg::T(p) if p == "%50\\%\\_a%"));
    }

    /// The hot rows are read straight from their columns only when their statements select
    /// the columns in the order `lite_row!` lists them.
    #[test]
    fn hot_rows_list_their_columns_in_statement_order() {
        use crate::lite::LiteRow;
        let cols = |c: &str| c.split(',').map(str::trim).map(str::to_string).collect::<Vec<_>>();
        assert_eq!(cols(customers::COLS), customers::Customer::COLUMNS);
        assert_eq!(cols(subscriptions::COLS), subscriptions::Subscription::COLUMNS);
        assert_eq!(cols(plans::COLS), plans::Plan::COLUMNS);
    }
}
