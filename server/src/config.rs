//! The service's settings, from four layers, each overriding the one
//! before: built-in defaults, a TOML file (`--config`), environment
//! variables, flags. Every flag has a key of the same name in the file
//! (`--max-body-bytes` is `max_body_bytes`; `--trusted-proxy` is
//! `trusted_proxies`, a list). `gridsync config --print` shows the result
//! with secrets masked.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use figment::providers::{Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

use crate::attachments::AttachmentLimits;
use crate::blobs::disk::DiskStore;
use crate::blobs::s3::{S3Config, S3Store};
use crate::blobs::BlobStore;
use crate::db::Database;
use crate::{Limits, Secret};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Text; colour only at a terminal, never with NO_COLOR.
    #[default]
    Text,
    /// One JSON object a line, for a log collector.
    Json,
}

/// Flags of every command. Each is absent unless given (on the command line
/// or in its environment variable), so that the file's value stands.
#[derive(Debug, Default, clap::Args, Serialize)]
pub struct GlobalFlags {
    /// Where the store lives: none for the embedded SQLite file ./gridsync.db,
    /// a path or sqlite://PATH for another file, postgres://… for PostgreSQL.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Database connections in the pool [default: 8].
    #[arg(long, env = "GRIDSYNC_POOL_SIZE", global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    /// Log lines as `text` or `json` [default: text].
    #[arg(long, env = "GRIDSYNC_LOG_FORMAT", value_enum, global = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Flags of `serve` (and `config`, to show what they would make).
#[derive(Debug, Default, clap::Args, Serialize)]
pub struct ServeFlags {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GRIDSYNC_ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Largest request body in bytes [default: 8 MiB].
    #[arg(long, env = "GRIDSYNC_MAX_BODY_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    /// Most changes in one sync batch [default: 1000].
    #[arg(long, env = "GRIDSYNC_MAX_BATCH")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_batch: Option<usize>,
    /// Load the `demo` fixture first if the store has none, and print its
    /// logins.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub demo: bool,
    /// The signing keys of access tokens: a file of `KEY-ID SECRET` lines,
    /// the first signing (`gridsync new-key` makes a line), the same on
    /// every node. Without it and GRIDSYNC_JWT_SECRET, the embedded store
    /// makes one beside its database file (mode 0600).
    #[arg(long, env = "GRIDSYNC_JWT_KEY_FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_key_file: Option<PathBuf>,
    /// One secret that signs access tokens (at least 32 bytes), instead of
    /// a key file; all nodes of one deployment share it.
    #[arg(long, env = "GRIDSYNC_JWT_SECRET", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwt_secret: Option<String>,
    /// A JSON file of deadline rules (see GET /v1/rules for the form); the
    /// built-in defaults otherwise.
    #[arg(long, env = "GRIDSYNC_RULES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<PathBuf>,
    /// Seconds between escalation sweeps; 0 runs them only on demand
    /// [default: 600].
    #[arg(long, env = "GRIDSYNC_SWEEP_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_secs: Option<u64>,
    /// A reverse proxy (an address or a CIDR network) whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client; repeat for several. From
    /// anyone else those headers are ignored.
    #[arg(
        long = "trusted-proxy",
        env = "GRIDSYNC_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_proxies: Option<Vec<String>>,
    /// Seconds a request body may go without a byte before it is cut off
    /// (408 body_timeout) [default: 20].
    #[arg(long, env = "GRIDSYNC_BODY_IDLE_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_idle_timeout_secs: Option<u64>,
    /// Seconds the request line and headers may take to arrive [default: 10].
    #[arg(long, env = "GRIDSYNC_HEAD_TIMEOUT_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_timeout_secs: Option<u64>,
    /// Seconds an idle kept-alive connection stays open [default: 60].
    #[arg(long, env = "GRIDSYNC_KEEP_ALIVE_SECS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keep_alive_secs: Option<u64>,
    /// Requests one client address may have in flight at once (429 past
    /// it); behind a proxy, see --trusted-proxy [default: 1024].
    #[arg(long, env = "GRIDSYNC_MAX_REQUESTS_PER_ADDRESS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_requests_per_address: Option<usize>,
    /// When set, GET /metrics answers only `Authorization: Bearer <this>`.
    #[arg(long, env = "GRIDSYNC_METRICS_TOKEN", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_token: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first), with
    /// --tls-key. SIGHUP reloads both files without a restart.
    #[arg(long, env = "GRIDSYNC_TLS_CERT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, env = "GRIDSYNC_TLS_KEY")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// Largest attachment, in bytes [default: 25 MiB].
    #[arg(long, env = "GRIDSYNC_MAX_ATTACHMENT_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_attachment_bytes: Option<u64>,
    /// Attachment bytes one device may send per day, China time
    /// [default: 2 GiB].
    #[arg(long, env = "GRIDSYNC_ATTACHMENT_DAILY_BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_daily_bytes: Option<u64>,
    /// Media types accepted, comma-separated (of image/jpeg, image/png,
    /// image/webp, application/pdf) [default: all four].
    #[arg(long, env = "GRIDSYNC_ATTACHMENT_TYPES", value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment_types: Option<Vec<String>>,
    #[command(flatten)]
    #[serde(flatten)]
    pub blobs: BlobFlags,
}

/// Where attachment bytes are kept (`serve` and `seed`).
#[derive(Debug, Default, clap::Args, Serialize)]
pub struct BlobFlags {
    /// Folder for attachment bytes. Default: beside the SQLite file
    /// (`gridsync.db` keeps them in `gridsync-attachments/`), or
    /// ./gridsync-attachments with PostgreSQL.
    #[arg(long, env = "GRIDSYNC_ATTACHMENTS_DIR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachments_dir: Option<PathBuf>,
    /// Keep attachments in this bucket of an S3-compatible store instead of
    /// a folder (what several server nodes share). Credentials from
    /// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "GRIDSYNC_S3_BUCKET")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_bucket: Option<String>,
    /// `https://host:port` of an S3-compatible server (none: AWS).
    #[arg(long, env = "GRIDSYNC_S3_ENDPOINT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_endpoint: Option<String>,
    /// The bucket's region (none: AWS_REGION, else us-east-1).
    #[arg(long, env = "GRIDSYNC_S3_REGION")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_region: Option<String>,
    /// A folder in the bucket for every object of this deployment.
    #[arg(long, env = "GRIDSYNC_S3_PREFIX")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3_prefix: Option<String>,
    /// Allow an http:// endpoint (a private network, a test server).
    #[arg(long, env = "GRIDSYNC_S3_ALLOW_HTTP")]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub s3_allow_http: bool,
}

/// The effective settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub database_url: Option<String>,
    pub pool_size: u32,
    pub log_format: LogFormat,
    pub addr: String,
    pub max_body_bytes: usize,
    pub max_batch: usize,
    pub demo: bool,
    pub jwt_key_file: Option<PathBuf>,
    pub jwt_secret: Option<String>,
    pub rules: Option<PathBuf>,
    pub sweep_secs: u64,
    pub trusted_proxies: Vec<String>,
    pub body_idle_timeout_secs: u64,
    pub head_timeout_secs: u64,
    pub keep_alive_secs: u64,
    pub max_requests_per_address: usize,
    pub metrics_token: Option<String>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub max_attachment_bytes: u64,
    pub attachment_daily_bytes: u64,
    pub attachment_types: Vec<String>,
    pub attachments_dir: Option<PathBuf>,
    pub s3_bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: String,
    pub s3_prefix: String,
    pub s3_allow_http: bool,
}

