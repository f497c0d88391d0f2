//! Task code in a sandboxed Python process: the SDK's runner
//! (`python -I -m delta._runner serve`) speaks one JSON object per line on
//! stdin/stdout; its stderr is the task's log. Each process is confined by
//! [`crate::sandbox`] and limited in memory, CPU and wall time; whatever it
//! does, the worker only ever sees a reply, an error with a reason, or a
//! dead process, and carries on.

use std::{
	io::{BufReader, Write},
	path::{Path, PathBuf},
	process::{Child, ChildStdin, Command, Stdio},
	sync::{mpsc, Arc, Mutex},
	time::{Duration, Instant},
};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use delta_engine::{
	io::package_commitment, tensor::join_bytes, EngineError, MemberExecutor, Next, RequesterExecutor, StepSpec, TaskId,
	TaskInfo, Values,
};
use serde_json::{json, Value};

use crate::{
	config::SandboxConfig,
	consent::Consent,
	datasets::Datasets,
	pool::RunnerPool,
	runner_wire::{self, step_from_json, step_json, values_from_reply, Message, Request, WireError},
	sandbox,
};

/// Why task code did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
	/// The process could not be started.
	#[error("cannot start the task process: {0}")]
	Spawn(String),
	/// The package was refused (malformed, wrong commitment, static check).
	#[error("the task package was refused: {0}")]
	Package(String),
	/// The task's code raised an error or was refused something.
	#[error("{kind}: {message}")]
	Task {
		/// `task`, `policy`, `sandbox`, `resources` or `protocol`.
		kind: String,
		/// The runner's message.
		message: String,
	},
	/// A call took longer than the wall-time limit; the process was killed.
	#[error("the task took longer than its wall-time limit of {0} s and was stopped")]
	Timeout(u64),
	/// The process died.
	#[error("the task process died: {0}")]
	Died(String),
}

impl From<ExecError> for EngineError {
	fn from(e: ExecError) -> Self {
		let kind = match &e {
			ExecError::Spawn(_) => "could not start",
			ExecError::Package(_) => "package refused",
			ExecError::Task { kind, message } => return EngineError::from_runner(kind, message, e.to_string()),
			ExecError::Timeout(_) => "wall-time limit",
			ExecError::Died(_) => "process died",
		};
		EngineError::TaskCode { kind: kind.to_string(), detail: e.to_string() }
	}
}

impl From<WireError> for ExecError {
	/// A reply the worker cannot read is the runner breaking the protocol;
	/// outputs it declares but the engine refuses are the task's error.
	fn from(e: WireError) -> Self {
		let kind = match e {
			WireError::Outputs(_) => "task",
			WireError::MalformedStep(_)
			| WireError::NotJson
			| WireError::TooLong { .. }
			| WireError::MalformedBlobs
			| WireError::Binary(_) => "protocol",
		};
		ExecError::Task { kind: kind.into(), message: e.to_string() }
	}
}

/// The version of the runner protocol this worker speaks
/// (`delta._runner.PROTOCOL`).
pub const RUNNER_PROTOCOL: u64 = 5;

/// Receives the task process's log lines.
pub type LogSink = Arc<dyn Fn(&str) + Send + Sync>;

/// The Python installation task code runs on, and the limits.
pub struct Python {
	interpreter: PathBuf,
	read_dirs: Vec<PathBuf>,
	limits: SandboxConfig,
}

