//! [`Client`]: one enrolled install, its local store and its sync loop.

use std::collections::{BTreeMap, BTreeSet};

use gridsync_core::record::Written;
use gridsync_core::{Change, ChangeError, Device, Record, RecordView, Replica, Schema};
use serde::Serialize;
use serde_json::value::RawValue;
use uuid::Uuid;

use crate::error::ClientError;
use crate::http::{Http, Tokens};
use crate::store::{
    Acknowledged, DeviceRow, LocalStore, OutboxRow, RecordRow, RefusedRow, UploadRow,
};

mod upload;

use crate::sync::{
    recover, sort_results, CursorField, Failure, Recovery, Refusal, ResumeField, RetryPolicy,
    SyncRequest, SyncResponse,
};
pub use upload::{reference_json, AttachmentRef, AttachmentState};

/// How a device syncs.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// Changes pushed per round trip (the server's limit is 1,000 by default).
    pub batch: usize,
    /// Page size asked of the pull (the server caps it, 500 by default).
    pub page: usize,
    pub retry: RetryPolicy,
    /// Attachment chunk size; the server's suggestion when none.
    pub upload_chunk: Option<u64>,
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions {
            batch: 500,
            page: 500,
            retry: RetryPolicy::default(),
            upload_chunk: None,
        }
    }
}

/// What one sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    pub round_trips: u32,
    /// Changes the server merged (or already had: a resend after a lost answer).
    pub delivered: u64,
    pub refused: u64,
    pub pulled_changes: u64,
    pub pulled_records: u64,
    pub retries: u32,
    /// Why each retry was needed: the server's code, or `transport`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub retry_reasons: BTreeMap<String, u32>,
    /// The server's cursor token after the sync (opaque).
    pub cursor: Option<String>,
    /// Attachments uploaded whole (or found on the server already).
    pub uploaded: u64,
    /// Attachment bytes the server acknowledged.
    pub upload_bytes: u64,
    /// Attachments still waiting, and why the last try stopped for each.
    pub uploads_waiting: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub upload_problems: BTreeMap<String, String>,
    /// Pulled changes and states this device could not take, and why: a
    /// record id already held for another grid or collection (an id is
    /// unique only within its grid), or a sequence number its actor used
    /// twice. Each is left aside; the pull goes on.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub set_aside: Vec<String>,
}

/// What a sync observer sees as the sync goes.
#[derive(Debug)]
pub enum Progress<'a> {
    /// An answer arrived, before it is stored.
    Answered(Answered<'a>),
    /// The server acknowledged a chunk of an attachment.
    Chunk(ChunkSent<'a>),
}

/// An answer of the sync exchange.
#[derive(Debug)]
pub struct Answered<'a> {
    pub round_trip: u32,
    pub pushed: usize,
    pub response: &'a SyncResponse,
}

/// A chunk acknowledged: the server now holds `offset` of `size` bytes.
#[derive(Debug)]
pub struct ChunkSent<'a> {
    pub sha256: &'a str,
    pub offset: u64,
    pub size: u64,
    /// Chunks acknowledged in this sync so far.
    pub chunks: u32,
}

/// A field holding concurrent values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub record: Uuid,
    pub collection: &'static str,
    pub grid: String,
    pub field: &'static str,
    /// Every concurrent value with its writer.
    pub values: Vec<Written>,
}

/// The device at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    pub server: String,
    pub username: String,
    pub device_id: String,
    pub actor: u32,
    pub next_seq: u64,
    /// The server's cursor token (opaque; none before the first pull).
    pub cursor: Option<String>,
    pub transfer_in_progress: bool,
    pub records: usize,
    pub outbox: i64,
    pub refused: i64,
    pub conflicts: usize,
    pub last_sync_at: Option<i64>,
    /// Attachments of this device not uploaded yet, and their bytes.
    pub uploads_waiting: usize,
    pub upload_bytes_left: i64,
}

