//! Criterion benchmarks of whole rounds through the engine (the
//! coordinator's rules in memory, real SecAgg+ masking, real encoding):
//! what the SecAgg+ sparse graph saves over the complete graph as rounds
//! grow, and what one large model-sized step costs. Figures only; nothing
//! here fails on timing.
//!
//! `cargo bench -p delta-sim --bench rounds` runs n in {100, 128} on
//! both graphs with 1 000 float64 outputs (the complete graph stops at 129
//! members: a member reveals at most 128 shares a call), and 3 members
//! with one float32 output of 1e6 and 1e7 elements. `DELTA_BENCH_QUICK=1`
//! runs n = 100 and 1e6 only.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use delta_engine::{
	DType, EngineError, GraphChoice, Next, Outcome, OutputSpec, RequesterExecutor, StepSpec, TaskId, Values,
};
use delta_sim::{
	fixtures::{Constant, HoldsAny},
	run, SimMember, SimSettings,
};

fn quick() -> bool {
	std::env::var_os("DELTA_BENCH_QUICK").is_some()
}

/// The requester: done after one round.
struct OneRound;

impl RequesterExecutor for OneRound {
	fn reduce(&mut self, _: &StepSpec, sums: &[Values], _: usize) -> Result<Next, EngineError> {
		Ok(Next::Done(vec![u8::from(!sums.is_empty())]))
	}
}

fn one_round(n: usize, output: OutputSpec, values: &Values, graph: GraphChoice) {
	let step = StepSpec { dataset: "d".into(), body: b"bench".to_vec(), outputs: vec![output], privacy: None };
	let mut settings = SimSettings::new(step, 1);
	settings.graph = graph;
	settings.phase_ms = 60_000;
	let members = (0..n)
		.map(|_| SimMember {
			executor: Box::new(Constant(values.clone())),
			datasets: Box::new(HoldsAny),
			drop_at: None,
		})
		.collect();
	let report = run(settings, Box::new(OneRound), members).expect("the round runs");
	assert!(matches!(report.outcome, Outcome::Done(_)), "{:?}", report.outcome);
}

fn graphs(c: &mut Criterion) {
	let mut group = c.benchmark_group("round_by_graph");
	group.sample_size(10);
	let ns: &[usize] = if quick() { &[100] } else { &[100, 128] };
	let values = Values::F64(vec![0.5; 1_000]);
	for &n in ns {
		for (name, graph) in [("complete", GraphChoice::Complete), ("sparse", GraphChoice::SparseDefault)] {
			group.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
				b.iter(|| one_round(n, OutputSpec::floats("x", 1_000), &values, graph))
			});
		}
	}
	group.finish();
}

fn large_step(c: &mut Criterion) {
	let mut group = c.benchmark_group("large_float32_step_3_members");
	group.sample_size(10);
	let ds: &[u32] = if quick() { &[1_000_000] } else { &[1_000_000, 10_000_000] };
	for &d in ds {
		let values = Values::F32(vec![0.25; d as usize]);
		let output = OutputSpec::new("w", DType::F32, vec![d]);
		group.throughput(Throughput::Elements(u64::from(d)));
		group.bench_with_input(BenchmarkId::from_parameter(d), &d, |b, _| {
			b.iter(|| one_round(3, output.clone(), &values, GraphChoice::Complete))
		});
	}
	group.finish();
}

criterion_group!(benches, graphs, large_step);
criterion_main!(benches);