impl Python {
	/// Finds the interpreter and the folders its libraries live in (the
	/// only folders the sandbox lets task code read).
	pub fn discover(limits: &SandboxConfig) -> Result<Self, ExecError> {
		let probe = r#"
import json, os, sys, sysconfig
import delta, numpy, pandas, pyarrow
dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
dirs.update(v for k, v in sysconfig.get_paths().items() if k in ("stdlib", "platstdlib", "purelib", "platlib"))
for m in (delta, numpy, pandas, pyarrow):
    dirs.add(os.path.dirname(os.path.dirname(os.path.realpath(m.__file__))))
dirs.update(p for p in sys.path if p and os.path.isdir(p))
print(json.dumps({"executable": os.path.realpath(sys.executable), "dirs": sorted(d for d in dirs if d)}))
"#;
		let out = Command::new(&limits.python)
			.args(["-I", "-c", probe])
			.stdin(Stdio::null())
			.output()
			.map_err(|e| ExecError::Spawn(format!("{}: {e}", limits.python)))?;
		if !out.status.success() {
			return Err(ExecError::Spawn(format!(
				"{} cannot import the delta SDK with numpy, pandas and pyarrow (install it with `pip install ./sdk/python`): {}",
				limits.python,
				String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
			)));
		}
		let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| ExecError::Spawn(e.to_string()))?;
		let interpreter = PathBuf::from(v["executable"].as_str().unwrap_or_default());
		let mut read_dirs: Vec<PathBuf> =
			v["dirs"].as_array().into_iter().flatten().filter_map(|d| d.as_str()).map(PathBuf::from).collect();
		// Shared libraries and the dynamic loader's configuration.
		for d in
			["/lib", "/lib64", "/usr/lib", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache", "/usr/share/zoneinfo"]
		{
			read_dirs.push(PathBuf::from(d));
		}
		if let Some(bin) = interpreter.parent() {
			read_dirs.push(bin.to_path_buf());
		}
		Ok(Self { interpreter, read_dirs, limits: limits.clone() })
	}

	/// Runs the SDK's dataset preparation (the holder's own code on the
	/// holder's own data: not sandboxed) and returns its report.
	pub fn prepare_dataset(&self, name: &str, spec: &str, work: &Path, out: &Path) -> Result<Value, ExecError> {
		let spec_path = work.join(format!("{name}.spec.json"));
		std::fs::write(&spec_path, spec).map_err(|e| ExecError::Spawn(e.to_string()))?;
		let output = Command::new(&self.interpreter)
			.args(["-I", "-m", "delta._runner", "prepare", "--spec"])
			.arg(&spec_path)
			.arg("--out")
			.arg(out)
			.stdin(Stdio::null())
			.output()
			.map_err(|e| ExecError::Spawn(e.to_string()))?;
		let line = String::from_utf8_lossy(&output.stdout).lines().last().unwrap_or("").to_string();
		let reply: Value = serde_json::from_str(&line).map_err(|_| {
			ExecError::Died(format!(
				"dataset preparation printed no report: {}",
				String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("")
			))
		})?;
		if reply["ok"] == json!(true) {
			Ok(reply)
		} else {
			Err(ExecError::Task { kind: "dataset".into(), message: reply["error"].as_str().unwrap_or("").into() })
		}
	}

