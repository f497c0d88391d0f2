//! `delta._native`: the engine for Python.
//!
//! `run_local` runs a whole task through `delta-engine`'s simulation (the
//! coordinator's rules in memory, real SecAgg+ masking, real fixed-point
//! encoding) with Python callables as the members' `map` and the
//! requester's `reduce`. `delta.debug` builds on it.

use delta_engine::{
	tensor::{join_bytes, split_bytes},
	DType, Datasets, EngineError, MemberExecutor, Next, Outcome, OutputSpec, RequesterExecutor, StepSpec, TaskEvent,
	Values,
};
use delta_sim::{run, DropPoint, SimMember, SimSettings};
use pyo3::{
	exceptions::PyValueError,
	prelude::*,
	types::{PyBytes, PyDict},
};

fn step_to_py<'py>(py: Python<'py>, step: &StepSpec) -> PyResult<Bound<'py, PyDict>> {
	let dict = PyDict::new(py);
	dict.set_item("dataset", &step.dataset)?;
	dict.set_item("body", PyBytes::new(py, &step.body))?;
	let outputs: Vec<(String, &str, Vec<u32>, Option<f64>)> =
		step.outputs.iter().map(|o| (o.name.clone(), o.dtype.name(), o.shape.clone(), o.bound)).collect();
	dict.set_item("outputs", outputs)?;
	dict.set_item("privacy", step.privacy.map(|p| (p.clip, p.noise_multiplier, p.delta)))?;
	Ok(dict)
}

/// A step from Python: outputs as `(name, dtype, shape, bound or None)`,
/// `privacy` as `(clip, noise multiplier, delta)` or None (or absent).
fn step_from_py(step: &Bound<'_, PyAny>) -> PyResult<StepSpec> {
	let dataset: String = step.get_item("dataset")?.extract()?;
	let body = bytes_of(&step.get_item("body")?)?;
	let declared: Vec<(String, String, Vec<u32>, Option<f64>)> = step.get_item("outputs")?.extract()?;
	let mut outputs = Vec::with_capacity(declared.len());
	for (name, dtype, shape, bound) in declared {
		let dtype = DType::from_name(&dtype)
			.ok_or_else(|| PyValueError::new_err(format!("output {name:?}: unknown dtype {dtype:?}")))?;
		outputs.push(OutputSpec { name, dtype, shape, bound });
	}
	let privacy = match step.get_item("privacy") {
		Ok(p) if !p.is_none() => {
			let (clip, noise_multiplier, delta): (f64, f64, f64) = p.extract()?;
			let privacy = delta_engine::Privacy { clip, noise_multiplier, delta };
			privacy.check().map_err(|e| PyValueError::new_err(e.to_string()))?;
			Some(privacy)
		},
		_ => None,
	};
	Ok(StepSpec { dataset, body, outputs, privacy })
}

/// The bytes of a Python `bytes` object in one copy; other buffers
/// (bytearray, a list of ints) element by element. pyo3 extracts a
/// `Vec<u8>` through the sequence protocol, one Python int per byte: for
/// a model's weights that was most of `delta.debug`'s time.
fn bytes_of(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
	match value.downcast::<PyBytes>() {
		Ok(bytes) => Ok(bytes.as_bytes().to_vec()),
		Err(_) => value.extract(),
	}
}

/// Formats a Python exception with its type, as a member's log shows it;
/// a runner's failure reply (`delta.debug.RunnerFailure`) keeps its kind,
/// reported as a worker reports it.
fn describe(py: Python<'_>, err: PyErr) -> EngineError {
	let kind = err.get_type(py).name().map(|n| n.to_string()).unwrap_or_else(|_| "Exception".into());
	let value = err.value(py);
	let detail = format!("{kind}: {value}");
	if kind == "RunnerFailure" {
		let field = |name: &str| value.getattr(name).and_then(|v| v.extract::<String>()).ok();
		if let (Some(kind), Some(message)) = (field("kind"), field("error")) {
			return EngineError::from_runner(&kind, &message, detail);
		}
	}
	EngineError::Executor(detail)
}

/// A member's `map`, a Python callable taking the step as a dict and
/// returning its outputs' bytes as the runner does (each output
/// little-endian in its declared type).
struct PyMember {
	map: PyObject,
}

impl MemberExecutor for PyMember {
	fn map(&mut self, _: delta_engine::TaskId, step: &StepSpec) -> Result<Vec<Values>, EngineError> {
		Python::with_gil(|py| {
			let arg = step_to_py(py, step).map_err(|e| describe(py, e))?;
			let out = self.map.call1(py, (arg,)).map_err(|e| describe(py, e))?;
			let out = out.bind(py);
			// The outputs are read from the reply's own buffer: a model's
			// copy into a fresh vector was half the kernel's page clearing
			// in a 1M-weight round. Other buffers are extracted as a list.
			match out.downcast::<PyBytes>() {
				Ok(bytes) => split_bytes(&step.outputs, bytes.as_bytes(), false),
				Err(_) => split_bytes(&step.outputs, &out.extract::<Vec<u8>>().map_err(|e| describe(py, e))?, false),
			}
		})
	}
}

/// The requester's `reduce`: returns the next step as a dict, or None when
/// the task is done (the Python side keeps the result object).
struct PyRequester {
	reduce: PyObject,
}

