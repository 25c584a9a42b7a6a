//! Reading result rows: [`Row`] is one row of either backend, [`Decode`] reads one column
//! into a Rust value, and [`FromRow`] builds a whole result type, by column name for structs
//! (`#[derive(FromRow)]`) and by position for tuples.
//!
//! A statement's columns are matched to a type's fields once per statement ([`map_columns`]),
//! then every row is read by index: no per-row name lookups and no intermediate row objects.

use std::fmt;

/// Why a column could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The column, when known.
    pub column: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl DecodeError {
    /// An error without a column name yet.
    pub fn new(message: impl fmt::Display) -> Self {
        Self { column: None, message: message.to_string() }
    }

    /// The error, naming `column` unless it already names one.
    pub fn at(mut self, column: &str) -> Self {
        if self.column.is_none() {
            self.column = Some(column.to_string());
        }
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(f, "column {c}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for DecodeError {}

/// One result row of either backend, read by column index. The typed getters fail on NULL
/// (check [`Row::is_null`] first) and on a value of another type.
pub trait Row {
    /// Whether column `i` is NULL.
    fn is_null(&self, i: usize) -> Result<bool, DecodeError>;
    /// Column `i` as an integer.
    fn int(&self, i: usize) -> Result<i64, DecodeError>;
    /// Column `i` as a floating-point number.
    fn real(&self, i: usize) -> Result<f64, DecodeError>;
    /// Column `i` as text.
    fn text(&self, i: usize) -> Result<&str, DecodeError>;
    /// Column `i` as bytes.
    fn blob(&self, i: usize) -> Result<&[u8], DecodeError>;
}

/// A Rust value read from one column.
pub trait Decode: Sized {
    /// The value of column `i` of `row`.
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError>;

    /// [`Decode::decode`], with errors naming `column`.
    fn decode_at(row: &dyn Row, i: usize, column: &str) -> Result<Self, DecodeError> {
        Self::decode(row, i).map_err(|e| e.at(column))
    }
}

impl Decode for i64 {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        row.int(i)
    }
}

impl Decode for i32 {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        let v = row.int(i)?;
        i32::try_from(v).map_err(|_| DecodeError::new(format!("{v} does not fit a 32-bit integer")))
    }
}

/// Flags are integer 0/1 on both backends.
impl Decode for bool {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        Ok(row.int(i)? != 0)
    }
}

impl Decode for f64 {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        row.real(i)
    }
}

impl Decode for String {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        row.text(i).map(str::to_owned)
    }
}

impl Decode for Vec<u8> {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        row.blob(i).map(<[u8]>::to_vec)
    }
}

impl<T: Decode> Decode for Option<T> {
    fn decode(row: &dyn Row, i: usize) -> Result<Self, DecodeError> {
        if row.is_null(i)? {
            Ok(None)
        } else {
            T::decode(row, i).map(Some)
        }
    }
}

/// A column a [`FromRow`] type reads by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Column name as the statement names it (`AS` alias or column name).
    pub name: &'static str,
    /// Whether a statement may leave it out (the field then takes its default).
    pub optional: bool,
}

impl Column {
    /// A column every statement must select.
    pub const fn required(name: &'static str) -> Self {
        Self { name, optional: false }
    }

    /// A column a statement may leave out.
    pub const fn optional(name: &'static str) -> Self {
        Self { name, optional: true }
    }
}

/// The statement's column index for each of a type's fields in order, as [`map_columns`]
/// matched them; [`FromRow::from_row`] takes them one by one.
pub struct Columns<'a> {
    idx: &'a [Option<usize>],
    pos: usize,
}

impl<'a> Columns<'a> {
    /// Over `idx`, from the start.
    pub fn new(idx: &'a [Option<usize>]) -> Self {
        Self { idx, pos: 0 }
    }

    fn next(&mut self) -> Option<Option<usize>> {
        let v = self.idx.get(self.pos).copied();
        self.pos += 1;
        v
    }

    /// The next field's column, which must exist.
    pub fn required(&mut self, name: &str) -> Result<usize, DecodeError> {
        self.next().flatten().ok_or_else(|| DecodeError::new("the statement does not select it").at(name))
    }

    /// The next field's column, if the statement selects it.
    pub fn optional(&mut self) -> Option<usize> {
        self.next().flatten()
    }

    /// The next positional column (tuples).
    pub fn positional(&mut self) -> Result<usize, DecodeError> {
        let at = self.pos;
        self.next().flatten().ok_or_else(|| DecodeError::new(format!("the statement has no column {}", at + 1)))
    }
}