	/// Starts a sandboxed runner in `folder` (its own: removed when the
	/// runner ends), with `dataset` readable if given, and waits until it
	/// is idle: Python started, libraries imported, the dataset read. Its
	/// package comes later ([`Runner::load`]); until then its log lines go
	/// to the worker's own log.
	pub fn spawn(&self, folder: PathBuf, dataset: Option<&Path>) -> Result<Runner, ExecError> {
		let scratch = folder.join("scratch");
		std::fs::create_dir_all(&scratch).map_err(|e| ExecError::Spawn(e.to_string()))?;
		let mut command = Command::new(&self.interpreter);
		command.args(["-I", "-m", "delta._runner", "serve", "--scratch"]).arg(&scratch);
		if let Some(d) = dataset {
			command.arg("--dataset").arg(d);
		}
		command
			.env_clear()
			.env("PATH", "/usr/bin:/bin")
			.env("HOME", &scratch)
			.env("TMPDIR", &scratch)
			.env("LANG", "C.UTF-8")
			.env("PYTHONDONTWRITEBYTECODE", "1")
			.env("OMP_NUM_THREADS", "1")
			.env("OPENBLAS_NUM_THREADS", "1")
			// One malloc arena per thread reserves 64 MiB of address space
			// each; two keep PyTorch's threads inside the limit.
			.env("MALLOC_ARENA_MAX", "2")
			.env("MPLCONFIGDIR", &scratch)
			.current_dir(&scratch)
			.stdin(Stdio::piped())
			.stdout(Stdio::piped())
			.stderr(Stdio::piped());
		let profile = sandbox::Profile {
			read_dirs: self.read_dirs.clone(),
			read_files: dataset.map(Path::to_path_buf).into_iter().collect(),
			scratch: scratch.clone(),
			memory_bytes: self.limits.memory_mb << 20,
			memory_max_bytes: self.limits.learning_memory_mb << 20,
			cpu_seconds: self.limits.cpu_seconds,
		};
		let guard = sandbox::confine(&mut command, &profile).map_err(|e| ExecError::Spawn(e.to_string()))?;
		let mut child = command.spawn().map_err(|e| ExecError::Spawn(e.to_string()))?;
		drop(guard);
		let stdin = child.stdin.take().ok_or_else(|| ExecError::Spawn("no stdin".into()))?;
		let stdout = child.stdout.take().ok_or_else(|| ExecError::Spawn("no stdout".into()))?;
		let stderr = child.stderr.take().ok_or_else(|| ExecError::Spawn("no stderr".into()))?;
		let (tx, replies) = mpsc::channel();
		// Both streams are read a bounded line (and replies' attachments
		// bounded) at a time: task code writes them, and output without end
		// must not cost the worker memory.
		std::thread::spawn(move || {
			let mut stdout = BufReader::new(stdout);
			while let Ok(Some(reply)) =
				runner_wire::read_message(&mut stdout, runner_wire::MAX_REPLY_BYTES, runner_wire::MAX_ATTACHED_BYTES)
			{
				// After a malformed attachment list, where the next reply
				// starts is unknown: the runner is read no more.
				let lost = matches!(reply, Err(WireError::MalformedBlobs));
				if tx.send(reply).is_err() || lost {
					break;
				}
			}
		});
		let unassigned: LogSink = Arc::new(|line: &str| tracing::debug!(target: "task", "idle runner: {line}"));
		let log = Arc::new(Mutex::new(unassigned));
		{
			let log = Arc::clone(&log);
			std::thread::spawn(move || {
				let mut stderr = BufReader::new(stderr);
				while let Ok(Some(line)) = runner_wire::read_line_bounded(&mut stderr, runner_wire::MAX_LOG_LINE_BYTES)
				{
					let line: String = match line {
						runner_wire::Line::Bytes(bytes) => String::from_utf8_lossy(&bytes).chars().take(2000).collect(),
						runner_wire::Line::TooLong => "(a log line too long to keep)".into(),
					};
					let sink = Arc::clone(&log.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
					sink(&line);
				}
			});
		}
		let mut runner =
			Runner { child, stdin, replies, wall: Duration::from_secs(self.limits.wall_seconds), folder, log };
		let first = runner.reply()?;
		if first["ok"] != json!(true) {
			let kind = first["kind"].as_str().unwrap_or("setup");
			return Err(ExecError::Spawn(format!("{kind}: {}", first["error"].as_str().unwrap_or("unknown reason"))));
		}
		// The SDK installed for task code must speak this worker's
		// protocol, or values would be misread; say what to do.
		match first["protocol"].as_u64() {
			Some(RUNNER_PROTOCOL) if first["idle"] == json!(true) => Ok(runner),
			other => Err(ExecError::Spawn(format!(
				"the delta SDK at {} speaks runner protocol {}, this worker needs {RUNNER_PROTOCOL}: install the SDK of this release (pip install ./sdk/python)",
				self.interpreter.display(),
				other.map_or_else(|| "1".to_string(), |v| v.to_string())
			))),
		}
	}
}

/// One running task process.
pub struct Runner {
	child: Child,
	stdin: ChildStdin,
	replies: mpsc::Receiver<Result<Message, WireError>>,
	wall: Duration,
	folder: PathBuf,
	log: Arc<Mutex<LogSink>>,
}

impl Runner {
	/// Gives an idle runner its task: the package (checked against its
	/// commitment and by the SDK's static check, then imported) and where
	/// its log lines go from now on.
	pub fn load(&mut self, package: &[u8], min_cell_rows: u64, log: LogSink) -> Result<(), ExecError> {
		*self.log.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = log;
		let request = json!({
			"op": "load", "package": B64.encode(package), "digest": hex::encode(package_commitment(package)),
			"min_cell_rows": min_cell_rows,
		});
		match self.call(&request) {
			Ok(reply) if reply["ready"] == json!(true) => Ok(()),
			Ok(_) => {
				Err(ExecError::Task { kind: "protocol".into(), message: "the runner did not say it was ready".into() })
			},
			Err(ExecError::Task { kind, message }) if kind == "package" => Err(ExecError::Package(message)),
			Err(e) => Err(e),
		}
	}

