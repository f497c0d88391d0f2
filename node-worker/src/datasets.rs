//! The holder's datasets and its sharing policy. Each dataset is read and
//! cleaned by the SDK's preparation (declared schema, type coercion,
//! missing values, ranges) into a Parquet snapshot that is the only thing
//! task code ever reads: at start-up, and again on a refresh (on its
//! schedule or on `delta-worker datasets refresh`), which swaps in a new
//! version atomically and keeps the old one when preparation fails. The
//! policy decides which tasks may use a dataset, and a refusal's text
//! reaches the requester.

use std::{
	collections::BTreeMap,
	path::PathBuf,
	sync::{Arc, Mutex, RwLock},
};

use delta_engine::{AccountId, EngineError, TaskInfo};
use serde::Serialize;

use crate::config::PolicyConfig;

/// A column as tasks see it: what a requester needs to write a task for
/// it (never its values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Column {
	/// Its name.
	pub name: String,
	/// Its type (`float`, `int`, `bool`, `str`, `category`, `image`).
	#[serde(rename = "type")]
	pub kind: String,
	/// An `image` column's `[height, width, channels]`.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub shape: Option<Vec<u64>>,
	/// A category's levels, where the holder's preparation states them
	/// (an image folder's classes).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub levels: Option<Vec<String>>,
	/// A numeric column's declared lower bound: the holder's rule (values
	/// below it are dropped, clipped or refused), never a value seen.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub min: Option<serde_json::Number>,
	/// Its declared upper bound.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub max: Option<serde_json::Number>,
}

impl Column {
	/// A column from one entry of the preparation's report.
	pub fn from_report(c: &serde_json::Value) -> Self {
		Self {
			name: c["name"].as_str().unwrap_or("").to_string(),
			kind: c["type"].as_str().unwrap_or("").to_string(),
			shape: c["shape"].as_array().map(|a| a.iter().filter_map(|v| v.as_u64()).collect()),
			levels: c["levels"].as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()),
			min: c["min"].as_number().cloned(),
			max: c["max"].as_number().cloned(),
		}
	}
}

/// One prepared dataset: a snapshot.
#[derive(Clone, Debug)]
pub struct Dataset {
	/// The cleaned Parquet file.
	pub path: PathBuf,
	/// 1 for the snapshot prepared at start-up, one more per refresh.
	pub version: u64,
	/// SHA-256 of the snapshot file (hex): the same rows give the same hash.
	pub hash: String,
	/// When it was prepared (ms since the Unix epoch).
	pub prepared_ms: u64,
	/// Rows after cleaning.
	pub rows: u64,
	/// Columns after cleaning.
	pub columns: Vec<Column>,
	/// Whether tasks may use it.
	pub share: bool,
	/// The differential privacy the holder requires of tasks on it.
	pub privacy: Option<crate::config::DatasetPrivacy>,
}

/// Which requesters may use the datasets.
#[derive(Clone, Debug)]
pub enum Requesters {
	/// Every registered member.
	Open,
	/// Only these accounts.
	Only(Vec<AccountId>),
}

/// The holder's policy.
#[derive(Clone, Debug)]
pub struct Policy {
	/// Who may ask.
	pub requesters: Requesters,
	/// Least `min_members` a task's rounds must require.
	pub min_members: u32,
	/// Least rows a dataset must have to be used at all.
	pub min_rows: u64,
	/// Most rounds a task may declare.
	pub max_rounds: u32,
	/// Whose code runs without approving each package (`crate::consent`).
	pub code_requesters: Requesters,
	/// Analytics cells computed from fewer of the dataset's rows (but
	/// some) are withheld: the member contributes zeros there.
	pub min_cell_rows: u64,
	/// Most values one step may ask of this holder.
	pub max_values_per_step: u64,
	/// A step may ask at most rows / `rows_per_value` values (0: no such
	/// cap), so no output can carry a value per row.
	pub rows_per_value: u64,
}

