//! Scalar values as they travel on the wire and sit in a register.
//!
//! A [`Value`] is plain JSON narrowed to what a schema field can hold. Which
//! kind a field accepts (a date, an enum member, a reference…) is checked by
//! [`crate::validate`] against the field's [`crate::schema::ScalarType`]; the
//! value itself only knows its JSON shape, so decoding never needs the schema.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A scalar field value. `Null` clears a field.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// A JSON number with a fraction. No field accepts it (decimals travel as
    /// strings so that no precision is lost); it exists so that validation can
    /// name the field and say so, instead of failing the whole decode.
    Fraction(Fraction),
    Text(String),
    Geo(Geo),
    /// A photo or scanned page, by the SHA-256 of its bytes (boxed: rare, and
    /// it would double the size of every other value).
    Attachment(Box<Attachment>),
}

/// A reference to an attachment: the bytes travel separately (uploaded by
/// the device that took them, see `docs/PROTOCOL.md`), the reference syncs
/// like any other value. On the wire
/// `{"sha256": "…64 hex…", "media_type": "image/jpeg", "size": 123, "caption": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Attachment {
    /// Lowercase hex SHA-256 of the bytes: the attachment's identity.
    pub sha256: String,
    pub media_type: String,
    /// Bytes.
    pub size: u64,
    pub caption: Option<String>,
}

/// A JSON number with a fraction, compared by its bits so that `Value` is `Eq`.
#[derive(Debug, Clone, Copy)]
pub struct Fraction(pub f64);

impl PartialEq for Fraction {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}
impl Eq for Fraction {}
impl Hash for Fraction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

/// A WGS-84 position, `{"lat": 30.2, "lng": 115.1}` on the wire.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Geo {
    pub lat: f64,
    pub lng: f64,
}

impl PartialEq for Geo {
    fn eq(&self, other: &Self) -> bool {
        self.lat.to_bits() == other.lat.to_bits() && self.lng.to_bits() == other.lng.to_bits()
    }
}
impl Eq for Geo {}
impl Hash for Geo {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.lat.to_bits().hash(state);
        self.lng.to_bits().hash(state);
    }
}

impl Value {
    /// The JSON shape, for error messages.
    pub fn shape(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Fraction(_) => "a fractional number",
            Value::Text(_) => "a string",
            Value::Geo(_) => "a position",
            Value::Attachment(_) => "an attachment",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}
impl From<Attachment> for Value {
    fn from(a: Attachment) -> Self {
        Value::Attachment(Box::new(a))
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Fraction(f) => s.serialize_f64(f.0),
            Value::Text(t) => s.serialize_str(t),
            Value::Geo(g) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("lat", &g.lat)?;
                m.serialize_entry("lng", &g.lng)?;
                m.end()
            }
            Value::Attachment(a) => {
                let mut m = s.serialize_map(Some(3 + usize::from(a.caption.is_some())))?;
                m.serialize_entry("sha256", &a.sha256)?;
                m.serialize_entry("media_type", &a.media_type)?;
                m.serialize_entry("size", &a.size)?;
                if let Some(c) = &a.caption {
                    m.serialize_entry("caption", c)?;
                }
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "null, a boolean, a number, a string, {\"lat\":…,\"lng\":…} or \
             {\"sha256\":…,\"media_type\":…,\"size\":…}",
        )
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        i64::try_from(u)
            .map(Value::Int)
            .map_err(|_| E::custom("integer out of range (at most 2^63-1)"))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Fraction(Fraction(f)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Text(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::Text(s))
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Value, M::Error> {
        // A position or an attachment, told apart by their keys.
        let (mut lat, mut lng) = (None, None);
        let (mut sha256, mut media_type, mut size, mut caption) = (None, None, None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "lat" => lat = Some(map.next_value::<f64>()?),
                "lng" => lng = Some(map.next_value::<f64>()?),
                "sha256" => sha256 = Some(map.next_value::<String>()?),
                "media_type" => media_type = Some(map.next_value::<String>()?),
                "size" => size = Some(map.next_value::<u64>()?),
                "caption" => caption = map.next_value::<Option<String>>()?,
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` (a position has lat and lng, \
                         an attachment sha256, media_type, size and caption)"
                    )))
                }
            }
        }
        let attachment = sha256.is_some() || media_type.is_some() || size.is_some();
        match (lat, lng, attachment) {
            (Some(lat), Some(lng), false) if caption.is_none() => Ok(Value::Geo(Geo { lat, lng })),
            (None, None, true) => match (sha256, media_type, size) {
                (Some(sha256), Some(media_type), Some(size)) => Ok(Value::from(Attachment {
                    sha256,
                    media_type,
                    size,
                    caption,
                })),
                _ => Err(de::Error::custom(
                    "an attachment needs sha256, media_type and size",
                )),
            },
            (_, _, false) => Err(de::Error::custom("a position needs both lat and lng")),
            _ => Err(de::Error::custom(
                "an object is either a position or an attachment, not both",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_of_every_shape() {
        for json in [
            "null",
            "true",
            "-42",
            "1.5",
            "\"文本\"",
            "{\"lat\":30.2,\"lng\":115.1}",
            "{\"sha256\":\"ab\",\"media_type\":\"image/jpeg\",\"size\":3}",
            "{\"sha256\":\"ab\",\"media_type\":\"image/png\",\"size\":3,\"caption\":\"门口\"}",
        ] {
            let v: Value = serde_json::from_str(json).unwrap();
            assert_eq!(serde_json::to_string(&v).unwrap(), json);
        }
    }

    #[test]
    fn arrays_and_partial_positions_are_refused() {
        assert!(serde_json::from_str::<Value>("[1]").is_err());
        assert!(serde_json::from_str::<Value>("{\"lat\":1}").is_err());
        assert!(serde_json::from_str::<Value>("{\"lat\":1,\"lng\":2,\"x\":3}").is_err());
        assert!(serde_json::from_str::<Value>("18446744073709551615").is_err());
        assert!(serde_json::from_str::<Value>("{\"sha256\":\"ab\",\"size\":3}").is_err());
        assert!(serde_json::from_str::<Value>(
            "{\"sha256\":\"ab\",\"media_type\":\"image/png\",\"size\":-3}"
        )
        .is_err());
        assert!(serde_json::from_str::<Value>(
            "{\"lat\":1,\"lng\":2,\"sha256\":\"ab\",\"media_type\":\"x\",\"size\":1}"
        )
        .is_err());
    }
}
