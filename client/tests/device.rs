//! The client against the real server on port 0: offline work on two
//! phones, conflicts shown and resolved, restarts, refusals, token refresh,
//! an unreachable server.

mod common;

use common::{Server, PASSWORD, SECRET};
use gridsync_client::sync::RetryPolicy;
use gridsync_client::{Client, ClientError, Http, LocalStore};
use gridsync_core::{Entry, Value};
use std::time::Duration;
use uuid::Uuid;

fn entry(fields: &[(&str, &str)]) -> Entry {
    Entry {
        id: Uuid::new_v4(),
        at: "2026-11-28T09:00:00+08:00".into(),
        fields: fields
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect(),
    }
}

fn stored(phone: &Client, id: Uuid) -> String {
    phone.replica().record(id).unwrap().to_stored()
}

/// Two grid workers of grid g1, Li (`a`) and Wang (`b`), each with a phone
/// enrolled in a folder of its own (`dirs`, in that order).
struct Neighbours {
    a: Client,
    b: Client,
    dirs: [tempfile::TempDir; 2],
}

fn neighbours(server: &Server) -> Neighbours {
    server.user("li", "grid_worker", "g1");
    server.user("wang", "grid_worker", "g1");
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    Neighbours {
        a: server.phone(dirs[0].path(), "li"),
        b: server.phone(dirs[1].path(), "wang"),
        dirs,
    }
}

#[test]
fn two_phones_offline_converge_and_a_conflict_is_shown_and_resolved() {
    let server = Server::start();
    let Neighbours {
        mut a,
        mut b,
        dirs: _dirs,
    } = neighbours(&server);

    let event = Uuid::new_v4();
    a.make(|d| {
        d.create("event", "g1", event)
            .set("title", "楼道堆放杂物")
            .set("category", "fire_safety")
            .set("severity", "medium")
            .set("status", "reported")
            .commit()
    })
    .unwrap();
    a.sync().unwrap();
    assert_eq!(b.sync().unwrap().pulled_records, 1);

    // Offline, both act on the case and both rewrite its title.
    a.make(|d| {
        d.edit(event)
            .set("title", "3号楼楼道堆放杂物")
            .append("actions", entry(&[("action", "photographed")]))
            .commit()
    })
    .unwrap();
    b.make(|d| {
        d.edit(event)
            .set("title", "楼道杂物堵塞消防通道")
            .append("actions", entry(&[("action", "notified_owner")]))
            .commit()
    })
    .unwrap();
    let household = Uuid::new_v4();
    b.make(|d| {
        d.create("household", "g1", household)
            .set("address", "西塞山区 5号楼 2单元")
            .commit()
    })
    .unwrap();
    assert_eq!(a.sync().unwrap().delivered, 1);
    let rb = b.sync().unwrap();
    assert_eq!((rb.delivered, rb.pulled_changes), (2, 1));
    a.sync().unwrap();

    // Same state on both phones and the server; the conflict is visible.
    assert_eq!(stored(&a, event), stored(&b, event));
    assert_eq!(stored(&a, household), stored(&b, household));
    for phone in [&a, &b] {
        let conflicts = phone.conflicts();
        assert_eq!(conflicts.len(), 1, "{conflicts:?}");
        assert_eq!((conflicts[0].record, conflicts[0].field), (event, "title"));
        let mut values: Vec<_> = conflicts[0]
            .values
            .iter()
            .map(|w| w.value.clone())
            .collect();
        values.sort_by_key(|v| v.as_str().unwrap().to_owned());
        assert_eq!(
            values,
            vec![
                Value::from("3号楼楼道堆放杂物"),
                Value::from("楼道杂物堵塞消防通道")
            ]
        );
        let view = phone.view(event).unwrap();
        let gridsync_core::record::FieldView::Log(actions) = &view.fields["actions"] else {
            panic!("actions is a log")
        };
        assert_eq!(actions.len(), 2, "both actions kept");
    }
    let server_conflicts = server.get("/v1/grids/g1/conflicts");
    assert_eq!(
        server_conflicts["records"].as_array().unwrap().len(),
        1,
        "{server_conflicts}"
    );

    // B resolves by writing the title it read; everyone converges.
    b.make(|d| {
        d.edit(event)
            .set("title", "3号楼楼道杂物堵塞消防通道")
            .commit()
    })
    .unwrap();
    b.sync().unwrap();
    a.sync().unwrap();
    assert!(a.conflicts().is_empty() && b.conflicts().is_empty());
    assert_eq!(
        a.view(event).unwrap().value("title"),
        &Value::from("3号楼楼道杂物堵塞消防通道")
    );
    assert_eq!(stored(&a, event), stored(&b, event));
    let server_conflicts = server.get("/v1/grids/g1/conflicts");
    assert!(
        server_conflicts["records"].as_array().unwrap().is_empty(),
        "{server_conflicts}"
    );
}

