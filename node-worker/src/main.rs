//! `delta-worker`: `init` writes a worker folder (commented configuration,
//! keys, API token); `run` runs the worker it describes.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use delta_worker::{
	api,
	config::{self, Config, LedgerKind, Overrides},
	consent,
	datasets::{self, Column, Dataset, Datasets, Policy},
	executor::Python,
	keys,
	ledger::{chain::ChainLedger, coordinator::CoordinatorLedger, ensure_registered, Backend},
	pool::RunnerPool,
	sandbox,
	state::State,
	transport::PeerNet,
	worker::Worker,
};

#[derive(Parser)]
#[command(name = "delta-worker", version, about = "A Delta data holder's worker")]
struct Cli {
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Writes a new worker folder: worker.toml, account.key, node.key, api.token.
	Init {
		/// The folder (created if needed).
		#[arg(long, default_value = ".")]
		dir: PathBuf,
		/// Display name on the ledger.
		#[arg(long, default_value = "delta-worker")]
		name: String,
		/// `chain` or `coordinator`.
		#[arg(long, default_value = "chain", value_parser = parse_kind)]
		ledger_kind: LedgerKind,
		/// The ledger's WebSocket URL.
		#[arg(long, default_value = "ws://127.0.0.1:9944")]
		ledger_url: String,
		/// API listen address.
		#[arg(long, default_value = "127.0.0.1:8787")]
		api_listen: String,
		/// libp2p listen address.
		#[arg(long, default_value = "/ip4/127.0.0.1/tcp/4001")]
		p2p_listen: String,
		/// Replace existing files.
		#[arg(long)]
		force: bool,
	},
	/// Takes the worker off the ledger's member list (for good; `run`
	/// registers it again), so requesters stop inviting it.
	Leave {
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
		#[command(flatten)]
		overrides: OverrideArgs,
	},
	/// Approves a task package: as a member, this worker then runs its
	/// code (a delta.MapReduce, a learning task) for any allowed requester.
	/// The hash is the package commitment a declined task's log shows.
	Approve {
		/// The package's SHA-256 (64 hex digits).
		hash: String,
		/// Why (kept with the approval, shown by `approvals`).
		#[arg(long, default_value = "")]
		note: String,
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
	},
	/// Withdraws a package's approval; later rounds of its tasks are declined.
	Revoke {
		/// The package's SHA-256 (64 hex digits).
		hash: String,
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
	},
	/// What a requester has spent of this holder's datasets' privacy, as
	/// the ledger's charges add up, beside each dataset's limits.
	Privacy {
		/// The requester (SS58).
		#[arg(long)]
		requester: String,
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
		#[command(flatten)]
		overrides: OverrideArgs,
	},
	/// Lists the approved packages.
	Approvals {
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
	},
	/// The datasets of a running worker.
	Datasets {
		#[command(subcommand)]
		action: DatasetsAction,
	},
	/// Runs the worker described by a configuration file.
	Run {
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
		#[command(flatten)]
		overrides: OverrideArgs,
	},
}

#[derive(Subcommand)]
enum DatasetsAction {
	/// Prepares new snapshots now (every dataset, or those named) in the
	/// running worker; a task already running keeps the snapshot it
	/// started on. Exits 1 if one failed (its old snapshot is kept).
	Refresh {
		/// Datasets to refresh (default: all).
		names: Vec<String>,
		/// The configuration file.
		#[arg(long, default_value = "worker.toml")]
		config: PathBuf,
		#[command(flatten)]
		overrides: OverrideArgs,
	},
}

#[derive(clap::Args)]
struct OverrideArgs {
	/// Overrides ledger.kind.
	#[arg(long, env = "DELTA_LEDGER_KIND", value_parser = parse_kind)]
	ledger_kind: Option<LedgerKind>,
	/// Overrides ledger.url.
	#[arg(long, env = "DELTA_LEDGER_URL")]
	ledger_url: Option<String>,
	/// Overrides api.listen.
	#[arg(long, env = "DELTA_API_LISTEN")]
	api_listen: Option<String>,
	/// Overrides p2p.listen.
	#[arg(long, env = "DELTA_P2P_LISTEN")]
	p2p_listen: Option<String>,
	/// Overrides p2p.external.
	#[arg(long, env = "DELTA_P2P_EXTERNAL")]
	p2p_external: Option<String>,
	/// Overrides identity.suri (e.g. //Alice on a dev chain).
	#[arg(long, env = "DELTA_SURI", hide_env_values = true)]
	suri: Option<String>,
	/// Overrides data_dir.
	#[arg(long, env = "DELTA_DATA_DIR")]
	data_dir: Option<PathBuf>,
	/// Overrides sandbox.python.
	#[arg(long, env = "DELTA_PYTHON")]
	python: Option<String>,
}

