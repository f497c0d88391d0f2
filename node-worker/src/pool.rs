//! Runners started before they are needed. Starting the SDK's runner costs
//! about half a second of CPU (Python, numpy, pandas, pyarrow, reading the
//! dataset); a round in which every member and the requester paid it would
//! wait for the slowest of them, and on a machine with few cores for all of
//! them. So the worker keeps `sandbox.idle_runners` idle runners of each
//! kind (the requester's, and a member's per shared dataset) started and
//! sandboxed, and a task takes one and sends it its package.
//!
//! An idle runner has read nothing but the holder's own dataset and the
//! Python installation, under the same sandbox and limits as any task
//! process, and it serves exactly one task: a taken runner is never given
//! back. The pool is topped up when a round or a task has ended (never
//! while one is running, whose members would wait for the CPU), and a task
//! that finds none ready waits for one being started, or starts its own.

use std::{
	collections::HashMap,
	path::PathBuf,
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		mpsc, Arc, Mutex,
	},
};

use crate::{
	datasets::Datasets,
	executor::{ExecError, LogSink, Python, Runner},
};

/// A runner being started, or started and idle.
struct Starting {
	runner: mpsc::Receiver<Result<Runner, ExecError>>,
	/// Set once it has started (or failed to).
	done: Arc<AtomicBool>,
	/// The dataset snapshot it reads: one a refresh replaced is stale.
	path: Option<PathBuf>,
}

/// Idle runners, by the dataset they hold (`None`: a requester's).
pub struct RunnerPool {
	python: Arc<Python>,
	datasets: Arc<Datasets>,
	folder: PathBuf,
	per_kind: usize,
	idle: Mutex<HashMap<Option<String>, Vec<Starting>>>,
	next: AtomicU64,
}

impl RunnerPool {
	/// A pool that keeps `per_kind` idle runners of each kind, each in a
	/// folder of its own under `folder` (emptied first: what a previous
	/// run left there is stale). Nothing starts until [`Self::top_up`].
	pub fn new(python: Arc<Python>, datasets: Arc<Datasets>, folder: PathBuf, per_kind: usize) -> Self {
		let _ = std::fs::remove_dir_all(&folder);
		Self { python, datasets, folder, per_kind, idle: Mutex::default(), next: AtomicU64::new(0) }
	}

	/// How many idle runners of each kind the pool keeps.
	pub fn per_kind(&self) -> usize {
		self.per_kind
	}

	/// A runner for `dataset` (`None`: a requester's, which reads none)
	/// with `package` loaded and its log going to `log`: an idle one if
	/// one is ready or being started, else one started now. A refused
	/// package ends its runner; the error says why.
	pub fn take(&self, dataset: Option<&str>, package: &[u8], log: LogSink) -> Result<Runner, ExecError> {
		self.drop_stale();
		let waiting = self.lock().get_mut(&dataset.map(str::to_string)).and_then(Vec::pop);
		let idle = match waiting.map(|starting| starting.runner.recv()) {
			Some(Ok(Ok(runner))) => {
				let mut runner = runner;
				runner.alive().then_some(runner)
			},
			Some(Ok(Err(e))) => {
				tracing::warn!("an idle runner could not be started: {e}");
				None
			},
			// Its starting thread ended without a word, or there was none.
			_ => None,
		};
		let mut runner = match idle {
			Some(runner) => runner,
			None => self.start(dataset)?,
		};
		// A member's runner withholds analytics cells of fewer rows than
		// the policy's minimum; a requester's reads no data.
		let min_cell_rows = if dataset.is_some() { self.datasets.policy().min_cell_rows } else { 0 };
		runner.load(package, min_cell_rows, log)?;
		Ok(runner)
	}

	/// Starts idle runners in the background until every kind (the
	/// requester's and each shared dataset's) has its `per_kind`.
	pub fn top_up(&self) {
		if self.per_kind == 0 {
			return;
		}
		self.drop_stale();
		let kinds = std::iter::once(None).chain(self.datasets.schemas().into_iter().map(|(name, _)| Some(name)));
		let mut idle = self.lock();
		for kind in kinds {
			let list = idle.entry(kind.clone()).or_default();
			while list.len() < self.per_kind {
				let (tx, rx) = mpsc::channel();
				let done = Arc::new(AtomicBool::new(false));
				let signal = Arc::clone(&done);
				let folder = self.folder_for_next();
				let python = Arc::clone(&self.python);
				let dataset = match kind.as_deref().map(|name| self.datasets.cleaned_path(name)) {
					Some(None) => break,
					Some(Some(path)) => Some(path),
					None => None,
				};
				let path = dataset.clone();
				let spawned = std::thread::Builder::new().name("runner-start".into()).spawn(move || {
					let _ = tx.send(python.spawn(folder, dataset.as_deref()));
					signal.store(true, Ordering::SeqCst);
				});
				if let Err(e) = spawned {
					tracing::warn!("cannot start a thread for an idle runner: {e}");
					break;
				}
				list.push(Starting { runner: rx, done, path });
			}
		}
	}

	/// How many runners have started and wait for a task (those still
	/// starting not counted): the operator's, and a benchmark's, sign that
	/// the worker is ready for a round without start-up cost.
	pub fn ready(&self) -> usize {
		self.lock().values().flatten().filter(|s| s.done.load(Ordering::SeqCst)).count()
	}

	fn start(&self, dataset: Option<&str>) -> Result<Runner, ExecError> {
		let path = match dataset {
			None => None,
			Some(name) => Some(
				self.datasets
					.cleaned_path(name)
					.ok_or_else(|| ExecError::Task { kind: "policy".into(), message: format!("no dataset {name}") })?,
			),
		};
		self.python.spawn(self.folder_for_next(), path.as_deref())
	}