/// One enrolled install: the core [`Device`] in memory, mirrored by the
/// local store after every step.
#[derive(Debug)]
pub struct Client {
    store: LocalStore,
    row: DeviceRow,
    device: Device,
    http: Http,
    /// The digest of the inbox kept (sent with a pull, so that an unchanged
    /// inbox is not sent again).
    inbox_digest: Option<String>,
    pub options: SyncOptions,
}

impl Client {
    /// Log in with a password and register this install.
    pub fn enroll(
        store: LocalStore,
        http: &Http,
        username: &str,
        password: &str,
        name: &str,
        grids: Option<Vec<String>>,
    ) -> Result<Client, ClientError> {
        let login = http.login(username, password).map_err(ClientError::from)?;
        Client::register(store, http, username, &login, name, grids)
    }

    /// Register this install with a user's fresh login.
    pub fn register(
        mut store: LocalStore,
        http: &Http,
        username: &str,
        login: &Tokens,
        name: &str,
        grids: Option<Vec<String>>,
    ) -> Result<Client, ClientError> {
        if store.device()?.is_some() {
            return Err(ClientError::AlreadyEnrolled);
        }
        let reg = http
            .register(&login.access_token, name)
            .map_err(ClientError::from)?;
        let row = DeviceRow {
            id: 1,
            server: http.base().to_owned(),
            username: username.to_owned(),
            device_id: reg.device.id,
            actor: i64::from(reg.device.actor),
            next_seq: 1,
            cursor: None,
            resume: None,
            grids: grids.map(|g| serde_json::to_string(&g).expect("strings serialize")),
            access_token: reg.access_token,
            refresh_token: reg.refresh_token,
            last_sync_at: None,
        };
        store.enroll(&row)?;
        Client::open_with(store, http.clone())
    }

    /// Reopen an enrolled install (after a restart).
    pub fn open(store: LocalStore) -> Result<Client, ClientError> {
        let mut store = store;
        let row = store.device()?.ok_or(ClientError::NotEnrolled)?;
        let http = Http::new(&row.server);
        Client::open_with(store, http)
    }

    /// Reopen, sharing a transport (many simulated devices share one agent).
    pub fn open_with(mut store: LocalStore, http: Http) -> Result<Client, ClientError> {
        let (row, device) = load(&mut store)?;
        let inbox_digest = kept_inbox_digest(&mut store)?;
        Ok(Client {
            store,
            row,
            device,
            http,
            inbox_digest,
            options: SyncOptions::default(),
        })
    }

    /// Drop what is in memory and read the store again: after a failed
    /// write, memory never runs ahead of the disk.
    fn reload(&mut self) -> Result<(), ClientError> {
        let (row, device) = load(&mut self.store)?;
        self.row = row;
        self.device = device;
        self.inbox_digest = kept_inbox_digest(&mut self.store)?;
        Ok(())
    }

    pub fn actor(&self) -> u32 {
        self.device.actor()
    }

    pub fn username(&self) -> &str {
        &self.row.username
    }

    pub fn device_id(&self) -> &str {
        &self.row.device_id
    }

    /// The grids this device pulls (`None`: every grid of the user's node).
    pub fn grids(&self) -> Option<Vec<String>> {
        self.row
            .grids
            .as_deref()
            .and_then(|g| serde_json::from_str(g).ok())
    }

    /// The merged records held here.
    pub fn replica(&self) -> &Replica {
        self.device.replica()
    }

    pub fn view(&self, id: Uuid) -> Option<RecordView> {
        self.device.replica().record(id).map(Record::view)
    }

