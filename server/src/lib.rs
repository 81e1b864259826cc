//! # gridsync-server
//!
//! The `gridsync` service. Today: the HTTP skeleton (health, the collection
//! schema for clients, JSON errors). The store and the sync API come with the
//! server issue; handlers stay thin and call `gridsync-core` for every merge
//! decision.
//!
//! - [`routes`]: the HTTP handlers.
//! - [`error`]: the API error type and its status mapping.

pub mod error;
pub mod routes;

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};

/// Start serving on an already bound listener (port 0 in tests).
pub fn serve(listener: TcpListener) -> std::io::Result<Server> {
    let server = HttpServer::new(|| {
        App::new()
            .configure(routes::configure)
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}
