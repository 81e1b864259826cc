//! Where a deployment's signing keys come from: never the database, so a
//! backup of the data cannot mint tokens.
//!
//! 1. `--jwt-key-file PATH`: a key file (`KID SECRET` a line, the first
//!    signs; docs/OPERATIONS.md, "Signing keys"). Every node of a deployment
//!    reads the same file.
//! 2. `GRIDSYNC_JWT_SECRET`: one secret (at least 32 bytes), for a simple
//!    setup; its key id is derived from it.
//! 3. Neither, on the embedded SQLite store: the key file beside the
//!    database (`gridsync.db` → `gridsync.jwt-keys`), made on first start
//!    with mode 0600.
//! 4. Neither, on PostgreSQL: an error that says what to set.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::tokens::{new_key_line, KeyError, Keys};
use crate::db::Database;

/// The header of a key file made on first start.
const HEADER: &str = "\
# gridsync signing keys: one key a line, `KEY-ID SECRET` (at least 32 bytes).
# The first key signs new tokens; every key listed verifies the tokens it signed.
# Rotate: add a line from `gridsync new-key` as the first line, restart, and
# delete the old line 15 minutes (an access token's life) later. Back this file
# up apart from the database. Keep it mode 0600.
";

/// The key file the embedded store keeps beside its database file.
pub fn beside(database: &Path) -> PathBuf {
    let stem = database
        .file_stem()
        .map_or("gridsync".into(), |s| s.to_string_lossy());
    database.with_file_name(format!("{stem}.jwt-keys"))
}

/// The deployment's keys, and where they came from (for the log).
pub fn signing_keys(
    db: &Database,
    key_file: Option<&Path>,
    secret: Option<&str>,
) -> Result<(Keys, String), KeyError> {
    if let Some(path) = key_file {
        return Ok((read(path)?, path.display().to_string()));
    }
    if let Some(secret) = secret.filter(|s| !s.is_empty()) {
        let keys =
            Keys::from_secret(secret).map_err(|e| KeyError(format!("GRIDSYNC_JWT_SECRET: {e}")))?;
        return Ok((keys, "GRIDSYNC_JWT_SECRET".into()));
    }
    match db {
        Database::Sqlite(file) => {
            let path = beside(file);
            if !path.exists() {
                make(&path)?;
                tracing::info!(file = %path.display(), "made a signing key file (mode 0600); back it up apart from the database");
            }
            Ok((read(&path)?, path.display().to_string()))
        }
        _ => Err(KeyError(
            "no signing key: give --jwt-key-file (a file from `gridsync new-key`, the same on every node) \
             or GRIDSYNC_JWT_SECRET"
                .into(),
        )),
    }
}

/// Read a key file, warning when others than its owner may read it.
fn read(path: &Path) -> Result<Keys, KeyError> {
    let at = |why: String| KeyError(format!("{}: {why}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| at(e.to_string()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            // Group-readable is how a service user reads a root-owned
            // file (root:gridsync 0640); readable by everyone is a leak.
            if meta.permissions().mode() & 0o007 != 0 {
                tracing::warn!(file = %path.display(), "every user of this machine can read the signing key file: chmod o-rwx it");
            }
        }
    }
    Keys::from_file_text(&text).map_err(|e| at(e.0))
}

/// Make a key file with one new key, readable by its owner only.
fn make(path: &Path) -> Result<(), KeyError> {
    let at = |e: std::io::Error| KeyError(format!("{}: {e}", path.display()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(at)?;
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    writeln!(file, "{HEADER}{}", new_key_line(&today)).map_err(at)?;
    file.sync_all().map_err(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_store_makes_its_key_file_once_owner_only_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("g.db"));
        let (first, from) = signing_keys(&db, None, None).unwrap();
        assert_eq!(from, dir.path().join("g.jwt-keys").display().to_string());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("g.jwt-keys"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, _) = signing_keys(&db, None, None).unwrap();
        assert_eq!(first.kids(), again.kids());
        let token = first.issue(1, None, None, crate::api::now_ms() / 1000);
        assert_eq!(again.verify(&token).unwrap().sub, "1");
    }

    #[test]
    fn a_file_or_a_secret_is_used_before_the_embedded_default_and_postgres_needs_one() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("g.db"));
        let file = dir.path().join("keys");
        std::fs::write(&file, format!("k1 {}\n", "s".repeat(40))).unwrap();
        let (keys, _) = signing_keys(&db, Some(&file), Some(&"x".repeat(40))).unwrap();
        assert_eq!(keys.signing_kid(), "k1");
        let (keys, from) = signing_keys(&db, None, Some(&"x".repeat(40))).unwrap();
        assert_eq!(from, "GRIDSYNC_JWT_SECRET");
        assert_eq!(keys.kids().len(), 1);
        assert!(!beside(&dir.path().join("g.db")).exists());
        let pg = Database::from_url(Some("postgres://nowhere/db")).unwrap();
        let e = signing_keys(&pg, None, None).unwrap_err().0;
        assert!(e.contains("--jwt-key-file"), "{e}");
        let e = signing_keys(&db, Some(&dir.path().join("none")), None)
            .unwrap_err()
            .0;
        assert!(e.contains("none"), "{e}");
    }
}
