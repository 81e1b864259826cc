//! # gridsync-server
//!
//! The `gridsync` service: the central store that merges the changes of many
//! offline devices, and the HTTP API over it. Every merge decision is made by
//! `gridsync-core`; this crate stores, serves and keeps books.
//!
//! - [`db`]: backends (embedded SQLite, PostgreSQL), pool, migrations, tables.
//! - [`store`]: the sync batch transaction, the change log, the quarantine,
//!   and the reads, each written once for both backends.
//! - [`sync`]: the pull decisions (changes or record states, cursors) as pure
//!   functions.
//! - [`auth`]: users, devices, tokens, the org tree and who may do what.
//! - [`desk`]: the desk's actions on records, as changes of the user's own actor.
//! - [`api`]: thin HTTP handlers; [`error`]: the one API error type.
//! - [`metrics`]: Prometheus counters and histograms.
//! - [`reports`]: supervisor reports (periods, figures, rankings, exports).
//! - [`fixture`]: synthetic districts (the demo, the reference district).

pub mod access;
pub mod api;
pub mod attachments;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod db;
pub mod desk;
pub mod dispatch;
pub mod error;
pub mod fixture;
pub mod housekeeping;
pub mod import;
pub mod inbox;
pub mod ingest;
pub mod metrics;
pub mod reports;
pub mod rules;
pub mod state;
pub mod store;
pub mod sync;
pub mod tasks;
pub mod tls;
pub mod webhooks;
pub mod wire;
pub mod workflows;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, Service};
use actix_web::{web, App, HttpMessage, HttpRequest, HttpServer};
use tracing::Instrument;

use crate::auth::Auth;
use crate::blobs::BlobStore;
use crate::db::{Database, Pool};
use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{Store, StoreError};

/// Request limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request body, in bytes (413 above it).
    pub max_body_bytes: usize,
    /// Most changes in one sync batch.
    pub max_batch: usize,
    /// Largest register file sent to `POST /v1/imports` (413 above it).
    pub max_import_bytes: usize,
    /// Largest pull page (changes or record states).
    pub page_size: usize,
    /// Most grids one device pulls.
    pub max_grids: usize,
    /// How often the escalation sweep runs (none: only on demand).
    pub sweep_every: Option<std::time::Duration>,
    /// Attachment sizes, types and the daily limit per device.
    pub attachments: attachments::AttachmentLimits,
    /// Proxies whose `Forwarded` / `X-Forwarded-For` name the client
    /// (`access::client_ip`); from anyone else those headers are ignored.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// A request body with no byte for this long is cut off (408).
    pub body_idle_timeout: std::time::Duration,
    /// The request line and headers must arrive within this (408).
    pub head_timeout: std::time::Duration,
    /// An idle kept-alive connection is closed after this.
    pub keep_alive: std::time::Duration,
    /// Requests one client address may have in flight at once (429 past it).
    pub max_requests_per_address: usize,
    /// When set, `GET /metrics` answers only `Authorization: Bearer <it>`.
    pub metrics_token: Option<Secret>,
}

/// A secret setting: never printed (`Debug` shows `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::ops::Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 8 * 1024 * 1024,
            max_batch: 1_000,
            max_import_bytes: 32 * 1024 * 1024,
            page_size: 500,
            max_grids: 100,
            sweep_every: Some(std::time::Duration::from_secs(600)),
            attachments: attachments::AttachmentLimits::default(),
            trusted_proxies: Vec::new(),
            body_idle_timeout: std::time::Duration::from_secs(20),
            head_timeout: std::time::Duration::from_secs(10),
            keep_alive: std::time::Duration::from_secs(60),
            max_requests_per_address: 1024,
            metrics_token: None,
        }
    }
}

/// Open the store on `db` and bring its schema up to date.
pub fn open_store(db: &Database, pool_size: u32) -> Result<Store, StoreError> {
    let pool = Pool::open(db, pool_size)?;
    let (applied, layout) = pool.migrate_to(db::citus::Want::Auto)?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    tracing::info!(%layout, "store layout");
    Ok(Store::new(pool))
}

/// Logins and tokens signed and verified with `keys`
/// ([`auth::keys::signing_keys`] finds a deployment's).
pub fn auth_for(keys: auth::tokens::Keys) -> Arc<Auth> {
    Arc::new(Auth::new(keys))
}

/// Connections waiting to be accepted. `std::net::TcpListener::bind` listens
/// with 128: 1,000 phones syncing at the end of a shift overflowed it and
/// some timed out connecting (seen as retries by `gridsync-sim`). The kernel
/// caps it at `net.core.somaxconn`.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Bind the service's listening socket.
pub fn listen(addr: &str) -> std::io::Result<TcpListener> {
    use std::net::ToSocketAddrs;
    let addr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("`{addr}` names no address")))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    Ok(socket.into())
}