	/// Sends one request without attachments and waits (at most the
	/// wall-time limit) for its reply.
	pub fn call(&mut self, request: &Value) -> Result<Message, ExecError> {
		self.call_with(Request::new(request.clone()))
	}

	/// Sends one request with its attachments and waits (at most the
	/// wall-time limit) for its reply.
	pub fn call_with(&mut self, request: Request<'_>) -> Result<Message, ExecError> {
		if request.write_to(&mut self.stdin).is_err() {
			return Err(self.died());
		}
		let reply = self.reply()?;
		if reply["ok"] == json!(true) {
			Ok(reply)
		} else {
			Err(ExecError::Task {
				kind: reply["kind"].as_str().unwrap_or("task").to_string(),
				message: reply["error"].as_str().unwrap_or("").to_string(),
			})
		}
	}

	fn reply(&mut self) -> Result<Message, ExecError> {
		match self.replies.recv_timeout(self.wall) {
			Ok(reply) => Ok(reply?),
			Err(mpsc::RecvTimeoutError::Timeout) => {
				self.kill();
				Err(ExecError::Timeout(self.wall.as_secs()))
			},
			Err(mpsc::RecvTimeoutError::Disconnected) => Err(self.died()),
		}
	}

	fn died(&mut self) -> ExecError {
		let status = self.child.wait();
		let reason = match status {
			Ok(s) => {
				use std::os::unix::process::ExitStatusExt;
				match s.signal() {
					Some(libc::SIGXCPU) => "it exceeded its CPU-time limit".to_string(),
					Some(libc::SIGKILL) => "it was killed (memory, CPU or wall-time limit)".to_string(),
					Some(libc::SIGSEGV) => "it crashed (segmentation fault, often memory exhaustion)".to_string(),
					Some(sig) => format!("signal {sig}"),
					None => format!("exit code {}", s.code().unwrap_or(-1)),
				}
			},
			Err(e) => e.to_string(),
		};
		ExecError::Died(reason)
	}

	fn kill(&mut self) {
		// SAFETY: the child leads its own process group (setsid).
		unsafe {
			libc::killpg(self.child.id() as libc::pid_t, libc::SIGKILL);
		}
		let _ = self.child.wait();
	}

