//! `mlcycle ui`: the read-only web dashboard over a store.

use mlcycle::registry::SqliteRegistry;
use mlcycle::ui::{Dashboard, serve};
use mlcycle::{Error, Result};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Arguments of `mlcycle ui`.
#[derive(clap::Args, Debug)]
pub struct UiArgs {
    /// The store directory to show (opened read-only; `mlcycle run` and `mlcycle serve` may
    /// write to it meanwhile).
    #[arg(long, env = "MLCYCLE_HOME", default_value = "./mlcycle-store")]
    store: PathBuf,
    /// Address to listen on (port 0 picks a free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8090")]
    addr: SocketAddr,
}

/// Run `mlcycle ui` until SIGINT/SIGTERM.
pub async fn run(args: UiArgs) -> Result<()> {
    let shutdown = crate::signals::Shutdown::install();
    if !SqliteRegistry::is_store(&args.store) {
        return Err(Error::not_found(
            "store",
            args.store.display(),
            "pass --store DIR (or set MLCYCLE_HOME) to a directory written by mlcycle",
        ));
    }
    let dashboard = Dashboard::open_read_only(&args.store)?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| Error::io(args.addr.to_string(), e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::io(args.addr.to_string(), e))?;
    eprintln!(
        "mlcycle ui: dashboard of {} (read-only) on http://{addr}/ ; Ctrl-C or SIGTERM stops",
        args.store.display()
    );
    serve(listener, dashboard, async move {
        let signal = shutdown.wait().await;
        eprintln!("stopping on {signal}");
    })
    .await
}
