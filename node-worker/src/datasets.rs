//! The holder's datasets and its sharing policy. Each dataset is read and
//! cleaned once at start-up by the SDK's preparation (declared schema,
//! type coercion, missing values, ranges) into a Parquet file that is the
//! only thing task code ever reads; the policy decides which tasks may use
//! it, and a refusal's text reaches the requester.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

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
}

impl Column {
	/// A column from one entry of the preparation's report.
	pub fn from_report(c: &serde_json::Value) -> Self {
		Self {
			name: c["name"].as_str().unwrap_or("").to_string(),
			kind: c["type"].as_str().unwrap_or("").to_string(),
			shape: c["shape"].as_array().map(|a| a.iter().filter_map(|v| v.as_u64()).collect()),
			levels: c["levels"]
				.as_array()
				.map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()),
		}
	}
}

/// One prepared dataset.
#[derive(Clone, Debug)]
pub struct Dataset {
	/// The cleaned Parquet file.
	pub path: PathBuf,
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

/// The datasets and the policy over them.
pub struct Datasets {
	entries: BTreeMap<String, Dataset>,
	policy: Policy,
}

impl Datasets {
	/// Prepared datasets under `policy`.
	pub fn new(entries: BTreeMap<String, Dataset>, policy: Policy) -> Self {
		Self { entries, policy }
	}

	/// The policy.
	pub fn policy(&self) -> &Policy {
		&self.policy
	}

	/// The cleaned file of a shared dataset.
	pub fn cleaned_path(&self, name: &str) -> Option<PathBuf> {
		self.entries.get(name).filter(|d| d.share).map(|d| d.path.clone())
	}

	/// Names and schemas of the shared datasets (never rows or values).
	pub fn schemas(&self) -> Vec<(String, Vec<Column>)> {
		self.entries.iter().filter(|(_, d)| d.share).map(|(n, d)| (n.clone(), d.columns.clone())).collect()
	}

	/// Whether `task` may use dataset `name`; the error says why not.
	pub fn admit(&self, task: &TaskInfo, name: &str) -> Result<u64, EngineError> {
		let refuse = |reason: String| EngineError::Dataset { name: name.to_string(), reason };
		let d = self.entries.get(name).ok_or_else(|| refuse("this holder has no dataset of that name".into()))?;
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
		let rows = self.entries.get(name).map_or(0, |d| d.rows);
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
		self.entries.get(name).and_then(|d| d.privacy).and_then(|p| p.budget)
	}

	/// Each dataset's privacy requirement, for `delta-worker privacy` and
	/// the API.
	pub fn privacy_requirements(&self) -> Vec<(String, Option<crate::config::DatasetPrivacy>)> {
		self.entries.iter().map(|(n, d)| (n.clone(), d.privacy)).collect()
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
		let required = self.entries.get(name).and_then(|d| d.privacy);
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
		let label = Column::from_report(&serde_json::json!({"name": "label", "type": "category", "levels": ["a", "b"]}));
		assert_eq!(label.levels, Some(vec!["a".to_string(), "b".to_string()]));
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

	fn datasets(requesters: Requesters, rows: u64, share: bool) -> Datasets {
		let mut entries = BTreeMap::new();
		entries.insert("p".to_string(), Dataset { path: "/x".into(), rows, columns: vec![], share, privacy: None });
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
		let mut d = datasets(Requesters::Open, 100, true);
		let privacy = delta_engine::Privacy { clip: 1.0, noise_multiplier: 2.0, delta: 1e-6 };
		let lattice = delta_dp::Lattice::new(&privacy, 4, 2, 5, 64).unwrap();
		let step = lattice.mechanism();
		let mut spent = delta_dp::Accountant::new();
		// Without a requirement: exact steps pass, noised ones are counted.
		assert_eq!(d.admit_privacy("p", None, None, &spent).unwrap(), None);
		let once = d.admit_privacy("p", Some(&privacy), Some(&step), &spent).unwrap().unwrap();
		assert!((2.41..2.43).contains(&once), "{once}");
		let required = crate::config::DatasetPrivacy { max_epsilon: 3.0, max_delta: 1e-5, budget: None };
		if let Some(entry) = d.entries.get_mut("p") {
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