impl Policy {
	/// The policy from the configuration (already validated).
	pub fn from_config(c: &PolicyConfig) -> Self {
		let who = |list: &[String]| {
			if list.iter().any(|r| r == "*") {
				Requesters::Open
			} else {
				Requesters::Only(list.iter().filter_map(|r| AccountId::parse(r).ok()).collect())
			}
		};
		Self {
			requesters: who(&c.requesters),
			min_members: c.min_members,
			min_rows: c.min_rows,
			max_rounds: c.max_rounds,
			code_requesters: who(&c.code_requesters),
			min_cell_rows: c.min_cell_rows,
			max_values_per_step: c.max_values_per_step,
			rows_per_value: c.rows_per_value,
		}
	}
}

/// Prepares dataset `name` as snapshot `version`: the SDK's preparation
/// in the worker, a stand-in in tests. The error says why, without secrets.
pub type Prepare = dyn Fn(&str, u64) -> Result<Dataset, String> + Send + Sync;

/// What one dataset's refresh did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Refreshed {
	/// The dataset.
	pub name: String,
	/// Its snapshot now (the new one, or the one it kept).
	pub version: Option<u64>,
	/// Rows of that snapshot.
	pub rows: Option<u64>,
	/// Its content hash.
	pub hash: Option<String>,
	/// Why preparing a new snapshot failed (the old one is kept).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub error: Option<String>,
}

/// The datasets and the policy over them.
pub struct Datasets {
	entries: RwLock<BTreeMap<String, Dataset>>,
	policy: Policy,
	/// Every configured dataset's name, prepared or not, and how to
	/// prepare one again; none: the snapshots never change.
	preparer: Option<(Vec<String>, Box<Prepare>)>,
	/// One refresh at a time.
	refreshing: Mutex<()>,
}

impl Datasets {
	/// Prepared datasets under `policy`.
	pub fn new(entries: BTreeMap<String, Dataset>, policy: Policy) -> Self {
		Self { entries: RwLock::new(entries), policy, preparer: None, refreshing: Mutex::new(()) }
	}

	/// The same, refreshable: `names` are every configured dataset (one
	/// whose first preparation failed may succeed later), `prepare` makes
	/// a snapshot.
	pub fn refreshable(mut self, names: Vec<String>, prepare: Box<Prepare>) -> Self {
		self.preparer = Some((names, prepare));
		self
	}

	fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Dataset>> {
		self.entries.read().unwrap_or_else(std::sync::PoisonError::into_inner)
	}

	/// The current snapshot of dataset `name`.
	pub fn snapshot(&self, name: &str) -> Option<Dataset> {
		self.read().get(name).cloned()
	}

	/// Prepares new snapshots of `names` (all configured datasets when
	/// empty) and swaps each in once it is complete. A task that started
	/// on the old snapshot keeps it (its task process read it when it
	/// started); the next task reads the new one. A failed preparation
	/// keeps the old snapshot and says why. The snapshot before the one
	/// replaced is deleted.
	pub fn refresh(&self, names: &[String]) -> Vec<Refreshed> {
		let _one = self.refreshing.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
		let Some((configured, prepare)) = &self.preparer else {
			return Vec::new();
		};
		let wanted: Vec<String> = if names.is_empty() { configured.clone() } else { names.to_vec() };
		let mut out = Vec::with_capacity(wanted.len());
		for name in wanted {
			let old = self.snapshot(&name);
			let kept = |error: String| Refreshed {
				name: name.clone(),
				version: old.as_ref().map(|d| d.version),
				rows: old.as_ref().map(|d| d.rows),
				hash: old.as_ref().map(|d| d.hash.clone()),
				error: Some(error),
			};
			if !configured.contains(&name) {
				out.push(kept(format!("no dataset {name:?} in worker.toml")));
				continue;
			}
			let version = old.as_ref().map_or(1, |d| d.version + 1);
			match prepare(&name, version) {
				Ok(new) => {
					tracing::info!(
						"dataset {name}: snapshot {} ({} rows, sha256 {}) replaces {}",
						new.version,
						new.rows,
						new.hash,
						old.as_ref().map_or("none".to_string(), |d| format!("snapshot {}", d.version))
					);
					out.push(Refreshed {
						name: name.clone(),
						version: Some(new.version),
						rows: Some(new.rows),
						hash: Some(new.hash.clone()),
						error: None,
					});
					let before = self
						.entries
						.write()
						.unwrap_or_else(std::sync::PoisonError::into_inner)
						.insert(name.clone(), new);
					// The snapshot just replaced stays for a task process
					// still starting on it; the one before it goes.
					if let Some(previous) = before.and_then(|b| b.version.checked_sub(1)) {
						let _ = std::fs::remove_file(snapshot_file(&old_folder(&old), &name, previous));
					}
				},
				Err(e) => {
					tracing::error!(
						"dataset {name}: refresh failed, {} kept: {e}",
						old.as_ref().map_or("nothing".to_string(), |d| format!("snapshot {}", d.version))
					);
					out.push(kept(e));
				},
			}
		}
		out
	}

