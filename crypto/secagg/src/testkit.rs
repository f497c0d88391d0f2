//! A whole round in one process, for tests, benchmarks and the timing
//! example: `n` members with random inputs, a dropout fraction of them
//! leaving after sharing keys (the costliest case for the aggregator, which
//! must then rebuild their masking keys), and the time spent on each side.

use std::time::{Duration, Instant};

use rand_core::{OsRng, RngCore};

use crate::{Aggregator, Config, Member, MemberId, Ring, RingVector, RoundContext, ShareDelivery};

/// What one round looks like.
#[derive(Clone, Debug)]
pub struct Params {
	/// Members.
	pub n: usize,
	/// Neighbours per member.
	pub k: usize,
	/// Shamir threshold.
	pub threshold: usize,
	/// Vector length.
	pub d: usize,
	/// The ring.
	pub ring: Ring,
	/// Fraction of members that drop out after sharing keys.
	pub dropout: f64,
}

/// What one round measured.
#[derive(Clone, Debug)]
pub struct Report {
	/// Whether the unmasked sum equals the survivors' inputs summed directly.
	pub exact: bool,
	/// Time in aggregator calls, all phases.
	pub aggregator_time: Duration,
	/// Mean time one surviving member spent in its calls, all phases.
	pub member_time: Duration,
}

fn random_vector(ring: Ring, d: usize) -> RingVector {
	let mut v = RingVector::zeros(ring, d);
	let mut seed = [0u8; 32];
	OsRng.fill_bytes(&mut seed);
	crate::prg::apply_mask(&mut v, &seed, false);
	v
}

/// Runs one round with `params`; panics if a protocol step fails, which in
/// a benchmark is a bug to see at once.
pub fn run_round(params: &Params) -> Report {
	let mut graph_seed = [0u8; 32];
	OsRng.fill_bytes(&mut graph_seed);
	let config = Config {
		context: RoundContext { task_id: b"bench".to_vec(), round: 1 },
		threshold: params.threshold,
		degree: params.k,
		vector_len: params.d,
		ring: params.ring,
		graph_seed,
	};
	// Per member, so the mean covers only members that did all four phases.
	let mut member_time = vec![Duration::ZERO; params.n];
	let mut aggregator_time = Duration::ZERO;
	let mut aggregator = Aggregator::new(config.clone());
	let mut members = Vec::with_capacity(params.n);
	for id in 0..params.n as MemberId {
		let t = Instant::now();
		let (member, advert) = Member::new(config.clone(), id, &mut OsRng);
		member_time[id as usize] += t.elapsed();
		let t = Instant::now();
		aggregator.receive_advertise(advert).expect("advertise");
		aggregator_time += t.elapsed();
		members.push(member);
	}
	let t = Instant::now();
	let roster = aggregator.close_advertise().expect("roster");
	aggregator_time += t.elapsed();
	for member in members.iter_mut() {
		let t = Instant::now();
		let shares = member.share_keys(&roster, &mut OsRng).expect("share keys");
		member_time[member.id() as usize] += t.elapsed();
		let t = Instant::now();
		aggregator.receive_share_keys(shares).expect("receive shares");
		aggregator_time += t.elapsed();
	}
	let t = Instant::now();
	let deliveries: Vec<ShareDelivery> = aggregator.close_share_keys().expect("deliveries");
	aggregator_time += t.elapsed();

	let dropped = (params.dropout * params.n as f64).round() as usize;
	let mut expected = RingVector::zeros(params.ring, params.d);
	let mut survivors = Vec::new();
	for (member, delivery) in members.iter_mut().zip(&deliveries).skip(dropped) {
		let input = random_vector(params.ring, params.d);
		expected.add_assign(&input);
		let t = Instant::now();
		let masked = member.masked_input(delivery, &input).expect("masked input");
		member_time[member.id() as usize] += t.elapsed();
		let t = Instant::now();
		aggregator.receive_masked_input(masked).expect("receive masked");
		aggregator_time += t.elapsed();
		survivors.push(member);
	}
	let t = Instant::now();
	let request = aggregator.close_masked_input().expect("unmask request");
	aggregator_time += t.elapsed();
	for member in survivors.iter_mut() {
		let t = Instant::now();
		let response = member.unmask(&request).expect("unmask");
		member_time[member.id() as usize] += t.elapsed();
		let t = Instant::now();
		aggregator.receive_unmask(response).expect("receive unmask");
		aggregator_time += t.elapsed();
	}
	let t = Instant::now();
	let sum = aggregator.finish().expect("finish");
	aggregator_time += t.elapsed();
	let full: Vec<Duration> = survivors.iter().map(|m| member_time[m.id() as usize]).collect();
	Report {
		exact: sum == expected,
		aggregator_time,
		member_time: full.iter().sum::<Duration>() / full.len().max(1) as u32,
	}
}

/// One round's mean per-member time (for benchmarks).
pub fn time_member(params: &Params) -> Duration {
	run_round(params).member_time
}
