use clap::{Parser, Subcommand};
use gridsync_server::auth::password;
use gridsync_server::db::citus::Want;
use gridsync_server::db::models::{NewUser, OrgNodeRow};
use gridsync_server::db::Database;
use gridsync_server::fixture::{self, Options, Shape};
use std::sync::Arc;

use gridsync_server::attachments::AttachmentLimits;
use gridsync_server::blobs::disk::DiskStore;
use gridsync_server::blobs::s3::{S3Config, S3Store};
use gridsync_server::blobs::BlobStore;
use gridsync_server::{auth_for, open_store, Limits};
use tracing_subscriber::EnvFilter;

/// gridsync: offline-first sync for grid-based community safety work.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Where the store lives: none for the embedded SQLite file ./gridsync.db,
    /// a path or sqlite://PATH for another file, postgres://… for PostgreSQL.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,

    /// Database connections in the pool.
    #[arg(long, env = "GRIDSYNC_POOL_SIZE", default_value_t = 8, global = true)]
    pool_size: u32,

    /// Log lines as `text` (colour only at a terminal, never with NO_COLOR)
    /// or `json` (one object a line, for a log collector).
    #[arg(long, env = "GRIDSYNC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the store and run the HTTP service.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GRIDSYNC_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
        /// Largest request body in bytes.
        #[arg(long, env = "GRIDSYNC_MAX_BODY_BYTES", default_value_t = Limits::default().max_body_bytes)]
        max_body_bytes: usize,
        /// Most changes in one sync batch.
        #[arg(long, env = "GRIDSYNC_MAX_BATCH", default_value_t = Limits::default().max_batch)]
        max_batch: usize,
        /// Load the `demo` fixture first if the store has none, and print
        /// its logins.
        #[arg(long)]
        demo: bool,
        /// The signing keys of access tokens: a file of `KEY-ID SECRET`
        /// lines, the first signing (`gridsync new-key` makes a line), the
        /// same on every node. Without it and GRIDSYNC_JWT_SECRET, the
        /// embedded store makes one beside its database file (mode 0600).
        #[arg(long, env = "GRIDSYNC_JWT_KEY_FILE")]
        jwt_key_file: Option<std::path::PathBuf>,
        /// One secret that signs access tokens (at least 32 bytes), instead
        /// of a key file; all nodes of one deployment share it.
        #[arg(
            long,
            env = "GRIDSYNC_JWT_SECRET",
            hide_env_values = true,
            conflicts_with = "jwt_key_file"
        )]
        jwt_secret: Option<String>,
        /// A JSON file of deadline rules (see GET /v1/rules for the form);
        /// the built-in defaults otherwise.
        #[arg(long, env = "GRIDSYNC_RULES")]
        rules: Option<std::path::PathBuf>,
        /// Seconds between escalation sweeps; 0 runs them only on demand.
        #[arg(long, env = "GRIDSYNC_SWEEP_SECS", default_value_t = 600)]
        sweep_secs: u64,
        /// A reverse proxy (an address or a CIDR network) whose
        /// `Forwarded` / `X-Forwarded-For` headers name the client; repeat
        /// for several. From anyone else those headers are ignored.
        #[arg(long = "trusted-proxy", env = "GRIDSYNC_TRUSTED_PROXIES", value_delimiter = ',',
              value_parser = gridsync_server::access::parse_trusted)]
        trusted_proxies: Vec<ipnet::IpNet>,
        /// Seconds a request body may go without a byte before it is cut
        /// off (408 body_timeout); a slow link is fine, a stalled one is not.
        #[arg(long, env = "GRIDSYNC_BODY_IDLE_TIMEOUT_SECS", default_value_t = Limits::default().body_idle_timeout.as_secs())]
        body_idle_timeout_secs: u64,
        /// Seconds the request line and headers may take to arrive.
        #[arg(long, env = "GRIDSYNC_HEAD_TIMEOUT_SECS", default_value_t = Limits::default().head_timeout.as_secs())]
        head_timeout_secs: u64,
        /// Seconds an idle kept-alive connection stays open.
        #[arg(long, env = "GRIDSYNC_KEEP_ALIVE_SECS", default_value_t = Limits::default().keep_alive.as_secs())]
        keep_alive_secs: u64,
        /// Requests one client address may have in flight at once (429
        /// too_many_requests past it). Behind a proxy, see --trusted-proxy.
        #[arg(long, env = "GRIDSYNC_MAX_REQUESTS_PER_ADDRESS", default_value_t = Limits::default().max_requests_per_address)]
        max_requests_per_address: usize,
        /// When set, GET /metrics answers only `Authorization: Bearer
        /// <this>` (it shares the public port).
        #[arg(long, env = "GRIDSYNC_METRICS_TOKEN", hide_env_values = true)]
        metrics_token: Option<String>,
        /// Serve HTTPS with this PEM certificate chain (leaf first); with
        /// --tls-key. SIGHUP reloads both files without a restart.
        #[arg(long, env = "GRIDSYNC_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, env = "GRIDSYNC_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        #[command(flatten)]
        attachments: AttachmentArgs,
        #[command(flatten)]
        blobs: BlobArgs,
    },
    /// Create the first admin (and the district node it belongs to) on a
    /// fresh store. The password is read from GRIDSYNC_ADMIN_PASSWORD.
    CreateAdmin {
        #[arg(long)]
        username: String,
        /// The district's code (national administrative division code).
        #[arg(long)]
        district: String,
        /// The district's name.
        #[arg(long)]
        district_name: String,
    },
    /// Print a new signing key line (`KEY-ID SECRET`) for a key file
    /// (--jwt-key-file); docs/OPERATIONS.md says how to rotate.
    NewKey,
    /// Apply pending migrations, place the tables (on a Citus coordinator:
    /// distributed by grid) and exit, saying which layout the store has.
    Migrate {
        /// `auto`: distribute when the database has the Citus extension;
        /// `citus`: distribute or fail; `plain`: leave every table local.
        #[arg(long, value_enum, default_value_t = Want::Auto)]
        layout: Want,
    },
    /// Load a synthetic district (org tree, logins, records with a history
    /// of cases) through the sync path, into a store that does not hold it.
    Seed {
        /// `demo` (6 grids) or `district` (the reference district: 300
        /// grids); see fixtures/README.md.
        #[arg(long, default_value = "demo")]
        fixture: String,
        /// Multiplies the records of each grid (households, residents,
        /// cases); the org tree and the logins stay as they are.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
        scale: u32,
        /// The generator's seed: the same seed makes the same district.
        #[arg(long, default_value_t = fixture::DEFAULT_SEED)]
        seed: u64,
        /// The fixture's present (RFC 3339); its history ends there.
        /// Default: now, to the minute.
        #[arg(long)]
        as_of: Option<String>,
        /// Where the fixture's photos go (as for `serve`).
        #[command(flatten)]
        blobs: BlobArgs,
    },
}

