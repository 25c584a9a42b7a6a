//! Values bound to a statement's placeholders, and what can become one.

use std::borrow::Cow;

/// A value bound to a `$n` (or `?`) placeholder. NULLs carry the column type they stand for,
/// because PostgreSQL types every parameter when it prepares a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// NULL for an integer column.
    NullI,
    /// NULL for a text column.
    NullT,
    /// NULL for a blob column.
    NullB,
    /// Integer.
    I(i64),
    /// Text.
    T(Cow<'a, str>),
    /// Bytes.
    B(Cow<'a, [u8]>),
}

/// A value that owns its data, for statements built and kept before they run.
pub type Arg = Value<'static>;

impl<'a> Value<'a> {
    /// A text value (owned or borrowed).
    pub fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Value::T(s.into())
    }

    /// An integer or an integer NULL.
    pub fn from_opt_i(v: Option<i64>) -> Self {
        v.map_or(Value::NullI, Value::I)
    }

    /// A text or a text NULL.
    pub fn from_opt_t(v: Option<&'a str>) -> Self {
        v.map_or(Value::NullT, |t| Value::T(Cow::Borrowed(t)))
    }

    /// The same value owning its data.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::NullI => Value::NullI,
            Value::NullT => Value::NullT,
            Value::NullB => Value::NullB,
            Value::I(i) => Value::I(i),
            Value::T(t) => Value::T(Cow::Owned(t.into_owned())),
            Value::B(b) => Value::B(Cow::Owned(b.into_owned())),
        }
    }

    /// The value borrowed (no copy of text or bytes).
    pub fn borrowed(&self) -> Value<'_> {
        match self {
            Value::NullI => Value::NullI,
            Value::NullT => Value::NullT,
            Value::NullB => Value::NullB,
            Value::I(i) => Value::I(*i),
            Value::T(t) => Value::T(Cow::Borrowed(t)),
            Value::B(b) => Value::B(Cow::Borrowed(b)),
        }
    }
}

/// A Rust value that can be bound to a placeholder.
pub trait Encode<'q> {
    /// The NULL of this type's column (what `None::<Self>` binds).
    const NULL: Value<'static>;
    /// The value to bind.
    fn encode(self) -> Value<'q>;
}

impl<'q> Encode<'q> for Value<'q> {
    const NULL: Value<'static> = Value::NullT;
    fn encode(self) -> Value<'q> {
        self
    }
}

impl<'q> Encode<'q> for i64 {
    const NULL: Value<'static> = Value::NullI;
    fn encode(self) -> Value<'q> {
        Value::I(self)
    }
}

impl<'q> Encode<'q> for &i64 {
    const NULL: Value<'static> = Value::NullI;
    fn encode(self) -> Value<'q> {
        Value::I(*self)
    }
}

impl<'q> Encode<'q> for i32 {
    const NULL: Value<'static> = Value::NullI;
    fn encode(self) -> Value<'q> {
        Value::I(i64::from(self))
    }
}

impl<'q> Encode<'q> for u32 {
    const NULL: Value<'static> = Value::NullI;
    fn encode(self) -> Value<'q> {
        Value::I(i64::from(self))
    }
}

/// Flags are stored as integer 0/1 on both backends.
impl<'q> Encode<'q> for bool {
    const NULL: Value<'static> = Value::NullI;
    fn encode(self) -> Value<'q> {
        Value::I(i64::from(self))
    }
}

impl<'q> Encode<'q> for &'q str {
    const NULL: Value<'static> = Value::NullT;
    fn encode(self) -> Value<'q> {
        Value::T(Cow::Borrowed(self))
    }
}

impl<'q> Encode<'q> for String {
    const NULL: Value<'static> = Value::NullT;
    fn encode(self) -> Value<'q> {
        Value::T(Cow::Owned(self))
    }
}

impl<'q> Encode<'q> for &'q String {
    const NULL: Value<'static> = Value::NullT;
    fn encode(self) -> Value<'q> {
        Value::T(Cow::Borrowed(self.as_str()))
    }
}

impl<'q> Encode<'q> for Vec<u8> {
    const NULL: Value<'static> = Value::NullB;
    fn encode(self) -> Value<'q> {
        Value::B(Cow::Owned(self))
    }
}

impl<'q> Encode<'q> for &'q [u8] {
    const NULL: Value<'static> = Value::NullB;
    fn encode(self) -> Value<'q> {
        Value::B(Cow::Borrowed(self))
    }
}

impl<'q, T: Encode<'q>> Encode<'q> for Option<T> {
    const NULL: Value<'static> = T::NULL;
    fn encode(self) -> Value<'q> {
        match self {
            Some(v) => v.encode(),
            None => T::NULL,
        }
    }
}

impl<'q, T> Encode<'q> for &'q Option<T>
where
    &'q T: Encode<'q>,
{
    const NULL: Value<'static> = <&'q T as Encode<'q>>::NULL;
    fn encode(self) -> Value<'q> {
        self.as_ref().encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nulls_keep_their_column_type() {
        assert_eq!(None::<i64>.encode(), Value::NullI);
        assert_eq!(None::<&str>.encode(), Value::NullT);
        assert_eq!((&None::<String>).encode(), Value::NullT);
        assert_eq!(Some(3_i64).encode(), Value::I(3));
        assert_eq!(true.encode(), Value::I(1));
        let s = String::from("x");
        assert_eq!((&Some(s.clone())).encode(), Value::text("x"));
        assert_eq!(Value::text(s).into_owned(), Value::T(Cow::Owned("x".into())));
    }
}
