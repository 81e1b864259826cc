use clap::{Parser, Subcommand};
use gridsync_server::auth::password;
use gridsync_server::config::erased::Layer;
use gridsync_server::config::{BlobFlags, GlobalFlags, LogFormat, ServeFlags, Settings};
use gridsync_server::db::citus::Want;
use gridsync_server::db::models::{NewUser, OrgNodeRow};
use gridsync_server::db::Database;
use gridsync_server::fixture::{self, Options, Shape};
use gridsync_server::{auth_for, open_store};
use tracing_subscriber::EnvFilter;

/// gridsync: offline-first sync for grid-based community safety work.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// A TOML file of settings: every flag, by its long name with `_`
    /// (`max_body_bytes = 1048576`, `trusted_proxies = ["10.0.0.0/8"]`).
    /// Environment variables and flags override it.
    #[arg(long, env = "GRIDSYNC_CONFIG", global = true)]
    config: Option<std::path::PathBuf>,

    #[command(flatten)]
    global: GlobalFlags,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the store and run the HTTP service.
    Serve {
        #[command(flatten)]
        flags: Box<ServeFlags>,
    },
    /// Check the settings (file, environment, flags) and say what is wrong;
    /// with --print, show the effective settings, secrets masked.
    Config {
        /// Print the effective settings as a TOML file.
        #[arg(long)]
        print: bool,
        #[command(flatten)]
        flags: Box<ServeFlags>,
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
        blobs: BlobFlags,
    },
    /// Import existing registers (households 房屋户, places 场所, residents
    /// 人口) from an .xlsx (a sheet per register, named by its Chinese label
    /// or code) or a .csv (one register, from --collection or its headers).
    /// Templates: GET /v1/import/templates/registers.xlsx. Each row becomes
    /// one change of the user's `import` device; a row whose record exists
    /// (same ID number; same grid and address; same grid, name and address)
    /// updates only what differs. Refused rows are listed with row, column
    /// and reason, and written to the report (docs/OPERATIONS.md).
    Import {
        /// The org node imported to: every row's grid must lie in it.
        #[arg(long)]
        node: String,
        /// The supervisor or admin (whose node contains --node) who imports.
        #[arg(long)]
        user: String,
        /// A CSV's register: household, place, resident or its Chinese
        /// label (default: found from the headers).
        #[arg(long)]
        collection: Option<String>,
        /// Where the report of refused rows goes [default: beside FILE, as
        /// FILE's name with `.report.csv`].
        #[arg(long)]
        report: Option<std::path::PathBuf>,
        /// The .xlsx or .csv file (UTF-8, or GBK/GB18030 as Excel saves it).
        file: std::path::PathBuf,
    },
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
    // Defaults, the file, then the environment and flags of this command.
    let layers: Vec<&dyn Layer> = match &cli.command {
        Command::Serve { flags } | Command::Config { flags, .. } => vec![&cli.global, &**flags],
        Command::Seed { blobs, .. } => vec![&cli.global, blobs],
        _ => vec![&cli.global],
    };
    let settings = Settings::load(cli.config.as_deref(), &layers)?;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour only for a person at a terminal; a file or a journal gets text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout())
        && std::env::var_os("NO_COLOR").is_none();
    match settings.log_format {
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
    if let Command::Config { print, .. } = cli.command {
        if print {
            let file = cli
                .config
                .as_deref()
                .map_or("no file".into(), |f| f.display().to_string());
            println!("# gridsync settings: defaults, then {file}, then the environment and flags");
            println!("# (secrets masked; an unset setting is not shown)");
            print!("{}", settings.masked_toml());
        } else {
            println!("the settings hold together (gridsync config --print shows them)");
        }
        return Ok(());
    }
    if let Command::NewKey = cli.command {
        let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
        println!("{}", gridsync_server::auth::tokens::new_key_line(&today));
        return Ok(());
    }
    let db = Database::from_url(settings.database_url.as_deref())?;
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
    let store = open_store(&db, settings.pool_size)
        .map_err(|e| format!("the store at {}: {e}", db.describe()))?;
    match cli.command {
        Command::Migrate { .. } | Command::NewKey | Command::Config { .. } => {
            unreachable!("done above")
        }
        Command::Seed {
            fixture: name,
            scale,
            seed,
            as_of,
            blobs: _,
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
            let blobs = settings.blob_store(&db)?;
            actix_web::rt::System::new().block_on(fixture::keep_photos(
                &store,
                &*blobs,
                &report.photos,
            ))?;
            print!("{report}");
            println!("{}", fixture::logins(&report.logins, Some(3)));
        }
        Command::Import {
            node,
            user,
            collection,
            report,
            file,
        } => {
            let opts = gridsync_server::import::Options {
                node,
                user,
                file: file.clone(),
                collection,
            };
            let bar = indicatif::ProgressBar::new(0).with_style(
                indicatif::ProgressStyle::with_template(
                    "{msg} [{bar:40}] {pos}/{len} rows ({elapsed}, {eta} left)",
                )?
                .progress_chars("=> "),
            );
            bar.set_message(format!("importing {}", file.display()));
            let summary = gridsync_server::import::run(&store, &opts, &mut |done, total| {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
            });
            bar.finish_and_clear();
            let summary = summary.unwrap_or_else(|e| fail(e));
            let path =
                report.unwrap_or_else(|| gridsync_server::import::report::default_path(&file));
            std::fs::write(
                &path,
                gridsync_server::import::report::to_csv(&summary.refusals)?,
            )
            .map_err(|e| format!("the report {}: {e}", path.display()))?;
            print!("{summary}");
            println!("report: {}", path.display());
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
        Command::Serve { flags: _ } => {
            let mut store = store;
            if let Some(path) = &settings.rules {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                store.rules = std::sync::Arc::new(gridsync_server::rules::Rules::from_json(&text)?);
            }
            let blobs = settings.blob_store(&db)?;
            if settings.demo {
                let (text, photos) = fixture::demo(&store)?;
                actix_web::rt::System::new()
                    .block_on(fixture::keep_photos(&store, &*blobs, &photos))?;
                println!("{text}");
            }
            let (keys, from) = gridsync_server::auth::keys::signing_keys(
                &db,
                settings.jwt_key_file.as_deref(),
                settings.jwt_secret.as_deref(),
            )?;
            tracing::info!(from = %from, signing = keys.signing_kid(), keys = ?keys.kids(), "token signing keys");
            let auth = auth_for(keys);
            let limits = settings.limits();
            let addr = &settings.addr;
            let certificates = match (&settings.tls_cert, &settings.tls_key) {
                (Some(cert), Some(key)) => {
                    Some(gridsync_server::tls::Certificates::load(cert, key)?)
                }
                _ => None,
            };
            let listener = gridsync_server::listen(addr)
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let scheme = if certificates.is_some() {
                "https"
            } else {
                "http"
            };
            tracing::info!(url = %format!("{scheme}://{}", listener.local_addr()?), "gridsync serving");
            actix_web::rt::System::new().block_on(async {
                let tls = certificates.as_ref().map(|c| c.server_config());
                actix_web::rt::spawn(async move {
                    if let Err(e) = gridsync_server::tls::reload_on_hangup(certificates).await {
                        tracing::error!(error = %e, "cannot watch for SIGHUP");
                    }
                });
                gridsync_server::serve_on(listener, tls, store, limits, auth, blobs)?.await
            })?;
        }
    }
    Ok(())
}
