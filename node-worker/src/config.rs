//! The worker's configuration: one TOML file (written, with comments, by
//! `delta-worker init`), with environment variables and flags on top.
//!
//! Relative paths in the file are relative to the file's folder, so a
//! worker folder can be moved or copied as a whole.

use std::{
	collections::BTreeMap,
	path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
	/// The file cannot be read.
	#[error("cannot read {path}: {source}")]
	Read {
		/// The file.
		path: PathBuf,
		/// The I/O error.
		source: std::io::Error,
	},
	/// The file is not valid TOML for this schema.
	#[error("{path}: {message}")]
	Parse {
		/// The file.
		path: PathBuf,
		/// What is wrong, with line and column.
		message: String,
	},
	/// A value is out of its allowed range or inconsistent.
	#[error("{key}: {message}")]
	Invalid {
		/// The key, as written in the file (`section.key`).
		key: String,
		/// What is wrong.
		message: String,
	},
}

/// Which ledger the worker follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerKind {
	/// A `delta-coordinator` over WebSocket JSON-RPC.
	Coordinator,
	/// A Delta Chain node over its RPC.
	Chain,
}

/// The whole configuration.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
	/// Shown to people choosing members.
	pub name: String,
	/// Keys, state, cleaned datasets and scratch space.
	#[serde(default = "default_data_dir")]
	pub data_dir: PathBuf,
	/// The ledger.
	pub ledger: LedgerConfig,
	/// The requesters' API.
	pub api: ApiConfig,
	/// The peer network.
	pub p2p: P2pConfig,
	/// The worker's account.
	#[serde(default)]
	pub identity: IdentityConfig,
	/// Limits of task code.
	#[serde(default)]
	pub sandbox: SandboxConfig,
	/// Which tasks this holder takes part in.
	#[serde(default)]
	pub policy: PolicyConfig,
	/// The holder's datasets, by name.
	#[serde(default)]
	pub datasets: BTreeMap<String, DatasetConfig>,
}

/// `a/./b` -> `a/b` (no symlinks resolved, nothing read).
fn normalise(p: &Path) -> PathBuf {
	p.components().filter(|c| !matches!(c, std::path::Component::CurDir)).collect()
}

fn default_data_dir() -> PathBuf {
	PathBuf::from(".")
}

/// Where the ledger is.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerConfig {
	/// Coordinator or chain.
	pub kind: LedgerKind,
	/// Its WebSocket URL.
	pub url: String,
	/// The chain's block time in ms, for converting timeouts to blocks.
	#[serde(default = "default_block_ms")]
	pub block_ms: u64,
}

fn default_block_ms() -> u64 {
	6000
}

/// The API requesters call.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
	/// `host:port` of the JSON-RPC server (HTTP and WebSocket).
	pub listen: String,
	/// File holding the bearer token clients must send.
	#[serde(default = "default_token_file")]
	pub token_file: PathBuf,
}

fn default_token_file() -> PathBuf {
	PathBuf::from("api.token")
}

/// The peer network.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct P2pConfig {
	/// libp2p multiaddr to listen on (`/ip4/0.0.0.0/tcp/4001`).
	pub listen: String,
	/// The address other workers dial, as registered on the ledger;
	/// empty: the listen address.
	#[serde(default)]
	pub external: String,
	/// File with the libp2p Ed25519 secret key (32 bytes, hex).
	#[serde(default = "default_node_key")]
	pub key_file: PathBuf,
	/// Largest message accepted from a peer, in MiB.
	#[serde(default = "default_max_message_mb")]
	pub max_message_mb: u64,
}

fn default_node_key() -> PathBuf {
	PathBuf::from("node.key")
}

fn default_max_message_mb() -> u64 {
	64
}

/// The worker's account on the ledger.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityConfig {
	/// File with the sr25519 secret seed (32 bytes, hex).
	#[serde(default = "default_account_key")]
	pub key_file: PathBuf,
	/// A secret URI such as `//Alice` instead of the file (dev chains).
	#[serde(default)]
	pub suri: String,
}

impl Default for IdentityConfig {
	fn default() -> Self {
		Self { key_file: default_account_key(), suri: String::new() }
	}
}

fn default_account_key() -> PathBuf {
	PathBuf::from("account.key")
}

/// Limits on task code.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxConfig {
	/// The Python interpreter that has the `delta` SDK installed.
	pub python: String,
	/// Address-space limit of a task process, in MiB.
	pub memory_mb: u64,
	/// Address-space limit of a learning task's process, in MiB: PyTorch
	/// maps about 3 GiB when imported, beside pandas' and pyarrow's. Every
	/// runner starts with `memory_mb` as its soft limit and this as its
	/// hard one; the runner raises its soft limit to the hard one only
	/// for a `horizontal_learning` package, before any task code runs.
	#[serde(default = "default_learning_memory_mb")]
	pub learning_memory_mb: u64,
	/// CPU-time limit of a task process, in seconds.
	pub cpu_seconds: u64,
	/// Wall-time limit of one `map` or `reduce`, in seconds.
	pub wall_seconds: u64,
	/// Task processes kept started and idle for each kind (the
	/// requester's, and a member's per shared dataset), so that a round
	/// does not wait for Python to start; 0 starts each when a task needs
	/// it.
	#[serde(default = "default_idle_runners")]
	pub idle_runners: usize,
}

/// Most idle task processes per kind.
pub const MAX_IDLE_RUNNERS: usize = 16;

fn default_idle_runners() -> usize {
	1
}

fn default_learning_memory_mb() -> u64 {
	8192
}

impl Default for SandboxConfig {
	fn default() -> Self {
		Self {
			python: "python3".into(),
			memory_mb: 4096,
			learning_memory_mb: default_learning_memory_mb(),
			cpu_seconds: 600,
			wall_seconds: 300,
			idle_runners: default_idle_runners(),
		}
	}
}

