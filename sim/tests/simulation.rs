//! Whole tasks through the engine on the local ledger and network: the
//! answer equals the plain computation over the contributing members' data,
//! for dropouts at every phase; too many dropouts fail the task by name.

use delta_engine::{
	DType, Datasets, EngineError, MemberExecutor, Next, Outcome, OutputSpec, RequesterExecutor, StepSpec, TaskEvent,
	TaskId, TaskInfo, Values,
};
use delta_sim::{run, DropPoint, SimMember, SimSettings};
use proptest::prelude::*;

/// The row count: an integer, summed exactly.
fn count() -> OutputSpec {
	OutputSpec::new("count", DType::I64, vec![])
}

/// A two-step task: the mean, then the sample variance around it.
fn mean_step() -> StepSpec {
	StepSpec {
		dataset: "values".into(),
		body: b"mean".to_vec(),
		outputs: vec![OutputSpec::floats("sum", 1), count()],
		privacy: None,
	}
}

fn variance_step(mean: f64) -> StepSpec {
	StepSpec {
		dataset: "values".into(),
		body: format!("var {mean}").into_bytes(),
		outputs: vec![OutputSpec::floats("squares", 1), count()],
		privacy: None,
	}
}

/// The float and the count of a step's sums.
fn sum_and_count(sums: &[Values]) -> Result<(f64, i64), EngineError> {
	match sums {
		[Values::F64(s), Values::I64(n)] if s.len() == 1 && n.len() == 1 => Ok((s[0], n[0])),
		other => Err(EngineError::Executor(format!("unexpected sums {other:?}"))),
	}
}

struct MemberCode(Vec<f64>);

impl MemberExecutor for MemberCode {
	fn map(&mut self, _: TaskId, step: &StepSpec) -> Result<Vec<Values>, EngineError> {
		let body = String::from_utf8_lossy(&step.body).to_string();
		let n = Values::I64(vec![self.0.len() as i64]);
		if body == "mean" {
			return Ok(vec![Values::F64(vec![self.0.iter().sum()]), n]);
		}
		let mean: f64 =
			body.trim_start_matches("var ").parse().map_err(|_| EngineError::Executor("bad step".into()))?;
		Ok(vec![Values::F64(vec![self.0.iter().map(|x| (x - mean) * (x - mean)).sum()]), n])
	}
}

struct RequesterCode;

impl RequesterExecutor for RequesterCode {
	fn reduce(&mut self, step: &StepSpec, sums: &[Values], _members: usize) -> Result<Next, EngineError> {
		let (sum, count) = sum_and_count(sums)?;
		let mean = sum / count as f64;
		if step.body == b"mean" {
			return Ok(Next::Step(variance_step(mean)));
		}
		let variance = sum / (count as f64 - 1.0);
		let mut out = Vec::new();
		out.extend_from_slice(&variance.to_le_bytes());
		out.extend_from_slice(&(count as f64).to_le_bytes());
		Ok(Next::Done(out))
	}
}

struct Holds(&'static str);

impl Datasets for Holds {
	fn admit(&self, _: &TaskInfo, name: &str) -> Result<u64, EngineError> {
		if name == self.0 {
			Ok(1)
		} else {
			Err(EngineError::Dataset { name: name.into(), reason: "not held here".into() })
		}
	}
}

fn member(data: Vec<f64>, drop_at: Option<(u32, DropPoint)>) -> SimMember {
	SimMember { executor: Box::new(MemberCode(data)), datasets: Box::new(Holds("values")), drop_at }
}

fn variance_of(values: &[f64]) -> (f64, f64) {
	let n = values.len() as f64;
	let mean = values.iter().sum::<f64>() / n;
	(values.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0), n)
}

fn result(outcome: &Outcome) -> (f64, f64) {
	match outcome {
		Outcome::Done(bytes) => {
			(f64::from_le_bytes(bytes[..8].try_into().unwrap()), f64::from_le_bytes(bytes[8..16].try_into().unwrap()))
		},
		other => panic!("not done: {other:?}"),
	}
}

fn data(i: usize) -> Vec<f64> {
	(0..20 + i).map(|j| ((i * 37 + j * 11) % 23) as f64 * 0.5 - 3.0).collect()
}

