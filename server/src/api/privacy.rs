//! Personal data in responses (PIPL): masking for roles that may not see ID
//! and phone numbers in full, and the audit trail of key-person reads.

use gridsync_core::{Change, FieldView, Op, Record, RecordView, Schema, Value};

use crate::auth::policy::mask;
use crate::auth::Caller;
use crate::store::identity::AuditEntry;

fn mask_value(v: &Value) -> Value {
    match v {
        Value::Text(s) => Value::Text(mask(s)),
        other => other.clone(),
    }
}

fn sensitive(collection: &str, field: &str) -> bool {
    Schema::current()
        .collection(collection)
        .and_then(|c| c.field(field))
        .is_some_and(|f| f.sensitive)
}

/// Mask the sensitive fields of a record as shown.
pub fn mask_view(view: &mut RecordView) {
    let collection = view.collection;
    for (name, field) in view.fields.iter_mut() {
        if !sensitive(collection, name) {
            continue;
        }
        if let FieldView::Scalar { value, conflict } = field {
            *value = mask_value(value);
            for w in conflict.iter_mut() {
                w.value = mask_value(&w.value);
            }
        }
    }
}

/// A pulled change with its sensitive values masked.
pub fn mask_change(json: &str) -> Option<String> {
    let mut change: Change = serde_json::from_str(json).ok()?;
    let mut touched = false;
    for op in change.ops.iter_mut() {
        if let Op::Set { field, value, .. } = op {
            if sensitive(&change.collection, field) {
                *value = mask_value(value);
                touched = true;
            }
        }
    }
    Some(if touched {
        change.to_json()
    } else {
        json.to_owned()
    })
}

/// A pulled record state with its sensitive values masked (clocks kept, so
/// the device can still merge it).
pub fn mask_state(json: &str) -> Option<String> {
    Record::redact_stored(Schema::current(), json, |f| f.sensitive, mask_value).ok()
}

/// An audit entry for what `caller` did.
pub fn audit_entry(caller: &Caller, action: &str, target: String, detail: String) -> AuditEntry {
    AuditEntry {
        user_id: Some(caller.user_id),
        username: caller.username.clone(),
        device_id: caller.device.as_ref().map(|d| d.id.clone()),
        address: caller.address.clone(),
        action: action.to_owned(),
        target,
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gridsync_core::Device;

    #[test]
    fn changes_and_states_are_masked_and_still_merge() {
        let mut d = Device::new(1);
        let id = uuid::Uuid::from_u128(1);
        let c = d
            .create("resident", "g", id)
            .set("name", "Wang")
            .set("id_number", "420202199001011231")
            .set("phone", "13812345678")
            .commit()
            .unwrap();
        let masked: Change = serde_json::from_str(&mask_change(&c.to_json()).unwrap()).unwrap();
        let values: Vec<String> = masked
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Set {
                    value: Value::Text(t),
                    ..
                } => Some(t.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(values, ["Wang", "420202********1231", "138****5678"]);

        let state = d.replica().record(id).unwrap().to_stored();
        let masked = Record::from_stored(Schema::current(), &mask_state(&state).unwrap()).unwrap();
        let mut view = d.replica().record(id).unwrap().view();
        assert_eq!(masked.view().value("phone"), &Value::from("138****5678"));
        mask_view(&mut view);
        assert_eq!(view, masked.view());
    }
}