impl Default for Settings {
    fn default() -> Self {
        let limits = Limits::default();
        let attachments = AttachmentLimits::default();
        Settings {
            database_url: None,
            pool_size: 8,
            log_format: LogFormat::Text,
            addr: "127.0.0.1:8080".into(),
            max_body_bytes: limits.max_body_bytes,
            max_batch: limits.max_batch,
            demo: false,
            jwt_key_file: None,
            jwt_secret: None,
            rules: None,
            sweep_secs: limits.sweep_every.map_or(0, |d| d.as_secs()),
            trusted_proxies: Vec::new(),
            body_idle_timeout_secs: limits.body_idle_timeout.as_secs(),
            head_timeout_secs: limits.head_timeout.as_secs(),
            keep_alive_secs: limits.keep_alive.as_secs(),
            max_requests_per_address: limits.max_requests_per_address,
            metrics_token: None,
            tls_cert: None,
            tls_key: None,
            max_attachment_bytes: attachments.max_bytes,
            attachment_daily_bytes: attachments.daily_bytes_per_device,
            attachment_types: attachments.media_types,
            attachments_dir: None,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: String::new(),
            s3_prefix: String::new(),
            s3_allow_http: false,
        }
    }
}

/// Why the settings do not hold together (said with the key and where it
/// came from).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