fn parse_kind(s: &str) -> Result<LedgerKind, String> {
	match s {
		"chain" => Ok(LedgerKind::Chain),
		"coordinator" => Ok(LedgerKind::Coordinator),
		other => Err(format!("{other:?} is not `chain` or `coordinator`")),
	}
}

/// Keeps the memory of freed model-sized buffers in the process for the
/// next round instead of handing it back to the kernel: every round
/// allocates and frees messages and vectors of several MB, and with
/// glibc's defaults each came back as fresh pages, faulted in and zeroed
/// again (a tenth of a ten-worker 1M-weight round's CPU). Buffers up to
/// 32 MiB (glibc's largest threshold) come from the heap, and up to 1 GiB
/// of free heap is kept. The peak is unchanged (ten workers, 1M weights:
/// 1340 MB against 1334 MB per member with its runner); the overhead per
/// round went from 0.95-1.00 s to 0.83-0.87 s in three of four runs
/// (`make bench-learning`; this machine's runs vary by a tenth).
fn keep_freed_memory() {
	#[cfg(all(target_os = "linux", target_env = "gnu"))]
	// SAFETY: mallopt takes two integers and changes only the allocator's
	// thresholds; called first thing in main, before any other thread.
	unsafe {
		libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
		libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
	}
}

fn main() -> anyhow::Result<()> {
	keep_freed_memory();
	tracing_subscriber::fmt()
		.with_env_filter(
			tracing_subscriber::EnvFilter::try_from_default_env()
				.unwrap_or_else(|_| "info,libp2p=warn,jsonrpsee=warn".into()),
		)
		.with_writer(std::io::stderr)
		.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
		.init();
	match Cli::parse().command {
		Command::Init { dir, name, ledger_kind, ledger_url, api_listen, p2p_listen, force } => {
			init(&dir, &name, ledger_kind, &ledger_url, &api_listen, &p2p_listen, force)
		},
		Command::Leave { config, overrides } => {
			let config = Config::load(&config, &overrides.into())?;
			tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(leave(config))
		},
		Command::Approve { hash, note, config } => {
			let hash = consent::parse_package_hash(&hash).map_err(anyhow::Error::msg)?;
			open_state(&config)?.approve(&hash, &note)?;
			println!("approved package {hash}");
			Ok(())
		},
		Command::Revoke { hash, config } => {
			let hash = consent::parse_package_hash(&hash).map_err(anyhow::Error::msg)?;
			if open_state(&config)?.revoke(&hash)? {
				println!("revoked package {hash}");
				Ok(())
			} else {
				bail!("package {hash} was not approved")
			}
		},
		Command::Approvals { config } => {
			for (hash, ms, note) in open_state(&config)?.approvals()? {
				let note = if note.is_empty() { String::new() } else { format!("  {note}") };
				println!("{hash}  approved {}{note}", rfc3339(ms));
			}
			Ok(())
		},
		Command::Privacy { requester, config, overrides } => {
			let requester = delta_coordinator::types::AccountId::parse(&requester)
				.map_err(|e| anyhow::anyhow!("--requester: {e}"))?;
			let config = Config::load(&config, &overrides.into())?;
			tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(privacy(config, requester))
		},
		Command::Datasets { action: DatasetsAction::Refresh { names, config, overrides } } => {
			let config = Config::load(&config, &overrides.into())?;
			tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(refresh(config, names))
		},
		Command::Run { config, overrides } => {
			let config = Config::load(&config, &overrides.into())?;
			tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(run(config))
		},
	}
}