	/// Whether the process is still running.
	pub fn alive(&mut self) -> bool {
		matches!(self.child.try_wait(), Ok(None))
	}
}

impl Drop for Runner {
	fn drop(&mut self) {
		self.kill();
		let _ = std::fs::remove_dir_all(&self.folder);
	}
}

/// The requester's side of a task: `start` and `reduce` in one process
/// that keeps the task object between rounds.
pub struct SandboxedRequester {
	runner: Runner,
	pool: Arc<RunnerPool>,
	/// Where the task's checkpoint is kept after each round: only for a
	/// resumable package, once the worker has said where
	/// ([`SandboxedRequester::keep_checkpoints`]).
	checkpoint: Option<PathBuf>,
}

/// Largest checkpoint a worker keeps: a model at the engine's largest
/// step with two optimiser moments, each in float64, and 64 MiB for the
/// rest. A runner that sends more is stopped from checkpointing, not
/// believed.
pub const MAX_CHECKPOINT_BYTES: u64 = 3 * 8 * delta_engine::tensor::MAX_STEP_ELEMENTS as u64 + (64 << 20);

/// Bytes of a stored checkpoint sent to a runner per `restore` request.
const RESTORE_PART: usize = 8 << 20;

/// What the runner says about a package.
#[derive(Clone, Debug)]
pub struct PackageInfo {
	/// The dataset it reads.
	pub dataset: String,
	/// Its declared most rounds.
	pub max_rounds: u32,
	/// Its first step.
	pub first: StepSpec,
	/// Its kind, as the manifest names it (`statistics`, ...).
	pub kind: String,
	/// Whether its requester side keeps checkpoints, so that a worker
	/// restarted mid-task resumes it rather than failing it.
	pub resumable: bool,
}

fn package_info(info: &Value, first: StepSpec) -> PackageInfo {
	let dataset = info["dataset"].as_str().map(str::to_string).unwrap_or_else(|| first.dataset.clone());
	let max_rounds = info["max_rounds"].as_u64().unwrap_or(32).min(u64::from(u32::MAX)) as u32;
	let kind = info["kind"].as_str().unwrap_or("statistics").to_string();
	let resumable = info["resumable"].as_bool().unwrap_or(false);
	PackageInfo { dataset, max_rounds, first, kind, resumable }
}

impl SandboxedRequester {
	/// Takes a requester's runner from the pool, gives it the package and
	/// asks for the package's facts and first step; a package the runner
	/// refuses is refused here, before anything reaches the ledger.
	pub fn start(pool: &Arc<RunnerPool>, package: &[u8], log: LogSink) -> Result<(Self, PackageInfo), ExecError> {
		let mut runner = pool.take(None, package, log)?;
		let info = runner.call(&json!({"op": "info"}))?;
		let started = runner.call(&json!({"op": "start"}))?;
		let first = step_from_json(&started["step"], &started.blobs)?;
		Ok((Self { runner, pool: Arc::clone(pool), checkpoint: None }, package_info(&info.json, first)))
	}

	/// Takes over a resumable task whose requester stopped: a new runner
	/// gets the package, the stored checkpoint (none: the task stopped in
	/// its first round) and how many rounds the ledger started, and says
	/// the step to run next (`PackageInfo::first`).
	pub fn resume(
		pool: &Arc<RunnerPool>,
		package: &[u8],
		log: LogSink,
		checkpoint: Option<&Path>,
		rounds_started: u32,
	) -> Result<(Self, PackageInfo), ExecError> {
		let mut runner = pool.take(None, package, log)?;
		let info = runner.call(&json!({"op": "info"}))?;
		if info["resumable"].as_bool() != Some(true) {
			return Err(ExecError::Package("the package keeps no checkpoints, so it cannot resume".into()));
		}
		if let Some(path) = checkpoint {
			let died =
				|e: std::io::Error| ExecError::Spawn(format!("cannot read the checkpoint {}: {e}", path.display()));
			let mut file = std::fs::File::open(path).map_err(died)?;
			let mut part = vec![0u8; RESTORE_PART];
			loop {
				let n = read_full(&mut file, &mut part).map_err(died)?;
				if n == 0 {
					break;
				}
				let mut restore = Request::new(json!({"op": "restore"}));
				restore.json["data"] = restore.attach(&part[..n]);
				runner.call_with(restore)?;
			}
		}
		let started = runner.call(&json!({
			"op": "start",
			"resume": {"rounds_started": rounds_started, "checkpoint": checkpoint.is_some()},
		}))?;
		let next = step_from_json(&started["step"], &started.blobs)?;
		Ok((Self { runner, pool: Arc::clone(pool), checkpoint: None }, package_info(&info.json, next)))
	}

	/// From now on, the task's checkpoint is written to `path` after each
	/// round (atomically: a new file renamed over the last one).
	pub fn keep_checkpoints(&mut self, path: PathBuf) {
		self.checkpoint = Some(path);
	}