impl RequesterExecutor for PyRequester {
	fn reduce(&mut self, step: &StepSpec, sums: &[Values], members: usize) -> Result<Next, EngineError> {
		Python::with_gil(|py| {
			let arg = step_to_py(py, step).map_err(|e| describe(py, e))?;
			let sums = PyBytes::new(py, &join_bytes(sums));
			let out = self.reduce.call1(py, (arg, sums, members)).map_err(|e| describe(py, e))?;
			let out = out.bind(py);
			if out.is_none() {
				return Ok(Next::Done(Vec::new()));
			}
			step_from_py(out).map(Next::Step).map_err(|e| describe(py, e))
		})
	}
}

/// Local runs have one dataset per member, always admitted; the member's
/// policy (minimum rows) is applied by its `map`.
struct OneDataset;

impl Datasets for OneDataset {
	fn admit(&self, _: &delta_engine::TaskInfo, _: &str) -> Result<u64, EngineError> {
		Ok(0)
	}
}

fn drop_point(name: &str) -> PyResult<DropPoint> {
	Ok(match name {
		"before_join" => DropPoint::BeforeJoin,
		"before_shares" => DropPoint::BeforeShares,
		"before_masked" => DropPoint::BeforeMasked,
		"before_reveal" => DropPoint::BeforeReveal,
		other => return Err(PyValueError::new_err(format!("unknown drop point {other:?}"))),
	})
}

/// Runs a task locally through the real engine. See `delta.debug`.
#[pyfunction]
#[pyo3(signature = (first, reduce, members, max_rounds, threshold, fractional_bits, ring_bits, drops))]
#[allow(clippy::too_many_arguments)]
fn run_local<'py>(
	py: Python<'py>,
	first: &Bound<'py, PyAny>,
	reduce: PyObject,
	members: Vec<PyObject>,
	max_rounds: u32,
	threshold: Option<u32>,
	fractional_bits: u32,
	ring_bits: u32,
	drops: Vec<Option<(u32, String)>>,
) -> PyResult<Bound<'py, PyDict>> {
	if members.len() < 2 {
		return Err(PyValueError::new_err("a federated run needs at least 2 members"));
	}
	if drops.len() != members.len() {
		return Err(PyValueError::new_err("one drop entry per member"));
	}
	let ring = match ring_bits {
		32 => delta_engine::Ring::Bits32,
		64 => delta_engine::Ring::Bits64,
		128 => delta_engine::Ring::Bits128,
		other => return Err(PyValueError::new_err(format!("ring_bits must be 32, 64 or 128, not {other}"))),
	};
	let mut settings = SimSettings::new(step_from_py(first)?, max_rounds);
	settings.threshold = threshold;
	settings.encoding = delta_engine::Encoding { ring, fractional_bits };
	// A replay digest nobody here reads: a SHA-256 pass over every model.
	settings.digest_traffic = false;
	let mut sim_members = Vec::with_capacity(members.len());
	for (map, drop) in members.into_iter().zip(drops) {
		let drop_at = match drop {
			Some((round, point)) => Some((round, drop_point(&point)?)),
			None => None,
		};
		sim_members.push(SimMember { executor: Box::new(PyMember { map }), datasets: Box::new(OneDataset), drop_at });
	}
	let report = run(settings, Box::new(PyRequester { reduce }), sim_members)
		.map_err(|e| PyValueError::new_err(e.to_string()))?;
	let out = PyDict::new(py);
	match &report.outcome {
		Outcome::Done(_) => {
			out.set_item("outcome", "done")?;
			out.set_item("reason", py.None())?;
		},
		Outcome::Failed(reason) => {
			out.set_item("outcome", "failed")?;
			out.set_item("reason", reason)?;
		},
		Outcome::Running => {
			out.set_item("outcome", "failed")?;
			out.set_item("reason", "the task did not finish")?;
		},
	}
	out.set_item("rounds", report.rounds)?;
	out.set_item("progress", report.progress.clone())?;
	out.set_item("member_failures", report.member_failures.clone())?;
	out.set_item("bytes", report.bytes)?;
	out.set_item("ledger_ms", report.ledger_ms)?;
	// Each private round's noise and the ε spent after it, as
	// `delta.Client`'s `TaskHandle.privacy()` reads them from the events.
	let noised = pyo3::types::PyList::empty(py);
	for event in &report.events {
		if let TaskEvent::Noised { round, std, clip, noise_multiplier, epsilon, delta } = event {
			let d = PyDict::new(py);
			d.set_item("round", round)?;
			d.set_item("std", std)?;
			d.set_item("clip", clip)?;
			d.set_item("noise_multiplier", noise_multiplier)?;
			d.set_item("epsilon", epsilon)?;
			d.set_item("delta", delta)?;
			noised.append(d)?;
		}
	}
	out.set_item("noised", noised)?;
	Ok(out)
}

/// The noise multiplier whose Gaussian mechanism, composed `steps` times,
/// spends at most `epsilon` at `delta` (the engine's RDP accountant).
#[pyfunction]
fn noise_multiplier_for(epsilon: f64, delta: f64, steps: u32) -> PyResult<f64> {
	delta_dp::noise_multiplier_for(epsilon, delta, steps).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// ε at `delta` of `steps` Gaussian mechanisms of `noise_multiplier`, by
/// the engine's RDP accountant (the orders and conversion of
/// dp-accounting).
#[pyfunction]
fn gaussian_epsilon(noise_multiplier: f64, steps: u32, delta: f64) -> f64 {
	let mut a = delta_dp::Accountant::new();
	a.compose_gaussian(noise_multiplier, steps);
	a.epsilon(delta)
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
	m.add_function(wrap_pyfunction!(run_local, m)?)?;
	m.add_function(wrap_pyfunction!(noise_multiplier_for, m)?)?;
	m.add_function(wrap_pyfunction!(gaussian_epsilon, m)?)?;
	Ok(())
}
