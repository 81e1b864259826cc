//! gridsync-client: what a phone app embeds.
//!
//! A field worker's phone works without signal all day and syncs when it
//! can. This crate is that phone's side of gridsync:
//!
//! - [`store`]: the local SQLite store, holding the device's identity and
//!   tokens, the merged records of its grids, the **outbox** (changes made
//!   here, by gap-free sequence number, until the server acknowledges them)
//!   and the changes the server refused, with its reasons. Every step is one
//!   transaction, so a phone that dies at any moment, mid-sync included,
//!   restarts with nothing lost and, since a resent change is recognised by
//!   the server, nothing doubled.
//! - [`sync`]: the exchange as data (request, response) and the pure
//!   decisions of the loop (which results acknowledge which outbox entries;
//!   retry, refresh the token, pull from 0 or give up), tested with tables.
//! - [`http`]: the transport, a blocking HTTP agent.
//! - [`attachments`]: photos and scans kept in the device folder under
//!   their hash, uploaded in chunks after the change that refers to them,
//!   resumed across failures and restarts.
//! - [`client`]: [`Client`], one enrolled install: make changes offline
//!   (with the core's checked edit API), read the merged state and its
//!   conflicts, sync.
//! - [`sim`]: the fleet simulator behind `gridsync-sim`.
//!
//! Two binaries: `gridsync-device` (a phone in a terminal, for people and
//! scripts) and `gridsync-sim` (a thousand phones and the end-of-shift
//! storm).
//!
//! ```no_run
//! use gridsync_client::{Client, Http, LocalStore};
//! # fn main() -> Result<(), gridsync_client::ClientError> {
//! let http = Http::new("http://127.0.0.1:8080");
//! let store = LocalStore::open_dir(std::path::Path::new("./phone"))?;
//! let mut phone = Client::enroll(store, &http, "worker01", "gridsync-demo", "Li's phone", None)?;
//! phone.sync()?; // first sync: the grid's records
//! let id = uuid::Uuid::now_v7(); // time-ordered: docs/PROTOCOL.md, `record`
//! phone.make(|d| d.create("hazard", "demo-g01", id).set("description", "消防通道堵塞").commit())?;
//! phone.sync()?; // pushes the hazard, pulls what others did
//! # Ok(()) }
//! ```

pub mod attachments;
pub mod client;
pub mod error;
pub mod http;
pub mod input;
pub mod sim;

pub mod store;
pub mod sync;

pub use client::{Client, Conflict, Progress, Status, SyncOptions, SyncReport};
pub use error::ClientError;
pub use http::Http;
pub use store::LocalStore;