#[test]
fn a_two_round_task_equals_the_pooled_computation() {
	let members: Vec<_> = (0..5).map(|i| member(data(i), None)).collect();
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	let pooled: Vec<f64> = (0..5).flat_map(data).collect();
	let (variance, n) = result(&report.outcome);
	let (expected, expected_n) = variance_of(&pooled);
	assert_eq!(n, expected_n);
	assert!((variance - expected).abs() < 1e-6, "{variance} vs {expected}");
	assert_eq!(report.rounds, 2);
	assert!(report.member_failures.iter().all(|f| f.is_empty()), "{:?}", report.member_failures);
}

#[test]
fn dropouts_at_every_phase_leave_exactly_the_contributors_in_the_sum() {
	for point in [DropPoint::BeforeJoin, DropPoint::BeforeShares, DropPoint::BeforeMasked, DropPoint::BeforeReveal] {
		let members: Vec<_> = (0..5).map(|i| member(data(i), (i == 2).then_some((0, point)))).collect();
		let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
		// A member whose masked input arrived is in the sum even if it never
		// reveals: the others' shares unmask it.
		let contributors: Vec<usize> =
			if point == DropPoint::BeforeReveal { (0..5).collect() } else { vec![0, 1, 3, 4] };
		let pooled: Vec<f64> = contributors.iter().flat_map(|i| data(*i)).collect();
		let (variance, n) = result(&report.outcome);
		let (expected, expected_n) = variance_of(&pooled);
		assert_eq!(n, expected_n, "{point:?}");
		assert!((variance - expected).abs() < 1e-6, "{point:?}: {variance} vs {expected}");
	}
}

#[test]
fn too_many_dropouts_fail_the_task_by_name() {
	// Threshold 3 of 5; three members never mask.
	let members: Vec<_> = (0..5).map(|i| member(data(i), (i < 3).then_some((0, DropPoint::BeforeMasked)))).collect();
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	match &report.outcome {
		Outcome::Failed(reason) => {
			assert!(reason.contains("TooFewMasked"), "{reason}");
			// The three silent members are named, with the remedy.
			assert!(reason.contains("no masked input before the Compute deadline from"), "{reason}");
			assert_eq!(reason.matches(", ").count(), 2, "{reason}");
		},
		other => panic!("expected a failure, got {other:?}"),
	}
}

#[test]
fn members_that_map_in_the_background_answer_exactly_with_a_dropout() {
	// As in the worker: each map on its own thread from the moment its
	// member joins. Long phases, since the simulated clock runs on while
	// the threads do; one member never sends its masked input.
	let members: Vec<_> = (0..5).map(|i| member(data(i), (i == 2).then_some((0, DropPoint::BeforeMasked)))).collect();
	let mut settings = SimSettings::new(mean_step(), 3);
	settings.background_maps = true;
	settings.phase_ms = 10_000;
	settings.max_steps = 1_000_000;
	let report = run(settings, Box::new(RequesterCode), members).unwrap();
	let pooled: Vec<f64> = [0, 1, 3, 4].into_iter().flat_map(data).collect();
	let (variance, n) = result(&report.outcome);
	let (expected, expected_n) = variance_of(&pooled);
	assert_eq!(n, expected_n);
	assert!((variance - expected).abs() < 1e-9, "{variance} vs {expected}");
	assert_eq!(report.rounds, 2);
}

/// A member whose first map panics; its later ones answer.
struct PanicsOnce(MemberCode, bool);

impl MemberExecutor for PanicsOnce {
	fn map(&mut self, task: TaskId, step: &StepSpec) -> Result<Vec<Values>, EngineError> {
		if !self.1 {
			self.1 = true;
			panic!("the task's code broke");
		}
		self.0.map(task, step)
	}
}

#[test]
fn a_map_that_panics_on_its_own_thread_fails_its_round_only() {
	let mut members: Vec<_> = (0..4).map(|i| member(data(i), None)).collect();
	members.push(SimMember {
		executor: Box::new(PanicsOnce(MemberCode(data(4)), false)),
		datasets: Box::new(Holds("values")),
		drop_at: None,
	});
	let mut settings = SimSettings::new(mean_step(), 3);
	settings.background_maps = true;
	settings.phase_ms = 10_000;
	settings.max_steps = 1_000_000;
	let report = run(settings, Box::new(RequesterCode), members).unwrap();
	// The mean is the first four members'; the squares around it are all
	// five's: the executor came back from the panic for the second round.
	let first: Vec<f64> = (0..4).flat_map(data).collect();
	let mean = first.iter().sum::<f64>() / first.len() as f64;
	let all: Vec<f64> = (0..5).flat_map(data).collect();
	let expected = all.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (all.len() as f64 - 1.0);
	let (variance, n) = result(&report.outcome);
	assert_eq!(n, all.len() as f64);
	assert!((variance - expected).abs() < 1e-9, "{variance} vs {expected}");
	assert!(report.member_failures[4].iter().any(|f| f.contains("the map panicked")), "{:?}", report.member_failures);
}