	/// Asks the runner for its checkpoint and writes it to `path`. A
	/// failure leaves the previous checkpoint: resuming from it redoes
	/// more rounds, and gives the same model.
	fn save_checkpoint(&mut self, path: &Path) -> Result<u64, String> {
		let fail = |e: std::io::Error| format!("{}: {e}", path.display());
		let first = self.runner.call(&json!({"op": "checkpoint", "part": 0})).map_err(|e| e.to_string())?;
		let parts = first["parts"].as_u64().ok_or("the runner's checkpoint reply has no part count")?;
		if parts == 0 {
			return Ok(0);
		}
		let partial = path.with_extension("partial");
		let mut file = std::fs::File::create(&partial).map_err(fail)?;
		let mut written = 0u64;
		let mut reply = first;
		for part in 0..parts {
			if part > 0 {
				reply = self.runner.call(&json!({"op": "checkpoint", "part": part})).map_err(|e| e.to_string())?;
			}
			let data = reply.binary(&reply["data"], "checkpoint part").map_err(|e| e.to_string())?;
			written += data.len() as u64;
			if written > MAX_CHECKPOINT_BYTES {
				drop(file);
				let _ = std::fs::remove_file(&partial);
				return Err(format!("the checkpoint exceeds the limit of {MAX_CHECKPOINT_BYTES} bytes"));
			}
			file.write_all(&data).map_err(fail)?;
		}
		file.sync_all().map_err(fail)?;
		drop(file);
		std::fs::rename(&partial, path).map_err(fail)?;
		Ok(written)
	}
}

/// Reads until `buf` is full or the file ends; returns the bytes read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
	use std::io::Read;
	let mut n = 0;
	while n < buf.len() {
		match file.read(&mut buf[n..]) {
			Ok(0) => break,
			Ok(k) => n += k,
			Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {},
			Err(e) => return Err(e),
		}
	}
	Ok(n)
}

impl Drop for SandboxedRequester {
	/// The task has ended: the pool starts its next requester's runner
	/// now, while nothing of this task's round is left to slow.
	fn drop(&mut self) {
		self.pool.top_up();
	}
}

impl RequesterExecutor for SandboxedRequester {
	fn reduce(&mut self, step: &StepSpec, sums: &[Values], members: usize) -> Result<Next, EngineError> {
		let sums = join_bytes(sums);
		let mut request = Request::new(json!({"op": "reduce", "members": members}));
		request.json["step"] = step_json(step, &mut request);
		request.json["sums"] = request.attach(&sums);
		let reply = self.runner.call_with(request)?;
		if let Some(done) = reply.json.get("done") {
			return Ok(Next::Done(done.to_string().into_bytes()));
		}
		let next = step_from_json(&reply["step"], &reply.blobs).map_err(ExecError::from)?;
		if let Some(path) = self.checkpoint.clone() {
			match self.save_checkpoint(&path) {
				Ok(bytes) => tracing::debug!("checkpoint of {} bytes kept at {}", bytes, path.display()),
				Err(e) => tracing::warn!("the task goes on, but its checkpoint was not kept: {e}"),
			}
		}
		Ok(Next::Step(next))
	}
}

/// Bounds how many maps run at once on this worker, across all tasks: each
/// is a sandboxed process that may use a core and its memory limit. A map
/// waits here for a slot; other tasks' rounds go on meanwhile.
pub struct MapSlots {
	free: Mutex<usize>,
	freed: std::sync::Condvar,
	total: usize,
}

/// A map's slot, given back when dropped.
pub struct MapSlot<'a>(&'a MapSlots);

impl MapSlots {
	/// `total` slots (at least one).
	pub fn new(total: usize) -> Self {
		let total = total.max(1);
		Self { free: Mutex::new(total), freed: std::sync::Condvar::new(), total }
	}

	/// One slot per core, and at least two, so that one long map never
	/// holds up every other task's.
	pub fn per_core() -> Self {
		Self::new(std::thread::available_parallelism().map_or(2, usize::from).max(2))
	}

	/// How many maps may run at once.
	pub fn total(&self) -> usize {
		self.total
	}

	/// Waits for a free slot.
	pub fn acquire(&self) -> MapSlot<'_> {
		let mut free = self.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
		while *free == 0 {
			free = self.freed.wait(free).unwrap_or_else(std::sync::PoisonError::into_inner);
		}
		*free -= 1;
		MapSlot(self)
	}
}

impl Drop for MapSlot<'_> {
	fn drop(&mut self) {
		*self.0.free.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
		self.0.freed.notify_one();
	}
}