	/// Ends idle runners that read a snapshot a refresh has replaced (or
	/// a dataset no longer offered): the next task must read the new one.
	fn drop_stale(&self) {
		let mut idle = self.lock();
		for (kind, list) in idle.iter_mut() {
			let Some(name) = kind else { continue };
			let current = self.datasets.cleaned_path(name);
			list.retain(|s| s.path == current);
		}
	}

	fn folder_for_next(&self) -> PathBuf {
		self.folder.join(format!("runner-{}", self.next.fetch_add(1, Ordering::Relaxed)))
	}

	fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<String>, Vec<Starting>>> {
		self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
	}
}

#[cfg(test)]
mod tests {
	use std::{collections::BTreeMap, path::Path, process::Command, time::Duration};

	use serde_json::json;

	use super::*;
	use crate::{
		config::SandboxConfig,
		datasets::{Policy, Requesters},
		runner_wire::{step_from_json, step_json, Request},
	};

	/// Runs Python code with the installed SDK; its stdout.
	fn python(code: &str, args: &[&Path]) -> Vec<u8> {
		let out = Command::new("python3").arg("-c").arg(code).args(args).output().expect("python3");
		assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
		out.stdout
	}

	/// The benchmark's one-round mean, packaged as `delta.Client` does.
	fn package() -> Vec<u8> {
		let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts");
		python(
			"import sys; sys.path.insert(0, sys.argv[1]); import bench_tasks, delta; \
			 sys.stdout.buffer.write(delta.package_task(bench_tasks.MeanAge).to_bytes())",
			&[&scripts],
		)
	}

	fn pool(folder: &Path, per_kind: usize) -> RunnerPool {
		let data = folder.join("patients.parquet");
		python("import sys, pandas as pd; pd.DataFrame({'age': [30.0, 40.0, 50.0]}).to_parquet(sys.argv[1])", &[&data]);
		let mut entries = BTreeMap::new();
		entries.insert("patients".to_string(), crate::datasets::test_dataset(data, 3, true));
		let policy = Policy {
			requesters: Requesters::Open,
			min_members: 2,
			min_rows: 1,
			max_rounds: 8,
			code_requesters: Requesters::Open,
			min_cell_rows: 0,
			max_values_per_step: 1 << 26,
			rows_per_value: 0,
		};
		let python = Python::discover(&SandboxConfig::default()).expect("the SDK is installed");
		RunnerPool::new(Arc::new(python), Arc::new(Datasets::new(entries, policy)), folder.join("runners"), per_kind)
	}

	fn wait_ready(pool: &RunnerPool, n: usize) {
		let deadline = std::time::Instant::now() + Duration::from_secs(60);
		while pool.ready() < n {
			assert!(std::time::Instant::now() < deadline, "{} of {n} idle runners after 60 s", pool.ready());
			std::thread::sleep(Duration::from_millis(50));
		}
	}

	fn quiet() -> LogSink {
		Arc::new(|_: &str| {})
	}

	#[test]
	fn idle_runners_serve_a_round_and_are_replaced_only_when_topped_up() {
		let dir = tempfile::tempdir().unwrap();
		let pool = pool(dir.path(), 1);
		pool.top_up();
		// One requester's and one member's for the one dataset.
		wait_ready(&pool, 2);
		let package = package();
		let mut requester = pool.take(None, &package, quiet()).unwrap();
		let mut member = pool.take(Some("patients"), &package, quiet()).unwrap();
		assert_eq!(pool.ready(), 0, "a taken runner is never counted again");

		let started = requester.call(&json!({"op": "start"})).unwrap();
		let step = step_from_json(&started["step"], &started.blobs).unwrap();
		let mut map = Request::new(json!({"op": "map"}));
		map.json["step"] = step_json(&step, &mut map);
		let mapped = member.call_with(map).unwrap();
		// The values come as an attachment, not as text.
		assert_eq!(mapped["values"], json!({"blob": 0}));
		let values = mapped.binary(&mapped["values"], "values").unwrap();
		let floats: Vec<f64> = values.chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
		assert!(floats.contains(&120.0) && floats.contains(&3.0), "the member's sum and count: {floats:?}");

		// Replacements start when asked (a round has ended), not before.
		pool.top_up();
		wait_ready(&pool, 2);
		let folders = std::fs::read_dir(dir.path().join("runners")).unwrap().count();
		assert_eq!(folders, 4);
		drop((requester, member));
		let folders = std::fs::read_dir(dir.path().join("runners")).unwrap().count();
		assert_eq!(folders, 2, "a finished runner's folder goes with it");
	}

	#[test]
	fn a_refused_package_ends_its_runner_and_says_why() {
		let dir = tempfile::tempdir().unwrap();
		let pool = pool(dir.path(), 1);
		pool.top_up();
		wait_ready(&pool, 2);
		let mut package = package();
		let last = package.len() - 2;
		package[last] ^= 1;
		match pool.take(Some("patients"), &package, quiet()) {
			Err(ExecError::Package(why)) => assert!(!why.is_empty()),
			other => panic!("expected a package refusal, got {:?}", other.err()),
		}
		assert_eq!(pool.ready(), 1, "the requester's idle runner is untouched");
		assert!(matches!(pool.take(Some("elsewhere"), &package, quiet()), Err(ExecError::Task { .. })));
	}

	#[test]
	fn without_idle_runners_a_task_starts_its_own() {
		let dir = tempfile::tempdir().unwrap();
		let pool = pool(dir.path(), 0);
		pool.top_up();
		assert_eq!(pool.ready(), 0);
		let mut runner = pool.take(None, &package(), quiet()).unwrap();
		let info = runner.call(&json!({"op": "info"})).unwrap();
		assert_eq!(info["dataset"], json!("patients"));
	}
}