/// `delta-worker datasets refresh`: asks the running worker's API.
async fn refresh(config: Config, names: Vec<String>) -> anyhow::Result<()> {
	use jsonrpsee::core::client::ClientT as _;
	let token = std::fs::read_to_string(&config.api.token_file)
		.with_context(|| format!("reading the API token {}", config.api.token_file.display()))?;
	let mut headers = jsonrpsee::ws_client::HeaderMap::new();
	headers.insert("Authorization", format!("Bearer {}", token.trim()).parse()?);
	let url = format!("ws://{}", config.api.listen);
	let client = jsonrpsee::ws_client::WsClientBuilder::default()
		.set_headers(headers)
		.request_timeout(std::time::Duration::from_secs(3600))
		.build(&url)
		.await
		.with_context(|| format!("no worker answers at {url} (is `delta-worker run` running with this config?)"))?;
	let mut params = jsonrpsee::core::params::ObjectParams::new();
	params.insert("names", &names)?;
	let done: Vec<serde_json::Value> = client.request("delta_refreshDatasets", params).await?;
	let mut failed = 0;
	for d in &done {
		let name = d["name"].as_str().unwrap_or("?");
		let version = d["version"].as_u64().map_or("none".to_string(), |v| format!("snapshot {v}"));
		match d["error"].as_str() {
			None => println!("{name}: {version}, {} rows, sha256 {}", d["rows"], d["hash"].as_str().unwrap_or("")),
			Some(e) => {
				failed += 1;
				println!("{name}: refresh failed ({version} kept): {e}");
			},
		}
	}
	if failed > 0 {
		bail!("{failed} of {} datasets could not be refreshed", done.len());
	}
	Ok(())
}

impl From<OverrideArgs> for Overrides {
	fn from(overrides: OverrideArgs) -> Self {
		Overrides {
			ledger_kind: overrides.ledger_kind,
			ledger_url: overrides.ledger_url,
			api_listen: overrides.api_listen,
			p2p_listen: overrides.p2p_listen,
			p2p_external: overrides.p2p_external,
			suri: overrides.suri,
			data_dir: overrides.data_dir,
			python: overrides.python,
		}
	}
}

async fn connect(config: &Config) -> anyhow::Result<Arc<dyn Backend>> {
	let pair = keys::account(&config.identity.suri, &config.identity.key_file)?;
	let rt = tokio::runtime::Handle::current();
	let url = config.ledger.url.clone();
	Ok(match config.ledger.kind {
		LedgerKind::Coordinator => Arc::new(
			tokio::task::spawn_blocking(move || CoordinatorLedger::connect(&url, pair, rt))
				.await?
				.with_context(|| format!("coordinator at {}", config.ledger.url))?,
		),
		LedgerKind::Chain => {
			let block_ms = config.ledger.block_ms;
			Arc::new(
				tokio::task::spawn_blocking(move || ChainLedger::connect(&url, pair, block_ms, rt))
					.await?
					.with_context(|| format!("chain node at {}", config.ledger.url))?,
			)
		},
	})
}

/// The state database of the worker configured at `config` (the running
/// worker reads approvals from it at each task, so a change applies to
/// the next task without a restart).
fn open_state(config: &std::path::Path) -> anyhow::Result<State> {
	let config = Config::load(config, &Overrides::default())?;
	State::open(&config.data_dir.join("state.sqlite")).context("state database")
}

/// `ms` since the epoch as UTC, to the second.
fn rfc3339(ms: u64) -> String {
	let secs = ms / 1000;
	let (days, rest) = (secs / 86_400, secs % 86_400);
	// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
	let z = days as i64 + 719_468;
	let era = z.div_euclid(146_097);
	let doe = z.rem_euclid(146_097);
	let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
	let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	let mp = (5 * doy + 2) / 153;
	let day = doy - (153 * mp + 2) / 5 + 1;
	let month = if mp < 10 { mp + 3 } else { mp - 9 };
	let year = yoe + era * 400 + i64::from(month <= 2);
	format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rest / 3600, rest % 3600 / 60, rest % 60)
}

async fn leave(config: Config) -> anyhow::Result<()> {
	let ledger = connect(&config).await?;
	let account = ledger.account();
	tokio::task::spawn_blocking(move || ledger.submit(delta_coordinator::types::Call::Leave)).await??;
	println!("{account} left the member list");
	Ok(())
}

