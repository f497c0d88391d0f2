//! `delta-board`: serves Deltaboard in front of one `delta-worker`.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::Parser;
use delta_board::{
	jupyter::{Hub, HubConfig},
	pages,
	store::Store,
	web,
	worker::Worker,
};

/// Deltaboard: a multi-user web UI and per-user API addresses for one delta-worker.
#[derive(Parser)]
#[command(version)]
struct Cli {
	/// The worker's API address.
	#[arg(long, env = "DELTA_BOARD_WORKER_URL", default_value = "http://127.0.0.1:9955")]
	worker_url: String,
	/// The file holding the worker's API token (the worker's `api.token`).
	#[arg(long, env = "DELTA_BOARD_WORKER_TOKEN_FILE")]
	worker_token_file: PathBuf,
	/// Where the board listens.
	#[arg(long, env = "DELTA_BOARD_LISTEN", default_value = "127.0.0.1:8080")]
	listen: SocketAddr,
	/// The board's state folder (accounts, sessions, tokens, task owners).
	#[arg(long, env = "DELTA_BOARD_STATE", default_value = "board-state")]
	state: PathBuf,
	/// Mark the session cookie `Secure`: the board is reached over https
	/// (through a reverse proxy that terminates TLS).
	#[arg(long)]
	secure_cookie: bool,
	/// Run JupyterLab for the board's people: a JupyterHub on loopback,
	/// reached through the board (`/lab`).
	#[arg(long, env = "DELTA_BOARD_JUPYTERHUB")]
	jupyterhub: bool,
	/// The hub's configuration, with its proxy installed beside it
	/// (`npm ci` there).
	#[arg(long, env = "DELTA_BOARD_JUPYTERHUB_CONFIG", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/jupyterhub/jupyterhub_config.py"))]
	jupyterhub_config: PathBuf,
	/// The Python environment with JupyterHub and JupyterLab (default:
	/// the one scripts/setup.sh makes, ~/.cache/delta/jupyter).
	#[arg(long, env = "DELTA_BOARD_JUPYTER_ENV")]
	jupyter_env: Option<PathBuf>,
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
	let cli = Cli::parse();
	let token = std::fs::read_to_string(&cli.worker_token_file)
		.with_context(|| format!("reading the worker's API token from {}", cli.worker_token_file.display()))?;
	if token.trim().is_empty() {
		anyhow::bail!("the worker's API token file {} is empty", cli.worker_token_file.display());
	}
	std::fs::create_dir_all(&cli.state).with_context(|| format!("creating {}", cli.state.display()))?;
	let store = Store::open(&cli.state.join("board.sqlite")).context("opening the board's state")?;
	let worker = Worker::new(&cli.worker_url, &token);
	match worker.call("delta_info", serde_json::json!({})).await {
		Ok(info) => tracing::info!("worker {} at {} reachable", info["name"].as_str().unwrap_or("?"), worker.url()),
		Err(e) => tracing::warn!("{e}; the board starts anyway and shows the worker as unreachable"),
	}
	let listener =
		tokio::net::TcpListener::bind(cli.listen).await.with_context(|| format!("listening on {}", cli.listen))?;
	let bound = listener.local_addr()?;
	if !store.has_admin()? {
		// The one way in at first start: whoever can read this process's
		// output creates the administrator. A new token at each start until then.
		let setup = store.new_setup_token()?;
		println!("setup: open http://{bound}/setup?token={setup}");
	}
	println!("listening on http://{bound}");
	let reach = if bound.ip().is_unspecified() { SocketAddr::from(([127, 0, 0, 1], bound.port())) } else { bound };
	let board_url = format!("http://{reach}");
	let hub = if cli.jupyterhub {
		let environment = match cli.jupyter_env {
			Some(e) => e,
			None => PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/delta/jupyter"),
		};
		let config = HubConfig {
			config: cli.jupyterhub_config,
			environment,
			state: cli.state.join("jupyterhub"),
			board_url: board_url.clone(),
		};
		pages::offer_lab(true);
		Some(Hub::start(config).context("starting JupyterLab")?)
	} else {
		None
	};
	let app = Arc::new(web::App { store, worker, secure_cookie: cli.secure_cookie, hub: hub.clone(), board_url });
	axum::serve(listener, web::router(app)).with_graceful_shutdown(shutdown()).await?;
	if let Some(hub) = hub {
		hub.stop().await;
	}
	Ok(())
}

async fn shutdown() {
	let interrupt = tokio::signal::ctrl_c();
	#[cfg(unix)]
	{
		let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
			Ok(t) => t,
			Err(_) => return interrupt.await.unwrap_or(()),
		};
		tokio::select! {
			_ = interrupt => {},
			_ = term.recv() => {},
		}
	}
	#[cfg(not(unix))]
	interrupt.await.unwrap_or(());
}
