//! Strict JSON shapes: an object where the protocol says object.
//!
//! serde's derived `Deserialize` for a struct also takes a JSON *array* of
//! its fields in order (`["worker03", "secret"]` for `{username, password}`).
//! The protocol documents objects only, so every struct that travels is read
//! through [`object`] (or [`Obj`]), which asks the format for a map and
//! nothing else: an array where an object belongs is refused as the wrong
//! type, with no copy of the input.

use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, Visitor};

/// Deserialize `T` from a JSON object only (for `#[serde(deserialize_with)]`).
pub fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct OnlyMap<T>(PhantomData<T>);
    impl<'de, T: Deserialize<'de>> Visitor<'de> for OnlyMap<T> {
        type Value = T;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_map(OnlyMap(PhantomData))
}

/// [`object`] for an optional field: `null` or absent is `None`.
pub fn optional_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Obj<T>>::deserialize(d)?.map(|o| o.0))
}

/// `T`, read from a JSON object only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        object(d).map(Obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Login {
        username: String,
        #[serde(default)]
        password: Option<String>,
    }

    #[test]
    fn objects_only() {
        let ok: Obj<Login> = serde_json::from_str(r#"{"username":"w","password":"p"}"#).unwrap();
        assert_eq!(ok.0.username, "w");
        // What plain derive accepts, and this refuses.
        let plain: Login = serde_json::from_str(r#"["w","p"]"#).unwrap();
        assert_eq!(plain.username, "w");
        for bad in [r#"["w","p"]"#, "[]", "\"w\"", "1", "null"] {
            let e = serde_json::from_str::<Obj<Login>>(bad).unwrap_err();
            assert!(e.is_data(), "{bad}: {e}");
            assert!(e.to_string().contains("a JSON object"), "{bad}: {e}");
        }
        // Unknown keys are still refused by the inner type.
        assert!(serde_json::from_str::<Obj<Login>>(r#"{"username":"w","x":1}"#).is_err());
        let none: Option<Obj<Login>> = serde_json::from_str("null").unwrap();
        assert!(none.is_none());
    }
}