async fn privacy(config: Config, requester: delta_coordinator::types::AccountId) -> anyhow::Result<()> {
	let ledger = connect(&config).await?;
	let holder = ledger.account();
	let mut datasets: Vec<(String, Option<config::DatasetPrivacy>)> =
		config.datasets.iter().map(|(name, d)| (name.clone(), d.privacy)).collect();
	datasets.sort_by(|a, b| a.0.cmp(&b.0));
	for (name, limits) in datasets {
		let ledger = Arc::clone(&ledger);
		let dataset = name.clone();
		let spent = tokio::task::spawn_blocking(move || ledger.privacy_spent(&holder, &dataset, &requester)).await??
			as f64 / 1e6;
		let limits = match limits {
			Some(p) => {
				let budget = p.budget.map_or("no budget".to_string(), |b| format!("budget {b}"));
				format!("{budget}, at most {} per task at δ ≤ {:e}", p.max_epsilon, p.max_delta)
			},
			None => "no privacy required".to_string(),
		};
		println!("{name}: ε = {spent:.3} spent by {requester} ({limits})");
	}
	Ok(())
}

fn init(
	dir: &std::path::Path,
	name: &str,
	kind: LedgerKind,
	url: &str,
	api_listen: &str,
	p2p_listen: &str,
	force: bool,
) -> anyhow::Result<()> {
	std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
	let config_path = dir.join("worker.toml");
	if config_path.exists() && !force {
		bail!("{} exists; pass --force to replace it", config_path.display());
	}
	std::fs::write(&config_path, config::template(name, kind, url, api_listen, p2p_listen))?;
	keys::write_secret(&dir.join("account.key"), force)?;
	keys::write_secret(&dir.join("node.key"), force)?;
	keys::write_secret(&dir.join("api.token"), force)?;
	let config = Config::load(&config_path, &Overrides::default())?;
	let account = keys::account("", &config.identity.key_file)?;
	use sp_core::Pair as _;
	println!("wrote {}", config_path.display());
	println!("account: {}", delta_engine::AccountId(account.public().0).to_ss58());
	println!("next: declare datasets in worker.toml, then `delta-worker run --config {}`", config_path.display());
	Ok(())
}

async fn run(config: Config) -> anyhow::Result<()> {
	std::fs::create_dir_all(&config.data_dir)?;
	let work = config.data_dir.join("work");
	std::fs::create_dir_all(&work)?;
	let node_key = keys::node_key(&config.p2p.key_file)?;
	let token = keys::api_token(&config.api.token_file)?;
	let state = Arc::new(State::open(&config.data_dir.join("state.sqlite")).context("state database")?);

	sandbox::check_available()?;
	let python = Arc::new(Python::discover(&config.sandbox)?);
	let datasets = Arc::new(prepare_datasets(&config, &python, &work)?);

	let ledger = connect(&config).await?;
	tracing::info!("account {}", ledger.account());

	let peer_id = node_key.public().to_peer_id();
	let (net, bound) =
		PeerNet::start(node_key, config.p2p.listen.parse()?, config.p2p.max_message_mb << 20, Arc::clone(&ledger))
			.await?;
	{
		// New ledger state wakes the task threads as a peer message does.
		let net = Arc::clone(&net);
		ledger.watch(Arc::new(move || net.ledger_changed()));
	}
	let endpoint = if config.p2p.external.is_empty() { bound.to_string() } else { config.p2p.external.clone() };
	{
		let ledger = Arc::clone(&ledger);
		let name = config.name.clone();
		let registered = endpoint.clone();
		let peer = peer_id.to_bytes();
		let outcome =
			tokio::task::spawn_blocking(move || ensure_registered(ledger.as_ref(), &name, &registered, &peer))
				.await??;
		tracing::info!("{outcome} as {:?} at {endpoint} (peer {peer_id})", config.name);
	}

	let pool =
		Arc::new(RunnerPool::new(python, Arc::clone(&datasets), work.join("runners"), config.sandbox.idle_runners));
	pool.top_up();
	let (worker, engine) = Worker::start(
		Arc::clone(&state),
		Arc::clone(&ledger),
		Arc::clone(&net),
		pool,
		datasets,
		config.name.clone(),
		config.data_dir.join("checkpoints"),
	);
	{
		let worker = Arc::clone(&worker);
		let (resumed, failed) = tokio::task::spawn_blocking(move || worker.resume_interrupted()).await??;
		if resumed > 0 {
			tracing::warn!("{resumed} task(s) interrupted by the last stop resume from their checkpoints");
		}
		if failed > 0 {
			tracing::warn!("{failed} task(s) interrupted by the last stop were failed and cancelled");
		}
	}
	schedule_refreshes(&config, &worker);
	let (api_addr, handle) = api::serve(Arc::clone(&worker), config.api.listen.parse()?, token).await?;
	// One line tests and scripts wait for.
	println!("delta-worker ready: api=http://{api_addr} p2p={endpoint} account={}", ledger.account());
	use std::io::Write as _;
	std::io::stdout().flush()?;

	let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
	tokio::select! {
		_ = tokio::signal::ctrl_c() => {},
		_ = term.recv() => {},
	}
	tracing::info!("stopping");
	let _ = handle.stop();
	worker.stop();
	let _ = tokio::task::spawn_blocking(move || engine.join()).await;
	Ok(())
}