    /// Make a change offline: build it with the core's edit API, which
    /// checks it; it is kept (outbox, record, next sequence) before this
    /// returns. An edit the core refuses changes nothing.
    ///
    /// ```no_run
    /// # fn demo(phone: &mut gridsync_client::Client) -> Result<(), gridsync_client::ClientError> {
    /// let id = uuid::Uuid::now_v7();
    /// phone.make(|d| d.create("event", "g1", id).set("title", "积水").set("status", "reported").commit())?;
    /// # Ok(()) }
    /// ```
    pub fn make(
        &mut self,
        f: impl FnOnce(&mut Device) -> Result<Change, ChangeError>,
    ) -> Result<Change, ClientError> {
        let change = f(&mut self.device)?;
        let record = self
            .device
            .replica()
            .record(change.record)
            .ok_or_else(|| ClientError::Protocol("a change left no record".into()))?;
        let out = OutboxRow {
            seq: change.seq as i64,
            record: change.record.to_string(),
            change: serde_json::to_string(&change).expect("changes serialize"),
            made_at: now_ms(),
        };
        let now = now_ms();
        let uploads: Vec<UploadRow> = crate::attachments::refs_in(&change)
            .into_iter()
            .map(|a| UploadRow {
                sha256: a.sha256,
                media_type: a.media_type,
                size: i64::try_from(a.size).unwrap_or(i64::MAX),
                seq: change.seq as i64,
                state: crate::store::WAITING.to_owned(),
                sent: 0,
                reason: None,
                updated_at: now,
            })
            .collect();
        let kept = self.store.record_change(
            &out,
            &row_of(record),
            self.device.next_seq() as i64,
            &uploads,
        );
        if let Err(e) = kept {
            self.reload()?;
            return Err(e);
        }
        self.row.next_seq = self.device.next_seq() as i64;
        Ok(change)
    }

    /// What is this user's to do, as the last completed pull brought it
    /// (offline, this is what the device shows), and when it came.
    pub fn inbox(&mut self) -> Result<Option<(gridsync_core::wire::Inbox, i64)>, ClientError> {
        let Some((body, at)) = self.store.inbox()? else {
            return Ok(None);
        };
        let inbox = serde_json::from_str(&body)
            .map_err(|e| ClientError::Protocol(format!("the kept inbox is unreadable: {e}")))?;
        Ok(Some((inbox, at)))
    }

    /// Fields holding concurrent values, to show and resolve (resolve by
    /// writing the field: [`Client::make`] with `edit(id).set(field, value)`).
    pub fn conflicts(&self) -> Vec<Conflict> {
        let mut out = Vec::new();
        for r in self.device.replica().records() {
            let view = r.view();
            for (field, values) in view.conflicts() {
                out.push(Conflict {
                    record: r.id,
                    collection: r.collection.name,
                    grid: r.grid.clone(),
                    field,
                    values: values.to_vec(),
                });
            }
        }
        out
    }

    /// Changes the server refused, with its reasons.
    pub fn refused(&mut self) -> Result<Vec<RefusedRow>, ClientError> {
        self.store.refused()
    }

    pub fn outbox_len(&mut self) -> Result<i64, ClientError> {
        self.store.outbox_len()
    }

    pub fn status(&mut self) -> Result<Status, ClientError> {
        let waiting: Vec<UploadRow> = self
            .store
            .uploads()?
            .into_iter()
            .filter(|u| u.state == crate::store::WAITING)
            .collect();
        Ok(Status {
            server: self.row.server.clone(),
            username: self.row.username.clone(),
            device_id: self.row.device_id.clone(),
            actor: self.actor(),
            next_seq: self.device.next_seq(),
            cursor: self.row.cursor.clone(),
            transfer_in_progress: self.row.resume.is_some(),
            records: self.device.replica().records().count(),
            outbox: self.store.outbox_len()?,
            refused: self.store.refused_len()?,
            conflicts: self.conflicts().len(),
            last_sync_at: self.row.last_sync_at,
            uploads_waiting: waiting.len(),
            upload_bytes_left: waiting.iter().map(|u| u.size - u.sent).sum(),
        })
    }