#[test]
fn a_restarted_phone_keeps_its_outbox_state_and_sequence() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let mut phone = server.phone(dir.path(), "li");
    phone.sync().unwrap();
    let ids: Vec<Uuid> = (0..3).map(|_| Uuid::new_v4()).collect();
    for (i, id) in ids.iter().enumerate() {
        phone
            .make(|d| {
                d.create("household", "g1", *id)
                    .set("address", format!("{i}号楼"))
                    .commit()
            })
            .unwrap();
    }
    let before: Vec<String> = ids.iter().map(|id| stored(&phone, *id)).collect();
    let actor = phone.actor();
    drop(phone);

    let mut phone = Client::open(LocalStore::open_dir(dir.path()).unwrap()).unwrap();
    assert_eq!(phone.actor(), actor);
    assert_eq!(phone.outbox_len().unwrap(), 3);
    let after: Vec<String> = ids.iter().map(|id| stored(&phone, *id)).collect();
    assert_eq!(before, after);
    // The next change takes the next number, never one already used.
    let c = phone
        .make(|d| d.edit(ids[0]).set("note", "已走访").commit())
        .unwrap();
    assert_eq!(c.seq, 4);
    let report = phone.sync().unwrap();
    assert_eq!((report.delivered, report.refused), (4, 0));
    assert_eq!(phone.outbox_len().unwrap(), 0);
    let listed = server.get("/v1/grids/g1/records?collection=household");
    assert_eq!(listed["records"].as_array().unwrap().len(), 3, "{listed}");
}

#[test]
fn a_refused_change_is_kept_with_its_reason_and_the_rest_goes_through() {
    let server = Server::start();
    server.user("zhao", "patrol", "g1");
    let dir = tempfile::tempdir().unwrap();
    let mut phone = server.phone(dir.path(), "zhao");
    let event = Uuid::new_v4();
    phone
        .make(|d| {
            d.create("event", "g1", event)
                .set("title", "路灯损坏")
                .set("status", "reported")
                .commit()
        })
        .unwrap();
    // A patrol member may not register households: the server refuses it.
    let household = Uuid::new_v4();
    phone
        .make(|d| {
            d.create("household", "g1", household)
                .set("address", "1号楼")
                .commit()
        })
        .unwrap();
    let report = phone.sync().unwrap();
    assert_eq!((report.delivered, report.refused), (1, 1));
    assert_eq!(phone.outbox_len().unwrap(), 0);
    let refused = phone.refused().unwrap();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].code, "forbidden_collection");
    assert_eq!(refused[0].record, household.to_string());
    assert!(!refused[0].message.is_empty());
    // Kept across a restart.
    drop(phone);
    let mut phone = Client::open(LocalStore::open_dir(dir.path()).unwrap()).unwrap();
    assert_eq!(phone.refused().unwrap().len(), 1);
    assert_eq!(phone.status().unwrap().refused, 1);
}

#[test]
fn an_expired_access_token_is_refreshed_during_sync() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let phone = server.phone(dir.path(), "li");
    let device_id = phone.device_id().to_owned();
    let user = server.store.user_by_name("li").unwrap().unwrap();
    drop(phone);
    // Put an access token that expired an hour ago in the phone's store.
    let keys = gridsync_server::auth::tokens::Keys::new(SECRET.as_bytes());
    let now = gridsync_client::client::now_ms() / 1000;
    let expired = keys.issue(user.id, Some(&device_id), None, now - 3600);
    let mut store = LocalStore::open_dir(dir.path()).unwrap();
    let refresh = store.device().unwrap().unwrap().refresh_token;
    store.set_tokens(&expired, &refresh).unwrap();
    let mut phone = Client::open(store).unwrap();
    phone
        .make(|d| {
            d.create("household", "g1", Uuid::new_v4())
                .set("address", "2号楼")
                .commit()
        })
        .unwrap();
    assert_eq!(phone.sync().unwrap().delivered, 1);
    let row = LocalStore::open_dir(dir.path())
        .unwrap()
        .device()
        .unwrap()
        .unwrap();
    assert_ne!(row.access_token, expired, "the new access token is kept");
    assert_ne!(
        row.refresh_token, refresh,
        "the rotated refresh token is kept"
    );
}

#[test]
fn an_unreachable_server_loses_nothing() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let phone = server.phone(dir.path(), "li");
    drop(phone);
    // The same phone, pointed at a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut phone = Client::open_with(
        LocalStore::open_dir(dir.path()).unwrap(),
        Http::new(&nowhere),
    )
    .unwrap();
    phone.options.retry = RetryPolicy {
        attempts: 3,
        first: Duration::from_millis(10),
        max: Duration::from_millis(40),
    };
    let id = Uuid::new_v4();
    phone
        .make(|d| {
            d.create("household", "g1", id)
                .set("address", "3号楼")
                .commit()
        })
        .unwrap();
    match phone.sync() {
        Err(ClientError::Unreachable(_)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(phone.outbox_len().unwrap(), 1);
    // Back in coverage, with the real server.
    let mut phone =
        Client::open_with(LocalStore::open_dir(dir.path()).unwrap(), server.http()).unwrap();
    assert_eq!(phone.sync().unwrap().delivered, 1);
    let record = server.get(&format!("/v1/records/{id}"));
    assert_eq!(
        record["record"]["fields"]["address"]["value"], "3号楼",
        "{record}"
    );
}

#[test]
fn a_wrong_password_and_a_second_enrollment_are_clear_errors() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open_dir(dir.path()).unwrap();
    match Client::enroll(store, &server.http(), "li", "wrong", "x", None) {
        Err(e) => assert_eq!(e.code(), Some("invalid_credentials"), "{e}"),
        Ok(_) => panic!("enrolled with a wrong password"),
    }
    let _phone = server.phone(dir.path(), "li");
    let store = LocalStore::open_dir(dir.path()).unwrap();
    assert!(matches!(
        Client::enroll(store, &server.http(), "li", PASSWORD, "again", None),
        Err(ClientError::AlreadyEnrolled)
    ));
}

