//! Test harness: the real server on port 0 over a real database, one
//! database per test (a temp SQLite file; a fresh PostgreSQL database when
//! `GRIDSYNC_TEST_POSTGRES` names a server), and a phone that syncs with it.
#![allow(dead_code)]

pub mod app_driver;
pub mod browser;
pub mod photos;
pub mod tls;

use std::net::TcpListener;
use std::path::PathBuf;

use diesel::{Connection, RunQueryDsl};
use gridsync_core::{Change, Device, Record, Replica, Schema};
use gridsync_server::auth::password;
use gridsync_server::auth::tokens::Keys;
use gridsync_server::db::models::{NewUser, OrgNodeRow};
use gridsync_server::db::Database;
use gridsync_server::store::Store;
use gridsync_server::{open_store, Limits};
use serde_json::{json, Value as Json};

/// The signing secret of test servers (tests forge tokens with it).
pub const SECRET: &str = "test-secret-test-secret-test-secret!";
pub const ADMIN: &str = "root";
pub const PASSWORD: &str = "correct horse battery";

/// The test org tree: d → p1 → c1 → {GRID, g-bad, g1, g2}; d → p2 → c2 → {other-grid, g3}.
pub const TREE: [(&str, Option<&str>, &str); 11] = [
    ("d", None, "district"),
    ("p1", Some("d"), "park"),
    ("p2", Some("d"), "park"),
    ("c1", Some("p1"), "community"),
    ("c2", Some("p2"), "community"),
    ("420203-001-003-012", Some("c1"), "grid"),
    ("g-bad", Some("c1"), "grid"),
    ("g1", Some("c1"), "grid"),
    ("g2", Some("c1"), "grid"),
    ("other-grid", Some("c2"), "grid"),
    ("g3", Some("c2"), "grid"),
];

/// Create the test tree and the admin, where missing.
fn bootstrap(store: &Store) {
    let known: Vec<String> = store
        .org_tree()
        .unwrap()
        .into_iter()
        .map(|n| n.code)
        .collect();
    for (code, parent, level) in TREE {
        if !known.iter().any(|k| k == code) {
            store
                .create_node(&OrgNodeRow {
                    code: code.into(),
                    parent: parent.map(str::to_owned),
                    level: level.into(),
                    name: format!("node {code}"),
                    created_at: 0,
                    updated_at: 0,
                })
                .unwrap();
        }
    }
    if store.user_by_name(ADMIN).unwrap().is_none() {
        store
            .create_user(&NewUser {
                id: 0,
                username: ADMIN.into(),
                full_name: "Root".into(),
                password_hash: password::hash(PASSWORD),
                role: "admin".into(),
                node: "d".into(),
                disabled: false,
                created_at: 0,
                updated_at: 0,
            })
            .unwrap();
    }
}

/// Runs every listed scenario on SQLite, and declares the same scenarios on
/// PostgreSQL. Those are ignored by a plain `cargo test` (listed as ignored,
/// with the reason) and run by `.ci/run` with `--ignored` and
/// `GRIDSYNC_TEST_POSTGRES` naming a server.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&crate::common::Backend::sqlite()) } )*
        }
        mod postgres {
            $(
                #[test]
                #[ignore = "PostgreSQL suite: GRIDSYNC_TEST_POSTGRES=postgres://… cargo test -- --ignored"]
                fn $name() {
                    let backend = crate::common::Backend::postgres()
                        .expect("the PostgreSQL suite needs GRIDSYNC_TEST_POSTGRES=postgres://user@host:port/db");
                    super::$name(&backend)
                }
            )*
        }
    };
}
pub(crate) use on_both_backends;

/// A database of its own for one test.
pub enum Backend {
    Sqlite(tempfile::TempDir),
    Postgres {
        admin: String,
        name: String,
    },
    /// On a Citus coordinator: a schema of its own (Citus keeps its cluster
    /// metadata per database, so a test's tables live in a fresh schema of
    /// the cluster's database, reached through `search_path`).
    Citus {
        admin: String,
        schema: String,
    },
}

