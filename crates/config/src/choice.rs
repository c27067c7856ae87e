//! The [`choices!`] macro: an enum read from one of a fixed set of strings. Serde's
//! derived enums also take other shapes (toml answers a number with "wanted string or
//! table"); these take a string only, and name the valid choices on any other value.

/// Implements `NAMES`, `as_str`, `Display` and a string-only `Deserialize` for a
/// field-less enum, mapping each variant to its name in the file.
macro_rules! choices {
    ($ty:ident { $($variant:ident = $name:literal),+ $(,)? }) => {
        impl $ty {
            /// The names accepted in the file, in order.
            pub const NAMES: &'static [&'static str] = &[$($name),+];

            /// This choice's name in the file.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Name;

                impl serde::de::Visitor<'_> for Name {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        let quoted: Vec<String> = $ty::NAMES.iter().map(|n| format!("`{n}`")).collect();
                        write!(f, "one of {}", quoted.join(", "))
                    }

                    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<$ty, E> {
                        match text {
                            $($name => Ok($ty::$variant),)+
                            _ => Err(E::unknown_variant(text, $ty::NAMES)),
                        }
                    }
                }

                d.deserialize_str(Name)
            }
        }
    };
}

pub(crate) use choices;
