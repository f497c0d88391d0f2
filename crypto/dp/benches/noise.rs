//! What distributed DP adds to a member's work: adding discrete Gaussian
//! noise to a 1e6-element contribution (`sample_n*`: the noise alone, on a
//! vector already on the lattice; `noise_n*`: the whole contribution,
//! clipping, scaling and rounding included, which stand in for the
//! fixed-point encoding a step without DP does, `encode_n*`), beside
//! masking the same vector in the 64-bit ring with the self mask and the
//! pairwise masks of 3 and 10 members (complete graph). What DP adds is
//! `noise_n*` less `encode_n*`.
//!
//! `cargo bench -p delta-dp --bench noise` (or `QUICK=1` for a short run).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use delta_dp::{DiscreteGaussian, Lattice, NoiseRng, Privacy};
use delta_secagg::{prg, RingVector};

const D: usize = 1_000_000;

fn noise_beside_masking(c: &mut Criterion) {
	let mut group = c.benchmark_group("d1e6");
	group.sample_size(10);
	group.throughput(Throughput::Elements(D as u64));
	let privacy = Privacy { clip: 1.0, noise_multiplier: 1.0, delta: 1e-6 };
	let values: Vec<f64> = (0..D).map(|i| ((i % 1000) as f64 - 500.0) * 1e-6).collect();
	for members in [3u32, 10] {
		let lattice = Lattice::new(&privacy, D, members.div_ceil(2).max(2), members, 64).expect("a lattice");
		let mut rng = NoiseRng::from_seed([5; 32]);
		group.bench_function(format!("noise_n{members}"), |b| {
			b.iter(|| lattice.contribution(&privacy, &values, &mut rng).expect("noised"))
		});
		let encoder = delta_secagg::FixedPoint::new(delta_secagg::Ring::Bits64, 24, members).expect("an encoder");
		group
			.bench_function(format!("encode_n{members}"), |b| b.iter(|| encoder.encode_f64(&values).expect("encoded")));
		let gaussian = DiscreteGaussian::new(lattice.member_variance).expect("a sampler");
		let mut ints = vec![0i64; D];
		group.bench_function(format!("sample_n{members}"), |b| b.iter(|| gaussian.add_to(&mut ints, &mut rng)));
		let seeds: Vec<[u8; 32]> = (0..members).map(|i| [i as u8; 32]).collect();
		let masks: Vec<(&[u8; 32], bool)> = seeds.iter().map(|s| (s, false)).collect();
		let mut v = RingVector::zeros(delta_secagg::Ring::Bits64, D);
		group.bench_function(format!("mask_n{members}"), |b| b.iter(|| prg::apply_masks(&mut v, &masks)));
	}
	group.finish();
}

criterion_group!(benches, noise_beside_masking);
criterion_main!(benches);
