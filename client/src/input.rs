//! Reading field values typed by a person or a script (`field=value`),
//! by the field's type in the schema.

use gridsync_core::{CollectionDef, FieldKind, Geo, ScalarType, Value};

/// A scalar value from text. An empty text clears the field.
pub fn scalar(ty: &ScalarType, raw: &str) -> Result<Value, String> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    match ty {
        ScalarType::Integer { .. } => raw
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("`{raw}` is not a whole number")),
        ScalarType::Bool => match raw {
            "true" | "yes" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("`{raw}` is not true or false")),
        },
        ScalarType::Geo => {
            let (lat, lng) = raw
                .split_once(',')
                .ok_or_else(|| format!("`{raw}` is not a position `lat,lng`"))?;
            let num = |s: &str| {
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("`{raw}` is not a position `lat,lng`"))
            };
            Ok(Value::Geo(Geo {
                lat: num(lat)?,
                lng: num(lng)?,
            }))
        }
        // An attachment reference is its JSON (`FIELD=@FILE` in the CLI
        // attaches a file and writes it).
        ScalarType::Attachment => match serde_json::from_str::<Value>(raw) {
            Ok(v @ Value::Attachment(_)) => Ok(v),
            _ => Err(format!(
                "`{raw}` is not an attachment: give a file as FIELD=@PATH"
            )),
        },
        // Text, decimals, dates, enum members and references travel as
        // text; the core checks their form when the change is made.
        _ => Ok(Value::Text(raw.to_owned())),
    }
}

/// `field=value` for a scalar field of `collection`.
pub fn assignment(collection: &CollectionDef, arg: &str) -> Result<(String, Value), String> {
    let (field, raw) = split(arg)?;
    let def = collection
        .field(field)
        .ok_or_else(|| format!("{} has no field `{field}`", collection.name))?;
    match &def.kind {
        FieldKind::Scalar { ty, .. } => Ok((field.to_owned(), scalar(ty, raw)?)),
        FieldKind::Set { .. } => Err(format!(
            "`{field}` is a set: use --add {field}=MEMBER or --remove {field}=MEMBER"
        )),
        FieldKind::Log { .. } => Err(format!("`{field}` is a log: use `append ID {field} …`")),
        FieldKind::Level => Err("the level moves with --escalate LEVEL".into()),
        FieldKind::Counter => Err(format!("`{field}` is a counter: use --increment {field}=N")),
    }
}

/// `key=value` for a field of a log entry of `collection.field`.
pub fn entry_field(
    collection: &CollectionDef,
    log: &str,
    arg: &str,
) -> Result<(String, Value), String> {
    let (key, raw) = split(arg)?;
    let def = collection
        .field(log)
        .ok_or_else(|| format!("{} has no field `{log}`", collection.name))?;
    let FieldKind::Log { entry, .. } = &def.kind else {
        return Err(format!("`{log}` of {} is not a log", collection.name));
    };
    let field = entry.iter().find(|f| f.name == key).ok_or_else(|| {
        let names: Vec<&str> = entry.iter().map(|f| f.name).collect();
        format!(
            "an entry of `{log}` has no `{key}` (it has {})",
            names.join(", ")
        )
    })?;
    Ok((key.to_owned(), scalar(&field.ty, raw)?))
}

/// `name=value` → (name, value).
pub fn split(arg: &str) -> Result<(&str, &str), String> {
    arg.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{arg}` is not NAME=VALUE"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::Schema;

    #[test]
    fn values_by_field_type() {
        let household = Schema::current().collection("household").unwrap();
        let place = Schema::current().collection("place").unwrap();
        let ok: Vec<(&CollectionDef, &str, (&str, Value))> = vec![
            (
                household,
                "owner_phone=13800001111",
                ("owner_phone", Value::Text("13800001111".into())),
            ),
            (
                household,
                "address_code=001",
                ("address_code", Value::Text("001".into())),
            ),
            (household, "rental=yes", ("rental", Value::Bool(true))),
            (household, "note=", ("note", Value::Null)),
            (household, "note=a=b", ("note", Value::Text("a=b".into()))),
            (
                household,
                "location=30.2, 115.1",
                (
                    "location",
                    Value::Geo(Geo {
                        lat: 30.2,
                        lng: 115.1,
                    }),
                ),
            ),
            (
                place,
                "inspection_interval_days=7",
                ("inspection_interval_days", Value::Int(7)),
            ),
        ];
        for (c, arg, (field, value)) in ok {
            assert_eq!(
                assignment(c, arg).unwrap(),
                (field.to_owned(), value),
                "{arg}"
            );
        }
        let bad = [
            (household, "nope=1", "no field `nope`"),
            (household, "rental=maybe", "not true or false"),
            (household, "tags=x", "is a set"),
            (household, "location=30.2", "not a position"),
            (household, "owner_phone", "not NAME=VALUE"),
            (place, "inspection_interval_days=7.5", "not a whole number"),
            (place, "inspections=x", "is a log"),
        ];
        for (c, arg, want) in bad {
            let err = assignment(c, arg).unwrap_err();
            assert!(err.contains(want), "{arg}: {err}");
        }
    }

    #[test]
    fn entry_fields() {
        let round = Schema::current().collection("patrol_round").unwrap();
        assert_eq!(
            entry_field(round, "check_ins", "method=qr").unwrap(),
            ("method".to_owned(), Value::Text("qr".into()))
        );
        assert!(entry_field(round, "check_ins", "colour=red")
            .unwrap_err()
            .contains("checkpoint"));
        assert!(entry_field(round, "route", "x=1")
            .unwrap_err()
            .contains("not a log"));
    }
}