	/// The policy.
	pub fn policy(&self) -> &Policy {
		&self.policy
	}

	/// The cleaned file of a shared dataset.
	pub fn cleaned_path(&self, name: &str) -> Option<PathBuf> {
		self.read().get(name).filter(|d| d.share).map(|d| d.path.clone())
	}

	/// Names and schemas of the shared datasets (never rows or values).
	pub fn schemas(&self) -> Vec<(String, Vec<Column>)> {
		self.read().iter().filter(|(_, d)| d.share).map(|(n, d)| (n.clone(), d.columns.clone())).collect()
	}

	/// The shared datasets' current snapshots.
	pub fn shared(&self) -> Vec<(String, Dataset)> {
		self.read().iter().filter(|(_, d)| d.share).map(|(n, d)| (n.clone(), d.clone())).collect()
	}

	/// Whether `task` may use dataset `name`; the error says why not.
	pub fn admit(&self, task: &TaskInfo, name: &str) -> Result<u64, EngineError> {
		let refuse = |reason: String| EngineError::Dataset { name: name.to_string(), reason };
		let entries = self.read();
		let d = entries.get(name).ok_or_else(|| refuse("this holder has no dataset of that name".into()))?;
		if !d.share {
			return Err(refuse("this holder does not share it".into()));
		}
		if let Requesters::Only(allowed) = &self.policy.requesters {
			if !allowed.contains(&task.owner) {
				return Err(refuse(format!("requester {} is not on this holder's allowlist", task.owner)));
			}
		}
		if task.params.min_members < self.policy.min_members {
			return Err(refuse(format!(
				"the task accepts rounds of {} members; this holder requires at least {}",
				task.params.min_members, self.policy.min_members
			)));
		}
		if task.rounds > self.policy.max_rounds {
			return Err(refuse(format!(
				"the task may run {} rounds; this holder allows at most {}",
				task.rounds, self.policy.max_rounds
			)));
		}
		if d.rows < self.policy.min_rows {
			return Err(refuse(format!("it has fewer rows than this holder's minimum of {}", self.policy.min_rows)));
		}
		Ok(d.rows)
	}
}

impl Datasets {
	/// Whether this holder gives a step of `values` output values on
	/// dataset `name`: at most `max_values_per_step`, and at most rows /
	/// `rows_per_value`. Checked before the step's `map` touches the data;
	/// the refusal is the member's decline, which the requester sees.
	pub fn admit_outputs(&self, name: &str, values: u64) -> Result<(), EngineError> {
		let refuse = |reason: String| EngineError::Dataset { name: name.to_string(), reason };
		let rows = self.read().get(name).map_or(0, |d| d.rows);
		if values > self.policy.max_values_per_step {
			return Err(refuse(format!(
				"the step asks for {values} values; this holder gives at most {} per step",
				self.policy.max_values_per_step
			)));
		}
		let k = self.policy.rows_per_value;
		if k > 0 && values.saturating_mul(k) > rows {
			return Err(refuse(format!(
				"the step asks for {values} values of {rows} rows; this holder gives at most one value per {k} rows"
			)));
		}
		Ok(())
	}
}

impl Datasets {
	/// The ε one requester may spend on dataset `name` over all its tasks,
	/// if the holder set a budget.
	pub fn privacy_budget(&self, name: &str) -> Option<f64> {
		self.read().get(name).and_then(|d| d.privacy).and_then(|p| p.budget)
	}