/// A record id is unique within its grid only: when two grids hold a record
/// by one id (a device reused it), a phone that reads both keeps the first
/// it got, sets the other aside with the reason, and its syncs go on.
#[test]
fn a_record_id_held_in_two_grids_does_not_stop_a_phone_that_reads_both() {
    let server = Server::start();
    server.user("li", "grid_worker", "g1");
    server.user("zhao", "grid_worker", "g2");
    server.user("chen", "supervisor", "c1");
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut li = server.phone(dirs[0].path(), "li");
    let mut zhao = server.phone(dirs[1].path(), "zhao");
    let mut chen = server.phone(dirs[2].path(), "chen");
    let id = Uuid::new_v4();
    for (phone, grid) in [(&mut li, "g1"), (&mut zhao, "g2")] {
        phone
            .make(|d| {
                d.create("event", grid, id)
                    .set("title", format!("{grid}'s event"))
                    .set("status", "reported")
                    .commit()
            })
            .unwrap();
        assert_eq!(phone.sync().unwrap().delivered, 1);
    }
    let first = chen.sync().unwrap();
    assert_eq!(first.set_aside.len(), 1, "{first:?}");
    assert!(first.set_aside[0].contains("record_mismatch"), "{first:?}");
    let held = chen.replica().record(id).unwrap().grid.clone();
    // The grid it holds goes on syncing with it.
    let (phone, other) = if held == "g1" {
        (&mut li, "g2")
    } else {
        (&mut zhao, "g1")
    };
    phone
        .make(|d| d.edit(id).set("title", "renamed").commit())
        .unwrap();
    phone.sync().unwrap();
    let next = chen.sync().unwrap();
    assert!(next.set_aside.is_empty(), "{next:?}");
    assert_eq!(next.pulled_changes, 1, "{next:?}");
    let r = chen.replica().record(id).unwrap();
    assert_eq!(r.grid, held);
    assert_ne!(r.grid, other);
    let title = format!("{:?}", r.view().fields["title"]);
    assert!(title.contains("renamed"), "{title}");
}

/// The inbox comes with the pull that ends a sync, once: while it stays the
/// same the phone names the one it holds and the answer only says it is
/// unchanged; the phone keeps it (across a restart too) with the time it
/// was last confirmed, and gets it whole again when it changes.
#[test]
fn an_unchanged_inbox_is_not_sent_again() {
    use gridsync_client::Progress;
    let server = Server::start();
    let Neighbours { mut a, mut b, dirs } = neighbours(&server);
    let db = dirs[1].path();
    let assign = |a: &mut Client, title: &str| {
        a.make(|d| {
            d.create("event", "g1", Uuid::new_v4())
                .set("title", title)
                .set("status", "reported")
                .set("assignee", "user:wang")
                .commit()
        })
        .unwrap();
        a.sync().unwrap();
    };
    // What each sync's last answer said of the inbox: (sent, unchanged).
    let sync = |b: &mut Client| {
        let mut said = None;
        b.sync_observed(&mut |p| {
            if let Progress::Answered(a) = p {
                said = Some((a.response.inbox.is_some(), a.response.inbox_unchanged));
            }
        })
        .unwrap();
        said.expect("an answer")
    };

    assign(&mut a, "楼道堆物");
    assert_eq!(sync(&mut b), (true, false), "the first pull brings it");
    let (first, at) = b.inbox().unwrap().unwrap();
    assert_eq!(first.items.len(), 1);
    assert_eq!(first.digest.len(), 32);

    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(sync(&mut b), (false, true), "the same is not sent again");
    let (kept, confirmed) = b.inbox().unwrap().unwrap();
    assert_eq!(kept, first);
    assert!(confirmed > at, "confirmed now: {confirmed} after {at}");

    // A restarted phone still names the one it holds.
    drop(b);
    let mut b = Client::open(LocalStore::open_dir(db).unwrap()).unwrap();
    assert_eq!(sync(&mut b), (false, true));

    assign(&mut a, "消防通道堵塞");
    assert_eq!(sync(&mut b), (true, false), "a changed inbox comes whole");
    let (changed, _) = b.inbox().unwrap().unwrap();
    assert_eq!(changed.items.len(), 2);
    assert_ne!(changed.digest, first.digest);
}
