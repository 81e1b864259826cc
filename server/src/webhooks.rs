//! Outbound webhooks (docs/WEBHOOKS.md): other departments' systems (信访,
//! 公安, 司法…) are told about the cases dispatched to their department.
//!
//! - **What**: every change merged into a case whose assignee is a
//!   department with an active webhook queues one event for it:
//!   `case.dispatched` when the change gave it that assignee, else
//!   `case.updated`.
//! - **At least once**: the event is queued in the transaction that merged
//!   the change (it exists exactly when the change does), and posted until
//!   the receiver answers 2xx; `X-Gridsync-Delivery` is the same at every
//!   attempt, for the receiver to drop repeats.
//! - **Signed**: `X-Gridsync-Signature: sha256=HEX`, the HMAC-SHA256 of
//!   `{X-Gridsync-Timestamp}.{body}` under the webhook's secret.
//! - **Retried with backoff** ([`BACKOFF_SECS`]), then given up (`failed`,
//!   an admin may retry); every attempt's outcome is kept (the delivery log).

use std::time::Duration;

use gridsync_core::validate::Assignee;
use gridsync_core::Record;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use uuid::Uuid;

use crate::db::models::{DeliveryRow, NewDelivery, RecordForm, WebhookRow};
use crate::state::AppState;
use crate::store::webhooks::Attempt;

/// The waits before the 2nd, 3rd… attempt (seconds): about 28 hours in all,
/// thirteen attempts, then the delivery is given up.
pub const BACKOFF_SECS: [i64; 12] = [
    2, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14_400, 28_800, 43_200,
];

/// How often the server looks for deliveries due.
pub const POLL: Duration = Duration::from_secs(1);

/// How long the receiver has to answer one attempt.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// When to try again after `attempts` attempts failed (ms), or give up.
pub fn next_attempt(attempts: i32, now: i64) -> Option<i64> {
    let i = usize::try_from(attempts).ok()?.checked_sub(1)?;
    BACKOFF_SECS.get(i).map(|s| now + s * 1000)
}

/// The signature of `body` sent at `timestamp` (seconds) under `secret`.
///
/// ```
/// let sig = gridsync_server::webhooks::signature("s3cret", 1_780_000_000, b"{}");
/// assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
/// ```
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The department a stored assignee names, if it names one.
pub fn department_of(assignee: Option<&str>) -> Option<&str> {
    match Assignee::parse(assignee?)? {
        Assignee::Department(code) => Some(code),
        Assignee::User(_) => None,
    }
}

