//! The real server on port 0 over a temp SQLite file, with a small org tree
//! (d → p1 → c1 → {g1, g2}) and users made straight in its store.
#![allow(dead_code)]

use std::net::TcpListener;

use gridsync_client::{Client, Http, LocalStore};
use gridsync_server::auth::password;
use gridsync_server::db::models::{NewUser, OrgNodeRow};
use gridsync_server::db::Database;
use gridsync_server::store::Store;
use gridsync_server::{open_store, Background, Limits};

pub const SECRET: &str = "client-tests-secret-client-tests-secret";
pub const PASSWORD: &str = "correct horse battery";

pub struct Server {
    pub url: String,
    pub store: Store,
    /// The CA file an HTTPS server's certificate is trusted by.
    pub ca: Option<std::path::PathBuf>,
    _running: Background,
    _dir: tempfile::TempDir,
}

impl Server {
    pub fn start() -> Server {
        Server::start_on(None)
    }

    /// The server over HTTPS with the certificate `cert`/`key`.
    /// The server over HTTPS with the certificate `cert`/`key` of the CA
    /// in the file `ca` (which [`Server::http`] then trusts).
    pub fn start_tls(
        cert: &std::path::Path,
        key: &std::path::Path,
        ca: &std::path::Path,
    ) -> Server {
        let certificates = gridsync_server::tls::Certificates::load(cert, key).unwrap();
        let mut server = Server::start_on(Some(certificates.server_config()));
        server.ca = Some(ca.to_owned());
        server
    }

    fn start_on(tls: Option<rustls::ServerConfig>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&Database::Sqlite(dir.path().join("server.db")), 4).unwrap();
        for (code, parent, level) in [
            ("d", None, "district"),
            ("p1", Some("d"), "park"),
            ("c1", Some("p1"), "community"),
            ("g1", Some("c1"), "grid"),
            ("g2", Some("c1"), "grid"),
        ] {
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
        let auth =
            gridsync_server::auth_for(gridsync_server::auth::tokens::Keys::new(SECRET.as_bytes()));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let blobs =
            gridsync_server::blobs::disk::DiskStore::open(dir.path().join("blobs")).unwrap();
        let running = Background::start_on(
            listener,
            tls,
            store.clone(),
            Limits::default(),
            auth,
            std::sync::Arc::new(blobs),
        )
        .unwrap();
        let server = Server {
            url: running.url.clone(),
            store,
            ca: None,
            _running: running,
            _dir: dir,
        };
        server.user("admin", "admin", "d");
        server
    }

    /// A user with [`PASSWORD`].
    pub fn user(&self, username: &str, role: &str, node: &str) {
        self.store
            .create_user(&NewUser {
                id: 0,
                username: username.into(),
                full_name: username.into(),
                password_hash: password::hash(PASSWORD),
                role: role.into(),
                node: node.into(),
                disabled: false,
                created_at: 0,
                updated_at: 0,
            })
            .unwrap();
    }

    pub fn http(&self) -> Http {
        match &self.ca {
            Some(ca) => Http::trusting(&self.url, ca).unwrap(),
            None => Http::new(&self.url),
        }
    }

    /// A device of `username` whose store is a file in `dir`.
    pub fn phone(&self, dir: &std::path::Path, username: &str) -> Client {
        let store = LocalStore::open_dir(dir).unwrap();
        Client::enroll(store, &self.http(), username, PASSWORD, "test phone", None).unwrap()
    }

    /// GET as a district supervisor.
    pub fn get(&self, path: &str) -> serde_json::Value {
        if self.store.user_by_name("chief").unwrap().is_none() {
            self.user("chief", "supervisor", "d");
        }
        let token = self.http().login("chief", PASSWORD).unwrap().access_token;
        self.http().get(path, &token).unwrap()
    }
}

/// A real JPEG of noise (it does not compress): about 1.3 bytes a pixel.
pub fn jpeg(w: u32, h: u32, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    let img = image::RgbImage::from_fn(w, h, |_, _| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        image::Rgb([x as u8, (x >> 8) as u8, (x >> 16) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    out.into_inner()
}

/// `gridsync-device --dir DIR --json ARGS…`, the password from the
/// environment: whether it succeeded, its JSON answer, its stderr.
pub fn device(dir: &std::path::Path, args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gridsync-device"))
        .arg("--dir")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env("GRIDSYNC_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        json,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// [`device`], which must succeed: its JSON answer.
pub fn ok(dir: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let (success, json, err) = device(dir, args);
    assert!(success, "{args:?}: {err}");
    json
}

/// A grid of `records` households and residents, made offline by
/// `loader_name`'s phone and pushed, as a worker would register them (for
/// the benches' first syncs).
pub fn load_grid(server: &Server, loader_name: &str, grid: &str, records: usize) {
    let t = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut loader = server.phone(dir.path(), loader_name);
    loader.options.batch = 1_000;
    for i in 0..records {
        let id = uuid::Uuid::new_v4();
        if i % 3 == 0 {
            loader
                .make(|d| {
                    d.create("household", grid, id)
                        .set("address_code", format!("{grid}-{i:05}"))
                        .set(
                            "address",
                            format!(
                                "西塞山区 幸福路 {}号楼 {}单元 {}",
                                i / 60,
                                i % 6 + 1,
                                100 + i % 40
                            ),
                        )
                        .set("use", "residential")
                        .set("owner_name", format!("户主{i}"))
                        .commit()
                })
                .unwrap();
        } else {
            loader
                .make(|d| {
                    d.create("resident", grid, id)
                        .set("name", format!("居民{i}"))
                        .set("gender", if i % 2 == 0 { "male" } else { "female" })
                        .set(
                            "birth_date",
                            format!("19{:02}-0{}-1{}", 40 + i % 60, 1 + i % 9, i % 10),
                        )
                        .set("category", "registered")
                        .set("employer", "黄石市某公司")
                        .commit()
                })
                .unwrap();
        }
    }
    let made = t.elapsed();
    let t = std::time::Instant::now();
    let pushed = loader.sync().unwrap();
    assert_eq!(pushed.delivered as usize, records);
    println!(
        "loaded {records} records: made offline in {:.2} s, pushed in {:.2} s ({} round trips)",
        made.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        pushed.round_trips
    );
}
