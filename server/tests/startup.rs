//! Start-up failures of the real binary: one line on stderr that says what
//! and where, exit status 1, and nothing made on the way.

use std::net::TcpListener;
use std::process::Command;

/// Run `gridsync ARGS` in a fresh folder; `(status, stderr)`.
fn gridsync(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gridsync"))
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("GRIDSYNC_JWT_SECRET")
        .env_remove("GRIDSYNC_JWT_KEY_FILE")
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Arguments, environment, what the error line must say.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn start_up_errors_are_one_line_that_says_what_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_addr = busy.local_addr().unwrap().to_string();
    let db = dir.path().join("g.db");
    let db = db.to_str().unwrap();
    let cases: [Case<'_>; 6] = [
        (
            &["--database-url", "mysql://u@db/gs", "migrate"],
            &[],
            &["unknown scheme `mysql:`", "postgres://", "sqlite://"],
        ),
        (
            &["--database-url", "postgress://db/gs", "serve"],
            &[],
            &["unknown scheme `postgress:`"],
        ),
        (
            &["--database-url", db, "serve", "--addr", &busy_addr],
            &[],
            &["cannot listen on", &busy_addr],
        ),
        (
            &["--database-url", db, "serve", "--addr", "127.0.0.1:0"],
            &[("GRIDSYNC_JWT_SECRET", "short")],
            &["at least 32 bytes"],
        ),
        (
            &[
                "--database-url",
                db,
                "serve",
                "--jwt-key-file",
                "no-such-keys",
            ],
            &[],
            &["no-such-keys", "No such file"],
        ),
        (
            &["--database-url", db, "serve", "--jwt-key-file", "g.db"],
            &[],
            &["g.db", "UTF-8"],
        ),
    ];
    for (args, env, says) in cases {
        let (status, stderr) = gridsync(dir.path(), args, env);
        assert_eq!(status, 1, "{args:?}: {stderr}");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{args:?}: one line, not {stderr}");
        assert!(lines[0].starts_with("gridsync: "), "{stderr}");
        for s in says {
            assert!(lines[0].contains(s), "{args:?}: `{s}` in {stderr}");
        }
        assert!(
            !lines[0].contains("Os {") && !lines[0].contains("Invalid {"),
            "{stderr}"
        );
    }
    // Nothing was made for the mistyped URLs: no SQLite file named after them.
    let made: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("g.db") && n != "g-attachments" && n != "g.jwt-keys")
        .collect();
    assert!(made.is_empty(), "{made:?}");
    drop(busy);
}

#[test]
fn a_config_file_holds_every_flag_and_the_environment_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("gridsync.toml"),
        "addr = \"0.0.0.0:9000\"\nmax_batch = 7\nkeep_alive_secs = 5\ntrusted_proxies = [\"10.0.0.0/8\"]\n",
    )
    .unwrap();
    let print = |env: &[(&str, &str)], flags: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_gridsync"))
            .args(["--config", "gridsync.toml", "config", "--print"])
            .args(flags)
            .env_remove("DATABASE_URL")
            .env_remove("GRIDSYNC_JWT_SECRET")
            .env_remove("GRIDSYNC_MAX_BATCH")
            .envs(env.iter().copied())
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let from_file = print(&[], &[]);
    for line in [
        "addr = \"0.0.0.0:9000\"",
        "max_batch = 7",
        "keep_alive_secs = 5",
        "trusted_proxies = [\"10.0.0.0/8\"]",
        "pool_size = 8",
    ] {
        assert!(
            from_file.lines().any(|l| l == line),
            "{line} in {from_file}"
        );
    }
    let overridden = print(
        &[
            ("GRIDSYNC_MAX_BATCH", "9"),
            (
                "GRIDSYNC_JWT_SECRET",
                "secret-secret-secret-secret-secret-1",
            ),
        ],
        &["--keep-alive-secs", "6"],
    );
    for line in [
        "max_batch = 9",
        "keep_alive_secs = 6",
        "jwt_secret = \"***\"",
    ] {
        assert!(
            overridden.lines().any(|l| l == line),
            "{line} in {overridden}"
        );
    }
    assert!(!overridden.contains("secret-secret"), "{overridden}");
    // A mistake in the file stops the start, saying which key.
    std::fs::write(dir.path().join("bad.toml"), "max_bath = 7\n").unwrap();
    let (status, stderr) = gridsync(dir.path(), &["--config", "bad.toml", "serve"], &[]);
    assert_eq!(status, 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("max_bath"), "{stderr}");
}