    /// GET a JSON resource of the server with this device's token,
    /// refreshing it once when it has expired.
    pub fn get<T: serde::de::DeserializeOwned>(&mut self, path: &str) -> Result<T, ClientError> {
        match self.http.get(path, &self.row.access_token) {
            Err(Failure::Status {
                status: 401, code, ..
            }) if code == "token_expired" => {
                self.refresh_tokens()?;
                self.http
                    .get(path, &self.row.access_token)
                    .map_err(ClientError::from)
            }
            other => other.map_err(ClientError::from),
        }
    }

    fn refresh_tokens(&mut self) -> Result<(), ClientError> {
        let tokens = self
            .http
            .refresh(&self.row.refresh_token)
            .map_err(ClientError::from)?;
        self.store
            .set_tokens(&tokens.access_token, &tokens.refresh_token)?;
        self.row.access_token = tokens.access_token;
        self.row.refresh_token = tokens.refresh_token;
        Ok(())
    }

    /// The way out after this install was revoked (`device_revoked`): log
    /// in again as its user and hand the outbox to the server's quarantine,
    /// where a supervisor accepts each change (merged as made, by this
    /// install's actor) or rejects it. Each change handed over moves from
    /// the outbox to the refused list with the server's code: kept and
    /// shown, never sent again. Returns how many were handed over.
    pub fn hand_over(&mut self, password: &str) -> Result<usize, ClientError> {
        let login = self
            .http
            .login(&self.row.username, password)
            .map_err(ClientError::from)?;
        let mut handed = 0;
        loop {
            let outbox = self.store.outbox(self.options.batch as i64)?;
            if outbox.is_empty() {
                return Ok(handed);
            }
            let changes: Vec<Box<RawValue>> = outbox
                .iter()
                .map(|o| RawValue::from_string(o.change.clone()))
                .collect::<Result<_, _>>()
                .map_err(|e| ClientError::Protocol(format!("outbox entry unreadable: {e}")))?;
            let refs: Vec<&RawValue> = changes.iter().map(AsRef::as_ref).collect();
            let answer = self
                .http
                .hand_over(&login.access_token, &self.row.device_id, &refs)
                .map_err(ClientError::from)?;
            let sent: Vec<u64> = outbox.iter().map(|o| o.seq as u64).collect();
            let (done, refusals) =
                sort_results(&sent, &answer.results).map_err(ClientError::Protocol)?;
            let at = now_ms();
            self.store.acknowledge(&Acknowledged {
                done: done.iter().map(|&s| s as i64).collect(),
                refused: refused_rows(&outbox, refusals, at),
                records: Vec::new(),
                cursor: self.row.cursor.clone(),
                resume: self.row.resume.clone(),
                at,
                inbox: None,
                inbox_current: false,
            })?;
            handed += outbox.len();
        }
    }

    /// Push the outbox and pull until caught up, then upload the
    /// attachments of acknowledged changes.
    pub fn sync(&mut self) -> Result<SyncReport, ClientError> {
        self.sync_observed(&mut |_| {})
    }

