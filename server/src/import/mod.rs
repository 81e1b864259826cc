//! Import of existing registers (人口/房屋/场所: residents, households,
//! places) from a spreadsheet or a CSV file, as `gridsync import` runs it
//! (docs/OPERATIONS.md, "Importing existing registers").
//!
//! - [`columns`]: which columns a register has, from the schema's labels;
//! - [`read`]: the file's sheets and rows as text;
//! - [`row`]: a row's values and the change it makes;
//! - [`keys`]: the natural keys that make a re-import create nothing new;
//! - [`template`]: blank registers (also served by the API);
//! - [`report`]: what the import did, the refused rows.
//!
//! Every row is one change by the import's own device (a device named
//! `import` of the user who imports), made by a [`gridsync_core::Device`] so
//! it is validated as a phone's change is, and merged by [`Store::push`] as
//! any device's: the row is applied whole or refused whole, the change is
//! logged, and devices pull it. Nothing is written before the whole file
//! has been read and every sheet's header understood.

pub mod columns;
pub mod keys;
pub mod read;
pub mod report;
pub mod row;
pub mod template;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

use gridsync_core::{CollectionDef, Device, Record, Replica, Schema, Value};
use serde_json::value::RawValue;
use uuid::Uuid;

use self::columns::{collection_named, detect, list_collections, IMPORTABLE};
use self::keys::{key_of, Index, Key};
use self::read::{Kind, Sheet};
use self::report::{Counts, Summary};
use self::row::{change_for, Layout, Parsed, Refusal, Wanted};
use crate::api::now_ms;
use crate::auth::policy::{NodeLevel, OrgTree, Role};
use crate::store::identity::AuditEntry;
use crate::store::{allow_all, ChangeResult, Push, Store, StoreError};

/// Rows merged in one pushed batch (one write transaction).
pub const BATCH: usize = 1_000;

/// The name of the device an import writes as.
pub const DEVICE_NAME: &str = "import";