fn prepare_datasets(config: &Config, python: &Arc<Python>, work: &std::path::Path) -> anyhow::Result<Datasets> {
	let folder = work.join("datasets");
	// Snapshots of an earlier run are stale: every dataset is prepared anew.
	let _ = std::fs::remove_dir_all(&folder);
	std::fs::create_dir_all(&folder)?;
	let prepare = preparer(config, Arc::clone(python), folder);
	let mut entries = BTreeMap::new();
	for name in config.datasets.keys() {
		// One dataset that cannot be prepared (a database down, a password
		// refused, a file breaking its rules) leaves the others served.
		match prepare(name, 1) {
			Ok(dataset) => {
				entries.insert(name.clone(), dataset);
			},
			Err(e) => tracing::error!("dataset {name} is not offered: it could not be prepared: {e}"),
		}
	}
	let names = config.datasets.keys().cloned().collect();
	Ok(Datasets::new(entries, Policy::from_config(&config.policy)).refreshable(names, prepare))
}

/// Refreshes each dataset with `refresh_interval_s` on that schedule, for as
/// long as the worker runs.
fn schedule_refreshes(config: &Config, worker: &Arc<Worker>) {
	for (name, d) in &config.datasets {
		let Some(seconds) = d.refresh_interval_s.filter(|s| *s > 0) else { continue };
		let (worker, name) = (Arc::clone(worker), name.clone());
		tokio::spawn(async move {
			let mut every = tokio::time::interval(std::time::Duration::from_secs(seconds));
			every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
			every.tick().await; // the first tick is now: the start-up snapshot is fresh
			loop {
				every.tick().await;
				let (worker, names) = (Arc::clone(&worker), vec![name.clone()]);
				let _ = tokio::task::spawn_blocking(move || worker.refresh_datasets(&names)).await;
			}
		});
	}
}

/// Prepares one configured dataset as a numbered snapshot in `folder`:
/// the SDK's preparation, then the snapshot's hash.
fn preparer(config: &Config, python: Arc<Python>, folder: PathBuf) -> Box<datasets::Prepare> {
	let config = config.clone();
	Box::new(move |name: &str, version: u64| {
		let d = config.datasets.get(name).ok_or_else(|| format!("no dataset {name:?} in worker.toml"))?;
		let spec = config.dataset_spec(name).ok_or_else(|| "its spec cannot be written".to_string())?;
		let out = datasets::snapshot_file(&folder, name, version);
		let report = python.prepare_dataset(name, &spec, &folder, &out).map_err(|e| e.to_string())?;
		let rows = report["rows"].as_u64().unwrap_or(0);
		let columns: Vec<Column> =
			report["columns"].as_array().into_iter().flatten().map(Column::from_report).collect();
		let hash = std::fs::read(&out)
			.map(|bytes| hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)))
			.map_err(|e| format!("cannot read the snapshot {}: {e}", out.display()))?;
		let ignored = match report["ignored_files"].as_u64() {
			Some(n) if n > 0 => format!(", {n} files skipped (hidden, or not images)"),
			_ => String::new(),
		};
		tracing::info!(
			"dataset {name}: snapshot {version}, {rows} rows, {} columns, {} rows dropped by cleaning{ignored}, sha256 {hash}{}",
			columns.len(),
			report["dropped_rows"].as_u64().unwrap_or(0),
			if d.share { "" } else { " (not shared)" }
		);
		let prepared_ms =
			std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |t| t.as_millis() as u64);
		Ok(Dataset { path: out, version, hash, prepared_ms, rows, columns, share: d.share, privacy: d.privacy })
	})
}

#[cfg(test)]
mod tests {
	use super::rfc3339;

	#[test]
	fn approval_times_print_as_utc_dates() {
		assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
		assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
		assert_eq!(rfc3339(1_700_000_000_999), "2023-11-14T22:13:20Z");
	}
}
