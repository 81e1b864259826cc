//! The application state every handler, the access extractor and the
//! housekeeping loop reach: its own module, below `api`, `auth` and
//! `housekeeping`, so none of them imports another to get it.

use std::sync::Arc;

use crate::auth::Auth;
use crate::blobs::BlobStore;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::Limits;

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub auth: Arc<Auth>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Attachment bytes.
    pub blobs: Arc<dyn BlobStore>,
    /// Turns to make a thumbnail (decoding a photo takes a core).
    pub thumbnails: Arc<tokio::sync::Semaphore>,
}
