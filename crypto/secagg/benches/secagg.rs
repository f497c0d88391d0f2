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
	let bytes = 64 << 20;
	group.throughput(Throughput::Bytes(bytes as u64));
	group.sample_size(10);
	let mut buf = vec![0u8; bytes];
	group.bench_function("aes128ctr_64MiB", |b| b.iter(|| prg::keystream(&[7; 32], &mut buf)));
	let mut v = delta_secagg::RingVector::zeros(Ring::Bits32, bytes / 4);
	group.bench_function("apply_mask_u32_64MiB", |b| b.iter(|| prg::apply_mask(&mut v, &[7; 32], false)));
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
				let params = testkit::Params { n, k, threshold: k.min(n - 1) / 2 + 1, d, ring: Ring::Bits64, dropout };
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

criterion_group!(benches, mask_expansion, protocol);
criterion_main!(benches);