/// Which requesters and tasks this holder serves.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
	/// Accounts (SS58) allowed to use the datasets; `["*"]`: everyone
	/// registered on the ledger.
	pub requesters: Vec<String>,
	/// A task's rounds must require at least this many members.
	pub min_members: u32,
	/// A dataset with fewer rows is never used.
	pub min_rows: u64,
	/// A task may run at most this many rounds.
	pub max_rounds: u32,
	/// Accounts (SS58) whose task code (a `delta.MapReduce`, a learning
	/// task) this holder runs without approving each package; `["*"]`:
	/// every allowed requester. Empty (the default): code runs only as
	/// approved packages (`delta-worker approve`). Analytics plans need no
	/// consent: members evaluate them with their own SDK.
	#[serde(default)]
	pub code_requesters: Vec<String>,
	/// An analytics cell (group, crosstab cell, histogram bin, value
	/// count, filtered column, regression) that this holder would compute
	/// from more than zero but fewer rows is withheld: it contributes
	/// zeros there. 0 disables.
	#[serde(default = "default_min_cell_rows")]
	pub min_cell_rows: u64,
	/// Most values (output elements) one step may ask of this holder.
	#[serde(default = "default_max_values_per_step")]
	pub max_values_per_step: u64,
	/// A step may ask at most rows / this many values, so that no output
	/// carries a value per row. 0 (the default): no such cap (a model's
	/// weights can outnumber a holder's rows).
	#[serde(default)]
	pub rows_per_value: u64,
}

fn default_min_cell_rows() -> u64 {
	5
}

/// The engine's own bound on a step (2^26 values).
fn default_max_values_per_step() -> u64 {
	1 << 26
}

impl Default for PolicyConfig {
	fn default() -> Self {
		Self {
			requesters: vec!["*".into()],
			min_members: 2,
			min_rows: 1,
			max_rounds: 64,
			code_requesters: Vec::new(),
			min_cell_rows: default_min_cell_rows(),
			max_values_per_step: default_max_values_per_step(),
			rows_per_value: 0,
		}
	}
}

/// One dataset.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetConfig {
	/// CSV, Parquet, NPY or NPZ file, or a folder of images with one
	/// sub-folder per class; absent for a SQL or store source.
	#[serde(default)]
	pub path: Option<PathBuf>,
	/// A table or query of a SQL database, instead of a file.
	#[serde(default)]
	pub sql: Option<SqlSource>,
	/// Parquet or CSV files in an object store (S3-compatible) or HDFS,
	/// instead of a local file.
	#[serde(default)]
	pub store: Option<StoreSource>,
	/// `csv`, `parquet`, `npy`, `npz`, `images`; default by suffix.
	#[serde(default)]
	pub format: Option<String>,
	/// Whether tasks may use it.
	#[serde(default = "default_true")]
	pub share: bool,
	/// Declared columns with their types and cleaning rules, in the order
	/// tasks see them; only these are visible to tasks. Empty: every
	/// column, as read.
	#[serde(default)]
	pub columns: toml::Table,
	/// Column names of a 2-D NPY (or NPZ) array.
	#[serde(default)]
	pub npy_columns: Vec<String>,
	/// The NPZ array holding a 2-D table; default: each 1-D array is a
	/// column named by its key.
	#[serde(default)]
	pub npz_key: Option<String>,
	/// An image folder's `[height, width]`: every image is resized to it;
	/// absent: all images must have one size.
	#[serde(default)]
	pub image_size: Option<[u32; 2]>,
	/// An image folder's pixels: `RGB` (the default) or `L` (grey).
	#[serde(default)]
	pub image_mode: Option<String>,
	/// Prepare a new snapshot every this many seconds (absent: only at
	/// start-up and on `delta-worker datasets refresh`); at least 1.
	#[serde(default)]
	pub refresh_interval_s: Option<u64>,
	/// Differential privacy this holder requires of every task on the
	/// dataset; absent: none required (a task may still ask for it).
	#[serde(default)]
	pub privacy: Option<DatasetPrivacy>,
}

/// A dataset read from a SQL database: SQLite, PostgreSQL or
/// MySQL/MariaDB. The password never appears here: it is read from a file
/// or an environment variable when the dataset is prepared.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSource {
	/// `postgresql://user@host:port/database`,
	/// `mysql://user@host:port/database` (MariaDB too) or
	/// `sqlite://path/to/file.db` (relative to the configuration's folder).
	pub url: String,
	/// The table to read, every row (`schema.table` allowed).
	#[serde(default)]
	pub table: Option<String>,
	/// Or a query whose result is the dataset.
	#[serde(default)]
	pub query: Option<String>,
	/// A file holding the password (its first line).
	#[serde(default)]
	pub password_file: Option<PathBuf>,
	/// Or the environment variable holding it.
	#[serde(default)]
	pub password_env: Option<String>,
}

/// Parquet or CSV data in an S3-compatible object store or in HDFS: one
/// file, or a folder (prefix) of them read as one table. The secret key
/// never appears here: it is read from a file or an environment variable
/// when the dataset is prepared.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSource {
	/// `s3://bucket/key`, `s3://bucket/prefix/` or
	/// `hdfs://namenode:port/path`.
	pub url: String,
	/// S3: an S3-compatible endpoint (`http://127.0.0.1:9000`, a MinIO or
	/// Ceph gateway); absent: AWS.
	#[serde(default)]
	pub endpoint: Option<String>,
	/// S3: the bucket's region; absent: `us-east-1`.
	#[serde(default)]
	pub region: Option<String>,
	/// S3: the access key id (not a secret; its secret key is).
	#[serde(default)]
	pub access_key_id: Option<String>,
	/// S3: a file holding the secret access key (its first line).
	#[serde(default)]
	pub secret_key_file: Option<PathBuf>,
	/// S3: or the environment variable holding it.
	#[serde(default)]
	pub secret_key_env: Option<String>,
	/// HDFS: the user to act as (simple authentication); absent: the
	/// worker's own user.
	#[serde(default)]
	pub user: Option<String>,
	/// HDFS: client settings (`dfs.ha.namenodes.*`, ...), passed on as given.
	#[serde(default)]
	pub hadoop: BTreeMap<String, String>,
}