    /// [`Client::sync`], calling `observe` with each answer before it is
    /// stored and each acknowledged chunk (progress display; tests use it
    /// to die at those moments).
    pub fn sync_observed(
        &mut self,
        observe: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<SyncReport, ClientError> {
        let mut report = self.exchange(observe)?;
        self.upload_waiting(observe, &mut report)?;
        Ok(report)
    }

    /// The change exchange of a sync.
    fn exchange(
        &mut self,
        observe: &mut dyn FnMut(&Progress<'_>),
    ) -> Result<SyncReport, ClientError> {
        let mut report = SyncReport::default();
        loop {
            let outbox = self.store.outbox(self.options.batch as i64)?;
            // While more of the outbox waits behind this batch, push only:
            // the answer is the results alone. The last batch pulls too.
            let pull = outbox.len() < self.options.batch;
            let Some(response) = self.round_trip(&outbox, pull, &mut report)? else {
                continue; // the cursor was reset: build the request again
            };
            report.round_trips += 1;
            observe(&Progress::Answered(Answered {
                round_trip: report.round_trips,
                pushed: outbox.len(),
                response: &response,
            }));
            if let Err(e) = self.keep(&outbox, &response, &mut report) {
                self.reload()?;
                return Err(e);
            }
            report.cursor = self.row.cursor.clone();
            if !response.more && outbox.len() < self.options.batch {
                return Ok(report);
            }
        }
    }

    /// Send one request, retrying as [`recover`] decides. `None`: the
    /// server asked for a pull from 0; the cursor is reset.
    fn round_trip(
        &mut self,
        outbox: &[OutboxRow],
        pull: bool,
        report: &mut SyncReport,
    ) -> Result<Option<SyncResponse>, ClientError> {
        let changes: Vec<Box<RawValue>> = outbox
            .iter()
            .map(|o| RawValue::from_string(o.change.clone()))
            .collect::<Result<_, _>>()
            .map_err(|e| ClientError::Protocol(format!("outbox entry unreadable: {e}")))?;
        let grids = self.grids();
        let batch = Uuid::new_v4();
        let mut attempt = 0;
        let mut refreshed = false;
        loop {
            let req = SyncRequest {
                actor: Some(self.actor()),
                batch: Some(batch.to_string()),
                cursor: self.row.cursor.clone().map(CursorField::Token),
                resume: self.row.resume.clone().map(ResumeField::Token),
                grids: grids.clone(),
                changes: changes.iter().map(|c| c.as_ref()).collect(),
                limit: Some(self.options.page),
                pull,
                inbox_digest: self.inbox_digest.clone(),
            };
            let failure = match self.http.sync(&self.row.access_token, &req) {
                Ok(res) => return Ok(Some(res)),
                Err(f) => f,
            };
            match recover(&failure, attempt, &self.options.retry, rand::random()) {
                Recovery::Retry(pause) => {
                    attempt += 1;
                    report.retries += 1;
                    let reason = match &failure {
                        Failure::Transport(_) => "transport".to_owned(),
                        Failure::Status { status, code, .. } => format!("{status} {code}"),
                    };
                    *report.retry_reasons.entry(reason).or_default() += 1;
                    std::thread::sleep(pause);
                }
                Recovery::Refresh if !refreshed => {
                    refreshed = true;
                    self.refresh_tokens()?;
                }
                Recovery::PullFromZero
                    if self.row.cursor.is_some() || self.row.resume.is_some() =>
                {
                    self.store.reset_cursor()?;
                    self.row.cursor = None;
                    self.row.resume = None;
                    return Ok(None);
                }
                Recovery::Refresh | Recovery::PullFromZero | Recovery::GiveUp => {
                    return Err(failure.into())
                }
            }
        }
    }

    /// Apply an answer in memory and keep it in one transaction.
    fn keep(
        &mut self,
        outbox: &[OutboxRow],
        response: &SyncResponse,
        report: &mut SyncReport,
    ) -> Result<(), ClientError> {
        let sent: Vec<u64> = outbox.iter().map(|o| o.seq as u64).collect();
        let (done, refusals) =
            sort_results(&sent, &response.results).map_err(ClientError::Protocol)?;
        let at = now_ms();
        let refused_rows = refused_rows(outbox, refusals, at);
        let mut touched = BTreeSet::new();
        for c in &response.changes {
            // What another device made wrong must not stop this one's sync.
            match self.device.receive(c) {
                Ok(_) => {
                    touched.insert(c.record);
                }
                Err(e) => report.set_aside.push(format!(
                    "change {}:{} to record {} in grid {}: {} ({e})",
                    c.actor,
                    c.seq,
                    c.record,
                    c.grid,
                    e.code()
                )),
            }
        }
        // A state for a record not held yet is kept as it came (the stored
        // form is canonical); one merged into local edits is written anew.
        let mut rows = Vec::new();
        for raw in &response.records {
            let state = Record::from_stored(Schema::current(), raw.get())?;
            let (id, fresh) = (state.id, self.device.replica().record(state.id).is_none());
            let row = (fresh && !touched.contains(&id)).then(|| RecordRow {
                id: id.to_string(),
                collection: state.collection.name.to_owned(),
                grid: state.grid.clone(),
                state: raw.get().to_owned(),
            });
            let grid = state.grid.clone();
            if let Err(e) = self.device.merge_record_owned(state) {
                report.set_aside.push(format!(
                    "state of record {id} in grid {grid}: {} ({e})",
                    e.code()
                ));
                continue;
            }
            match row {
                Some(row) => rows.push(row),
                None => {
                    touched.insert(id);
                }
            }
        }
        for id in &touched {
            if let Some(r) = self.device.replica().record(*id) {
                rows.push(row_of(r));
            }
        }
        let ack = Acknowledged {
            done: done.iter().map(|&s| s as i64).collect(),
            refused: refused_rows,
            records: rows,
            cursor: response.cursor.clone().or_else(|| self.row.cursor.clone()),
            resume: response.resume.clone(),
            at,
            inbox: response
                .inbox
                .as_ref()
                .map(|i| serde_json::to_string(i).expect("an inbox serializes")),
            inbox_current: response.inbox_unchanged,
        };
        self.store.acknowledge(&ack)?;
        if let Some(i) = &response.inbox {
            self.inbox_digest = (!i.digest.is_empty()).then(|| i.digest.clone());
        }
        self.row.cursor = ack.cursor.clone();
        self.row.resume = ack.resume.clone();
        self.row.last_sync_at = Some(at);
        report.delivered += done.len() as u64;
        report.refused += ack.refused.len() as u64;
        report.pulled_changes += response.changes.len() as u64;
        report.pulled_records += response.records.len() as u64;
        Ok(())
    }
}

/// The outbox entries the server refused, as the refused list keeps them.
fn refused_rows(outbox: &[OutboxRow], refusals: Vec<Refusal>, at: i64) -> Vec<RefusedRow> {
    refusals
        .into_iter()
        .map(|r| {
            let o = outbox
                .iter()
                .find(|o| o.seq as u64 == r.seq)
                .expect("refusals pair with the outbox");
            RefusedRow {
                seq: o.seq,
                record: o.record.clone(),
                change: o.change.clone(),
                code: r.code,
                field: r.field,
                message: r.message,
                refused_at: at,
            }
        })
        .collect()
}

fn load(store: &mut LocalStore) -> Result<(DeviceRow, Device), ClientError> {
    let row = store.device()?.ok_or(ClientError::NotEnrolled)?;
    let mut replica = Replica::default();
    for r in store.records()? {
        replica.merge_record_owned(Record::from_stored(Schema::current(), &r.state)?)?;
    }
    let device = Device::resume(row.actor as u32, row.next_seq as u64, replica);
    Ok((row, device))
}

/// The digest of the inbox kept, if one is. An inbox kept by an earlier
/// version has none, and one that cannot be read names none: either way the
/// next pull brings it whole (and opening the device never fails on it).
fn kept_inbox_digest(store: &mut LocalStore) -> Result<Option<String>, ClientError> {
    #[derive(serde::Deserialize)]
    struct Kept {
        #[serde(default)]
        digest: String,
    }
    let Some((body, _)) = store.inbox()? else {
        return Ok(None);
    };
    Ok(serde_json::from_str::<Kept>(&body)
        .ok()
        .map(|k| k.digest)
        .filter(|d| !d.is_empty()))
}

fn row_of(r: &Record) -> RecordRow {
    RecordRow {
        id: r.id.to_string(),
        collection: r.collection.name.to_owned(),
        grid: r.grid.clone(),
        state: r.to_stored(),
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Now as RFC 3339 (UTC), the form log entries and times take.
pub fn now_rfc3339() -> String {
    chrono::DateTime::from_timestamp_millis(now_ms())
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}
