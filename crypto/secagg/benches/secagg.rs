//! Criterion benchmarks of member and aggregator work, and of mask
//! expansion. Figures only; nothing here fails on timing.
//!
//! `cargo bench -p delta-secagg` runs n in {10, 100, 1000} and d in
//! {1e3, 1e5, 1e6} at dropout {0, 10%, 30%} for the aggregator, with a small
//! sample size for the largest cases. Set `DELTA_BENCH_QUICK=1` to run only
//! n <= 100 and d <= 1e5.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use delta_secagg::{prg, testkit, Ring};

fn quick() -> bool {
	std::env::var_os("DELTA_BENCH_QUICK").is_some()
}

fn mask_expansion(c: &mut Criterion) {
	let mut group = c.benchmark_group("mask_expansion");
	// Pure keystream: 1 MiB at a time, which stays in L2 as a real mask chunk
	// does. This is the PRG's own speed (the "mask expansion").
	let mut buf = vec![0u8; 1 << 20];
	group.throughput(Throughput::Bytes(buf.len() as u64));
	group.bench_function("keystream_1MiB", |b| b.iter(|| prg::keystream(&[7; 32], &mut buf)));
	// A member's work at d = 1e6 in Z_2^32 with 12 neighbours: 13 masks added
	// in one pass over a 4 MB vector (memory traffic included).
	let seeds: Vec<[u8; 32]> = (0..13u8).map(|i| [i; 32]).collect();
	let masks: Vec<(&[u8; 32], bool)> = seeds.iter().map(|s| (s, false)).collect();
	let mut v = delta_secagg::RingVector::zeros(Ring::Bits32, 1_000_000);
	group.throughput(Throughput::Bytes(13 * 4_000_000));
	group.sample_size(20);
	group.bench_function("apply_13_masks_u32_d1e6", |b| b.iter(|| prg::apply_masks(&mut v, &masks)));
	group.finish();
}

/// Fixed-point encoding of a 1M-weight model's float32 update into
/// Z_2^64, and decoding a sum back: what every member and the requester
/// do to every round's vector besides masking it.
fn fixed_point(c: &mut Criterion) {
	let mut group = c.benchmark_group("fixed_point");
	let weights: Vec<f32> = (0..1_000_000).map(|i| ((i % 2001) as f32 - 1000.0) * 1e-3).collect();
	let e = delta_secagg::FixedPoint::new(Ring::Bits64, 24, 10).unwrap();
	group.throughput(Throughput::Elements(weights.len() as u64));
	group.sample_size(20);
	group.bench_function("encode_f32_u64_d1e6", |b| b.iter(|| e.encode_f32(&weights).unwrap()));
	let sum = e.encode_f32(&weights).unwrap();
	group.bench_function("decode_f64_u64_d1e6", |b| b.iter(|| e.decode_f64(&sum).unwrap()));
	group.finish();
}

fn protocol(c: &mut Criterion) {
	let ns: &[usize] = if quick() { &[10, 100] } else { &[10, 100, 1000] };
	let ds: &[usize] = if quick() { &[1_000, 100_000] } else { &[1_000, 100_000, 1_000_000] };
	for &n in ns {
		for &d in ds {
			// n * d beyond 1e8 elements would need ~0.4-1.6 GB of inputs.
			if n * d > 100_000_000 {
				continue;
			}
			for dropout in [0.0, 0.1, 0.3] {
				let mut group = c.benchmark_group(format!("secagg_n{n}_d{d}"));
				group.sample_size(10);
				let k = if n <= 10 { n - 1 } else { 2 * ((n as f64).log2().ceil() as usize) * 2 };
				// A third of the neighbourhood: safe against 30% dropout in every
				// neighbourhood with overwhelming probability.
				let threshold = (k.min(n - 1) + 1).div_ceil(3) + 1;
				let params = testkit::Params { n, k, threshold, d, ring: Ring::Bits64, dropout };
				let label = format!("dropout{}", (dropout * 100.0) as u32);
				group.bench_with_input(BenchmarkId::new("member", &label), &params, |b, p| {
					b.iter_custom(|iters| (0..iters).map(|_| testkit::time_member(p)).sum())
				});
				group.bench_with_input(BenchmarkId::new("aggregator", &label), &params, |b, p| {
					b.iter_custom(|iters| {
						let mut total = std::time::Duration::ZERO;
						for _ in 0..iters {
							total += testkit::run_round(p).aggregator_time;
						}
						total
					})
				});
				group.finish();
			}
		}
	}
}

criterion_group!(benches, mask_expansion, fixed_point, protocol);
criterion_main!(benches);
