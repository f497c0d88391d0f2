//! `delta-coordinator`: serves Delta's round rules and member registry over
//! WebSocket JSON-RPC, without a chain.

use anyhow::Context as _;
use clap::Parser;
use delta_coordinator::{rpc, Ledger, Limits};
use std::{io::Write as _, net::SocketAddr, path::PathBuf};

/// Delta's ledger without a chain: tasks, rounds and members over
/// WebSocket JSON-RPC, state in SQLite.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
	/// The SQLite database; created if missing. Restarting on the same file
	/// resumes where the coordinator stopped.
	#[arg(long, default_value = "delta-coordinator.sqlite")]
	db: PathBuf,
	/// Address to listen on (port 0 picks a free port).
	#[arg(long, default_value = "127.0.0.1:9955")]
	listen: SocketAddr,
	/// How long a finished task's round data is kept, in milliseconds.
	#[arg(long, default_value_t = Limits::default().retention_ms)]
	retention_ms: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
		)
		.with_writer(std::io::stderr)
		.init();
	let args = Args::parse();
	let limits = Limits { retention_ms: args.retention_ms, ..Limits::default() };
	let ledger =
		Ledger::open(&args.db, limits).with_context(|| format!("opening the database {}", args.db.display()))?;
	let instance = ledger.instance();
	let service = rpc::Service::new(ledger);
	let (addr, handle) =
		rpc::serve(service, args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
	tracing::info!("database {}, instance 0x{}", args.db.display(), hex::encode(instance));
	// Scripts wait for this line.
	println!("delta-coordinator listening on ws://{addr}");
	std::io::stdout().flush()?;
	tokio::select! {
		_ = tokio::signal::ctrl_c() => tracing::info!("interrupted, stopping"),
		_ = handle.clone().stopped() => {},
	}
	let _ = handle.stop();
	Ok(())
}