	/// Each dataset's privacy requirement, for `delta-worker privacy` and
	/// the API.
	pub fn privacy_requirements(&self) -> Vec<(String, Option<crate::config::DatasetPrivacy>)> {
		self.read().iter().map(|(n, d)| (n.clone(), d.privacy)).collect()
	}

	/// Whether this holder gives a step on dataset `name` with the
	/// privacy it asks: where the holder requires DP, the step must be
	/// noised with a δ within the holder's, and the task's ε after it, by
	/// `spent` (this member's own accountant of the task) with the step's
	/// `mechanism` composed, must stay within the holder's limit. Returns
	/// the ε the task will have spent.
	pub fn admit_privacy(
		&self,
		name: &str,
		privacy: Option<&delta_engine::Privacy>,
		step: Option<&delta_dp::DistributedDiscreteGaussian>,
		spent: &delta_dp::Accountant,
	) -> Result<Option<f64>, EngineError> {
		let refuse = |reason: String| EngineError::Dataset { name: name.to_string(), reason };
		let required = self.read().get(name).and_then(|d| d.privacy);
		let (Some(privacy), Some(step)) = (privacy, step) else {
			return match required {
				Some(r) => Err(refuse(format!(
					"this holder requires differential privacy (ε at most {} at δ at most {:e}); the step adds no noise",
					r.max_epsilon, r.max_delta
				))),
				None => Ok(None),
			};
		};
		let mut after = spent.clone();
		after.compose_distributed(step);
		let epsilon = after.epsilon(privacy.delta);
		if let Some(r) = required {
			if privacy.delta > r.max_delta {
				return Err(refuse(format!(
					"the task states its ε for δ = {:e}; this holder needs δ at most {:e}",
					privacy.delta, r.max_delta
				)));
			}
			if epsilon > r.max_epsilon {
				return Err(refuse(format!(
					"this step would bring the task's ε to {epsilon:.3}; this holder allows at most {} per task",
					r.max_epsilon
				)));
			}
		}
		Ok(Some(epsilon))
	}
}

/// A shared dataset of `rows` rows at `path`, snapshot 1, for tests.
#[cfg(test)]
pub fn test_dataset(path: PathBuf, rows: u64, share: bool) -> Dataset {
	Dataset { path, version: 1, hash: String::new(), prepared_ms: 0, rows, columns: vec![], share, privacy: None }
}

/// The file of dataset `name`'s snapshot `version` in `folder`.
pub fn snapshot_file(folder: &std::path::Path, name: &str, version: u64) -> PathBuf {
	folder.join(format!("{name}.v{version}.parquet"))
}

fn old_folder(old: &Option<Dataset>) -> PathBuf {
	old.as_ref().and_then(|d| d.path.parent().map(PathBuf::from)).unwrap_or_default()
}

/// The engine's view of the datasets.
pub struct SharedDatasets(pub Arc<Datasets>);