impl Backend {
    pub fn sqlite() -> Backend {
        Backend::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh database on the server named by `GRIDSYNC_TEST_POSTGRES`.
    pub fn postgres() -> Option<Backend> {
        let admin = std::env::var("GRIDSYNC_TEST_POSTGRES")
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!("gs_test_{}", uuid::Uuid::new_v4().simple());
        let mut c = diesel::PgConnection::establish(&admin)
            .unwrap_or_else(|e| panic!("GRIDSYNC_TEST_POSTGRES is set but unreachable: {e}"));
        if gridsync_server::db::citus::detect(&mut c)
            .unwrap()
            .is_some()
        {
            diesel::sql_query(format!("CREATE SCHEMA {name}"))
                .execute(&mut c)
                .unwrap();
            return Some(Backend::Citus {
                admin,
                schema: name,
            });
        }
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .unwrap();
        Some(Backend::Postgres { admin, name })
    }

    pub fn database(&self) -> Database {
        match self {
            Backend::Sqlite(dir) => Database::Sqlite(dir.path().join("gridsync.db")),
            Backend::Postgres { admin, name } => {
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
                let (base, query) = match admin.split_once('?') {
                    Some((_, q)) => (base.split('?').next().unwrap_or(base), format!("?{q}")),
                    None => (base, String::new()),
                };
                Database::Postgres(format!("{base}/{name}{query}"))
            }
            Backend::Citus { admin, schema } => {
                let glue = if admin.contains('?') { '&' } else { '?' };
                Database::Postgres(format!("{admin}{glue}options=-csearch_path%3D{schema}"))
            }
        }
    }

    /// Run one SQL statement on the store, behind the server's back (to
    /// make rows as an older version wrote them); the rows it touched.
    #[allow(dead_code)]
    pub fn execute(&self, sql: &str) -> usize {
        let pool = gridsync_server::db::Pool::open(&self.database(), 1).unwrap();
        match pool.get().unwrap() {
            gridsync_server::db::Conn::Sqlite(mut c) => diesel::sql_query(sql).execute(&mut c),
            gridsync_server::db::Conn::Pg(mut c) => diesel::sql_query(sql).execute(&mut c),
        }
        .unwrap()
    }

    pub fn sqlite_path(&self) -> Option<PathBuf> {
        match self {
            Backend::Sqlite(dir) => Some(dir.path().join("gridsync.db")),
            _ => None,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::Postgres { admin, name } = self {
            if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut c);
            }
        }
        if let Backend::Citus { admin, schema } = self {
            if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                // Citus's DDL deadlocks with another test's migration: one
                // at a time, as migrations are (the lock ends with `c`).
                let lock = gridsync_server::db::MIGRATE_LOCK;
                let _ =
                    diesel::sql_query(format!("SELECT pg_advisory_lock({lock})")).execute(&mut c);
                let _ = diesel::sql_query(format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .execute(&mut c);
            }
        }
    }
}

/// A running server.
pub struct TestServer {
    pub base: String,
    admin: std::sync::OnceLock<String>,
    supervisor: std::sync::OnceLock<String>,
    _running: gridsync_server::Background,
    /// The attachment store's folder.
    pub blobs: tempfile::TempDir,
}

impl TestServer {
    pub fn start(backend: &Backend) -> TestServer {
        Self::start_with(backend, Limits::default(), 2_000)
    }

    pub fn start_with(backend: &Backend, limits: Limits, state_threshold: usize) -> TestServer {
        let blobs = tempfile::tempdir().unwrap();
        let disk = gridsync_server::blobs::disk::DiskStore::open(blobs.path()).unwrap();
        Self::start_on(
            backend,
            limits,
            state_threshold,
            std::sync::Arc::new(disk),
            blobs,
        )
    }