/// Where attachment bytes are kept.
#[derive(Debug, clap::Args)]
struct BlobArgs {
    /// Folder for attachment bytes. Default: beside the SQLite file
    /// (`gridsync.db` keeps them in `gridsync-attachments/`), or
    /// ./gridsync-attachments with PostgreSQL.
    #[arg(long, env = "GRIDSYNC_ATTACHMENTS_DIR", conflicts_with = "s3_bucket")]
    attachments_dir: Option<std::path::PathBuf>,
    /// Keep attachments in this bucket of an S3-compatible store instead of
    /// a folder (what several server nodes share; docs/OPERATIONS.md).
    /// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "GRIDSYNC_S3_BUCKET")]
    s3_bucket: Option<String>,
    /// `https://host:port` of an S3-compatible server (none: AWS).
    #[arg(long, env = "GRIDSYNC_S3_ENDPOINT", requires = "s3_bucket")]
    s3_endpoint: Option<String>,
    /// The bucket's region (empty: AWS_REGION, else us-east-1).
    #[arg(long, env = "GRIDSYNC_S3_REGION", default_value = "")]
    s3_region: String,
    /// A folder in the bucket for every object of this deployment.
    #[arg(long, env = "GRIDSYNC_S3_PREFIX", default_value = "")]
    s3_prefix: String,
    /// Allow an http:// endpoint (a private network, a test server).
    #[arg(long, env = "GRIDSYNC_S3_ALLOW_HTTP")]
    s3_allow_http: bool,
}

