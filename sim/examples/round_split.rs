//! Member and requester time of one secure-sum round, on the SecAgg+
//! sparse graph against the complete graph: 100 members (by default), one
//! float64 output of d = 1e5 elements, 10% of the members dropping out
//! (three before sending shares, four before their masked input, three
//! before revealing). Real masking and unmasking; the ledger's rules in
//! memory; the wall time inside each party's steps is counted, less the
//! time its ledger calls and reads take (the in-memory ledger's SQL,
//! which grows with n and is not the protocol's cost).
//!
//! `cargo run --release -p delta-sim --example round_split [n] [d]`

use std::time::{Duration, Instant};

use delta_engine::{
	EngineError, GraphChoice, Next, Outcome, OutputSpec, RequesterExecutor, StepSpec, TaskEvent, Values,
};
use delta_sim::{
	fixtures::{Constant, HoldsAny},
	run, DropPoint, SimMember, SimSettings,
};

/// The requester: done after one round, with the first sum.
struct OneRound;

impl RequesterExecutor for OneRound {
	fn reduce(&mut self, _: &StepSpec, sums: &[Values], _: usize) -> Result<Next, EngineError> {
		match sums.first() {
			Some(Values::F64(s)) => Ok(Next::Done(s[0].to_le_bytes().to_vec())),
			_ => Err(EngineError::Executor("no float sum".into())),
		}
	}
}

fn drop_point(i: usize, n: usize) -> Option<(u32, DropPoint)> {
	// Every tenth member drops, cycling through three phases.
	if n < 10 || i % 10 != 9 {
		return None;
	}
	Some((0, [DropPoint::BeforeShares, DropPoint::BeforeMasked, DropPoint::BeforeReveal][(i / 10) % 3]))
}

fn main() -> Result<(), EngineError> {
	let mut args = std::env::args().skip(1);
	let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
	let d: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
	println!(
		"{n} members, d = {d} float64, {} drop out; one round",
		(0..n).filter(|i| drop_point(*i, n).is_some()).count()
	);
	println!(
		"{:<9} {:>6} {:>7} {:>15} {:>15} {:>14} {:>11}",
		"graph", "degree", "summed", "member mean ms", "member max ms", "requester ms", "MB carried"
	);
	for (name, graph) in [("complete", GraphChoice::Complete), ("sparse", GraphChoice::SparseDefault)] {
		let step = StepSpec {
			dataset: "d".into(),
			body: b"split".to_vec(),
			outputs: vec![OutputSpec::floats("x", d)],
			privacy: None,
		};
		let mut settings = SimSettings::new(step, 1);
		settings.graph = graph;
		// Simulated time moves 1 ms per step of every party, whatever the
		// work inside takes: a phase of 5 s is waited out only by dropouts.
		settings.phase_ms = 5_000;
		settings.max_steps = 1_000_000;
		let members = (0..n)
			.map(|i| SimMember {
				executor: Box::new(Constant(Values::F64(vec![0.5; d as usize]))),
				datasets: Box::new(HoldsAny),
				drop_at: drop_point(i, n),
			})
			.collect();
		let started = Instant::now();
		let report = run(settings, Box::new(OneRound), members)?;
		let wall = started.elapsed();
		let Outcome::Done(bytes) = &report.outcome else {
			return Err(EngineError::Executor(format!("the round did not finish: {:?}", report.outcome)));
		};
		let first = f64::from_le_bytes(bytes[..8].try_into().map_err(|_| EngineError::Executor("short sum".into()))?);
		let (degree, summed) = report
			.events
			.iter()
			.find_map(|e| match e {
				TaskEvent::MembersJoined { degree, .. } => Some(*degree),
				_ => None,
			})
			.map(|degree| (degree, (first / 0.5).round() as usize))
			.unwrap_or((0, 0));
		// Protocol work only: each party's time less its ledger access
		// (the in-memory ledger's SQL, which a real host does not pay).
		let active: Vec<Duration> = report
			.member_time
			.iter()
			.zip(&report.member_ledger_time)
			.map(|(t, l)| t.saturating_sub(*l))
			.filter(|t| !t.is_zero())
			.collect();
		let requester = report.requester_time.saturating_sub(report.requester_ledger_time);
		let mean = active.iter().sum::<Duration>().as_secs_f64() * 1e3 / active.len().max(1) as f64;
		let max = active.iter().max().copied().unwrap_or_default().as_secs_f64() * 1e3;
		println!(
			"{name:<9} {degree:>6} {summed:>7} {mean:>15.1} {max:>15.1} {:>14.1} {:>11.1}   (wall {:.1} s)",
			requester.as_secs_f64() * 1e3,
			report.bytes as f64 / 1e6,
			wall.as_secs_f64()
		);
	}
	Ok(())
}
