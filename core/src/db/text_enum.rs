//! Domain enums stored as text: the macro that gives each one its name, parsing, storage
//! encoding and GraphQL enum.

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

        impl $crate::db::Decode for $name {
            fn decode(row: &dyn $crate::db::Row, i: usize) -> Result<Self, $crate::db::DecodeError> {
                row.text(i)?.parse().map_err(|e: $crate::CoreError| $crate::db::DecodeError::new(e))
            }
        }

        impl<'q> $crate::db::Encode<'q> for $name {
            const NULL: $crate::db::Value<'static> = $crate::db::Value::NullT;
            fn encode(self) -> $crate::db::Value<'q> {
                $crate::db::Value::T(std::borrow::Cow::Borrowed(self.as_str()))
            }
        }

        impl<'q> $crate::db::Encode<'q> for &$name {
            const NULL: $crate::db::Value<'static> = $crate::db::Value::NullT;
            fn encode(self) -> $crate::db::Value<'q> {
                $crate::db::Value::T(std::borrow::Cow::Borrowed(self.as_str()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}