/// Schemes a store source's URL may have.
const STORE_SCHEMES: [&str; 2] = ["s3", "hdfs"];

impl StoreSource {
	fn check(&self, key: &str) -> Result<(), ConfigError> {
		let invalid = |what: &str, message: String| ConfigError::Invalid { key: format!("{key}.{what}"), message };
		let Some((scheme, rest)) = self.url.split_once("://") else {
			return Err(invalid("url", "must be s3://bucket/key or hdfs://namenode:port/path".into()));
		};
		if !STORE_SCHEMES.contains(&scheme) {
			return Err(invalid("url", format!("{scheme:?} is not one of {}", STORE_SCHEMES.join(", "))));
		}
		let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
		if authority.contains('@') {
			// Never repeat the URL: it may hold a key.
			return Err(invalid(
				"url",
				"holds credentials: name the key in access_key_id and secret_key_file or secret_key_env".into(),
			));
		}
		if authority.is_empty() {
			let what = if scheme == "s3" { "bucket" } else { "namenode" };
			return Err(invalid("url", format!("must name the {what}: {scheme}://{what}/path")));
		}
		if scheme == "s3" && path.is_empty() {
			return Err(invalid("url", "must name a key or a prefix in the bucket: s3://bucket/key".into()));
		}
		let s3_only = [
			("endpoint", self.endpoint.is_some()),
			("region", self.region.is_some()),
			("access_key_id", self.access_key_id.is_some()),
			("secret_key_file", self.secret_key_file.is_some()),
			("secret_key_env", self.secret_key_env.is_some()),
		];
		let hdfs_only = [("user", self.user.is_some()), ("hadoop", !self.hadoop.is_empty())];
		let other = if scheme == "s3" { &hdfs_only[..] } else { &s3_only[..] };
		if let Some((what, _)) = other.iter().find(|(_, set)| *set) {
			return Err(invalid(what, format!("does not apply to a {scheme}:// source")));
		}
		if let Some(e) = &self.endpoint {
			if !(e.starts_with("http://") || e.starts_with("https://")) || e.contains('@') {
				return Err(invalid("endpoint", "must be http://host:port or https://host:port".into()));
			}
		}
		if self.secret_key_file.is_some() && self.secret_key_env.is_some() {
			return Err(ConfigError::Invalid {
				key: key.into(),
				message: "set one of secret_key_file and secret_key_env".into(),
			});
		}
		let secret = self.secret_key_file.is_some() || self.secret_key_env.is_some();
		if secret != self.access_key_id.is_some() {
			return Err(ConfigError::Invalid {
				key: key.into(),
				message: "access_key_id and a secret key (secret_key_file or secret_key_env) go together".into(),
			});
		}
		Ok(())
	}
}

/// SQL schemes a source's URL may have.
const SQL_SCHEMES: [&str; 5] = ["postgresql", "postgres", "mysql", "mariadb", "sqlite"];

impl SqlSource {
	fn check(&self, key: &str) -> Result<(), ConfigError> {
		let invalid = |what: &str, message: String| ConfigError::Invalid { key: format!("{key}.{what}"), message };
		let Some((scheme, rest)) = self.url.split_once("://") else {
			return Err(invalid("url", "must be scheme://..., e.g. postgresql://delta@127.0.0.1:5432/hospital".into()));
		};
		if !SQL_SCHEMES.contains(&scheme) {
			return Err(invalid("url", format!("{scheme:?} is not one of {}", SQL_SCHEMES.join(", "))));
		}
		if scheme != "sqlite" {
			let authority = rest.split(['/', '?']).next().unwrap_or("");
			let user = authority.rsplit_once('@').map(|(u, _)| u).unwrap_or("");
			if user.contains(':') {
				// Never repeat the URL: it holds the password.
				return Err(invalid(
					"url",
					"holds a password: put it in password_file or password_env, never in worker.toml".into(),
				));
			}
			if !authority.contains('@') || user.is_empty() {
				return Err(invalid("url", "must name the user: scheme://user@host:port/database".into()));
			}
		} else if rest.is_empty() {
			return Err(invalid("url", "must name the database file: sqlite://path/to/file.db".into()));
		}
		match (&self.table, &self.query) {
			(Some(t), None) => {
				let ok = !t.is_empty()
					&& t.split('.').count() <= 2
					&& t.split('.').all(|part| {
						!part.is_empty()
							&& part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
							&& !part.starts_with(|c: char| c.is_ascii_digit())
					});
				if !ok {
					return Err(invalid(
						"table",
						format!("{t:?} is not a table name (letters, digits, _; schema.table)"),
					));
				}
			},
			(None, Some(q)) if !q.trim().is_empty() => {},
			(None, Some(_)) => return Err(invalid("query", "is empty".into())),
			_ => return Err(ConfigError::Invalid { key: key.into(), message: "set one of table and query".into() }),
		}
		if self.password_file.is_some() && self.password_env.is_some() {
			return Err(ConfigError::Invalid {
				key: key.into(),
				message: "set one of password_file and password_env".into(),
			});
		}
		Ok(())
	}
}

/// A dataset's differential-privacy requirement: every step must be
/// noised by the members, and one task may spend at most `max_epsilon` at
/// a δ of at most `max_delta`, as this holder's own accountant counts it.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetPrivacy {
	/// Most ε one task may spend.
	pub max_epsilon: f64,
	/// Largest δ a task may state its ε for.
	#[serde(default = "default_max_delta")]
	pub max_delta: f64,
	/// Most ε one requester may spend on the dataset over all its tasks,
	/// as the ledger's privacy charges add up; absent: no such budget.
	#[serde(default)]
	pub budget: Option<f64>,
}

fn default_max_delta() -> f64 {
	1e-5
}