/// A member's side of one task: one process holding the package and the
/// task's dataset, kept between the task's rounds. The worker gives each
/// task its own executor on its own thread, so tasks never wait on each
/// other's code; when the executor is dropped (the task has gone quiet)
/// its process stops and its folder goes.
pub struct SandboxedMember {
	pool: Arc<RunnerPool>,
	slots: Arc<MapSlots>,
	consent: Arc<Consent>,
	datasets: Arc<Datasets>,
	runner: Option<Runner>,
	/// The package and the dataset it reads, kept to start a new process
	/// if the task's one dies.
	package: Option<(Vec<u8>, String)>,
	log: LogSink,
	/// The task's threshold and member bound, from its ledger record:
	/// what the lattice of a private step is sized by.
	round_params: Option<(u32, u32)>,
	/// The task's id and owner, whose privacy budget a private step spends.
	task: Option<(TaskId, delta_engine::AccountId)>,
	/// Where privacy charges are recorded and budgets read.
	ledger: Arc<dyn crate::ledger::Backend>,
	/// The privacy this holder has given the task so far, by its own
	/// count (every private step it mapped, at the ledger's threshold).
	spent: delta_dp::Accountant,
}

impl SandboxedMember {
	/// A member executor for one task, running only what `consent` admits.
	pub fn new(
		pool: Arc<RunnerPool>,
		slots: Arc<MapSlots>,
		consent: Arc<Consent>,
		datasets: Arc<Datasets>,
		ledger: Arc<dyn crate::ledger::Backend>,
		log: LogSink,
	) -> Self {
		Self {
			pool,
			slots,
			consent,
			datasets,
			runner: None,
			package: None,
			log,
			round_params: None,
			task: None,
			ledger,
			spent: delta_dp::Accountant::new(),
		}
	}

	fn spawn(&mut self) -> Result<&mut Runner, ExecError> {
		let (package, dataset) =
			self.package.as_ref().ok_or_else(|| ExecError::Spawn("no package for this task".into()))?;
		let runner = self.pool.take(Some(dataset), package, Arc::clone(&self.log))?;
		Ok(self.runner.insert(runner))
	}
}

impl SandboxedMember {
	/// Checks what the task's owner has spent on `dataset` across tasks
	/// against the holder's budget, then records `epsilon` more on the
	/// ledger, before the data is read: nothing noised leaves this member
	/// without its charge on record.
	fn charge_privacy(&self, dataset: &str, epsilon: f64) -> Result<(), EngineError> {
		let Some((task, requester)) = self.task else {
			return Err(EngineError::Executor("a private step before the task was prepared".into()));
		};
		let refuse = |reason: String| EngineError::Dataset { name: dataset.to_string(), reason };
		let me = self.ledger.account();
		let micro = (epsilon.max(0.0) * 1e6).ceil().max(1.0);
		if let Some(budget) = self.datasets.privacy_budget(dataset) {
			let spent = self.ledger.privacy_spent(&me, dataset, &requester)? as f64 / 1e6;
			if spent + micro / 1e6 > budget {
				return Err(refuse(format!(
					"the requester has spent ε = {spent:.3} of this holder's budget of {budget} for it; this step would add {epsilon:.3}"
				)));
			}
		}
		let call =
			delta_coordinator::types::Call::ChargePrivacy { task, dataset: dataset.to_string(), epsilon: micro as u64 };
		self.ledger.submit(call).map_err(|e| refuse(format!("the privacy charge was not recorded: {e}")))?;
		Ok(())
	}