impl Settings {
    /// Defaults, then the file (if any; it must exist), then `flags`, each
    /// a layer of given values only (environment variables arrive as flags).
    pub fn load(
        file: Option<&Path>,
        flags: &[&dyn erased::Layer],
    ) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError(format!(
                    "--config {}: no such file",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        for layer in flags {
            figment = figment.merge(Serialized::defaults(layer.values()?));
        }
        let settings: Settings = figment.extract().map_err(|e| ConfigError(one_line(&e)))?;
        settings.check()?;
        Ok(settings)
    }

    /// What no single value can say: pairs that go together, lists of
    /// known values.
    fn check(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError(
                "tls_cert and tls_key (--tls-cert, --tls-key) go together: give both or neither"
                    .into(),
            ));
        }
        if self.jwt_key_file.is_some() && self.jwt_secret.as_deref().is_some_and(|s| !s.is_empty())
        {
            return Err(ConfigError(
                "jwt_key_file and jwt_secret (--jwt-key-file, GRIDSYNC_JWT_SECRET): give one"
                    .into(),
            ));
        }
        if self.s3_bucket.is_some() && self.attachments_dir.is_some() {
            return Err(ConfigError(
                "s3_bucket and attachments_dir: attachments go to one place; give one".into(),
            ));
        }
        for t in &self.attachment_types {
            if !gridsync_core::ATTACHMENT_MEDIA_TYPES.contains(&t.as_str()) {
                return Err(ConfigError(format!(
                    "attachment_types: `{t}` is not one of {}",
                    gridsync_core::ATTACHMENT_MEDIA_TYPES.join(", ")
                )));
            }
        }
        for p in &self.trusted_proxies {
            crate::access::parse_trusted(p).map_err(ConfigError)?;
        }
        Ok(())
    }

    /// The request limits these settings make.
    pub fn limits(&self) -> Limits {
        Limits {
            max_body_bytes: self.max_body_bytes,
            max_batch: self.max_batch,
            sweep_every: (self.sweep_secs > 0).then(|| Duration::from_secs(self.sweep_secs)),
            attachments: AttachmentLimits {
                max_bytes: self.max_attachment_bytes,
                daily_bytes_per_device: self.attachment_daily_bytes,
                media_types: self.attachment_types.clone(),
                ..AttachmentLimits::default()
            },
            trusted_proxies: self
                .trusted_proxies
                .iter()
                .filter_map(|p| crate::access::parse_trusted(p).ok())
                .collect(),
            body_idle_timeout: Duration::from_secs(self.body_idle_timeout_secs.max(1)),
            head_timeout: Duration::from_secs(self.head_timeout_secs.max(1)),
            keep_alive: Duration::from_secs(self.keep_alive_secs),
            max_requests_per_address: self.max_requests_per_address.max(1),
            metrics_token: self
                .metrics_token
                .clone()
                .filter(|t| !t.is_empty())
                .map(Secret),
            ..Limits::default()
        }
    }

    /// Where attachment bytes go: the bucket, the folder given, or a folder
    /// beside the SQLite file (`gridsync.db` → `gridsync-attachments/`).
    pub fn blob_store(
        &self,
        db: &Database,
    ) -> Result<Arc<dyn BlobStore>, Box<dyn std::error::Error>> {
        if let Some(bucket) = &self.s3_bucket {
            let config = S3Config {
                bucket: bucket.clone(),
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                access_key_id: None,
                secret_access_key: None,
                allow_http: self.s3_allow_http,
                prefix: self.s3_prefix.clone(),
            };
            tracing::info!(?config, "attachments in an S3-compatible bucket");
            return Ok(Arc::new(S3Store::open(&config)?));
        }
        let dir = match (&self.attachments_dir, db) {
            (Some(dir), _) => dir.clone(),
            (None, Database::Sqlite(file)) => {
                let stem = file
                    .file_stem()
                    .map_or("gridsync".into(), |s| s.to_string_lossy());
                file.with_file_name(format!("{stem}-attachments"))
            }
            (None, _) => "gridsync-attachments".into(),
        };
        tracing::info!(dir = %dir.display(), "attachments in a folder");
        Ok(Arc::new(DiskStore::open(&dir)?))
    }

    /// The settings as a TOML file would say them, secrets masked: what
    /// `gridsync config --print` shows.
    pub fn masked_toml(&self) -> String {
        let mut shown = self.clone();
        let mask = |s: &mut Option<String>| {
            if s.as_deref().is_some_and(|v| !v.is_empty()) {
                *s = Some("***".into());
            }
        };
        mask(&mut shown.jwt_secret);
        mask(&mut shown.metrics_token);
        shown.database_url = shown.database_url.as_deref().map(mask_url);
        toml::to_string(&shown).expect("settings serialize as TOML")
    }
}

