//! `gridsync-device`: a phone in a terminal. Its state lives in a folder of
//! its own (`--dir`), so several "phones" can run side by side and a script
//! can drive them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gridsync_client::client::now_rfc3339;
use gridsync_client::{input, Client, ClientError, Http, LocalStore, Progress};
use gridsync_core::{Entry, Level, Schema, Value};
use serde_json::json;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "gridsync-device",
    version,
    about = "A gridsync phone in a terminal: enroll, work offline, sync."
)]
struct Cli {
    /// The device's folder (its local store).
    #[arg(
        long,
        env = "GRIDSYNC_DEVICE_DIR",
        default_value = "gridsync-device",
        global = true
    )]
    dir: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The caption of files attached as FIELD=@FILE.
    #[arg(long, global = true)]
    caption: Option<String>,
    /// A PEM file of the CA that signed an `https://` server's certificate,
    /// trusted besides the system's roots (an intranet's private CA). Given
    /// at enroll, it is kept in the device's folder for later commands.
    #[arg(long, env = "GRIDSYNC_CA_CERT", global = true)]
    ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and register this install.
    Enroll {
        #[arg(long, env = "GRIDSYNC_SERVER")]
        server: String,
        #[arg(long)]
        user: String,
        #[arg(long, env = "GRIDSYNC_PASSWORD", hide_env_values = true)]
        password: String,
        /// A name for the install, shown to admins.
        #[arg(long)]
        name: Option<String>,
        /// Grids to pull (repeat); all of the user's node when absent.
        #[arg(long = "grid")]
        grids: Vec<String>,
    },
    /// Create a record: `create event --grid G title=… status=reported`.
    /// A photo or scan is attached with FIELD=@FILE (`agreement_scan=@page.jpg`).
    Create {
        collection: String,
        #[arg(long)]
        grid: String,
        /// The record's id (a new one when absent).
        #[arg(long)]
        id: Option<Uuid>,
        /// FIELD=VALUE for scalar fields.
        fields: Vec<String>,
        #[arg(long = "add", value_name = "FIELD=MEMBER")]
        add: Vec<String>,
    },
    /// Edit a record: scalar fields, set members, level, counters.
    Edit {
        id: Uuid,
        /// FIELD=VALUE for scalar fields (an empty value clears).
        fields: Vec<String>,
        #[arg(long = "add", value_name = "FIELD=MEMBER")]
        add: Vec<String>,
        #[arg(long = "remove", value_name = "FIELD=MEMBER")]
        remove: Vec<String>,
        #[arg(long, value_name = "LEVEL")]
        escalate: Option<String>,
        #[arg(long = "increment", value_name = "FIELD=N")]
        increment: Vec<String>,
        /// Bring a deleted record back.
        #[arg(long)]
        restore: bool,
    },
    /// Append an entry to a log field: a visit, a mediation session, an
    /// inspection, an action, a photo: `append ID visits result=stable note=…`,
    /// `append ID photos photo=@before.jpg stage=before`.
    Append {
        id: Uuid,
        field: String,
        /// KEY=VALUE for the entry's fields.
        entries: Vec<String>,
        /// When it happened (RFC 3339); now when absent.
        #[arg(long)]
        at: Option<String>,
    },
    /// Check in at a checkpoint of a patrol round.
    CheckIn {
        round: Uuid,
        checkpoint: String,
        #[arg(long, default_value = "qr")]
        method: String,
        #[arg(long)]
        note: Option<String>,
        /// lat,lng
        #[arg(long)]
        position: Option<String>,
    },
    /// Soft-delete a record.
    Delete { id: Uuid },
    /// One record as merged here.
    Show { id: Uuid },
    /// The records held here.
    List {
        #[arg(long)]
        collection: Option<String>,
        #[arg(long)]
        grid: Option<String>,
    },
    /// Fields with concurrent values, each with its writers.
    Conflicts,
    /// What is yours to do, as the last sync brought it (works offline):
    /// cases assigned to you or your department, overdue or due within
    /// 24 hours, escalated to your level; conflicts; refused changes.
    Inbox,
    /// Resolve a conflict by writing the field (a value, or --pick N of the
    /// listed values).
    Resolve {
        id: Uuid,
        field: String,
        value: Option<String>,
        #[arg(long)]
        pick: Option<usize>,
    },
    /// Changes the server refused, with its reasons.
    Refused,
    /// After an admin revoked this install (sync says `device_revoked`):
    /// log in again as its user and hand the unsent changes to the
    /// server's quarantine, where a supervisor accepts or rejects each. They
    /// move to the refused list here (code `device_revoked`), kept.
    Handover {
        #[arg(long, env = "GRIDSYNC_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Identity, cursor, outbox, conflicts.
    Status,
    /// Push the outbox and pull until caught up, then upload the photos of
    /// acknowledged changes (resuming where the server stands).
    Sync {
        /// Changes per round trip.
        #[arg(long)]
        batch: Option<usize>,
        /// Attachment chunk size in bytes (the server's suggestion when absent).
        #[arg(long)]
        chunk: Option<u64>,
    },
    /// Fetch an attachment of a record (by its hash) into this device's
    /// folder, resuming a partial download; print where it is.
    Fetch {
        sha256: String,
        /// Also copy it here.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(out) => {
            let text = if cli.json {
                serde_json::to_string_pretty(&out.json).expect("JSON prints")
            } else {
                out.text
            };
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{text}");
            ExitCode::from(out.status)
        }
        Err(e) => {
            if cli.json {
                let code = e.code().unwrap_or("device_error");
                eprintln!("{}", json!({"code": code, "message": e.to_string()}));
            } else {
                eprintln!("gridsync-device: {e}");
            }
            ExitCode::FAILURE
        }
    }
}