/// A result type: a struct read by column name (`#[derive(FromRow)]`) or a tuple read by
/// position.
pub trait FromRow: Sized {
    /// The columns read by name, in the order [`FromRow::from_row`] takes them (flattened
    /// fields' columns in place); `None` for a positional type.
    fn columns() -> Option<&'static [Column]>;

    /// The value of `row`, taking its column indexes from `cols`.
    fn from_row(row: &dyn Row, cols: &mut Columns<'_>) -> Result<Self, DecodeError>;
}

/// Matches `T`'s fields to a statement whose columns are `names`: the index of each field's
/// column, in field order (`None` for an optional field the statement leaves out). A
/// positional type takes the columns in order.
pub fn map_columns<T: FromRow>(names: &[&str]) -> Result<Vec<Option<usize>>, DecodeError> {
    match T::columns() {
        None => Ok((0..names.len()).map(Some).collect()),
        Some(cols) => cols
            .iter()
            .map(|c| match names.iter().position(|n| n.eq_ignore_ascii_case(c.name)) {
                Some(i) => Ok(Some(i)),
                None if c.optional => Ok(None),
                None => Err(DecodeError::new("the statement does not select it").at(c.name)),
            })
            .collect(),
    }
}

macro_rules! tuple_from_row {
    ($($t:ident),+) => {
        impl<$($t: Decode),+> FromRow for ($($t,)+) {
            fn columns() -> Option<&'static [Column]> {
                None
            }
            fn from_row(row: &dyn Row, cols: &mut Columns<'_>) -> Result<Self, DecodeError> {
                Ok(($($t::decode(row, cols.positional()?)?,)+))
            }
        }
    };
}

tuple_from_row!(A);
tuple_from_row!(A, B);
tuple_from_row!(A, B, C);
tuple_from_row!(A, B, C, D);
tuple_from_row!(A, B, C, D, E);
tuple_from_row!(A, B, C, D, E, F);
tuple_from_row!(A, B, C, D, E, F, G);
tuple_from_row!(A, B, C, D, E, F, G, H);
tuple_from_row!(A, B, C, D, E, F, G, H, I);
tuple_from_row!(A, B, C, D, E, F, G, H, I, J);
tuple_from_row!(A, B, C, D, E, F, G, H, I, J, K);
tuple_from_row!(A, B, C, D, E, F, G, H, I, J, K, L);

#[cfg(test)]
mod tests {
    use super::*;

    /// A row of plain values, as a backend would present it.
    pub(crate) struct TestRow(pub Vec<Option<TestValue>>);

    pub(crate) enum TestValue {
        I(i64),
        T(&'static str),
    }

    impl Row for TestRow {
        fn is_null(&self, i: usize) -> Result<bool, DecodeError> {
            Ok(self.0.get(i).ok_or_else(|| DecodeError::new("no such column"))?.is_none())
        }
        fn int(&self, i: usize) -> Result<i64, DecodeError> {
            match self.0.get(i) {
                Some(Some(TestValue::I(v))) => Ok(*v),
                _ => Err(DecodeError::new("not an integer")),
            }
        }
        fn real(&self, _: usize) -> Result<f64, DecodeError> {
            Err(DecodeError::new("not a number"))
        }
        fn text(&self, i: usize) -> Result<&str, DecodeError> {
            match self.0.get(i) {
                Some(Some(TestValue::T(v))) => Ok(v),
                _ => Err(DecodeError::new("not text")),
            }
        }
        fn blob(&self, _: usize) -> Result<&[u8], DecodeError> {
            Err(DecodeError::new("not bytes"))
        }
    }

    #[test]
    fn tuples_read_by_position() {
        let row = TestRow(vec![Some(TestValue::I(7)), None, Some(TestValue::T("x"))]);
        let idx = map_columns::<(i64, Option<String>, String)>(&["a", "b", "c"]).unwrap();
        let v = <(i64, Option<String>, String)>::from_row(&row, &mut Columns::new(&idx)).unwrap();
        assert_eq!(v, (7, None, "x".to_string()));
        let short = map_columns::<(i64, i64)>(&["a"]).unwrap();
        let err = <(i64, i64)>::from_row(&row, &mut Columns::new(&short)).unwrap_err();
        assert!(err.to_string().contains("no column 2"), "{err}");
        let err = <(String,)>::from_row(&row, &mut Columns::new(&idx)).unwrap_err();
        assert_eq!(err.message, "not text");
    }
}
