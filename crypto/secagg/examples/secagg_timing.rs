//! Times one SecAgg+ round and prints JSON, for `bench/compare_flower.py`.
//!
//! `cargo run --release -p delta-secagg --example secagg_timing -- \
//!     --n 100 --d 100000 --k 12 --t 7 --dropout 0.1 --ring 32 --repeat 3`
//!
//! Prints the best of `--repeat` rounds: aggregator time (all its calls),
//! mean member time (one member's calls over all phases), and whether the
//! sum was exact.

use std::{collections::HashMap, time::Duration};

use delta_secagg::{testkit, Ring};

fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	let mut opts: HashMap<String, String> = HashMap::new();
	for pair in args.chunks(2) {
		if let [key, value] = pair {
			opts.insert(key.trim_start_matches("--").to_string(), value.clone());
		} else {
			eprintln!("usage: secagg_timing --n N --d D --k K --t T --dropout F --ring 32|64|128 --repeat R");
			std::process::exit(2);
		}
	}
	let get = |k: &str, default: &str| opts.get(k).cloned().unwrap_or_else(|| default.to_string());
	let parse = |k: &str, default: &str| -> f64 {
		get(k, default).parse().unwrap_or_else(|_| {
			eprintln!("--{k} must be a number");
			std::process::exit(2);
		})
	};
	let ring = match get("ring", "64").as_str() {
		"32" => Ring::Bits32,
		"64" => Ring::Bits64,
		"128" => Ring::Bits128,
		other => {
			eprintln!("--ring must be 32, 64 or 128, not {other}");
			std::process::exit(2);
		},
	};
	let params = testkit::Params {
		n: parse("n", "100") as usize,
		k: parse("k", "12") as usize,
		threshold: parse("t", "7") as usize,
		d: parse("d", "100000") as usize,
		ring,
		dropout: parse("dropout", "0.1"),
	};
	let repeat = parse("repeat", "3") as usize;
	let mut best_agg = Duration::MAX;
	let mut best_member = Duration::MAX;
	let mut exact = true;
	for _ in 0..repeat.max(1) {
		let report = testkit::run_round(&params);
		exact &= report.exact;
		best_agg = best_agg.min(report.aggregator_time);
		best_member = best_member.min(report.member_time);
	}
	println!(
		"{{\"n\": {}, \"d\": {}, \"k\": {}, \"t\": {}, \"dropout\": {}, \"ring_bits\": {}, \"aggregator_s\": {:.6}, \"member_s\": {:.6}, \"exact\": {}}}",
		params.n,
		params.d,
		params.k,
		params.threshold,
		params.dropout,
		ring.bits(),
		best_agg.as_secs_f64(),
		best_member.as_secs_f64(),
		exact
	);
}