fn default_true() -> bool {
	true
}

/// Values from the environment or flags that override the file.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
	/// `ledger.kind`.
	pub ledger_kind: Option<LedgerKind>,
	/// `ledger.url`.
	pub ledger_url: Option<String>,
	/// `api.listen`.
	pub api_listen: Option<String>,
	/// `p2p.listen`.
	pub p2p_listen: Option<String>,
	/// `p2p.external`.
	pub p2p_external: Option<String>,
	/// `identity.suri`.
	pub suri: Option<String>,
	/// `data_dir`.
	pub data_dir: Option<PathBuf>,
	/// `sandbox.python`.
	pub python: Option<String>,
}

impl Config {
	/// Reads `path`, applies `overrides`, resolves relative paths against
	/// the file's folder and checks the values.
	pub fn load(path: &Path, overrides: &Overrides) -> Result<Self, ConfigError> {
		let text =
			std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
		let mut config: Config = toml::from_str(&text)
			.map_err(|e| ConfigError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
		config.apply(overrides);
		// Absolute, so that task processes (which run in their own scratch
		// folders) and later chdirs see the same files.
		let base = std::path::absolute(path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")))
			.map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
		config.resolve(&base);
		config.check()?;
		Ok(config)
	}

	fn apply(&mut self, o: &Overrides) {
		if let Some(v) = o.ledger_kind {
			self.ledger.kind = v;
		}
		if let Some(v) = &o.ledger_url {
			self.ledger.url = v.clone();
		}
		if let Some(v) = &o.api_listen {
			self.api.listen = v.clone();
		}
		if let Some(v) = &o.p2p_listen {
			self.p2p.listen = v.clone();
		}
		if let Some(v) = &o.p2p_external {
			self.p2p.external = v.clone();
		}
		if let Some(v) = &o.suri {
			self.identity.suri = v.clone();
		}
		if let Some(v) = &o.data_dir {
			self.data_dir = v.clone();
		}
		if let Some(v) = &o.python {
			self.sandbox.python = v.clone();
		}
	}

	fn resolve(&mut self, base: &Path) {
		let join = |p: &mut PathBuf, root: &Path| {
			if p.is_relative() {
				*p = root.join(&*p);
			}
		};
		join(&mut self.data_dir, base);
		self.data_dir = normalise(&self.data_dir);
		let data = self.data_dir.clone();
		join(&mut self.api.token_file, &data);
		join(&mut self.p2p.key_file, &data);
		join(&mut self.identity.key_file, &data);
		for d in self.datasets.values_mut() {
			if let Some(p) = &mut d.path {
				join(p, base);
			}
			if let Some(f) = d.store.as_mut().and_then(|s| s.secret_key_file.as_mut()) {
				join(f, base);
			}
			if let Some(sql) = &mut d.sql {
				if let Some(f) = &mut sql.password_file {
					join(f, base);
				}
				if let Some(file) = sql.url.strip_prefix("sqlite://") {
					let mut file = PathBuf::from(file);
					join(&mut file, base);
					sql.url = format!("sqlite://{}", file.display());
				}
			}
		}
	}

	fn check(&self) -> Result<(), ConfigError> {
		let invalid = |key: &str, message: String| ConfigError::Invalid { key: key.into(), message };
		if self.name.trim().is_empty() || self.name.len() > 64 {
			return Err(invalid("name", "must be 1 to 64 bytes".into()));
		}
		if !(self.ledger.url.starts_with("ws://") || self.ledger.url.starts_with("wss://")) {
			return Err(invalid("ledger.url", format!("{:?} is not a ws:// or wss:// URL", self.ledger.url)));
		}
		self.api
			.listen
			.parse::<std::net::SocketAddr>()
			.map_err(|e| invalid("api.listen", format!("{:?}: {e}", self.api.listen)))?;
		self.p2p
			.listen
			.parse::<libp2p::Multiaddr>()
			.map_err(|e| invalid("p2p.listen", format!("{:?}: {e}", self.p2p.listen)))?;
		if !self.p2p.external.is_empty() {
			self.p2p
				.external
				.parse::<libp2p::Multiaddr>()
				.map_err(|e| invalid("p2p.external", format!("{:?}: {e}", self.p2p.external)))?;
		}
		if self.p2p.max_message_mb == 0 || self.p2p.max_message_mb > 1024 {
			return Err(invalid("p2p.max_message_mb", "must be 1 to 1024".into()));
		}
		if self.sandbox.memory_mb < 256 {
			return Err(invalid("sandbox.memory_mb", "below 256 MiB Python with pandas cannot start".into()));
		}
		if self.sandbox.learning_memory_mb < self.sandbox.memory_mb {
			return Err(invalid(
				"sandbox.learning_memory_mb",
				format!(
					"below memory_mb ({} MiB): it is the limit learning tasks are raised to",
					self.sandbox.memory_mb
				),
			));
		}
		if self.sandbox.cpu_seconds == 0 || self.sandbox.wall_seconds == 0 {
			return Err(invalid("sandbox", "cpu_seconds and wall_seconds must be positive".into()));
		}
		if self.sandbox.idle_runners > MAX_IDLE_RUNNERS {
			return Err(invalid(
				"sandbox.idle_runners",
				format!("at most {MAX_IDLE_RUNNERS}: each idle task process holds about 100 MiB"),
			));
		}
		if self.policy.min_members < 2 {
			return Err(invalid(
				"policy.min_members",
				"must be at least 2: a sum over one member is that member's data".into(),
			));
		}
		for r in &self.policy.requesters {
			if r != "*" {
				delta_engine::AccountId::parse(r).map_err(|e| invalid("policy.requesters", format!("{r:?}: {e}")))?;
			}
		}
		for r in &self.policy.code_requesters {
			if r != "*" {
				delta_engine::AccountId::parse(r)
					.map_err(|e| invalid("policy.code_requesters", format!("{r:?}: {e}")))?;
			}
		}
		for (name, d) in &self.datasets {
			if name.is_empty() || name.len() > 64 {
				return Err(invalid(&format!("datasets.{name}"), "names are 1 to 64 bytes".into()));
			}
			if let Some(p) = d.privacy {
				if !(p.max_epsilon.is_finite() && p.max_epsilon > 0.0) {
					return Err(invalid(&format!("datasets.{name}.privacy.max_epsilon"), "must be positive".into()));
				}
				if !(p.max_delta > 0.0 && p.max_delta < 1.0) {
					return Err(invalid(&format!("datasets.{name}.privacy.max_delta"), "must be in (0, 1)".into()));
				}
				if p.budget.is_some_and(|b| !(b.is_finite() && b > 0.0)) {
					return Err(invalid(&format!("datasets.{name}.privacy.budget"), "must be positive".into()));
				}
			}
			let sources = [d.path.is_some(), d.sql.is_some(), d.store.is_some()];
			match sources.iter().filter(|set| **set).count() {
				0 => {
					return Err(invalid(
						&format!("datasets.{name}"),
						"set path (a file or image folder), sql (a database table or query) or store (files in \
						 S3 or HDFS)"
							.into(),
					))
				},
				1 => {},
				_ => return Err(invalid(&format!("datasets.{name}"), "set one of path, sql and store".into())),
			}
			if let Some(sql) = &d.sql {
				sql.check(&format!("datasets.{name}.sql"))?;
				if d.format.is_some() || !d.npy_columns.is_empty() || d.npz_key.is_some() {
					return Err(invalid(
						&format!("datasets.{name}"),
						"format, npy_columns and npz_key are for files, not a sql source".into(),
					));
				}
			}
			if let Some(store) = &d.store {
				store.check(&format!("datasets.{name}.store"))?;
				if d.format.as_deref().is_some_and(|f| f != "csv" && f != "parquet") {
					return Err(invalid(
						&format!("datasets.{name}.format"),
						"a store source holds csv or parquet files".into(),
					));
				}
			}
			if let Some(f) = &d.format {
				if !["csv", "parquet", "npy", "npz", "images"].contains(&f.as_str()) {
					return Err(invalid(
						&format!("datasets.{name}.format"),
						format!("{f:?} is not csv, parquet, npy, npz or images"),
					));
				}
			}
			if d.refresh_interval_s == Some(0) {
				return Err(invalid(&format!("datasets.{name}.refresh_interval_s"), "must be at least 1".into()));
			}
			let images = d.format.as_deref() == Some("images");
			if !images && (d.image_size.is_some() || d.image_mode.is_some()) {
				return Err(invalid(
					&format!("datasets.{name}"),
					"image_size and image_mode only apply to format = \"images\"".into(),
				));
			}
			if images && !d.columns.is_empty() {
				return Err(invalid(
					&format!("datasets.{name}.columns"),
					"an image folder's columns are always image and label (its class sub-folder)".into(),
				));
			}
			if let Some(m) = &d.image_mode {
				if m != "RGB" && m != "L" {
					return Err(invalid(&format!("datasets.{name}.image_mode"), format!("{m:?} is not RGB or L")));
				}
			}
			if let Some([h, w]) = d.image_size {
				if !(1..=4096).contains(&h) || !(1..=4096).contains(&w) {
					return Err(invalid(
						&format!("datasets.{name}.image_size"),
						"height and width must be in 1..=4096".into(),
					));
				}
			}
		}
		Ok(())
	}

	/// The dataset preparation spec the SDK's `delta._runner prepare`
	/// reads (see `delta.datasets`), as JSON text with the columns in their
	/// declared order.
	pub fn dataset_spec(&self, name: &str) -> Option<String> {
		let d = self.datasets.get(name)?;
		let spec = DatasetSpec {
			name,
			path: d.path.as_deref(),
			sql: d.sql.as_ref(),
			store: d.store.as_ref(),
			format: d.format.as_deref(),
			columns: &d.columns,
			npy_columns: &d.npy_columns,
			npz_key: d.npz_key.as_deref(),
			image_size: d.image_size,
			image_mode: d.image_mode.as_deref(),
		};
		serde_json::to_string(&spec).ok()
	}
}

/// What `delta.datasets.prepare` reads. Serialised straight to JSON text,
/// so the columns keep the order of the TOML table.
#[derive(Serialize)]
struct DatasetSpec<'a> {
	name: &'a str,
	#[serde(skip_serializing_if = "Option::is_none")]
	path: Option<&'a Path>,
	#[serde(skip_serializing_if = "Option::is_none")]
	sql: Option<&'a SqlSource>,
	#[serde(skip_serializing_if = "Option::is_none")]
	store: Option<&'a StoreSource>,
	format: Option<&'a str>,
	columns: &'a toml::Table,
	// Only for array files; the preparation refuses them elsewhere.
	#[serde(skip_serializing_if = "<[String]>::is_empty")]
	npy_columns: &'a [String],
	#[serde(skip_serializing_if = "Option::is_none")]
	npz_key: Option<&'a str>,
	#[serde(skip_serializing_if = "Option::is_none")]
	image_size: Option<[u32; 2]>,
	#[serde(skip_serializing_if = "Option::is_none")]
	image_mode: Option<&'a str>,
}

/// The commented configuration `delta-worker init` writes.
pub fn template(name: &str, kind: LedgerKind, url: &str, api: &str, p2p: &str) -> String {
	let kind = match kind {
		LedgerKind::Coordinator => "coordinator",
		LedgerKind::Chain => "chain",
	};
	format!(
		r#"# delta-worker configuration.
#
# Relative paths are relative to this file's folder. Environment variables
# override the file and flags override both:
#   DELTA_LEDGER_KIND / --ledger-kind, DELTA_LEDGER_URL / --ledger-url,
#   DELTA_API_LISTEN / --api-listen, DELTA_P2P_LISTEN / --p2p-listen,
#   DELTA_P2P_EXTERNAL / --p2p-external, DELTA_SURI / --suri,
#   DELTA_DATA_DIR / --data-dir, DELTA_PYTHON / --python.

# Shown to requesters choosing members (1 to 64 bytes).
name = "{name}"
# Keys, state (SQLite), cleaned datasets and task scratch space.
data_dir = "."

[ledger]
# "chain": a Delta Chain node; "coordinator": a delta-coordinator.
kind = "{kind}"
url = "{url}"
# The chain's block time (ms); round timeouts are converted to blocks.
block_ms = 6000

[api]
# JSON-RPC over HTTP and WebSocket for requesters (the Python SDK's
# delta.Client). Every call needs "Authorization: Bearer <token>".
listen = "{api}"
token_file = "api.token"

[p2p]
# libp2p over TCP with Noise and Yamux: task packages, encrypted shares and
# masked results travel here, only between registered members.
listen = "{p2p}"
# The address other workers dial, registered on the ledger (default: listen).
external = ""
key_file = "node.key"
# Larger messages from peers are refused.
max_message_mb = 64

[identity]
# sr25519 secret seed of this worker's account (hex), written by init.
key_file = "account.key"
# Or a secret URI such as "//Alice" (development chains only).
suri = ""

[sandbox]
# Task code runs in a separate Python process with no network, only its
# dataset and a scratch folder visible, and these limits.
python = "python3"
memory_mb = 4096
# Learning tasks (PyTorch maps about 3 GiB when imported) get this instead.
learning_memory_mb = 8192
cpu_seconds = 600
wall_seconds = 300
# Task processes kept started (sandboxed, dataset read, nothing else) for
# each kind, the requester's and a member's per dataset, so that a round
# does not wait for Python to start; 0: start each when a task needs it.
idle_runners = 1

[policy]
# Accounts (SS58) allowed to use the datasets; ["*"]: every registered member.
requesters = ["*"]
# A task's rounds must require at least this many members.
min_members = 2
# A dataset with fewer rows is never used.
min_rows = 1
# A task may run at most this many rounds.
max_rounds = 64
# Whose task code (delta.MapReduce, learning tasks) runs here without
# approving each package: accounts (SS58), or ["*"] for every allowed
# requester. Otherwise code runs only as packages approved with
# `delta-worker approve <package hash>`. delta.Analytics tasks need no
# consent: this worker's own SDK evaluates their plans.
code_requesters = []
# An analytics cell (group, crosstab cell, histogram bin, filtered column)
# this holder would compute from fewer rows than this (but some) is
# withheld: it contributes zeros there. 0 disables.
min_cell_rows = 5
# Most values (output elements) one step may ask of this holder, and at most
# one value per `rows_per_value` of its rows (0: no such cap; a model's
# weights can outnumber the rows).
max_values_per_step = 67108864
rows_per_value = 0

# Datasets, by the name tasks use. Only declared columns are visible to
# tasks; cleaning rules apply before any task sees the data.
#
# [datasets.patients]
# path = "data/patients.csv"        # .csv, .parquet, .npy or .npz
# share = true
# [datasets.patients.columns]
# age = {{ type = "float", min = 0, max = 120, missing = "drop" }}
# bmi = {{ type = "float", missing = "fill", fill = 25.0, out_of_range = "clip", min = 10, max = 80 }}
# sex = {{ type = "category", levels = ["f", "m"] }}
# Require differential privacy of every task on the dataset: each step
# noised by the members, at most max_epsilon spent per task.
# budget: most ε one requester may spend on it over all its tasks (the
# ledger keeps each holder's charges).
# Prepare it again every hour (a running task keeps the snapshot it
# started on; `delta-worker datasets refresh` does it at once):
# refresh_interval_s = 3600
# [datasets.patients.privacy]
# max_epsilon = 3.0
# max_delta = 1e-5
# budget = 10.0
#
# An image folder (one sub-folder per class) for learning tasks: columns
# `image` and `label`, the sub-folder's name.
# [datasets.scans]
# path = "data/scans"
# format = "images"
# image_size = [64, 64]             # [height, width]; absent: one size for all
# image_mode = "L"                  # "RGB" (default) or "L" (grey)
#
# A SQL table or query (SQLite, PostgreSQL, MySQL/MariaDB) instead of a
# file; the password comes from a file or the environment, never from here.
# [datasets.visits]
# sql = {{ url = "postgresql://delta@127.0.0.1:5432/hospital", table = "visits", password_file = "secrets/pg.pw" }}
# [datasets.visits.columns]
# age = {{ type = "float", min = 0, max = 120 }}
#
# Parquet or CSV files in an S3-compatible store (a file, or a folder read
# as one table) or in HDFS; the secret key comes from a file or the
# environment.
# [datasets.labs]
# format = "parquet"
# store = {{ url = "s3://hospital-lake/labs/", endpoint = "https://minio.local:9000", access_key_id = "AKIA...", secret_key_file = "secrets/s3.key" }}
# (or: store = {{ url = "hdfs://namenode.local:8020/lake/labs/", user = "delta" }})
"#
	)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn write(dir: &Path, text: &str) -> PathBuf {
		let path = dir.join("worker.toml");
		std::fs::write(&path, text).unwrap();
		path
	}

	#[test]
	fn the_template_loads_and_overrides_win() {
		let dir = tempfile::tempdir().unwrap();
		let text =
			template("a", LedgerKind::Coordinator, "ws://127.0.0.1:9000", "127.0.0.1:8787", "/ip4/127.0.0.1/tcp/4001");
		let path = write(dir.path(), &text);
		let config = Config::load(&path, &Overrides::default()).unwrap();
		assert_eq!(config.ledger.kind, LedgerKind::Coordinator);
		assert_eq!(config.api.token_file, dir.path().join("./api.token"));
		let o =
			Overrides { ledger_url: Some("ws://10.0.0.1:1".into()), suri: Some("//Bob".into()), ..Default::default() };
		let config = Config::load(&path, &o).unwrap();
		assert_eq!(config.ledger.url, "ws://10.0.0.1:1");
		assert_eq!(config.identity.suri, "//Bob");
	}

	#[test]
	fn bad_values_are_named() {
		let dir = tempfile::tempdir().unwrap();
		let text = template("a", LedgerKind::Chain, "http://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1");
		let err = Config::load(&write(dir.path(), &text), &Overrides::default()).unwrap_err();
		assert!(err.to_string().starts_with("ledger.url:"), "{err}");
		let text = template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1")
			.replace("min_members = 2", "min_members = 1");
		let err = Config::load(&write(dir.path(), &text), &Overrides::default()).unwrap_err();
		assert!(err.to_string().starts_with("policy.min_members:"), "{err}");
		let text =
			template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1") + "\nsurprise = 1\n";
		let err = Config::load(&write(dir.path(), &text), &Overrides::default()).unwrap_err();
		assert!(err.to_string().contains("unknown field `surprise`"), "{err}");
		let text = template("a", LedgerKind::Chain, "ws://127.0.0.1:1", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1")
			.replace("learning_memory_mb = 8192", "learning_memory_mb = 2048");
		let err = Config::load(&write(dir.path(), &text), &Overrides::default()).unwrap_err();
		assert!(err.to_string().starts_with("sandbox.learning_memory_mb:"), "{err}");
	}

	#[test]
	fn paths_are_absolute_and_columns_keep_their_order() {
		let dir = tempfile::tempdir().unwrap();
		let text = template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1") +
			"\n[datasets.p]\npath = \"p.csv\"\n[datasets.p.columns]\nsex = { type = \"category\" }\nage = { type = \"float\", min = 0 }\n";
		let config = Config::load(&write(dir.path(), &text), &Overrides::default()).unwrap();
		assert!(config.data_dir.is_absolute() && config.datasets["p"].path.as_ref().unwrap().is_absolute());
		let spec: serde_json::Value = serde_json::from_str(&config.dataset_spec("p").unwrap()).unwrap();
		assert_eq!(spec["columns"]["age"]["min"], 0);
		let text = config.dataset_spec("p").unwrap();
		assert!(text.find("\"sex\"").unwrap() < text.find("\"age\"").unwrap(), "{text}");
	}

	#[test]
	fn a_dataset_may_require_differential_privacy() {
		let dir = tempfile::tempdir().unwrap();
		let base = template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1")
			+ "\n[datasets.p]\npath = \"p.csv\"\n[datasets.p.privacy]\n";
		let config =
			Config::load(&write(dir.path(), &(base.clone() + "max_epsilon = 2.5\n")), &Overrides::default()).unwrap();
		assert_eq!(
			config.datasets["p"].privacy,
			Some(DatasetPrivacy { max_epsilon: 2.5, max_delta: 1e-5, budget: None })
		);
		let err =
			Config::load(&write(dir.path(), &(base.clone() + "max_epsilon = 1\nbudget = -1\n")), &Overrides::default())
				.unwrap_err();
		assert!(err.to_string().starts_with("datasets.p.privacy.budget:"), "{err}");
		let err =
			Config::load(&write(dir.path(), &(base.clone() + "max_epsilon = 0\n")), &Overrides::default()).unwrap_err();
		assert!(err.to_string().starts_with("datasets.p.privacy.max_epsilon:"), "{err}");
		let err = Config::load(
			&write(dir.path(), &(base.clone() + "max_epsilon = 1\nmax_delta = 1\n")),
			&Overrides::default(),
		)
		.unwrap_err();
		assert!(err.to_string().starts_with("datasets.p.privacy.max_delta:"), "{err}");
		let err = Config::load(&write(dir.path(), &(base + "epsilon = 1\n")), &Overrides::default()).unwrap_err();
		assert!(err.to_string().contains("unknown field `epsilon`"), "{err}");
	}

	#[test]
	fn a_sql_dataset_names_its_table_or_query_and_never_holds_a_password() {
		let dir = tempfile::tempdir().unwrap();
		let base =
			template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1") + "\n[datasets.visits]\n";
		let load = |extra: &str| Config::load(&write(dir.path(), &(base.clone() + extra)), &Overrides::default());
		let config = load(
			"sql = { url = \"postgresql://delta@127.0.0.1:5432/h\", table = \"public.visits\", password_file = \"pg.pw\" }\n",
		)
		.unwrap();
		let spec: serde_json::Value = serde_json::from_str(&config.dataset_spec("visits").unwrap()).unwrap();
		assert_eq!(spec["sql"]["table"], "public.visits");
		assert_eq!(spec["sql"]["password_file"], dir.path().join("pg.pw").display().to_string());
		assert!(spec.get("path").is_none(), "{spec}");
		let config = load("sql = { url = \"sqlite://data/h.db\", query = \"select * from v\" }\n").unwrap();
		let url = config.datasets["visits"].sql.as_ref().unwrap().url.clone();
		assert_eq!(url, format!("sqlite://{}", dir.path().join("data/h.db").display()));
		for (extra, key, words) in [
			(
				"sql = { url = \"postgresql://delta:hunter2@h:1/d\", table = \"t\" }\n",
				"datasets.visits.sql.url",
				"holds a password",
			),
			("sql = { url = \"oracle://u@h/d\", table = \"t\" }\n", "datasets.visits.sql.url", "is not one of"),
			("sql = { url = \"mysql://h:1/d\", table = \"t\" }\n", "datasets.visits.sql.url", "must name the user"),
			(
				"sql = { url = \"mysql://u@h/d\", table = \"t; drop table x\" }\n",
				"datasets.visits.sql.table",
				"not a table name",
			),
			("sql = { url = \"mysql://u@h/d\" }\n", "datasets.visits.sql", "set one of table and query"),
			(
				"sql = { url = \"mysql://u@h/d\", table = \"t\", password_env = \"P\", password_file = \"f\" }\n",
				"datasets.visits.sql",
				"one of password_file and password_env",
			),
			(
				"path = \"v.csv\"\nsql = { url = \"mysql://u@h/d\", table = \"t\" }\n",
				"datasets.visits",
				"set one of path, sql and store",
			),
			("share = true\n", "datasets.visits", "set path"),
		] {
			let err = load(extra).unwrap_err().to_string();
			assert!(err.starts_with(&format!("{key}:")) && err.contains(words), "{extra}: {err}");
			assert!(!err.contains("hunter2"), "{err}");
		}
	}

	#[test]
	fn a_store_dataset_names_s3_or_hdfs_and_never_holds_a_secret() {
		let dir = tempfile::tempdir().unwrap();
		let base =
			template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1") + "\n[datasets.visits]\n";
		let load = |extra: &str| Config::load(&write(dir.path(), &(base.clone() + extra)), &Overrides::default());
		let config = load(
			"format = \"parquet\"\nstore = { url = \"s3://lake/visits/\", endpoint = \"http://127.0.0.1:9000\", \
			 access_key_id = \"AKIA1\", secret_key_file = \"s3.key\" }\n",
		)
		.unwrap();
		let spec: serde_json::Value = serde_json::from_str(&config.dataset_spec("visits").unwrap()).unwrap();
		assert_eq!(spec["store"]["url"], "s3://lake/visits/");
		assert_eq!(spec["store"]["endpoint"], "http://127.0.0.1:9000");
		assert_eq!(spec["store"]["secret_key_file"], dir.path().join("s3.key").display().to_string());
		assert!(spec.get("path").is_none() && spec.get("sql").is_none(), "{spec}");
		let config =
			load("store = { url = \"hdfs://nn:8020/lake/v.csv\", user = \"delta\", hadoop = { \"dfs.x\" = \"1\" } }\n")
				.unwrap();
		let spec: serde_json::Value = serde_json::from_str(&config.dataset_spec("visits").unwrap()).unwrap();
		assert_eq!(spec["store"]["hadoop"]["dfs.x"], "1");
		for (extra, key, words) in [
			("store = { url = \"s3://AKIA:hunter2@lake/v/\" }\n", "datasets.visits.store.url", "holds credentials"),
			("store = { url = \"gs://lake/v/\" }\n", "datasets.visits.store.url", "is not one of s3, hdfs"),
			("store = { url = \"s3://lake\" }\n", "datasets.visits.store.url", "must name a key"),
			("store = { url = \"hdfs:///lake\" }\n", "datasets.visits.store.url", "must name the namenode"),
			(
				"store = { url = \"s3://lake/v/\", user = \"delta\" }\n",
				"datasets.visits.store.user",
				"does not apply to a s3:// source",
			),
			(
				"store = { url = \"hdfs://nn/v/\", secret_key_env = \"K\" }\n",
				"datasets.visits.store.secret_key_env",
				"does not apply to a hdfs:// source",
			),
			(
				"store = { url = \"s3://lake/v/\", access_key_id = \"A\" }\n",
				"datasets.visits.store",
				"go together",
			),
			(
				"store = { url = \"s3://lake/v/\", access_key_id = \"A\", secret_key_env = \"K\", secret_key_file = \"f\" }\n",
				"datasets.visits.store",
				"one of secret_key_file and secret_key_env",
			),
			(
				"store = { url = \"s3://lake/v/\", endpoint = \"127.0.0.1:9000\" }\n",
				"datasets.visits.store.endpoint",
				"must be http://",
			),
			("format = \"npy\"\nstore = { url = \"s3://lake/v/\" }\n", "datasets.visits.format", "csv or parquet"),
			(
				"path = \"v.csv\"\nstore = { url = \"s3://lake/v/\" }\n",
				"datasets.visits",
				"set one of path, sql and store",
			),
		] {
			let err = load(extra).unwrap_err().to_string();
			assert!(err.starts_with(&format!("{key}:")) && err.contains(words), "{extra}: {err}");
			assert!(!err.contains("hunter2"), "{err}");
		}
	}

	#[test]
	fn an_image_folder_dataset_takes_a_size_and_mode_and_no_columns() {
		let dir = tempfile::tempdir().unwrap();
		let base = template("a", LedgerKind::Chain, "ws://x", "127.0.0.1:1", "/ip4/127.0.0.1/tcp/1")
			+ "\n[datasets.scans]\npath = \"scans\"\n";
		let load = |extra: &str| Config::load(&write(dir.path(), &(base.clone() + extra)), &Overrides::default());
		let config = load("format = \"images\"\nimage_size = [28, 32]\nimage_mode = \"L\"\n").unwrap();
		let spec: serde_json::Value = serde_json::from_str(&config.dataset_spec("scans").unwrap()).unwrap();
		assert_eq!(spec["format"], "images");
		assert_eq!(spec["image_size"], serde_json::json!([28, 32]));
		assert_eq!(spec["image_mode"], "L");
		let plain = load("format = \"images\"\n").unwrap();
		let spec: serde_json::Value = serde_json::from_str(&plain.dataset_spec("scans").unwrap()).unwrap();
		assert!(spec.get("image_size").is_none() && spec.get("image_mode").is_none(), "{spec}");
		let err = load("format = \"images\"\nimage_mode = \"CMYK\"\n").unwrap_err();
		assert!(err.to_string().starts_with("datasets.scans.image_mode:"), "{err}");
		let err = load("format = \"images\"\nimage_size = [0, 8]\n").unwrap_err();
		assert!(err.to_string().starts_with("datasets.scans.image_size:"), "{err}");
		let err = load("format = \"csv\"\nimage_size = [8, 8]\n").unwrap_err();
		assert!(err.to_string().starts_with("datasets.scans:"), "{err}");
		let err = load("format = \"images\"\n[datasets.scans.columns]\nx = { type = \"float\" }\n").unwrap_err();
		assert!(err.to_string().starts_with("datasets.scans.columns:"), "{err}");
	}
}