impl delta_engine::Datasets for SharedDatasets {
	fn admit(&self, task: &TaskInfo, name: &str) -> Result<u64, EngineError> {
		self.0.admit(task, name)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn columns_from_the_report_keep_an_image_shape_and_levels() {
		let image = Column::from_report(&serde_json::json!({"name": "image", "type": "image", "shape": [8, 8, 1]}));
		assert_eq!(image.shape, Some(vec![8, 8, 1]));
		let label =
			Column::from_report(&serde_json::json!({"name": "label", "type": "category", "levels": ["a", "b"]}));
		assert_eq!(label.levels, Some(vec!["a".to_string(), "b".to_string()]));
		let bounded = Column::from_report(&serde_json::json!({"name": "age", "type": "float", "min": 0, "max": 120.5}));
		assert_eq!(
			serde_json::to_value(&bounded).unwrap(),
			serde_json::json!({"name": "age", "type": "float", "min": 0, "max": 120.5})
		);
		let plain = Column::from_report(&serde_json::json!({"name": "age", "type": "float"}));
		// Published as before: no empty shape or levels for a table's column.
		assert_eq!(serde_json::to_value(&plain).unwrap(), serde_json::json!({"name": "age", "type": "float"}));
	}
	use delta_coordinator::types::H256;
	use delta_primitives::{
		round::{PhaseTimeouts, RoundParams},
		task::{TaskKind, TaskStatus},
	};

	fn task(owner: u8, min_members: u32, rounds: u32) -> TaskInfo {
		TaskInfo {
			id: 1,
			owner: AccountId([owner; 32]),
			package: H256([0; 32]),
			kind: TaskKind::Statistics,
			datasets: vec!["p".into()],
			rounds,
			params: RoundParams {
				min_members,
				max_members: 5,
				threshold: 2,
				timeouts: PhaseTimeouts { open: 1, share_keys: 1, compute: 1, unmask: 1 },
			},
			status: TaskStatus::Active,
			rounds_started: 0,
			created_at: 0,
		}
	}

	#[test]
	fn a_refresh_swaps_in_a_new_snapshot_and_a_failed_one_keeps_the_old() {
		let dir = tempfile::tempdir().unwrap();
		let folder = dir.path().to_path_buf();
		let rows = Arc::new(Mutex::new(Ok::<u64, String>(10)));
		let source = Arc::clone(&rows);
		let prepare_in = folder.clone();
		let prepare: Box<Prepare> = Box::new(move |name: &str, version: u64| {
			if name == "q" {
				return Err("q's database is down".into());
			}
			let rows = source.lock().unwrap().clone()?;
			let path = snapshot_file(&prepare_in, name, version);
			std::fs::write(&path, format!("{rows}")).unwrap();
			Ok(Dataset { version, hash: format!("h{rows}"), ..test_dataset(path, rows, true) })
		});
		let first = prepare("p", 1).unwrap();
		let mut entries = BTreeMap::new();
		entries.insert("p".to_string(), first);
		let d = datasets_of(entries).refreshable(vec!["p".into(), "q".into()], prepare);
		*rows.lock().unwrap() = Ok(20);
		let done = d.refresh(&["p".to_string()]);
		assert_eq!(
			done,
			vec![Refreshed {
				name: "p".into(),
				version: Some(2),
				rows: Some(20),
				hash: Some("h20".into()),
				error: None
			}]
		);
		assert_eq!(d.cleaned_path("p"), Some(snapshot_file(&folder, "p", 2)));
		assert_eq!(d.admit(&task(1, 3, 1), "p").unwrap(), 20);
		// Snapshot 1 stays while 2 is current; 3 replaces 2 and 1 goes.
		assert!(snapshot_file(&folder, "p", 1).exists());
		*rows.lock().unwrap() = Ok(30);
		d.refresh(&[]);
		assert!(!snapshot_file(&folder, "p", 1).exists() && snapshot_file(&folder, "p", 2).exists());
		// A failed preparation keeps snapshot 3 and says why; so does a name
		// that is not configured. q, which never prepared, is tried each time.
		*rows.lock().unwrap() = Err("the postgresql server refused the login".into());
		let failed = d.refresh(&[]);
		assert_eq!(failed[0].version, Some(3));
		assert_eq!(failed[0].error.as_deref(), Some("the postgresql server refused the login"));
		assert_eq!((failed[1].name.as_str(), failed[1].version), ("q", None));
		assert_eq!(d.cleaned_path("p"), Some(snapshot_file(&folder, "p", 3)));
		let unknown = d.refresh(&["r".to_string()]);
		assert_eq!(unknown[0].error.as_deref(), Some("no dataset \"r\" in worker.toml"));
	}

	fn datasets_of(entries: BTreeMap<String, Dataset>) -> Datasets {
		datasets_for(Requesters::Open, entries)
	}

	fn datasets(requesters: Requesters, rows: u64, share: bool) -> Datasets {
		let mut entries = BTreeMap::new();
		entries.insert("p".to_string(), test_dataset("/x".into(), rows, share));
		datasets_for(requesters, entries)
	}

	fn datasets_for(requesters: Requesters, entries: BTreeMap<String, Dataset>) -> Datasets {
		Datasets::new(
			entries,
			Policy {
				requesters,
				min_members: 3,
				min_rows: 10,
				max_rounds: 8,
				code_requesters: Requesters::Open,
				min_cell_rows: 0,
				max_values_per_step: 1 << 26,
				rows_per_value: 0,
			},
		)
	}

	#[test]
	fn each_policy_rule_refuses_with_its_reason() {
		let open = datasets(Requesters::Open, 100, true);
		assert_eq!(open.admit(&task(1, 3, 8), "p").unwrap(), 100);
		let reason = |d: &Datasets, t: &TaskInfo, n: &str| d.admit(t, n).unwrap_err().to_string();
		assert!(reason(&open, &task(1, 3, 8), "q").contains("no dataset of that name"));
		assert!(reason(&open, &task(1, 2, 8), "p").contains("requires at least 3"));
		assert!(reason(&open, &task(1, 3, 9), "p").contains("allows at most 8"));
		let few = datasets(Requesters::Open, 9, true);
		assert!(reason(&few, &task(1, 3, 8), "p").contains("minimum of 10"));
		let hidden = datasets(Requesters::Open, 100, false);
		assert!(reason(&hidden, &task(1, 3, 8), "p").contains("does not share"));
		assert_eq!(hidden.cleaned_path("p"), None);
		assert!(hidden.schemas().is_empty());
		let only = datasets(Requesters::Only(vec![AccountId([2; 32])]), 100, true);
		assert!(reason(&only, &task(1, 3, 8), "p").contains("allowlist"));
		assert!(only.admit(&task(2, 3, 8), "p").is_ok());
	}

	#[test]
	fn a_step_asking_more_values_than_the_caps_allow_is_refused_with_the_figures() {
		let mut d = datasets(Requesters::Open, 100, true);
		assert!(d.admit_outputs("p", 1 << 20).is_ok(), "no per-row cap by default: models outnumber rows");
		d.policy.rows_per_value = 10;
		assert!(d.admit_outputs("p", 10).is_ok());
		let e = d.admit_outputs("p", 11).unwrap_err().to_string();
		assert!(e.contains("11 values of 100 rows") && e.contains("one value per 10 rows"), "{e}");
		d.policy.max_values_per_step = 5;
		assert!(d.admit_outputs("p", 6).unwrap_err().to_string().contains("at most 5 per step"));
		assert!(d.admit_outputs("p", u64::MAX).is_err(), "no overflow");
	}

	#[test]
	fn a_dataset_that_requires_privacy_refuses_exact_steps_and_steps_past_its_epsilon() {
		let d = datasets(Requesters::Open, 100, true);
		let privacy = delta_engine::Privacy { clip: 1.0, noise_multiplier: 2.0, delta: 1e-6 };
		let lattice = delta_dp::Lattice::new(&privacy, 4, 2, 5, 64).unwrap();
		let step = lattice.mechanism();
		let mut spent = delta_dp::Accountant::new();
		// Without a requirement: exact steps pass, noised ones are counted.
		assert_eq!(d.admit_privacy("p", None, None, &spent).unwrap(), None);
		let once = d.admit_privacy("p", Some(&privacy), Some(&step), &spent).unwrap().unwrap();
		assert!((2.41..2.43).contains(&once), "{once}");
		let required = crate::config::DatasetPrivacy { max_epsilon: 3.0, max_delta: 1e-5, budget: None };
		if let Some(entry) = d.entries.write().unwrap().get_mut("p") {
			entry.privacy = Some(required);
		}
		let e = d.admit_privacy("p", None, None, &spent).unwrap_err().to_string();
		assert!(e.contains("requires differential privacy") && e.contains("adds no noise"), "{e}");
		assert!(d.admit_privacy("p", Some(&privacy), Some(&step), &spent).is_ok());
		// A second such step would spend 3.54.
		spent.compose_distributed(&step);
		let e = d.admit_privacy("p", Some(&privacy), Some(&step), &spent).unwrap_err().to_string();
		assert!(e.contains("bring the task's ε to 3.54") && e.contains("at most 3 per task"), "{e}");
		let loose = delta_engine::Privacy { delta: 1e-3, ..privacy };
		let e = d.admit_privacy("p", Some(&loose), Some(&step), &delta_dp::Accountant::new()).unwrap_err();
		assert!(e.to_string().contains("needs δ at most"), "{e}");
	}
}