#[test]
fn a_member_whose_map_outlasts_the_compute_phase_says_so_and_the_rest_answer() {
	// The late member steps last, so the others' inputs are in when its
	// map ends past the deadline.
	let members: Vec<_> = (0..5).map(|i| member(data(i), (i == 4).then_some((0, DropPoint::LateMap)))).collect();
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	let pooled: Vec<f64> = (0..4).flat_map(data).collect();
	let (variance, n) = result(&report.outcome);
	let (expected, expected_n) = variance_of(&pooled);
	assert_eq!(n, expected_n);
	assert!((variance - expected).abs() < 1e-6, "{variance} vs {expected}");
	let late = "its map finished after round 0's Compute phase had ended; give the task a longer compute_timeout_s";
	assert!(report.member_failures[4].iter().any(|f| f.contains(late)), "{:?}", report.member_failures[4]);
	// The requester heard the member's reason, not just silence.
	assert!(report.progress.iter().any(|l| l.contains("declined") && l.contains(late)), "{:?}", report.progress);
	assert!(report.member_failures[..4].iter().all(|f| f.is_empty()), "{:?}", report.member_failures);
}

#[test]
fn maps_that_all_outlast_the_compute_phase_fail_the_task_with_the_remedy() {
	let members: Vec<_> = (0..3).map(|i| member(data(i), Some((0, DropPoint::LateMap)))).collect();
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	match &report.outcome {
		Outcome::Failed(reason) => {
			assert!(reason.contains("TooFewMasked"), "{reason}");
			assert!(reason.contains("compute_timeout_s"), "{reason}");
		},
		other => panic!("expected a failure, got {other:?}"),
	}
}

#[test]
fn a_member_without_the_dataset_declines_and_the_rest_answer() {
	let mut members: Vec<_> = (0..4).map(|i| member(data(i), None)).collect();
	members.push(SimMember {
		executor: Box::new(MemberCode(data(4))),
		datasets: Box::new(Holds("other")),
		drop_at: None,
	});
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	let pooled: Vec<f64> = (0..4).flat_map(data).collect();
	let (variance, _) = result(&report.outcome);
	assert!((variance - variance_of(&pooled).0).abs() < 1e-6);
	assert!(report.member_failures[4].iter().any(|f| f.contains("not held here")), "{:?}", report.member_failures[4]);
	// The requester hears why, in both rounds.
	let told = report
		.events
		.iter()
		.filter(|e| matches!(e, TaskEvent::Declined { reason, .. } if reason == "dataset values: not held here"))
		.count();
	assert_eq!(told, 2, "{:?}", report.events);
}

#[test]
fn when_too_many_decline_the_failure_names_their_reasons() {
	let mut members: Vec<_> = (0..2).map(|i| member(data(i), None)).collect();
	for i in 2..5 {
		members.push(SimMember {
			executor: Box::new(MemberCode(data(i))),
			datasets: Box::new(Holds("other")),
			drop_at: None,
		});
	}
	let mut settings = SimSettings::new(mean_step(), 3);
	settings.threshold = Some(3);
	let report = run(settings, Box::new(RequesterCode), members).unwrap();
	match &report.outcome {
		Outcome::Failed(reason) => {
			assert!(reason.contains("NotEnoughMembers"), "{reason}");
			assert_eq!(reason.matches("declined: dataset values: not held here").count(), 3, "{reason}");
		},
		other => panic!("expected a failure, got {other:?}"),
	}
}

#[test]
fn a_step_asking_for_more_rounds_than_declared_fails() {
	let members: Vec<_> = (0..3).map(|i| member(data(i), None)).collect();
	let report = run(SimSettings::new(mean_step(), 1), Box::new(RequesterCode), members).unwrap();
	assert!(
		matches!(&report.outcome, Outcome::Failed(r) if r.contains("more than the 1 rounds")),
		"{:?}",
		report.outcome
	);
}