/// A database URL with its password (in the user part or a `password=`
/// parameter) masked.
pub fn mask_url(url: &str) -> String {
    let mut out = url.to_owned();
    if let Some(scheme_end) = out.find("://") {
        let rest = scheme_end + 3;
        if let Some(at) = out[rest..].find('@').map(|i| rest + i) {
            if let Some(colon) = out[rest..at].find(':').map(|i| rest + i) {
                out.replace_range(colon + 1..at, "***");
            }
        }
    }
    if let Some(start) = out.find("password=").map(|i| i + "password=".len()) {
        let end = out[start..]
            .find(['&', ' '])
            .map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "***");
    }
    out
}

/// A figment error in one line: what, which key, from where.
fn one_line(e: &figment::Error) -> String {
    e.clone()
        .into_iter()
        .map(|e| {
            // A TOML parse error draws the line with a caret below it: the
            // drawing (lines with `|`) is left out, the words kept.
            e.to_string()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.contains('|'))
                .collect::<Vec<_>>()
                .join(": ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Layers of given values (the flag structs), taken as one kind.
pub mod erased {
    use super::ConfigError;

    pub trait Layer {
        fn values(&self) -> Result<figment::value::Dict, ConfigError>;
    }

    impl<T: serde::Serialize> Layer for T {
        fn values(&self) -> Result<figment::value::Dict, ConfigError> {
            figment::value::Value::serialize(self)
                .map_err(|e| ConfigError(e.to_string()))?
                .into_dict()
                .ok_or_else(|| ConfigError("flags are not a table".into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        global: GlobalFlags,
        #[command(flatten)]
        serve: ServeFlags,
    }

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("gridsync").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn a_flag_overrides_the_file_which_overrides_the_default() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gridsync.toml");
        std::fs::write(
            &file,
            r#"
            addr = "0.0.0.0:9000"
            max_batch = 200
            trusted_proxies = ["10.0.0.0/8"]
            pool_size = 4
            "#,
        )
        .unwrap();
        let cli = parse(&["--max-batch", "300", "--pool-size", "6"]);
        let s = Settings::load(Some(&file), &[&cli.global, &cli.serve]).unwrap();
        assert_eq!(s.addr, "0.0.0.0:9000", "from the file");
        assert_eq!(s.max_batch, 300, "the flag over the file");
        assert_eq!(s.pool_size, 6);
        assert_eq!(s.trusted_proxies, ["10.0.0.0/8"]);
        assert_eq!(s.keep_alive_secs, 60, "the default");
        assert_eq!(s.limits().trusted_proxies.len(), 1);
        // No file, no flags: the defaults, which are Limits' own.
        let s = Settings::load(None, &[&GlobalFlags::default(), &ServeFlags::default()]).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.limits().max_body_bytes, Limits::default().max_body_bytes);
    }

    #[test]
    fn a_wrong_file_says_which_key_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("max_batchh = 1", "max_batchh"),
            ("max_batch = \"many\"", "max_batch"),
            ("trusted_proxies = [\"everyone\"]", "everyone"),
            ("tls_cert = \"a.pem\"", "tls_key"),
            ("attachment_types = [\"text/html\"]", "text/html"),
            ("addr = ", "gridsync.toml"),
        ];
        for (text, says) in cases {
            let file = dir.path().join("gridsync.toml");
            std::fs::write(&file, text).unwrap();
            let e = Settings::load(Some(&file), &[]).unwrap_err().to_string();
            assert!(e.contains(says), "{text}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let e = Settings::load(Some(&dir.path().join("none.toml")), &[]).unwrap_err();
        assert!(e.to_string().contains("none.toml"), "{e}");
    }

    #[test]
    fn printed_settings_mask_secrets_and_read_back_as_a_file() {
        let cli = parse(&[
            "--database-url",
            "postgres://gridsync:hunter2hunter2@db/gs?sslmode=require",
            "--jwt-secret",
            "a-secret-of-thirty-two-bytes-or-more",
            "--metrics-token",
            "scrape-me",
        ]);
        let s = Settings::load(None, &[&cli.global, &cli.serve]).unwrap();
        let printed = s.masked_toml();
        for secret in ["hunter2", "a-secret-of", "scrape-me"] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert!(
            printed.contains("postgres://gridsync:***@db/gs?sslmode=require"),
            "{printed}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("printed.toml");
        std::fs::write(&file, &printed).unwrap();
        let back = Settings::load(Some(&file), &[]).unwrap();
        assert_eq!(back.addr, s.addr);
        assert_eq!(back.attachment_types, s.attachment_types);
        assert_eq!(
            mask_url("host=db password=pw user=u"),
            "host=db password=*** user=u"
        );
    }
}
