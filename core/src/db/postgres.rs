//! PostgreSQL through sqlx: binding [`Value`]s and reading `PgRow`s as [`Row`]s.

use super::row::{map_columns, Columns, DecodeError, FromRow, Row};
use super::value::Value;
use crate::error::{CoreError, CoreResult};
use sqlx::postgres::{PgArguments, PgRow, PgValueRef, Postgres};
use sqlx::{Arguments, Column as _, Row as _, TypeInfo, ValueRef};

/// `args` as sqlx arguments.
pub(crate) fn arguments(args: &[Value<'_>]) -> CoreResult<PgArguments> {
    let mut a = PgArguments::default();
    for v in args {
        match v {
            Value::NullI => a.add(None::<i64>),
            Value::NullT => a.add(None::<&str>),
            Value::NullB => a.add(None::<&[u8]>),
            Value::I(i) => a.add(*i),
            Value::T(t) => a.add(t.as_ref()),
            Value::B(b) => a.add(b.as_ref()),
        }
        .map_err(|e| CoreError::internal(format!("cannot bind an argument: {e}")))?;
    }
    Ok(a)
}

/// Rows of a statement as `T`, matching columns once.
pub(crate) fn decode_rows<T: FromRow>(rows: &[PgRow], sql: &str) -> CoreResult<Vec<T>> {
    let Some(first) = rows.first() else { return Ok(Vec::new()) };
    let names: Vec<&str> = first.columns().iter().map(|c| c.name()).collect();
    let idx = map_columns::<T>(&names).map_err(|e| decode_err(e, sql))?;
    rows.iter().map(|r| T::from_row(r, &mut Columns::new(&idx)).map_err(|e| decode_err(e, sql))).collect()
}

fn decode_err(e: DecodeError, sql: &str) -> CoreError {
    let short: String = sql.chars().take(160).collect();
    CoreError::internal_from(format!("reading the rows of `{short}`"), e)
}

/// Maps a sqlx error: constraint violations become CONFLICT or VALIDATION, anything else
/// INTERNAL with the statement as context.
pub(crate) fn pg_err(e: sqlx::Error, sql: &str) -> CoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return crate::error::unique_violation(db.message(), db.constraint().unwrap_or(""));
        }
        if db.is_foreign_key_violation() {
            return CoreError::validation("input", "refers to a record that does not exist");
        }
    }
    let short: String = sql.chars().take(160).collect();
    CoreError::internal_from(format!("PostgreSQL: `{short}`"), e)
}

fn value(row: &PgRow, i: usize) -> Result<PgValueRef<'_>, DecodeError> {
    row.try_get_raw(i).map_err(|e| DecodeError::new(e.to_string()))
}

fn decode<'r, T: sqlx::Decode<'r, Postgres>>(v: PgValueRef<'r>) -> Result<T, DecodeError> {
    T::decode(v).map_err(|e| DecodeError::new(e.to_string()))
}

fn unexpected(v: &PgValueRef<'_>, want: &str) -> DecodeError {
    DecodeError::new(format!("expected {want}, found {}", v.type_info().name()))
}

impl Row for PgRow {
    fn is_null(&self, i: usize) -> Result<bool, DecodeError> {
        Ok(value(self, i)?.is_null())
    }

    fn int(&self, i: usize) -> Result<i64, DecodeError> {
        let v = value(self, i)?;
        let ty = v.type_info().name().to_string();
        match ty.as_str() {
            "INT8" => decode::<i64>(v),
            "INT4" => decode::<i32>(v).map(i64::from),
            "INT2" => decode::<i16>(v).map(i64::from),
            "BOOL" => decode::<bool>(v).map(i64::from),
            _ => Err(unexpected(&v, "an integer (cast it AS BIGINT)")),
        }
    }

    fn real(&self, i: usize) -> Result<f64, DecodeError> {
        let v = value(self, i)?;
        let ty = v.type_info().name().to_string();
        match ty.as_str() {
            "FLOAT8" => decode::<f64>(v),
            "FLOAT4" => decode::<f32>(v).map(f64::from),
            "INT8" => decode::<i64>(v).map(|x| x as f64),
            "INT4" => decode::<i32>(v).map(f64::from),
            _ => Err(unexpected(&v, "a number (cast it AS DOUBLE PRECISION)")),
        }
    }

    fn text(&self, i: usize) -> Result<&str, DecodeError> {
        let v = value(self, i)?;
        let ty = v.type_info().name().to_string();
        match ty.as_str() {
            "TEXT" | "VARCHAR" | "NAME" | "BPCHAR" | "CHAR" | "UNKNOWN" => decode::<&str>(v),
            _ => Err(unexpected(&v, "text")),
        }
    }

    fn blob(&self, i: usize) -> Result<&[u8], DecodeError> {
        let v = value(self, i)?;
        if v.type_info().name() == "BYTEA" {
            decode::<&[u8]>(v)
        } else {
            Err(unexpected(&v, "bytes"))
        }
    }
}