#[test]
fn outputs_out_of_the_encodings_range_are_refused_not_wrapped() {
	// 2^40 per member, 64-bit ring with 24 fractional bits and 5 summands:
	// beyond what can be summed without wrapping, so members refuse to mask
	// and the round fails rather than return a wrong sum.
	let members: Vec<_> = (0..5).map(|_| member(vec![2f64.powi(40)], None)).collect();
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	// Every member leaves, so the requester stops at once; it learns the
	// index and the bound, never the value (the member's data).
	match &report.outcome {
		Outcome::Failed(r) => {
			assert!(r.contains("fewer than the threshold"), "{r}");
			assert!(r.contains("index 0 is outside the encoding's range"), "{r}");
			assert!(!r.contains("1099511627776"), "{r}");
		},
		other => panic!("expected a failure, got {other:?}"),
	}
	assert!(report.member_failures[0].iter().any(|f| f.contains("outside")), "{:?}", report.member_failures[0]);
}

proptest! {
	#![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

	/// Any dropout pattern that leaves at least the threshold: the answer is
	/// the pooled computation over exactly the members whose input arrived.
	#[test]
	fn random_dropouts_give_the_survivors_exact_answer(
		n in 3usize..8,
		drops in proptest::collection::vec(0u8..6, 8),
	) {
		let threshold = (n / 2 + 1).max(2);
		let points = [None, None, Some(DropPoint::BeforeJoin), Some(DropPoint::BeforeShares), Some(DropPoint::BeforeMasked), Some(DropPoint::BeforeReveal)];
		let mut plan: Vec<Option<DropPoint>> = (0..n).map(|i| points[drops[i] as usize]).collect();
		// Keep at least `threshold` members revealing.
		let mut revealing = plan.iter().filter(|p| p.is_none()).count();
		for p in plan.iter_mut() {
			if revealing >= threshold { break; }
			if p.is_some() { *p = None; revealing += 1; }
		}
		let members: Vec<_> = (0..n).map(|i| member(data(i), plan[i].map(|p| (0, p)))).collect();
		let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
		let contributors: Vec<usize> = (0..n).filter(|i| matches!(plan[*i], None | Some(DropPoint::BeforeReveal))).collect();
		let pooled: Vec<f64> = contributors.iter().flat_map(|i| data(*i)).collect();
		let (variance, count) = result(&report.outcome);
		prop_assert_eq!(count, pooled.len() as f64);
		prop_assert!((variance - variance_of(&pooled).0).abs() < 1e-6);
	}
}

struct LeaksInErrors;

impl MemberExecutor for LeaksInErrors {
	fn map(&mut self, _: TaskId, _: &StepSpec) -> Result<Vec<Values>, EngineError> {
		Err(EngineError::TaskCode { kind: "error in task code".into(), detail: "ValueError: 17.25 at row 3".into() })
	}
}

#[test]
fn a_member_whose_code_fails_tells_the_requester_the_kind_but_not_the_detail() {
	let mut members: Vec<_> = (0..3).map(|i| member(data(i), None)).collect();
	members.push(SimMember { executor: Box::new(LeaksInErrors), datasets: Box::new(Holds("values")), drop_at: None });
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	let pooled: Vec<f64> = (0..3).flat_map(data).collect();
	let (variance, _) = result(&report.outcome);
	assert!((variance - variance_of(&pooled).0).abs() < 1e-6);
	let told: Vec<_> = report.progress.iter().filter(|l| l.contains("declined")).collect();
	assert!(told.iter().any(|l| l.contains("task code failed (error in task code)")), "{told:?}");
	assert!(report.progress.iter().all(|l| !l.contains("17.25")), "{:?}", report.progress);
	assert!(report.member_failures[3].iter().any(|f| f.contains("17.25")), "the holder keeps the detail");
}

#[test]
fn when_failing_members_leave_fewer_than_the_threshold_the_task_stops_at_once() {
	let mut members: Vec<_> = (0..2).map(|i| member(data(i), None)).collect();
	for _ in 0..2 {
		members.push(SimMember {
			executor: Box::new(LeaksInErrors),
			datasets: Box::new(Holds("values")),
			drop_at: None,
		});
	}
	let mut settings = SimSettings::new(mean_step(), 3);
	settings.threshold = Some(3);
	settings.phase_ms = 10_000;
	let report = run(settings, Box::new(RequesterCode), members).unwrap();
	match &report.outcome {
		Outcome::Failed(reason) => assert!(reason.contains("fewer than the threshold of 3"), "{reason}"),
		other => panic!("expected a failure, got {other:?}"),
	}
	// Well before the compute phase's deadline.
	assert!(report.ledger_ms < 10_000, "{} ms", report.ledger_ms);
}