	/// The mechanism a private step charges: the largest over the rings a
	/// round may use (the announcement's ring is the engine's to check;
	/// the lattices differ only in rounding, so this costs nothing
	/// measurable and never undercounts).
	fn private_mechanism(&self, step: &StepSpec) -> Result<Option<delta_dp::DistributedDiscreteGaussian>, EngineError> {
		let Some(privacy) = &step.privacy else { return Ok(None) };
		let (threshold, max_members) = self.round_params.unwrap_or((2, 2));
		let dim = delta_engine::tensor::check_outputs(&step.outputs)?;
		let mut worst: Option<(f64, delta_dp::DistributedDiscreteGaussian)> = None;
		let mut refused = None;
		for bits in [32, 64, 128] {
			let lattice = match delta_dp::Lattice::new(privacy, dim, threshold, max_members, bits) {
				Ok(l) => l,
				Err(e) => {
					refused = Some(e);
					continue;
				},
			};
			let m = lattice.mechanism();
			let mut a = delta_dp::Accountant::new();
			a.compose_distributed(&m);
			let e = a.epsilon(privacy.delta);
			if worst.as_ref().is_none_or(|(w, _)| e > *w) {
				worst = Some((e, m));
			}
		}
		match (worst, refused) {
			(Some((_, m)), _) => Ok(Some(m)),
			(None, Some(e)) => Err(e.into()),
			(None, None) => Ok(None),
		}
	}
}

impl MemberExecutor for SandboxedMember {
	fn prepare(&mut self, task: &TaskInfo, package: &[u8]) -> Result<(), EngineError> {
		self.round_params = Some((task.params.threshold, task.params.max_members));
		self.task = Some((task.id, task.owner));
		if let Some(r) = self.runner.as_mut() {
			if r.alive() {
				return Ok(());
			}
		}
		// Before any runner sees the package: unapproved code is never
		// even imported.
		self.consent.admit(task, package)?;
		let dataset = task.datasets.first().cloned().unwrap_or_default();
		self.package = Some((package.to_vec(), dataset));
		self.spawn()?;
		Ok(())
	}

	fn map(&mut self, task: TaskId, step: &StepSpec) -> Result<Vec<Values>, EngineError> {
		// The holder's caps on what a step may ask, before any data is read.
		let values = delta_engine::tensor::check_outputs(&step.outputs)?;
		self.datasets.admit_outputs(&step.dataset, values as u64)?;
		let mechanism = self.private_mechanism(step)?;
		let epsilon =
			self.datasets.admit_privacy(&step.dataset, step.privacy.as_ref(), mechanism.as_ref(), &self.spent)?;
		if let (Some(after), Some(privacy)) = (epsilon, &step.privacy) {
			let before = self.spent.epsilon(privacy.delta);
			self.charge_privacy(&step.dataset, after - before)?;
		}
		let slots = Arc::clone(&self.slots);
		let _slot = slots.acquire();
		if !self.runner.as_mut().is_some_and(Runner::alive) {
			self.runner = None;
		}
		let runner = match self.runner.take() {
			Some(r) => self.runner.insert(r),
			None => self.spawn()?,
		};
		// Operators (and the end-to-end tests) see when task code runs on
		// their data and for how long.
		tracing::info!(task, "map started on dataset {}", step.dataset);
		let started = Instant::now();
		let mut request = Request::new(json!({"op": "map"}));
		request.json["step"] = step_json(step, &mut request);
		let result = runner.call_with(request);
		tracing::info!(task, ok = result.is_ok(), "map ended after {:.1} s", started.elapsed().as_secs_f64());
		if let (Some(m), Some(epsilon)) = (mechanism, epsilon) {
			// Charged once the map ran: the noised sum may now be released.
			self.spent.compose_distributed(&m);
			tracing::info!(task, "private step: the task has spent ε = {epsilon:.3} of this holder's data");
		}
		match result {
			Ok(reply) => values_from_reply(step, &reply),
			Err(e) => {
				if matches!(e, ExecError::Timeout(_) | ExecError::Died(_)) {
					self.runner = None;
				}
				Err(e.into())
			},
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn map_slots_bound_concurrent_holders_and_come_back() {
		let slots = Arc::new(MapSlots::new(2));
		let a = slots.acquire();
		let _b = slots.acquire();
		let (tx, rx) = mpsc::channel();
		let waiting = {
			let slots = Arc::clone(&slots);
			std::thread::spawn(move || {
				let _c = slots.acquire();
				tx.send(()).unwrap();
			})
		};
		// Two are held: the third waits until one is given back.
		assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
		drop(a);
		rx.recv_timeout(Duration::from_secs(10)).unwrap();
		waiting.join().unwrap();
		assert!(MapSlots::per_core().total() >= 2);
	}
}