    /// A server keeping attachments in `store` (`folder`: the disk store's,
    /// or an empty one).
    pub fn start_on(
        backend: &Backend,
        limits: Limits,
        state_threshold: usize,
        blobs: std::sync::Arc<dyn gridsync_server::blobs::BlobStore>,
        folder: tempfile::TempDir,
    ) -> TestServer {
        let mut db: Store = open_store(&backend.database(), 4).unwrap();
        db.state_threshold = state_threshold;
        bootstrap(&db);
        let auth = gridsync_server::auth_for(Keys::new(SECRET.as_bytes()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let running =
            gridsync_server::Background::start(listener, db, limits, auth, blobs).unwrap();
        TestServer {
            base: running.url.clone(),
            admin: std::sync::OnceLock::new(),
            supervisor: std::sync::OnceLock::new(),
            _running: running,
            blobs: folder,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn keys(&self) -> Keys {
        Keys::new(SECRET.as_bytes())
    }

    /// Log in; the token pair and user as JSON.
    pub fn login(&self, username: &str, password: &str) -> Json {
        let (st, body) = self.call(
            ureq::post(&self.url("/v1/auth/login")),
            Some(json!({"username": username, "password": password})),
        );
        assert_eq!(st, 200, "login {username}: {body}");
        body
    }

    /// An admin's access token.
    pub fn admin_token(&self) -> String {
        self.admin
            .get_or_init(|| {
                self.login(ADMIN, PASSWORD)["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .clone()
    }

    /// Create a user (as the admin); their id.
    pub fn create_user(&self, username: &str, role: &str, node: &str) -> i64 {
        let (st, body) = self.call(
            self.authed(ureq::post(&self.url("/v1/users")), &self.admin_token()),
            Some(json!({"username": username, "full_name": username, "password": PASSWORD, "role": role, "node": node})),
        );
        assert_eq!(st, 201, "create user {username}: {body}");
        body["id"].as_i64().unwrap()
    }

    pub fn authed(&self, req: ureq::Request, token: &str) -> ureq::Request {
        req.set("Authorization", &format!("Bearer {token}"))
    }

    /// GET with a token: (status, JSON).
    pub fn get_as(&self, token: &str, path: &str) -> (u16, Json) {
        self.call(self.authed(ureq::get(&self.url(path)), token), None)
    }

    /// GET as a supervisor of the whole test district, expecting 200.
    pub fn get(&self, path: &str) -> Json {
        let token = self.supervisor_token();
        let (st, body) = self.get_as(&token, path);
        assert_eq!(st, 200, "GET {path}: {body}");
        body
    }

    /// A supervisor of the whole test district (created on first use).
    pub fn supervisor_token(&self) -> String {
        if let Some(t) = self.supervisor.get() {
            return t.clone();
        }
        let (st, _b) = self.call(
            self.authed(ureq::post(&self.url("/v1/users")), &self.admin_token()),
            Some(json!({"username": "chief", "full_name": "Chief", "password": PASSWORD, "role": "supervisor", "node": "d"})),
        );
        assert!(st == 201 || st == 409, "{st} {_b}");
        let t = self.login("chief", PASSWORD)["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        self.supervisor.get_or_init(|| t).clone()
    }

    /// Any request: (status, JSON body).
    pub fn call(&self, req: ureq::Request, body: Option<Json>) -> (u16, Json) {
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match res {
            Ok(r) => (r.status(), r.into_json().unwrap_or(Json::Null)),
            Err(ureq::Error::Status(s, r)) => (s, r.into_json().unwrap_or(Json::Null)),
            Err(e) => panic!("transport error: {e}"),
        }
    }

    /// `POST /v1/sync` with a device's token.
    pub fn sync(&self, token: &str, body: Json) -> (u16, Json) {
        self.call(
            self.authed(ureq::post(&self.url("/v1/sync")), token),
            Some(body),
        )
    }
}

/// A phone: the core device, its tokens, its outbox, its cursor, the sync loop.
pub struct Phone {
    pub device: Device,
    pub token: String,
    pub refresh: String,
    pub device_id: String,
    pub outbox: Vec<Change>,
    /// The server's cursor token (null before the first pull).
    pub cursor: Json,
    pub grids: Vec<String>,
    pub page: usize,
    /// The inbox the last completed pull brought.
    pub inbox: Json,
}

impl Phone {
    /// A new user `username` with `role` at `node`, logged in on a newly
    /// registered device that pulls `grids`.
    pub fn enroll(
        server: &TestServer,
        username: &str,
        role: &str,
        node: &str,
        grids: &[&str],
    ) -> Phone {
        server.create_user(username, role, node);
        Phone::enroll_existing(server, username, PASSWORD, grids)
    }

    /// A new device of an existing user.
    pub fn enroll_existing(
        server: &TestServer,
        username: &str,
        password: &str,
        grids: &[&str],
    ) -> Phone {
        let login = server.login(username, password);
        let token = login["access_token"].as_str().unwrap();
        let (st, reg) = server.call(
            server.authed(ureq::post(&server.url("/v1/devices")), token),
            Some(json!({"name": format!("{username}'s phone")})),
        );
        assert_eq!(st, 201, "{reg}");
        let actor = reg["device"]["actor"].as_u64().unwrap() as u32;
        Phone {
            device: Device::new(actor),
            token: reg["access_token"].as_str().unwrap().to_owned(),
            refresh: reg["refresh_token"].as_str().unwrap().to_owned(),
            device_id: reg["device"]["id"].as_str().unwrap().to_owned(),
            outbox: Vec::new(),
            cursor: Json::Null,
            grids: grids.iter().map(|g| g.to_string()).collect(),
            page: 500,
            inbox: Json::Null,
        }
    }

    pub fn actor(&self) -> u32 {
        self.device.actor()
    }

    /// Make a change offline and put it in the outbox.
    pub fn make(
        &mut self,
        f: impl FnOnce(&mut Device) -> Result<Change, gridsync_core::ChangeError>,
    ) -> Change {
        let c = f(&mut self.device).unwrap();
        self.outbox.push(c.clone());
        c
    }

    /// Push the outbox and pull until caught up; the results of the push.
    pub fn sync(&mut self, server: &TestServer) -> Vec<Json> {
        let mut resume = Json::Null;
        let mut results = Vec::new();
        let mut first = true;
        loop {
            let changes: Vec<Json> = if first {
                self.outbox
                    .iter()
                    .map(|c| serde_json::to_value(c).unwrap())
                    .collect()
            } else {
                Vec::new()
            };
            let mut body = json!({
                "actor": self.device.actor(),
                "cursor": self.cursor,
                "grids": self.grids,
                "changes": changes,
                "limit": self.page,
            });
            if !resume.is_null() {
                body["resume"] = resume.clone();
            }
            let (status, res) = server.sync(&self.token, body);
            assert_eq!(status, 200, "sync failed: {res}");
            if first {
                results = res["results"].as_array().cloned().unwrap_or_default();
                assert_eq!(results.len(), self.outbox.len());
                self.outbox.clear();
                first = false;
            }
            for c in res["changes"].as_array().into_iter().flatten() {
                let change: Change = serde_json::from_value(c.clone()).unwrap();
                self.device.receive(&change).unwrap();
            }
            let mut replica: Replica = self.device.replica().clone();
            for r in res["records"].as_array().into_iter().flatten() {
                let record = Record::from_stored(Schema::current(), &r.to_string()).unwrap();
                replica.merge_record(&record).unwrap();
            }
            self.device = Device::resume(self.device.actor(), self.device.next_seq(), replica);
            self.cursor = res["cursor"].clone();
            assert!(
                self.cursor.is_string(),
                "a pull answers a cursor token: {res}"
            );
            resume = res.get("resume").cloned().unwrap_or(Json::Null);
            if !res["more"].as_bool().unwrap() {
                self.inbox = res["inbox"].clone();
                return results;
            }
        }
    }
}