#[test]
fn a_hundred_members_on_the_sparse_graph_with_dropouts_in_every_phase_are_exact() {
	let n = 100;
	let point = |i: usize| match i {
		3 | 40 | 77 => Some((0, DropPoint::BeforeJoin)),
		11 | 52 => Some((0, DropPoint::BeforeShares)),
		23 | 64 => Some((0, DropPoint::BeforeMasked)),
		35 | 96 => Some((0, DropPoint::BeforeReveal)),
		_ => None,
	};
	let members: Vec<_> = (0..n).map(|i| member(data(i), point(i))).collect();
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	let contributors: Vec<usize> =
		(0..n).filter(|i| matches!(point(*i), None | Some((_, DropPoint::BeforeReveal)))).collect();
	assert_eq!(contributors.len(), 93);
	let pooled: Vec<f64> = contributors.iter().flat_map(|i| data(*i)).collect();
	let (variance, count) = result(&report.outcome);
	let (expected, expected_n) = variance_of(&pooled);
	assert_eq!(count, expected_n);
	assert!((variance - expected).abs() < 1e-6, "{variance} vs {expected}");
	// The graph was sparse: fewer neighbours than members.
	let joined = report.events.iter().find_map(|e| match e {
		TaskEvent::MembersJoined { members, degree, share_threshold, .. } => {
			Some((*members, *degree, *share_threshold))
		},
		_ => None,
	});
	let (joined, degree, share_threshold) = joined.unwrap();
	assert_eq!(joined, 97);
	assert!(degree < 96 && share_threshold < degree, "{degree}, {share_threshold}");
	// Those that shared keys and then sent nothing are named as dropped,
	// in each of the two rounds.
	let dropped: Vec<u32> = report
		.events
		.iter()
		.filter_map(|e| match e {
			TaskEvent::Dropped { round, .. } => Some(*round),
			_ => None,
		})
		.collect();
	assert_eq!(dropped, [0, 0, 1, 1], "{:?}", report.events);
}

/// Returns one value more than the step declares, as task code that tries
/// to smuggle out a row might.
struct OneValueTooMany(Vec<f64>);

impl MemberExecutor for OneValueTooMany {
	fn map(&mut self, _: TaskId, _: &StepSpec) -> Result<Vec<Values>, EngineError> {
		Ok(vec![Values::F64(vec![self.0.iter().sum(), self.0[0]]), Values::I64(vec![self.0.len() as i64])])
	}
}

#[test]
fn a_member_refuses_to_send_outputs_that_differ_from_the_declaration() {
	let mut members: Vec<_> = (0..3).map(|i| member(data(i), None)).collect();
	members.push(SimMember {
		executor: Box::new(OneValueTooMany(data(3))),
		datasets: Box::new(Holds("values")),
		drop_at: None,
	});
	let report = run(SimSettings::new(mean_step(), 3), Box::new(RequesterCode), members).unwrap();
	let pooled: Vec<f64> = (0..3).flat_map(data).collect();
	let (variance, count) = result(&report.outcome);
	assert_eq!(count, pooled.len() as f64);
	assert!((variance - variance_of(&pooled).0).abs() < 1e-6);
	let refused = &report.member_failures[3];
	assert!(
		refused
			.iter()
			.any(|f| f.contains("output \"sum\": map returned 2 float64 values, the step declares 1 float64")),
		"{refused:?}"
	);
}

#[test]
fn a_simulation_replays_exactly_from_its_seed() {
	let run_with = |seed: u64| {
		let members: Vec<_> = (0..4).map(|i| member(data(i), None)).collect();
		let mut settings = SimSettings::new(mean_step(), 3);
		settings.seed = seed;
		run(settings, Box::new(RequesterCode), members).unwrap()
	};
	let (a, b, other) = (run_with(7), run_with(7), run_with(8));
	// The same seed: the same keys, shares and masked inputs, byte for byte.
	assert!(a.traffic.is_some());
	assert_eq!(a.traffic, b.traffic);
	assert_eq!(a.events, b.events);
	assert_eq!(a.ledger_ms, b.ledger_ms);
	// Another seed: other secrets on the wire, the same answer.
	assert_ne!(a.traffic, other.traffic);
	assert_eq!(result(&a.outcome), result(&other.outcome));
	// Without the digest (as `delta.debug` runs): the same run, no digest.
	let members: Vec<_> = (0..4).map(|i| member(data(i), None)).collect();
	let mut settings = SimSettings::new(mean_step(), 3);
	settings.seed = 7;
	settings.digest_traffic = false;
	let undigested = run(settings, Box::new(RequesterCode), members).unwrap();
	assert_eq!(undigested.traffic, None);
	assert_eq!(undigested.events, a.events);
}