/// The event a merged change makes for a record's department: `(event,
/// department)`, from the assignee before the batch and after it.
pub fn event_of<'a>(
    before: Option<&str>,
    after: Option<&'a str>,
) -> Option<(&'static str, &'a str)> {
    let dep = department_of(after)?;
    let was = department_of(before);
    Some((
        if was == Some(dep) {
            "case.updated"
        } else {
            "case.dispatched"
        },
        dep,
    ))
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// The deliveries to queue for a record just merged, one per active
/// webhook of its department (`hooks`: `(webhook id, department)`).
pub fn deliveries_for(
    form: &RecordForm,
    record: &Record,
    before: Option<&str>,
    hooks: &[(i64, String)],
    now: i64,
) -> Vec<NewDelivery> {
    let Some((event, dep)) = event_of(before, form.assignee.as_deref()) else {
        return Vec::new();
    };
    hooks
        .iter()
        .filter(|(_, d)| d == dep)
        .map(|(id, _)| {
            let body = json!({
                "id": Uuid::new_v4(),
                "event": event,
                "department": dep,
                "at": rfc3339(now),
                "record": {
                    "id": form.id,
                    "collection": form.collection,
                    "grid": form.grid,
                    "title": crate::reports::label_of(&record.view()),
                    "status": form.status,
                    "level": form.level,
                    "assignee": form.assignee,
                    "deadline": form.deadline.map(rfc3339),
                    "overdue": form.overdue,
                    "server_seq": form.last_seq,
                },
            });
            NewDelivery {
                webhook_id: *id,
                event: event.to_owned(),
                record_id: form.id.clone(),
                body: body.to_string(),
                created_at: now,
                attempts: 0,
                next_at: now,
                state: "pending".to_owned(),
            }
        })
        .collect()
}

/// Post one delivery; how it went.
async fn attempt(
    client: &reqwest::Client,
    d: &DeliveryRow,
    hook: &WebhookRow,
    now: i64,
) -> Attempt {
    let timestamp = now / 1000;
    let id: Option<String> = serde_json::from_str::<serde_json::Value>(&d.body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    let sent = client
        .post(&hook.url)
        .header("Content-Type", "application/json")
        .header(
            "User-Agent",
            concat!("gridsync/", env!("CARGO_PKG_VERSION")),
        )
        .header("X-Gridsync-Event", &d.event)
        .header(
            "X-Gridsync-Delivery",
            id.unwrap_or_else(|| d.id.to_string()),
        )
        .header("X-Gridsync-Timestamp", timestamp.to_string())
        .header(
            "X-Gridsync-Signature",
            signature(&hook.secret, timestamp, d.body.as_bytes()),
        )
        .body(d.body.clone())
        .send()
        .await;
    let (status, error) = match sent {
        Ok(r) if r.status().is_success() => (Some(i32::from(r.status().as_u16())), None),
        Ok(r) => (
            Some(i32::from(r.status().as_u16())),
            Some(format!("answered {}", r.status())),
        ),
        Err(e) => (None, Some(e.to_string())),
    };
    let delivered = error.is_none();
    Attempt {
        id: d.id,
        status,
        error,
        delivered,
        next_at: if delivered {
            None
        } else {
            next_attempt(d.attempts + 1, now)
        },
        at: now,
    }
}

/// Post what is due, once; how many were delivered.
pub async fn deliver_due(
    state: &AppState,
    client: &reqwest::Client,
) -> Result<usize, crate::error::ApiError> {
    let now = crate::api::now_ms();
    let store = state.store.clone();
    let due = actix_web::web::block(move || store.due_deliveries(now, 100)).await??;
    let mut delivered = 0;
    for (d, hook) in &due {
        let a = attempt(client, d, hook, now).await;
        delivered += usize::from(a.delivered);
        if !a.delivered {
            tracing::warn!(delivery = d.id, webhook = hook.id, error = ?a.error, "webhook delivery failed");
        }
        let store = state.store.clone();
        actix_web::web::block(move || store.record_attempt(&a)).await??;
    }
    Ok(delivered)
}

/// Deliver what is due every `every` (on the actix system the server runs
/// on). Two servers on one store may post one event twice: at least once.
pub fn start(state: AppState, every: Duration) {
    actix_web::rt::spawn(async move {
        let client = match reqwest::Client::builder().timeout(TIMEOUT).build() {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "no webhook client: nothing will be delivered");
                return;
            }
        };
        let mut tick = actix_web::rt::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = deliver_due(&state, &client).await {
                tracing::warn!(error = %e, "webhook deliveries failed; next round in {every:?}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_then_give_up() {
        let now = 1_000_000;
        assert_eq!(next_attempt(1, now), Some(now + 2_000));
        assert_eq!(next_attempt(2, now), Some(now + 10_000));
        assert_eq!(next_attempt(12, now), Some(now + 43_200_000));
        assert_eq!(
            next_attempt(13, now),
            None,
            "thirteen attempts, then failed"
        );
        assert_eq!(next_attempt(0, now), None);
        let total: i64 = BACKOFF_SECS.iter().sum();
        assert!((24 * 3600..30 * 3600).contains(&total), "{total}");
    }

    #[test]
    fn which_event() {
        // (before, after, event)
        let table = [
            (None, Some("department:dw"), Some(("case.dispatched", "dw"))),
            (
                Some("user:w1"),
                Some("department:dw"),
                Some(("case.dispatched", "dw")),
            ),
            (
                Some("department:df"),
                Some("department:dw"),
                Some(("case.dispatched", "dw")),
            ),
            (
                Some("department:dw"),
                Some("department:dw"),
                Some(("case.updated", "dw")),
            ),
            (Some("department:dw"), Some("user:w1"), None),
            (Some("department:dw"), None, None),
        ];
        for (before, after, want) in table {
            assert_eq!(event_of(before, after), want, "{before:?} → {after:?}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 style check against an independent computation.
        let sig = signature("key", 1, b"body");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1.body");
        assert_eq!(
            sig,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(signature("key", 2, b"body"), sig, "the time is signed");
        assert_ne!(signature("other", 1, b"body"), sig);
    }
}
