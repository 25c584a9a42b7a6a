//! A change to one optional field, for the patch structs of the use cases: leave the field
//! alone, clear it, or set it. `Option<Option<T>>` says the same but reads as a riddle at
//! every use (`Some(None)`), and the API would convert its own three-state type into it.

/// What a patch does to one optional field.
///
/// With the `graphql` feature it is a GraphQL input of `T`'s type, nullable, read exactly like
/// `async_graphql::MaybeUndefined`: an absent field is [`Patch::Unchanged`], `null` is
/// [`Patch::Clear`] and a value is [`Patch::Set`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Patch<T> {
    /// Leave the field as it is.
    #[default]
    Unchanged,
    /// Clear the field.
    Clear,
    /// Set the field to this value.
    Set(T),
}

impl<T> Patch<T> {
    /// Sets the field to `v`, or clears it when `v` is `None`: how a create gives every field.
    pub fn set_or_clear(v: Option<T>) -> Self {
        v.map_or(Patch::Clear, Patch::Set)
    }

    /// Whether the field changes (is cleared or set).
    pub fn is_changed(&self) -> bool {
        !matches!(self, Patch::Unchanged)
    }

    /// The patch with the new value borrowed.
    pub fn as_ref(&self) -> Patch<&T> {
        match self {
            Patch::Unchanged => Patch::Unchanged,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(v),
        }
    }

    /// The patch with `f` applied to the new value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Patch<U> {
        match self {
            Patch::Unchanged => Patch::Unchanged,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(f(v)),
        }
    }

    /// The patch with the fallible `f` applied to the new value.
    pub fn try_map<U, E>(self, f: impl FnOnce(T) -> Result<U, E>) -> Result<Patch<U>, E> {
        Ok(match self {
            Patch::Unchanged => Patch::Unchanged,
            Patch::Clear => Patch::Clear,
            Patch::Set(v) => Patch::Set(f(v)?),
        })
    }

    /// The field's value after the patch, given its value `cur` before.
    pub fn apply(self, cur: Option<T>) -> Option<T> {
        match self {
            Patch::Unchanged => cur,
            Patch::Clear => None,
            Patch::Set(v) => Some(v),
        }
    }
}

#[cfg(feature = "graphql")]
mod graphql {
    use super::Patch;
    use async_graphql::{registry, InputType, InputValueError, InputValueResult, Value};
    use std::borrow::Cow;

    // The same as `async_graphql::MaybeUndefined<T>`, so that the SDL and the parsing of a
    // field do not change when a type switches from one to the other.
    impl<T: InputType> InputType for Patch<T> {
        type RawValueType = T::RawValueType;

        fn type_name() -> Cow<'static, str> {
            T::type_name()
        }

        fn qualified_type_name() -> String {
            T::type_name().to_string()
        }

        fn create_type_info(registry: &mut registry::Registry) -> String {
            T::create_type_info(registry);
            T::type_name().to_string()
        }

        fn parse(value: Option<Value>) -> InputValueResult<Self> {
            match value {
                None => Ok(Patch::Unchanged),
                Some(Value::Null) => Ok(Patch::Clear),
                Some(value) => Ok(Patch::Set(T::parse(Some(value)).map_err(InputValueError::propagate)?)),
            }
        }

        fn to_value(&self) -> Value {
            match self {
                Patch::Set(v) => v.to_value(),
                _ => Value::Null,
            }
        }

        fn as_raw_value(&self) -> Option<&Self::RawValueType> {
            match self {
                Patch::Set(v) => v.as_raw_value(),
                _ => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Patch;

    #[test]
    fn apply_keeps_clears_or_sets() {
        assert_eq!(Patch::Unchanged.apply(Some(1)), Some(1));
        assert_eq!(Patch::Clear.apply(Some(1)), None);
        assert_eq!(Patch::Set(2).apply(Some(1)), Some(2));
        assert_eq!(Patch::Set(2).apply(None), Some(2));
        assert_eq!(Patch::set_or_clear(None::<i64>), Patch::Clear);
        assert_eq!(Patch::set_or_clear(Some(3)), Patch::Set(3));
        assert!(!Patch::<i64>::Unchanged.is_changed() && Patch::<i64>::Clear.is_changed());
        assert_eq!(Patch::Set("7").try_map(|s| s.parse::<i64>()), Ok(Patch::Set(7)));
        assert!(Patch::Set("x").try_map(|s| s.parse::<i64>()).is_err());
    }

    #[cfg(feature = "graphql")]
    #[test]
    fn graphql_reads_like_maybe_undefined() {
        use async_graphql::{InputType, MaybeUndefined, Value};
        assert_eq!(<Patch<String>>::type_name(), <MaybeUndefined<String>>::type_name());
        assert_eq!(<Patch<String>>::qualified_type_name(), <MaybeUndefined<String>>::qualified_type_name());
        assert_eq!(<Patch<String>>::parse(None).unwrap(), Patch::Unchanged);
        assert_eq!(<Patch<String>>::parse(Some(Value::Null)).unwrap(), Patch::Clear);
        assert_eq!(<Patch<String>>::parse(Some(Value::from("a"))).unwrap(), Patch::Set("a".to_string()));
        assert!(<Patch<i64>>::parse(Some(Value::from("a"))).is_err());
        assert_eq!(Patch::Set(5i64).to_value(), MaybeUndefined::Value(5i64).to_value());
        assert_eq!(Patch::<i64>::Clear.to_value(), Value::Null);
    }
}