#[test]
fn a_complete_graph_too_wide_for_one_reveal_is_refused_before_the_task_starts() {
	let members: Vec<_> = (0..130).map(|i| member(data(i), None)).collect();
	let mut settings = SimSettings::new(mean_step(), 3);
	settings.graph = delta_engine::GraphChoice::Complete;
	let report = run(settings, Box::new(RequesterCode), members).unwrap();
	match &report.outcome {
		Outcome::Failed(reason) => {
			assert!(reason.contains("129 neighbours") && reason.contains("at most 128 shares"), "{reason}")
		},
		other => panic!("expected a refusal, got {other:?}"),
	}
	assert!(matches!(report.events.last(), Some(TaskEvent::Failed { kind: delta_engine::FailureKind::Plan, .. })));
	// Nothing reached the ledger: no task was created.
	assert!(!report.events.iter().any(|e| matches!(e, TaskEvent::TaskCreated { .. })));
}

/// Model weights: one float32 vector, the same for every member but one
/// member's own offset.
struct Weights(Vec<f32>);

impl MemberExecutor for Weights {
	fn map(&mut self, _: TaskId, _: &StepSpec) -> Result<Vec<Values>, EngineError> {
		Ok(vec![Values::F32(self.0.clone())])
	}
}

/// The requester of a one-round average: the sums as float64 bytes.
struct Average;

impl RequesterExecutor for Average {
	fn reduce(&mut self, _: &StepSpec, sums: &[Values], _: usize) -> Result<Next, EngineError> {
		Ok(Next::Done(sums[0].to_le_bytes()))
	}
}

fn weights_task(bound: Option<f64>, members: &[Vec<f32>]) -> delta_sim::Report {
	let mut output = OutputSpec::new("w", DType::F32, vec![members[0].len() as u32]);
	output.bound = bound;
	let step = StepSpec { dataset: "values".into(), body: b"fedavg".to_vec(), outputs: vec![output], privacy: None };
	let members = members
		.iter()
		.map(|w| SimMember {
			executor: Box::new(Weights(w.clone())),
			datasets: Box::new(Holds("values")),
			drop_at: None,
		})
		.collect();
	run(SimSettings::new(step, 1), Box::new(Average), members).unwrap()
}

fn sums_of(outcome: &Outcome) -> Vec<f64> {
	match outcome {
		Outcome::Done(bytes) => bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect(),
		other => panic!("not done: {other:?}"),
	}
}

#[test]
fn bounded_weights_are_summed_in_half_the_bytes_and_as_exactly() {
	let d = 20_000;
	let members: Vec<Vec<f32>> =
		(0..3).map(|i| (0..d).map(|j| ((i * 7 + j * 13) % 201) as f32 / 100.0 - 1.0).collect()).collect();
	let expected: Vec<f64> = (0..d).map(|j| members.iter().map(|m| f64::from(m[j])).sum()).collect();
	let unbounded = weights_task(None, &members);
	let bounded = weights_task(Some(1.0), &members);
	for report in [&unbounded, &bounded] {
		let sums = sums_of(&report.outcome);
		let worst = sums.iter().zip(&expected).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
		assert!(worst < 1e-6, "{worst}");
	}
	// The masked inputs dominate the traffic and are half the size.
	let ratio = bounded.bytes as f64 / unbounded.bytes as f64;
	assert!(ratio < 0.6, "{} vs {} bytes", bounded.bytes, unbounded.bytes);
}

#[test]
fn a_member_past_the_declared_bound_is_refused_by_its_own_engine_and_the_rest_answer() {
	let mut members: Vec<Vec<f32>> = vec![vec![0.5, -0.25]; 4];
	members[2] = vec![0.5, 7.0];
	let report = weights_task(Some(1.0), &members);
	assert_eq!(sums_of(&report.outcome), vec![1.5, -0.75]);
	let refused = &report.member_failures[2];
	assert!(refused.iter().any(|f| f.contains("index 1") && f.contains('1')), "{refused:?}");
	assert!(
		report.events.iter().any(
			|e| matches!(e, TaskEvent::Declined { reason, .. } if reason.contains("outside the encoding's range of ±1"))
		),
		"{:?}",
		report.events
	);
}
