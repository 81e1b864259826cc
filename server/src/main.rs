use std::net::TcpListener;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// gridsync: offline-first sync for grid-based community safety work.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP service.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "GRIDSYNC_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
    },
}

fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { addr } => {
            let listener = TcpListener::bind(&addr)?;
            tracing::info!(addr = %listener.local_addr()?, "gridsync serving");
            actix_web::rt::System::new().block_on(async { gridsync_server::serve(listener)?.await })
        }
    }
}