/// Threads of the blocking pool of each of `workers` actix workers, for a
/// store of `connections` pooled connections: the connections shared out
/// over the workers, at least two each.
///
/// Nearly every blocking task holds a connection for most of its run, so a
/// thread beyond the pool's size only waits for one; meanwhile it holds the
/// request's decoded body and its allocator arena, and it competes for the
/// two cores' caches with the threads that do work. Requests beyond the
/// threads wait as small futures. On the peer bench's workload, 4 threads a
/// worker (8 connections, 2 workers) against 16 took a push of 100 batches
/// at once from 0.51 to 0.44 s and the first pull of 100 replicas from 2.69
/// to 2.41 s (docs/PERFORMANCE.md, ninth pass). A batch waits for the SQLite
/// writer on its thread, so a group commit holds at most as many batches
/// as there are threads: 8 were as good as 32 in the storm of 1,000 phones.
///
/// ```
/// use gridsync_server::blocking_threads_per_worker;
/// assert_eq!(blocking_threads_per_worker(8, 2), 4);
/// ```
pub fn blocking_threads_per_worker(connections: u32, workers: usize) -> usize {
    let connections = usize::try_from(connections).unwrap_or(usize::MAX);
    connections.div_ceil(workers.max(1)).max(2)
}

/// Start serving plain HTTP on an already bound listener (port 0 in tests).
pub fn serve(
    listener: TcpListener,
    store: Store,
    limits: Limits,
    auth: Arc<Auth>,
    blobs: Arc<dyn BlobStore>,
) -> std::io::Result<Server> {
    serve_on(listener, None, store, limits, auth, blobs)
}

/// Start serving on an already bound listener: HTTPS with `tls`, else HTTP.
pub fn serve_on(
    listener: TcpListener,
    tls: Option<rustls::ServerConfig>,
    store: Store,
    limits: Limits,
    auth: Arc<Auth>,
    blobs: Arc<dyn BlobStore>,
) -> std::io::Result<Server> {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = cores;
    let blocking_threads = blocking_threads_per_worker(store.pool_size(), workers);
    let state = AppState {
        store,
        auth,
        metrics: Arc::new(Metrics::new()),
        limits,
        blobs,
        thumbnails: Arc::new(tokio::sync::Semaphore::new(cores)),
    };
    if let Some(every) = state.limits.sweep_every {
        housekeeping::start(state.clone(), every);
    }
    webhooks::start(state.clone(), webhooks::POLL);
    let in_flight = wire::PerAddress::new(state.limits.max_requests_per_address);
    let (head_timeout, keep_alive) = (state.limits.head_timeout, state.limits.keep_alive);
    let server = HttpServer::new(move || {
        let limit = state.limits.max_body_bytes;
        let metrics = state.metrics.clone();
        let limits = state.limits.clone();
        let in_flight = in_flight.clone();
        App::new()
            .app_data(web::Data::new(state.clone()))
            .app_data(
                web::JsonConfig::default()
                    .limit(limit)
                    .error_handler(move |e, _| error::json_error(e, limit).into()),
            )
            .app_data(
                web::QueryConfig::default().error_handler(|e, _| error::query_error(&e).into()),
            )
            .app_data(web::PathConfig::default().error_handler(|e, _| error::path_error(&e).into()))
            .wrap_fn(move |mut req, srv| {
                let started = std::time::Instant::now();
                let route = req
                    .match_pattern()
                    .unwrap_or_else(|| "unmatched".to_owned());
                let method = req.method().to_string();
                let path = req.path().to_owned();
                let id = access::request_id(req.headers().get(access::REQUEST_ID));
                let span = tracing::info_span!("request", request_id = %id);
                let metrics = metrics.clone();
                let address = access::client_address(req.request(), &limits.trusted_proxies);
                let slot = in_flight.enter(&address);
                // A body that stops arriving is cut off.
                let body = req.take_payload();
                req.set_payload(actix_web::dev::Payload::Stream {
                    payload: Box::pin(wire::IdleTimeout::new(body, limits.body_idle_timeout)),
                });
                let response: futures_util::future::LocalBoxFuture<'static, _> = if slot.is_some() {
                    let call = {
                        let _in = span.enter();
                        srv.call(req)
                    };
                    Box::pin(async move { call.await.map(|r| r.map_into_left_body()) })
                } else {
                    let refused =
                        actix_web::ResponseError::error_response(&ApiError::TooManyRequests {
                            message: format!(
                                "more than {} requests in flight from {address}: wait for them",
                                limits.max_requests_per_address
                            ),
                            retry_after: 1,
                        });
                    Box::pin(std::future::ready(Ok::<_, actix_web::Error>(
                        req.into_response(refused).map_into_right_body(),
                    )))
                };
                async move {
                    let mut res = response.await?;
                    drop(slot);
                    let status = res.status();
                    metrics
                        .requests
                        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
                        .inc();
                    metrics
                        .request_seconds
                        .with_label_values(&[route.as_str(), method.as_str()])
                        .observe(started.elapsed().as_secs_f64());
                    let who = res.request().extensions().get::<access::Who>().cloned();
                    let bytes = access::body_bytes(actix_web::body::MessageBody::size(
                        res.response().body(),
                    ));
                    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&id) {
                        res.headers_mut().insert(access::REQUEST_ID, v);
                    }
                    tracing::info!(
                        target: "gridsync::access",
                        request_id = %id,
                        method = %method,
                        route = %route,
                        path = %path,
                        address = %address,
                        status = status.as_u16(),
                        bytes = bytes,
                        ms = started.elapsed().as_secs_f64() * 1000.0,
                        user = who.as_ref().map(|w| w.user.as_str()),
                        device = who.as_ref().and_then(|w| w.device.as_deref()),
                        "request"
                    );
                    Ok(res)
                }
                .instrument(span)
            })
            // Answers are gzip-compressed for a client that accepts it
            // (attachment bytes say `identity` and are sent as they are).
            .wrap(actix_web::middleware::Compress::default())
            .configure(api::configure)
            .default_service(web::to(not_found))
    })
    // Every request's database work runs on the blocking pool; bounding it
    // bounds what is in memory at once (1,000 phones pulling 500-record pages
    // at the same moment peaked at 2.3 GB with actix's default of 512 threads
    // per worker), and sizing it to the connections keeps the cores on the
    // requests that can run.
    .workers(workers)
    .worker_max_blocking_threads(blocking_threads)
    .client_request_timeout(head_timeout)
    .keep_alive(keep_alive);
    let server = match tls {
        Some(config) => server.listen_rustls_0_23(listener, config)?,
        None => server.listen(listener)?,
    }
    .run();
    Ok(server)
}

