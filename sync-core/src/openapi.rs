//! OpenAPI schemas (`openapi` feature) of the types whose JSON is written by
//! hand rather than derived: a [`Value`], a [`Clock`], and the stored form
//! of a record (docs/PROTOCOL.md, "The stored form"), which is written by
//! [`crate::Record::to_stored`] from private types. The other wire types
//! derive `utoipa::ToSchema` where they are defined. The server serves the
//! document; nothing here does I/O.

use std::borrow::Cow;

use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, Type,
};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};

use crate::clock::Clock;
use crate::value::{Attachment, Geo, Value};

/// [`Value`] under a name utoipa does not take for "any JSON value" (it
/// reads every type named `Value` so): what the derives name with
/// `#[schema(value_type = FieldValue)]`.
pub type FieldValue = Value;

fn uint(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
        .minimum(Some(0))
        .description(Some(description))
}

fn string(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
}

fn reference<T: ToSchema>() -> RefOr<Schema> {
    Ref::from_schema_name(T::name()).into()
}

impl PartialSchema for Clock {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .description(Some(
                "A causal context: for each actor (its id as a decimal string key), the \
                 highest seq of its changes seen. Missing actors count as 0. \
                 `{\"7\": 12, \"31\": 4}`",
            ))
            .property_names(Some(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[1-9][0-9]*$")),
            ))
            .additional_properties(Some(uint("the actor's highest seq seen")))
            .examples([serde_json::json!({"7": 12, "31": 4})])
            .into()
    }
}

impl ToSchema for Clock {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Clock")
    }
}

impl PartialSchema for Value {
    fn schema() -> RefOr<Schema> {
        OneOfBuilder::new()
            .description(Some(
                "A scalar field value; which shape a field takes is its schema type \
                 (docs/PROTOCOL.md, \"Values of scalar fields\"). `null` clears the field. \
                 A number with a fraction is refused for every field: decimals travel as \
                 strings.",
            ))
            .item(ObjectBuilder::new().schema_type(Type::Null))
            .item(ObjectBuilder::new().schema_type(Type::Boolean))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .description(Some("integer")),
            )
            .item(string(
                "text, decimal (`\"12.50\"`), date (`YYYY-MM-DD`), datetime (RFC 3339 with \
                 an offset), enum member, ref (a record's UUID)",
            ))
            .item(reference::<Geo>())
            .item(reference::<Attachment>())
            .into()
    }
}

impl ToSchema for Value {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FieldValue")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Geo::name().into(), Geo::schema()));
        schemas.push((Attachment::name().into(), Attachment::schema()));
    }
}

/// A record state in the stored form (format 2), as `POST /v1/sync` sends
/// it in `records`: for the document only, the JSON is written by
/// [`crate::Record::to_stored`].
#[derive(Debug)]
pub struct StoredRecord;

impl PartialSchema for StoredRecord {
    fn schema() -> RefOr<Schema> {
        let clock = reference::<Clock>;
        let register_value = ObjectBuilder::new()
            .description(Some(
                "One value of a register. Its clock is `seen` (what the writer had seen; \
                 absent when empty) plus the writer's own dot `(actor, seq)`; a value whose \
                 clock is not of that shape carries its whole `clock` instead (format 1 \
                 wrote `clock` on every value).",
            ))
            .property("value", reference::<Value>())
            .property("actor", uint("the writer's actor"))
            .property("seq", uint("the writer's seq"))
            .property("seen", clock())
            .property("clock", clock())
            .required("value")
            .required("actor")
            .required("seq");
        let field = OneOfBuilder::new()
            .description(Some("One field's CRDT state, named by its kind"))
            .item(
                ObjectBuilder::new()
                    .property("reg", ArrayBuilder::new().items(register_value))
                    .required("reg"),
            )
            .item(
                ObjectBuilder::new()
                    .property("set", Ref::from_schema_name("SetState"))
                    .required("set"),
            )
            .item(
                ObjectBuilder::new()
                    .property(
                        "log",
                        ArrayBuilder::new().items(Ref::from_schema_name("LogEntry")),
                    )
                    .required("log"),
            )
            .item(
                ObjectBuilder::new()
                    .property(
                        "counter",
                        ObjectBuilder::new()
                            .description(Some("Per actor (decimal string key), its running total"))
                            .additional_properties(Some(uint("the actor's total"))),
                    )
                    .required("counter"),
            );
        ObjectBuilder::new()
            .description(Some(
                "A record's whole CRDT state in the stored form (docs/PROTOCOL.md, \
                 \"The stored form\"); join it field by field into the local record. \
                 A reader refuses a `format` it does not know.",
            ))
            .property(
                "format",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .enum_values(Some([crate::STORED_FORMAT]))
                    .description(Some("The form's version (format 1 is still read)")),
            )
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
            )
            .property("collection", string("the record's collection"))
            .property("grid", string("the record's grid"))
            .property(
                "level",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["community", "park", "district"]))
                    .description(Some("Cases only; omitted at `grid`")),
            )
            .property("live", clock())
            .property("deletes", clock())
            .property(
                "fields",
                ObjectBuilder::new()
                    .description(Some("By field name"))
                    .additional_properties(Some(AdditionalProperties::RefOr(field.into()))),
            )
            .required("format")
            .required("id")
            .required("collection")
            .required("grid")
            .required("fields")
            .into()
    }
}

impl ToSchema for StoredRecord {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("StoredRecord")
    }

    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Clock::name().into(), Clock::schema()));
        schemas.push((Value::name().into(), Value::schema()));
        <Value as ToSchema>::schemas(schemas);
        schemas.push((
            crate::SetState::name().into(),
            <crate::SetState as PartialSchema>::schema(),
        ));
        <crate::SetState as ToSchema>::schemas(schemas);
        schemas.push((
            crate::LogEntry::name().into(),
            <crate::LogEntry as PartialSchema>::schema(),
        ));
        <crate::LogEntry as ToSchema>::schemas(schemas);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_schemas_name_what_they_refer_to() {
        let mut schemas = Vec::new();
        <StoredRecord as ToSchema>::schemas(&mut schemas);
        let names: Vec<&str> = schemas.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "Clock",
            "FieldValue",
            "Geo",
            "Attachment",
            "SetState",
            "LogEntry",
        ] {
            assert!(names.contains(&want), "{want} in {names:?}");
        }
        let value = serde_json::to_value(Value::schema()).unwrap();
        assert_eq!(value["oneOf"].as_array().unwrap().len(), 6);
    }
}