/// What a command prints: text for a person, JSON for a script; and its
/// exit status (0 unless said otherwise).
struct Out {
    text: String,
    json: serde_json::Value,
    status: u8,
}

fn out(text: impl Into<String>, json: serde_json::Value) -> Out {
    Out {
        text: text.into(),
        json,
        status: 0,
    }
}

/// `sync`'s exit status when the sync itself went through: some changes
/// were refused (see `refused`).
pub const EXIT_REFUSED: u8 = 3;
/// `sync`'s exit status when changes or attachments are left waiting (the
/// outbox is not empty, or an upload did not finish): sync again later.
pub const EXIT_WAITING: u8 = 4;

fn usage(msg: impl Into<String>) -> ClientError {
    ClientError::Usage(msg.into())
}

/// Where enroll keeps the CA given with --ca-cert.
const KEPT_CA: &str = "server-ca.pem";

/// The server, trusting --ca-cert, else the CA kept at enroll, besides the
/// system's roots.
fn http(cli: &Cli, server: &str) -> Result<Http, ClientError> {
    let kept = cli.dir.join(KEPT_CA);
    match &cli.ca_cert {
        Some(ca) => Http::trusting(server, ca),
        None if kept.exists() => Http::trusting(server, &kept),
        None => Ok(Http::new(server)),
    }
}

fn open(cli: &Cli) -> Result<Client, ClientError> {
    let mut store = LocalStore::open_dir(&cli.dir)?;
    let server = store.device()?.ok_or(ClientError::NotEnrolled)?.server;
    Client::open_with(store, http(cli, &server)?)
}

fn collection_of(
    phone: &Client,
    id: Uuid,
) -> Result<&'static gridsync_core::CollectionDef, ClientError> {
    phone
        .replica()
        .record(id)
        .map(|r| r.collection)
        .ok_or_else(|| usage(format!("no record {id} on this device (sync first?)")))
}

/// Replace `FIELD=@FILE` arguments by the reference of the file, attached
/// (copied into the device folder) with the command's caption.
fn with_files(
    phone: &mut Client,
    args: &[String],
    caption: Option<&str>,
) -> Result<Vec<String>, ClientError> {
    args.iter()
        .map(|a| match a.split_once("=@") {
            Some((field, path)) if !field.is_empty() => {
                let att = phone.attach(std::path::Path::new(path), caption)?;
                Ok(format!(
                    "{field}={}",
                    gridsync_client::client::reference_json(&att)
                ))
            }
            _ => Ok(a.clone()),
        })
        .collect()
}