/// What to import.
#[derive(Debug, Clone)]
pub struct Options {
    /// The org node every row's grid must lie in.
    pub node: String,
    /// The supervisor or admin who imports.
    pub user: String,
    pub file: PathBuf,
    /// For a CSV: its collection (else found from the headers); for a
    /// workbook with one sheet not named after a collection: that sheet's.
    pub collection: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is not a register that can be read: nothing was imported.
    #[error("{0}")]
    File(String),
    /// The import may not run as asked (the user, the node).
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One sheet to import: its rows and how to read them.
struct Register {
    sheet: Sheet,
    layout: Layout,
}

/// The registers of a file: each sheet's collection, from its name (a
/// workbook) or its headers (a CSV), and its header read. Sheets that name
/// no collection are skipped (and said).
fn registers(
    sheets: Vec<Sheet>,
    kind: Kind,
    collection: Option<&str>,
) -> Result<(Vec<Register>, Vec<String>), ImportError> {
    let given = match collection {
        Some(c) => Some(collection_named(c).ok_or_else(|| {
            ImportError::File(format!(
                "--collection `{c}` is none of {}",
                list_collections()
            ))
        })?),
        None => None,
    };
    let single = sheets.len() == 1;
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for sheet in sheets {
        let c = match kind {
            Kind::Csv => match given {
                Some(c) => c,
                None => detect(&sheet.header)
                    .map_err(|e| ImportError::File(format!("{}: {e}", sheet.name)))?,
            },
            Kind::Workbook => match (collection_named(&sheet.name), given) {
                (Some(c), _) => c,
                (None, Some(c)) if single => c,
                (None, _) => {
                    skipped.push(format!(
                        "sheet `{}` names no register (sheets are named {})",
                        sheet.name,
                        list_collections()
                    ));
                    continue;
                }
            },
        };
        let layout = Layout::new(c, &sheet)
            .map_err(|e| ImportError::File(format!("{}: {e}", sheet.name)))?;
        out.push(Register { sheet, layout });
    }
    if out.is_empty() {
        return Err(ImportError::File(format!(
            "no register in the file (sheets are named {})",
            list_collections()
        )));
    }
    // Households before the residents that name them.
    out.sort_by_key(|r| {
        IMPORTABLE
            .iter()
            .position(|c| *c == r.layout.collection.name)
    });
    Ok((out, skipped))
}

/// Why `grid` may not hold an imported record, if it may not.
fn check_grid(
    tree: &OrgTree,
    grids: &BTreeSet<String>,
    node: &str,
    grid: &str,
) -> Result<(), String> {
    if grids.contains(grid) {
        return Ok(());
    }
    Err(match tree.level(grid) {
        None => format!("no grid `{grid}` in the org tree"),
        Some(NodeLevel::Grid) => format!("grid `{grid}` is not inside node `{node}`"),
        Some(level) => format!("`{grid}` is a {} node, not a grid", level.as_str()),
    })
}

/// The import's device: the user's device named [`DEVICE_NAME`], registered
/// on the first import (an actor of its own, so the audit and the rankings
/// see who imported).
fn device_of(store: &Store, user_id: i64) -> Result<(String, u32), StoreError> {
    store.own_device(user_id, DEVICE_NAME, now_ms())
}

/// The records of the node's grids that rows may register again, by key:
/// residents by ID number, households and places from their states.
fn index(
    store: &Store,
    schema: &'static Schema,
    collections: &BTreeSet<&'static str>,
    grids: &[String],
) -> Result<Index, StoreError> {
    let mut index = Index::default();
    let corrupt = |id: &str, e: &dyn std::fmt::Display| StoreError::Corrupt {
        id: id.to_owned(),
        reason: e.to_string(),
    };
    for c in collections {
        if *c == "resident" {
            for (id, grid, id_key) in store.resident_keys(grids)? {
                let uuid = Uuid::parse_str(&id).map_err(|e| corrupt(&id, &e))?;
                if let Ok(key) = key_of(c, &grid, |_| Some(id_key.as_str())) {
                    index.insert(key, &grid, uuid);
                }
            }
            continue;
        }
        for (id, grid, state) in store.live_states(c, grids)? {
            let uuid = Uuid::parse_str(&id).map_err(|e| corrupt(&id, &e))?;
            let view = Record::from_stored(schema, &state)
                .map_err(|e| corrupt(&id, &e))?
                .view();
            if let Ok(key) = key_of(c, &grid, |f| view.value(f).as_str()) {
                index.insert(key, &grid, uuid);
            }
        }
    }
    Ok(index)
}

/// One row on its way into a batch.
struct Pending {
    row: usize,
    change: String,
    created: Option<(Key, String, Uuid)>,
}

/// Import `opts.file` into `store`. `progress(done, total)` is called as
/// rows are done. Refused rows change nothing and are listed in the
/// summary with their row, column and reason.
pub fn run(
    store: &Store,
    opts: &Options,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Summary, ImportError> {
    let started = std::time::Instant::now();
    let schema = Schema::current();
    let rows = store.org_tree()?;
    let tree = OrgTree::new(
        rows.into_iter()
            .filter_map(|n| Some((n.code, n.parent, NodeLevel::parse(&n.level)?))),
    );
    if tree.level(&opts.node).is_none() {
        return Err(ImportError::Refused(format!(
            "no node `{}` in the org tree",
            opts.node
        )));
    }
    let user = store
        .user_by_name(&opts.user)?
        .ok_or_else(|| ImportError::Refused(format!("no user `{}`", opts.user)))?;
    let role = Role::parse(&user.role);
    if user.disabled || !matches!(role, Some(Role::Supervisor | Role::Admin)) {
        return Err(ImportError::Refused(format!(
            "`{}` may not import: only an enabled supervisor or admin may",
            user.username
        )));
    }
    if !tree.contains(&user.node, &opts.node) {
        return Err(ImportError::Refused(format!(
            "node `{}` is outside `{}`'s node `{}`",
            opts.node, user.username, user.node
        )));
    }
    let kind = read::kind_of(&opts.file).map_err(ImportError::File)?;
    let (sheets, encoding) = read::read(&opts.file).map_err(ImportError::File)?;
    let (registers, skipped) = registers(sheets, kind, opts.collection.as_deref())?;
    let grids = tree.grids_under(&opts.node);
    let grid_list: Vec<String> = grids.iter().cloned().collect();
    let grid_ok = |g: &str| check_grid(&tree, &grids, &opts.node, g);

    // Every row read before anything is written; a key twice in the file
    // is refused the second time.
    let total: usize = registers.iter().map(|r| r.sheet.rows.len()).sum();
    let mut refusals: Vec<Refusal> = Vec::new();
    let mut counts: Vec<(&'static str, Counts)> = Vec::new();
    let mut parsed: Vec<Vec<Parsed>> = Vec::new();
    let mut seen: HashMap<Key, (String, usize)> = HashMap::new();
    for r in &registers {
        let mut n = Counts::default();
        let mut ok = Vec::with_capacity(r.sheet.rows.len());
        for row in &r.sheet.rows {
            match r.layout.parse(&r.sheet.name, row, &grid_ok) {
                Ok(p) => match seen.get(&p.key) {
                    Some((sheet, first)) => {
                        n.refused += 1;
                        refusals.push(Refusal {
                            sheet: r.sheet.name.clone(),
                            row: p.row,
                            column: String::new(),
                            reason: format!(
                                "the same {} as row {first} of `{sheet}` (same {})",
                                r.layout.collection.name,
                                keys::made_of(r.layout.collection.name)
                            ),
                        });
                    }
                    None => {
                        seen.insert(p.key.clone(), (r.sheet.name.clone(), p.row));
                        ok.push(p);
                    }
                },
                Err(why) => {
                    n.refused += 1;
                    refusals.extend(why);
                }
            }
        }
        counts.push((r.layout.collection.name, n));
        parsed.push(ok);
    }
    let mut done = refusals_rows(&refusals);
    progress(done, total);

    let (device, actor) = device_of(store, user.id)?;
    let mut next = u64::try_from(store.actor_max_seq(actor)?).unwrap_or(0) + 1;
    let mut wanted: BTreeSet<&'static str> =
        registers.iter().map(|r| r.layout.collection.name).collect();
    if registers
        .iter()
        .any(|r| r.layout.collection.name == "resident")
    {
        wanted.insert("household");
    }
    let mut index = index(store, schema, &wanted, &grid_list)?;
    tracing::info!(
        known = index.len(),
        rows = total,
        "import: file read, keys loaded"
    );

    for ((r, rows), (_, n)) in registers.iter().zip(parsed).zip(counts.iter_mut()) {
        let collection: &'static CollectionDef = r.layout.collection;
        for chunk in rows.chunks(BATCH) {
            let mut out: Vec<Refusal> = Vec::new();
            let mut refuse = |row: usize, column: String, reason: String| {
                out.push(Refusal {
                    sheet: r.sheet.name.clone(),
                    row,
                    column,
                    reason,
                });
            };
            // The records this batch registers again, into the device's
            // replica: an edit is made against what the store holds.
            let mut todo: Vec<(&Parsed, Option<Uuid>)> = Vec::with_capacity(chunk.len());
            let mut load: Vec<(String, String)> = Vec::new();
            for p in chunk {
                match index.get(&p.key) {
                    Some((grid, id)) if grid == p.grid => {
                        load.push((grid.to_owned(), id.to_string()));
                        todo.push((p, Some(id)));
                    }
                    Some((grid, _)) => refuse(
                        p.row,
                        r.layout.column_of_field("grid"),
                        format!(
                            "this resident is registered in grid `{grid}`: a record stays in its grid (move them on a device)"
                        ),
                    ),
                    None => todo.push((p, None)),
                }
            }
            let mut replica = Replica::new(schema);
            for row in store.records_by_keys(&load)? {
                let corrupt = |e: &dyn std::fmt::Display| StoreError::Corrupt {
                    id: row.id.clone(),
                    reason: e.to_string(),
                };
                let record = Record::from_stored(schema, &row.state).map_err(|e| corrupt(&e))?;
                replica.merge_record(&record).map_err(|e| corrupt(&e))?;
            }
            let mut dev = Device::resume(actor, next, replica);
            let mut pending: Vec<Pending> = Vec::with_capacity(chunk.len());
            for (p, existing) in todo {
                let values = match resolve(&index, p) {
                    Ok(v) => v,
                    Err((field, reason)) => {
                        refuse(p.row, r.layout.column_of_field(field), reason);
                        continue;
                    }
                };
                match change_for(&mut dev, collection, &p.grid, &values, existing) {
                    Ok(None) => n.unchanged += 1,
                    Ok(Some(change)) => pending.push(Pending {
                        row: p.row,
                        created: existing
                            .is_none()
                            .then(|| (p.key.clone(), p.grid.clone(), change.record)),
                        change: change.to_json(),
                    }),
                    Err(e) => refuse(
                        p.row,
                        e.field()
                            .map(|f| r.layout.column_of_field(f))
                            .unwrap_or_default(),
                        e.to_string(),
                    ),
                }
            }
            next = dev.next_seq();
            if !pending.is_empty() {
                let raws: Vec<Box<RawValue>> = pending
                    .iter()
                    .map(|p| RawValue::from_string(p.change.clone()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| StoreError::Corrupt {
                        id: "import".into(),
                        reason: e.to_string(),
                    })?;
                let batch = format!("import-{}", Uuid::new_v4());
                let push = Push {
                    actor,
                    batch: &batch,
                    changes: &raws,
                    guard: &allow_all,
                };
                let results = store.push(&push, now_ms())?;
                for (p, result) in pending.into_iter().zip(results) {
                    match result {
                        ChangeResult::Applied { .. } => match p.created {
                            Some((key, grid, id)) => {
                                n.created += 1;
                                index.insert(key, &grid, id);
                            }
                            None => n.updated += 1,
                        },
                        other => refuse(p.row, String::new(), refused_by_store(&other)),
                    }
                }
            }
            n.refused += out.len();
            refusals.extend(out);
            done += chunk.len();
            progress(done.min(total), total);
        }
    }
    refusals.sort_by(|a, b| (&a.sheet, a.row).cmp(&(&b.sheet, b.row)));
    let summary = Summary {
        file: opts.file.display().to_string(),
        encoding,
        counts,
        refusals,
        skipped,
        device: device.clone(),
        actor,
        rows: total,
        millis: started.elapsed().as_millis(),
    };
    let t = summary.total();
    store.audit(
        &[AuditEntry {
            user_id: Some(user.id),
            username: user.username,
            device_id: Some(device),
            address: None,
            action: "import_registers".into(),
            target: format!("node:{}", opts.node),
            detail: format!(
                "file={} rows={} created={} updated={} unchanged={} refused={}",
                opts.file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                total,
                t.created,
                t.updated,
                t.unchanged,
                t.refused
            ),
        }],
        now_ms(),
    )?;
    Ok(summary)
}

/// Distinct rows among refusals.
fn refusals_rows(refusals: &[Refusal]) -> usize {
    refusals
        .iter()
        .map(|r| (&r.sheet, r.row))
        .collect::<BTreeSet<_>>()
        .len()
}

/// A store's result that is not `applied`, as a reason.
fn refused_by_store(result: &ChangeResult) -> String {
    match result {
        ChangeResult::Refused { code, message, .. } => {
            format!("the store refused the change ({code}): {message}")
        }
        other => format!("the store did not apply the change: {other:?}"),
    }
}

/// A row's values with its household (named by address) resolved to the
/// household's id in the row's grid; else the field and why not.
fn resolve(
    index: &Index,
    p: &Parsed,
) -> Result<Vec<(&'static gridsync_core::FieldDef, Wanted)>, (&'static str, String)> {
    p.values
        .iter()
        .map(|(f, w)| match w {
            Wanted::Household(address) => {
                let key = key_of("household", &p.grid, |_| Some(address.as_str()));
                match key.ok().and_then(|k| index.get(&k)) {
                    Some((_, id)) => Ok((*f, Wanted::Value(Value::Text(id.to_string())))),
                    None => Err((
                        f.name,
                        format!(
                            "no household at `{address}` in grid `{}`: register the household first (a 房屋户 row)",
                            p.grid
                        ),
                    )),
                }
            }
            other => Ok((*f, other.clone())),
        })
        .collect()
}