/// What attachments are accepted.
#[derive(Debug, clap::Args)]
struct AttachmentArgs {
    /// Largest attachment, in bytes.
    #[arg(long, env = "GRIDSYNC_MAX_ATTACHMENT_BYTES",
          default_value_t = AttachmentLimits::default().max_bytes)]
    max_attachment_bytes: u64,
    /// Attachment bytes one device may send per day (China time).
    #[arg(long, env = "GRIDSYNC_ATTACHMENT_DAILY_BYTES",
          default_value_t = AttachmentLimits::default().daily_bytes_per_device)]
    attachment_daily_bytes: u64,
    /// Media types accepted, comma-separated (of image/jpeg, image/png,
    /// image/webp, application/pdf).
    #[arg(long, env = "GRIDSYNC_ATTACHMENT_TYPES", value_delimiter = ',',
          default_values_t = AttachmentLimits::default().media_types)]
    attachment_types: Vec<String>,
}

impl BlobArgs {
    fn store(&self, db: &Database) -> Result<Arc<dyn BlobStore>, Box<dyn std::error::Error>> {
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
}

impl AttachmentArgs {
    fn limits(&self) -> Result<AttachmentLimits, String> {
        for t in &self.attachment_types {
            if !gridsync_core::ATTACHMENT_MEDIA_TYPES.contains(&t.as_str()) {
                return Err(format!(
                    "--attachment-types: `{t}` is not one of {}",
                    gridsync_core::ATTACHMENT_MEDIA_TYPES.join(", ")
                ));
            }
        }
        Ok(AttachmentLimits {
            max_bytes: self.max_attachment_bytes,
            daily_bytes_per_device: self.attachment_daily_bytes,
            media_types: self.attachment_types.clone(),
            ..AttachmentLimits::default()
        })
    }
}

/// Say why and exit with status 1.
fn fail(why: impl std::fmt::Display) -> ! {
    eprintln!("gridsync: {why}");
    std::process::exit(1)
}

/// Start-up errors are one line on stderr saying what and where, and exit 1.
fn main() {
    if let Err(e) = run() {
        fail(e)
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal; a file or a journal gets text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    match cli.log_format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(ansi)
            .init(),
        LogFormat::Json => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .json()
            .flatten_event(true)
            .init(),
    }
    if let Command::NewKey = cli.command {
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        println!("{}", gridsync_server::auth::tokens::new_key_line(&today));
        return Ok(());
    }
    let db = Database::from_url(cli.database_url.as_deref())?;
    tracing::info!(database = %db.describe(), "opening store");
    if let Command::Migrate { layout } = cli.command {
        let pool = gridsync_server::db::Pool::open(&db, 1)
            .map_err(|e| format!("the store at {}: {e}", db.describe()))?;
        let (applied, layout) = pool.migrate_to(layout).unwrap_or_else(|e| fail(e));
        println!(
            "store at {} is up to date ({} migrations applied now); layout: {layout}",
            db.describe(),
            applied.len()
        );
        return Ok(());
    }
    let store = open_store(&db, cli.pool_size)
        .map_err(|e| format!("the store at {}: {e}", db.describe()))?;
    match cli.command {
        Command::Migrate { .. } | Command::NewKey => unreachable!("done above"),
        Command::Seed {
            fixture: name,
            scale,
            seed,
            as_of,
            blobs,
        } => {
            let shape = Shape::named(&name).unwrap_or_else(|e| fail(e));
            let as_of = match as_of {
                Some(t) => chrono::DateTime::parse_from_rfc3339(&t)
                    .map_err(|e| format!("--as-of {t}: {e}"))?
                    .timestamp_millis(),
                None => fixture::this_minute(),
            };
            let options = Options {
                seed,
                scale: scale as usize,
                as_of,
            };
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {pos}/{len} changes ({elapsed}, {eta} left)",
                )?
                .progress_chars("=> "),
            );
            bar.set_message(format!("loading `{name}`"));
            let report = fixture::load(&store, &shape, options, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            // Said plainly (not as a debug dump): e.g. already loaded.
            let report = report.unwrap_or_else(|e| fail(e));
            let blobs = blobs.store(&db)?;
            actix_web::rt::System::new().block_on(fixture::keep_photos(
                &store,
                &*blobs,
                &report.photos,
            ))?;
            print!("{report}");
            println!("{}", fixture::logins(&report.logins, Some(3)));
        }
        Command::CreateAdmin {
            username,
            district,
            district_name,
        } => {
            let pw = std::env::var("GRIDSYNC_ADMIN_PASSWORD")
                .map_err(|_| "set GRIDSYNC_ADMIN_PASSWORD")?;
            password::acceptable(&pw)?;
            let now = gridsync_server::api::now_ms();
            if !store.org_tree()?.iter().any(|n| n.code == district) {
                store.create_node(&OrgNodeRow {
                    code: district.clone(),
                    parent: None,
                    level: "district".into(),
                    name: district_name,
                    created_at: now,
                    updated_at: now,
                })?;
            }
            let user = store.create_user(&NewUser {
                id: 0,
                username,
                full_name: "Administrator".into(),
                password_hash: password::hash(&pw),
                role: "admin".into(),
                node: district,
                disabled: false,
                created_at: now,
                updated_at: now,
            })?;
            println!("admin `{}` created (user {})", user.username, user.id);
        }
        Command::Serve {
            addr,
            max_body_bytes,
            max_batch,
            demo,
            jwt_key_file,
            jwt_secret,
            rules,
            sweep_secs,
            trusted_proxies,
            body_idle_timeout_secs,
            head_timeout_secs,
            keep_alive_secs,
            max_requests_per_address,
            metrics_token,
            tls_cert,
            tls_key,
            attachments,
            blobs,
        } => {
            let mut store = store;
            if let Some(path) = rules {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                store.rules = std::sync::Arc::new(gridsync_server::rules::Rules::from_json(&text)?);
            }
            let blobs = blobs.store(&db)?;
            if demo {
                let (text, photos) = fixture::demo(&store)?;
                actix_web::rt::System::new()
                    .block_on(fixture::keep_photos(&store, &*blobs, &photos))?;
                println!("{text}");
            }
            let (keys, from) = gridsync_server::auth::keys::signing_keys(
                &db,
                jwt_key_file.as_deref(),
                jwt_secret.as_deref(),
            )?;
            tracing::info!(from = %from, signing = keys.signing_kid(), keys = ?keys.kids(), "token signing keys");
            let auth = auth_for(keys);
            let limits = Limits {
                max_body_bytes,
                max_batch,
                sweep_every: (sweep_secs > 0).then(|| std::time::Duration::from_secs(sweep_secs)),
                attachments: attachments.limits()?,
                trusted_proxies,
                body_idle_timeout: std::time::Duration::from_secs(body_idle_timeout_secs.max(1)),
                head_timeout: std::time::Duration::from_secs(head_timeout_secs.max(1)),
                keep_alive: std::time::Duration::from_secs(keep_alive_secs),
                max_requests_per_address: max_requests_per_address.max(1),
                metrics_token: metrics_token
                    .filter(|t| !t.is_empty())
                    .map(gridsync_server::Secret),
                ..Limits::default()
            };
            let certificates = match (&tls_cert, &tls_key) {
                (Some(cert), Some(key)) => {
                    Some(gridsync_server::tls::Certificates::load(cert, key)?)
                }
                _ => None,
            };
            let listener = gridsync_server::listen(&addr)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let scheme = if certificates.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(url = %format!("{scheme}://{}", listener.local_addr()?), "gridsync serving");
            actix_web::rt::System::new().block_on(async {
                let tls = certificates.as_ref().map(|c| c.server_config());
                if let Some(certificates) = certificates {
                    actix_web::rt::spawn(async move {
                        if let Err(e) = certificates.reload_on_hangup().await {
                            tracing::error!(error = %e, "cannot watch for SIGHUP");
                        }
                    });
                }
                gridsync_server::serve_on(listener, tls, store, limits, auth, blobs)?.await
            })?;
        }
    }
    Ok(())
}