fn run(cli: &Cli) -> Result<Out, ClientError> {
    match &cli.command {
        Command::Enroll {
            server,
            user,
            password,
            name,
            grids,
        } => {
            let store = LocalStore::open_dir(&cli.dir)?;
            let name = name
                .clone()
                .unwrap_or_else(|| format!("{user}'s gridsync-device"));
            let grids = (!grids.is_empty()).then(|| grids.clone());
            let http = http(cli, server)?;
            let mut phone = Client::enroll(store, &http, user, password, &name, grids)?;
            if let Some(ca) = &cli.ca_cert {
                let kept = cli.dir.join(KEPT_CA);
                std::fs::copy(ca, &kept).map_err(|source| ClientError::Io {
                    path: kept.display().to_string(),
                    source,
                })?;
            }
            let status = phone.status()?;
            Ok(out(
                format!(
                    "enrolled {} as device {} (actor {}) in {}",
                    user,
                    status.device_id,
                    status.actor,
                    cli.dir.display()
                ),
                serde_json::to_value(status).expect("status serializes"),
            ))
        }
        Command::Create {
            collection,
            grid,
            id,
            fields,
            add,
        } => {
            let mut phone = open(cli)?;
            let def = Schema::current()
                .collection(collection)
                .ok_or_else(|| usage(format!("no collection `{collection}`")))?;
            let sets = pairs(add)?;
            let fields = with_files(&mut phone, fields, cli.caption.as_deref())?;
            let mut values = fields
                .iter()
                .map(|f| input::assignment(def, f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            // A case reported in the field says when, by this device's
            // clock (the server bounds it by when it receives the report).
            if def.field("reported_at").is_some() && !values.iter().any(|(f, _)| f == "reported_at")
            {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                values.push((
                    "reported_at".to_owned(),
                    gridsync_core::Value::from(now.as_str()),
                ));
            }
            // A UUID v7: ids made later sort later (docs/PROTOCOL.md).
            let id = id.unwrap_or_else(Uuid::now_v7);
            let change = phone.make(|d| {
                let mut e = d.create(collection, grid, id);
                for (f, v) in values {
                    e = e.set(&f, v);
                }
                for (f, m) in &sets {
                    e = e.add(f, m);
                }
                e.commit()
            })?;
            Ok(out(id.to_string(), json!({"id": id, "seq": change.seq})))
        }
        Command::Edit {
            id,
            fields,
            add,
            remove,
            escalate,
            increment,
            restore,
        } => {
            let mut phone = open(cli)?;
            let def = collection_of(&phone, *id)?;
            let fields = with_files(&mut phone, fields, cli.caption.as_deref())?;
            let values = fields
                .iter()
                .map(|f| input::assignment(def, f))
                .collect::<Result<Vec<_>, _>>()
                .map_err(usage)?;
            let (adds, removes) = (pairs(add)?, pairs(remove)?);
            let level = escalate
                .as_deref()
                .map(|l| {
                    Level::ALL
                        .into_iter()
                        .find(|x| x.as_str() == l)
                        .ok_or_else(|| {
                            usage(format!(
                                "`{l}` is not a level (grid, community, park, district)"
                            ))
                        })
                })
                .transpose()?;
            let counts = pairs(increment)?
                .into_iter()
                .map(|(f, n)| {
                    n.parse::<u64>()
                        .map(|n| (f, n))
                        .map_err(|_| usage(format!("`{n}` is not a count")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let change = phone.make(|d| {
                let mut e = d.edit(*id);
                if *restore {
                    e = e.restore();
                }
                for (f, v) in values {
                    e = e.set(&f, v);
                }
                for (f, m) in &adds {
                    e = e.add(f, m);
                }
                for (f, m) in &removes {
                    e = e.remove(f, m);
                }
                if let Some(l) = level {
                    e = e.escalate(l);
                }
                for (f, n) in &counts {
                    e = e.increment(f, *n);
                }
                e.commit()
            })?;
            Ok(out(
                format!("edited {id} (seq {})", change.seq),
                json!({"id": id, "seq": change.seq}),
            ))
        }
        Command::Append {
            id,
            field,
            entries,
            at,
        } => {
            let mut phone = open(cli)?;
            let def = collection_of(&phone, *id)?;
            let entries = with_files(&mut phone, entries, cli.caption.as_deref())?;
            let fields = entries
                .iter()
                .map(|e| input::entry_field(def, field, e))
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map_err(usage)?;
            append(&mut phone, *id, field, fields, at.clone())
        }
        Command::CheckIn {
            round,
            checkpoint,
            method,
            note,
            position,
        } => {
            let mut phone = open(cli)?;
            let def = collection_of(&phone, *round)?;
            let mut args = vec![
                format!("checkpoint={checkpoint}"),
                format!("method={method}"),
            ];
            args.extend(note.iter().map(|n| format!("note={n}")));
            args.extend(position.iter().map(|p| format!("position={p}")));
            let fields = args
                .iter()
                .map(|a| input::entry_field(def, "check_ins", a))
                .collect::<Result<BTreeMap<_, _>, _>>()
                .map_err(usage)?;
            append(&mut phone, *round, "check_ins", fields, None)
        }
        Command::Delete { id } => {
            let mut phone = open(cli)?;
            let change = phone.make(|d| d.delete(*id))?;
            Ok(out(
                format!("deleted {id} (seq {})", change.seq),
                json!({"id": id, "seq": change.seq}),
            ))
        }
        Command::Show { id } => {
            let mut phone = open(cli)?;
            let view = phone
                .view(*id)
                .ok_or_else(|| usage(format!("no record {id} on this device")))?;
            let states = phone.attachment_states(*id)?;
            let mut text = labelled(&view);
            if !states.is_empty() {
                text.push_str("\nattachments:");
                for a in &states {
                    text.push_str(&format!("\n  {}", a.describe()));
                }
            }
            let mut json = serde_json::to_value(&view).expect("views serialize");
            json["attachments"] = serde_json::to_value(&states).expect("states serialize");
            Ok(out(text, json))
        }
        Command::Fetch { sha256, out: copy } => {
            let mut phone = open(cli)?;
            let path = phone.fetch_attachment(sha256)?;
            if let Some(dest) = copy {
                std::fs::copy(&path, dest).map_err(|e| ClientError::Io {
                    path: dest.display().to_string(),
                    source: e,
                })?;
            }
            let shown = copy.as_ref().unwrap_or(&path);
            Ok(out(
                shown.display().to_string(),
                json!({"sha256": sha256, "path": shown}),
            ))
        }
        Command::List { collection, grid } => {
            let phone = open(cli)?;
            let mut rows = Vec::new();
            let mut text = String::new();
            for r in phone.replica().records() {
                if collection
                    .as_deref()
                    .is_some_and(|c| c != r.collection.name)
                    || grid.as_deref().is_some_and(|g| g != r.grid)
                {
                    continue;
                }
                let view = r.view();
                let s = view.summary();
                let title = title_of(&view);
                let status = s.status.as_deref().map(|code| {
                    r.collection
                        .field("status")
                        .and_then(|f| f.value_label(code))
                        .map_or(code, |l| l.zh)
                });
                text.push_str(&format!(
                    "{}  {:<8} {:<20} {:<10} {}{}\n",
                    r.id,
                    r.collection.label.zh,
                    r.grid,
                    status.unwrap_or("-"),
                    title,
                    if s.conflicts > 0 {
                        "  [冲突 conflict]"
                    } else {
                        ""
                    }
                ));
                rows.push(json!({"id": r.id, "collection": r.collection.name, "grid": r.grid,
                    "status": s.status, "title": title, "deleted": s.deleted, "conflicts": s.conflicts}));
            }
            text.push_str(&format!("{} records", rows.len()));
            Ok(out(text, json!(rows)))
        }
        Command::Inbox => {
            let mut phone = open(cli)?;
            let Some((inbox, at)) = phone.inbox()? else {
                return Ok(out(
                    "no inbox yet: sync first",
                    json!({"items": [], "as_of": null}),
                ));
            };
            let mut text = format!("inbox as of {} (synced {})\n", inbox.as_of, rfc3339(at));
            for item in &inbox.items {
                let def = item
                    .collection
                    .as_deref()
                    .and_then(|c| gridsync_core::Schema::current().collection(c));
                let status = match (def, item.status.as_deref()) {
                    (Some(d), Some(code)) => d
                        .field("status")
                        .and_then(|f| f.value_label(code))
                        .map_or(code.to_owned(), |l| l.zh.to_owned()),
                    (_, s) => s.unwrap_or("-").to_owned(),
                };
                text.push_str(&format!(
                    "{:<10} {:<8} {:<36} {:<8} {} {}\n",
                    item.kind.label().zh,
                    def.map_or("", |d| d.label.zh),
                    item.record.as_deref().unwrap_or("-"),
                    status,
                    item.label,
                    item.deadline
                        .as_deref()
                        .map(|d| format!("(期限 {d})"))
                        .unwrap_or_default(),
                ));
            }
            text.push_str(&format!("{} items", inbox.items.len()));
            Ok(out(
                text,
                serde_json::to_value(&inbox).expect("an inbox serializes"),
            ))
        }
        Command::Conflicts => {
            let phone = open(cli)?;
            let conflicts = phone.conflicts();
            let mut text = String::new();
            for c in &conflicts {
                text.push_str(&format!("{} {} `{}`:\n", c.collection, c.record, c.field));
                for (i, w) in c.values.iter().enumerate() {
                    text.push_str(&format!(
                        "  [{i}] {} (actor {}, seq {})\n",
                        serde_json::to_string(&w.value).expect("values print"),
                        w.actor,
                        w.seq
                    ));
                }
            }
            text.push_str(&format!("{} conflicts", conflicts.len()));
            Ok(out(
                text,
                serde_json::to_value(&conflicts).expect("conflicts serialize"),
            ))
        }
        Command::Resolve {
            id,
            field,
            value,
            pick,
        } => {
            let mut phone = open(cli)?;
            let def = collection_of(&phone, *id)?;
            let chosen: Value = match (value, pick) {
                (Some(v), None) => {
                    input::assignment(def, &format!("{field}={v}"))
                        .map_err(usage)?
                        .1
                }
                (None, Some(n)) => phone
                    .conflicts()
                    .into_iter()
                    .find(|c| c.record == *id && c.field == field)
                    .and_then(|c| c.values.get(*n).map(|w| w.value.clone()))
                    .ok_or_else(|| {
                        usage(format!("no value [{n}] in a conflict on `{field}` of {id}"))
                    })?,
                _ => return Err(usage("give either a VALUE or --pick N")),
            };
            let change = phone.make(|d| d.edit(*id).set(field, chosen).commit())?;
            Ok(out(
                format!("resolved `{field}` of {id} (seq {})", change.seq),
                json!({"id": id, "seq": change.seq}),
            ))
        }
        Command::Refused => {
            let mut phone = open(cli)?;
            let refused = phone.refused()?;
            let mut text = String::new();
            for r in &refused {
                text.push_str(&format!(
                    "seq {} record {}: {} {}\n",
                    r.seq, r.record, r.code, r.message
                ));
            }
            text.push_str(&format!("{} refused", refused.len()));
            Ok(out(
                text,
                serde_json::to_value(&refused).expect("rows serialize"),
            ))
        }
        Command::Handover { password } => {
            let mut phone = open(cli)?;
            let handed = phone.hand_over(password)?;
            let text = format!(
                "{handed} changes handed over to the server's quarantine, for a supervisor to accept or reject; see `refused`"
            );
            Ok(out(text, serde_json::json!({ "handed_over": handed })))
        }
        Command::Status => {
            let mut phone = open(cli)?;
            let s = phone.status()?;
            let text = format!(
                "{} on {} (device {}, actor {})\n{}{}\n{} records, {} changes waiting, {} refused, {} conflicts\nattachments waiting to upload: {} ({} bytes)",
                s.username,
                s.server,
                s.device_id,
                s.actor,
                match (&s.last_sync_at, &s.cursor) {
                    (_, None) => "never pulled".to_owned(),
                    (Some(at), Some(_)) => format!(
                        "last synced {}",
                        chrono::DateTime::from_timestamp_millis(*at)
                            .map(|d| d.to_rfc3339())
                            .unwrap_or_default()
                    ),
                    (None, Some(_)) => "pulled".to_owned(),
                },
                if s.transfer_in_progress { " (transfer under way)" } else { "" },
                s.records,
                s.outbox,
                s.refused,
                s.conflicts,
                s.uploads_waiting,
                s.upload_bytes_left
            );
            Ok(out(
                text,
                serde_json::to_value(s).expect("status serializes"),
            ))
        }
        Command::Sync { batch, chunk } => {
            let mut phone = open(cli)?;
            if let Some(b) = batch {
                phone.options.batch = (*b).max(1);
            }
            phone.options.upload_chunk = chunk.map(|c| c.max(1));
            // Test hooks: die right after the Nth answer arrives, before it
            // is stored, or right after the Nth chunk is acknowledged (the
            // crash tests use them).
            let hook = |name: &str| -> Option<u32> {
                std::env::var(name).ok().and_then(|v| v.parse().ok())
            };
            let die_after = hook("GRIDSYNC_DEVICE_DIE_AFTER_ANSWERS");
            let die_after_chunks = hook("GRIDSYNC_DEVICE_DIE_AFTER_CHUNKS");
            let report = phone.sync_observed(&mut |p| match p {
                Progress::Answered(a) if die_after == Some(a.round_trip) => std::process::abort(),
                Progress::Chunk(c) if die_after_chunks == Some(c.chunks) => std::process::abort(),
                _ => {}
            })?;
            let waiting = phone.outbox_len()?;
            let problems: String = report
                .upload_problems
                .iter()
                .map(|(sha, why)| format!("\n  {}: {why}", &sha[..12]))
                .chain(
                    report
                        .set_aside
                        .iter()
                        .map(|why| format!("\nset aside: {why}")),
                )
                .collect();
            let status = if report.refused > 0 {
                EXIT_REFUSED
            } else if waiting > 0 || report.uploads_waiting > 0 {
                EXIT_WAITING
            } else {
                0
            };
            Ok(Out {
                status,
                ..out(
                format!(
                    "synced: {} delivered, {} refused, {} changes and {} records pulled in {} round trips; {} waiting\n\
                     attachments: {} uploaded ({} bytes sent), {} waiting{problems}",
                    report.delivered,
                    report.refused,
                    report.pulled_changes,
                    report.pulled_records,
                    report.round_trips,
                    waiting,
                    report.uploaded,
                    report.upload_bytes,
                    report.uploads_waiting,
                ),
                serde_json::to_value(&report).expect("report serializes"),
            )
            })
        }
    }
}

fn append(
    phone: &mut Client,
    id: Uuid,
    field: &str,
    fields: BTreeMap<String, Value>,
    at: Option<String>,
) -> Result<Out, ClientError> {
    let entry = Entry {
        id: Uuid::new_v4(),
        at: at.unwrap_or_else(now_rfc3339),
        fields,
    };
    let entry_id = entry.id;
    let change = phone.make(|d| d.edit(id).append(field, entry).commit())?;
    Ok(out(
        format!(
            "appended {entry_id} to `{field}` of {id} (seq {})",
            change.seq
        ),
        json!({"id": id, "entry": entry_id, "seq": change.seq}),
    ))
}

/// `FIELD=MEMBER` arguments.
fn pairs(args: &[String]) -> Result<Vec<(String, String)>, ClientError> {
    args.iter()
        .map(|a| {
            input::split(a)
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .map_err(usage)
        })
        .collect()
}

/// A record's title, as its collection's definition names it.
fn title_of(view: &gridsync_core::RecordView) -> String {
    gridsync_core::Schema::current()
        .collection(view.collection)
        .and_then(|c| c.title)
        .and_then(|t| view.value(t.field()).as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A record for a person: each field by its label, codes by theirs.
fn labelled(view: &gridsync_core::RecordView) -> String {
    let Some(def) = gridsync_core::Schema::current().collection(view.collection) else {
        return serde_json::to_string_pretty(view).expect("views print");
    };
    let mut text = format!(
        "{} {} {} ({})\n",
        def.label.zh, def.label.en, view.id, view.grid
    );
    if let Some(level) = view.level {
        text.push_str(&format!(
            "  {} level: {}\n",
            level.label().zh,
            level.as_str()
        ));
    }
    for f in def.fields {
        let Some(shown) = view.fields.get(f.name) else {
            continue;
        };
        let code = |c: &str| match f.value_label(c) {
            Some(l) => format!("{} ({c})", l.zh),
            None => c.to_owned(),
        };
        let value = match shown {
            gridsync_core::FieldView::Scalar { value, conflict } => {
                let mut s = match value.as_str() {
                    Some(c) => code(c),
                    None => serde_json::to_string(value).expect("values print"),
                };
                if !conflict.is_empty() {
                    s.push_str("  [冲突 conflict]");
                }
                s
            }
            gridsync_core::FieldView::Set(members) => members
                .iter()
                .map(|m| code(m))
                .collect::<Vec<_>>()
                .join(", "),
            other => serde_json::to_string(other).expect("fields print"),
        };
        text.push_str(&format!("  {} {}: {}\n", f.label.zh, f.name, value));
    }
    text.trim_end().to_owned()
}

/// An instant (ms) as RFC 3339, to the second.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}