async fn not_found(req: HttpRequest) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound {
        what: format!("route {} {}", req.method(), req.path()),
    })
}

/// A server on a thread of its own, stopped when dropped: what tests,
/// benchmarks and the simulator's test harness start on port 0.
#[derive(Debug)]
pub struct Background {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Background {
    pub fn start(
        listener: TcpListener,
        store: Store,
        limits: Limits,
        auth: Arc<Auth>,
        blobs: Arc<dyn BlobStore>,
    ) -> std::io::Result<Background> {
        Background::start_on(listener, None, store, limits, auth, blobs)
    }

    /// As [`Background::start`], over HTTPS with `tls`
    /// (`url` is then `https://127.0.0.1:PORT`).
    pub fn start_on(
        listener: TcpListener,
        tls: Option<rustls::ServerConfig>,
        store: Store,
        limits: Limits,
        auth: Arc<Auth>,
        blobs: Arc<dyn BlobStore>,
    ) -> std::io::Result<Background> {
        let scheme = if tls.is_some() { "https" } else { "http" };
        let url = format!("{scheme}://{}", listener.local_addr()?);
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match serve_on(listener, tls, store, limits, auth, blobs) {
                    Ok(server) => {
                        let _ = tx.send(Ok(server.handle()));
                        let _ = server.await;
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e));
                    }
                }
            })
        });
        let handle = rx
            .recv()
            .map_err(|_| std::io::Error::other("the server thread ended before starting"))??;
        Ok(Background {
            url,
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        actix_web::rt::System::new().block_on(handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn listens_where_told_and_refuses_what_is_no_address() {
        let l = super::listen("127.0.0.1:0").unwrap();
        assert_ne!(l.local_addr().unwrap().port(), 0);
        assert!(super::listen("not an address").is_err());
    }

    #[test]
    fn the_blocking_threads_share_out_the_connections() {
        // (connections, workers, threads per worker)
        let table = [
            (8, 2, 4),  // the default pool on two cores
            (8, 3, 3),  // shared out, rounded up
            (16, 2, 8), // a larger pool
            (8, 8, 2),  // many cores: still two a worker
            (1, 2, 2),  // a pool of one
            (8, 0, 8),  // no workers named: one
        ];
        for (connections, workers, want) in table {
            assert_eq!(
                super::blocking_threads_per_worker(connections, workers),
                want,
                "{connections} connections over {workers} workers"
            );
        }
    }
}
