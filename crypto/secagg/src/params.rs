//! Choosing SecAgg+'s neighbourhood degree `k` and share threshold `t`
//! from the number of members and stated security and correctness goals
//! (Bell et al., CCS 2020, §3–4).
//!
//! Each member's neighbours are a uniformly random `k`-subset of the others
//! (the Harary ring over a shuffle drawn from public randomness, see
//! [`crate::graph`]). Three things must hold for every member at once, each
//! with the stated failure probability, by a union bound over the `n`
//! members:
//!
//! - **privacy of shares**: fewer than `t` of its neighbours are among the
//!   colluding members (a fraction `corrupt` of all members), so they cannot
//!   rebuild its secrets; the ledger, not the aggregator, says who dropped,
//!   so an aggregator cannot ask for both kinds of share of one member;
//! - **correctness**: at least `t` of its neighbours survive (at most a
//!   fraction `dropout` of the members drop out), so its secrets can be
//!   rebuilt;
//! - **no isolated group**: no run of `k/2` consecutive ring positions is
//!   all colluding or dropped, so the honest survivors stay connected and the
//!   aggregator learns only their total (two such runs would split the ring
//!   and reveal the sum of each arc).
//!
//! The tails are exact: a member's neighbours are drawn without replacement
//! from the `n − 1` others, of whom at most `⌊corrupt·n⌋` collude and at
//! most `⌊dropout·n⌋` drop out, so the counts are hypergeometric. The
//! computation uses only IEEE addition, multiplication and division, each
//! correctly rounded and done in a fixed order, so every member and the
//! aggregator derive the same `(k, t)` on any machine. When no `k < n − 1`
//! (nor `k` up to [`MAX_SPARSE_DEGREE`]) meets the goals, or when the round
//! has fewer than [`SPARSE_FROM_MEMBERS`] members, the graph is complete and
//! the threshold is the round's own (the original SecAgg).

use serde::{Deserialize, Serialize};

/// What a round's neighbour graph must guarantee.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct GraphGoals {
	/// `σ`: privacy and connectivity fail with probability at most `2^-σ`.
	pub security_bits: u32,
	/// `η`: the sum fails to unmask with probability at most `2^-η`.
	pub correctness_bits: u32,
	/// Largest fraction of members that may collude with the aggregator.
	pub corrupt: f64,
	/// Largest fraction of members that may drop out during the round.
	pub dropout: f64,
}

impl Default for GraphGoals {
	/// 40-bit security and 20-bit correctness against 10% colluding and 10%
	/// dropped members.
	fn default() -> Self {
		Self { security_bits: 40, correctness_bits: 20, corrupt: 0.1, dropout: 0.1 }
	}
}

impl GraphGoals {
	/// Whether these goals are at least as strict as `floor` (a holder's
	/// minimum): as many security bits, as large a colluding fraction.
	pub fn at_least(&self, floor: &GraphGoals) -> bool {
		self.security_bits >= floor.security_bits && self.corrupt >= floor.corrupt
	}
}

/// How a round's members are connected.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, Default)]
pub enum GraphChoice {
	/// Every member is every other's neighbour (SecAgg): the round's
	/// threshold alone bounds collusion, at `O(n)` work per member.
	Complete,
	/// SecAgg+'s sparse graph, sized for these goals: `O(log n)` neighbours
	/// per member; complete where `n` is too small for a sparse graph to
	/// meet them.
	Sparse(GraphGoals),
	/// The default: sparse with [`GraphGoals::default`].
	#[default]
	SparseDefault,
}

/// The degree and share threshold a round uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Neighbourhood {
	/// Neighbours per member (`k`, `n − 1` for the complete graph).
	pub degree: usize,
	/// Shares needed to rebuild one member's secret (`t`).
	pub threshold: usize,
}

impl Neighbourhood {
	/// Whether this is the complete graph for `n` members.
	pub fn is_complete(&self, n: usize) -> bool {
		self.degree + 1 >= n
	}
}

/// Fewest members for which a sparse graph is considered. Below it the
/// complete graph costs at most 62 neighbours per member and bounds
/// collusion by the round's threshold (about half the members) rather than
/// by the `corrupt` fraction, which for a few members is one or two.
pub const SPARSE_FROM_MEMBERS: usize = 64;

/// Largest sparse degree searched; beyond it the complete graph is used.
/// Keeps the search cheap and the probabilities far from underflow.
pub const MAX_SPARSE_DEGREE: usize = 2048;

/// The neighbourhood for `n` members: sparse if `choice` allows and the
/// goals can be met with fewer than `n − 1` neighbours, otherwise the
/// complete graph with `round_threshold`.
pub fn choose(n: usize, round_threshold: usize, choice: GraphChoice) -> Neighbourhood {
	let complete = Neighbourhood { degree: n.saturating_sub(1), threshold: round_threshold };
	let goals = match choice {
		GraphChoice::Complete => return complete,
		GraphChoice::Sparse(goals) => goals,
		GraphChoice::SparseDefault => GraphGoals::default(),
	};
	if !(0.0..1.0).contains(&goals.corrupt) || !(0.0..1.0).contains(&goals.dropout) || n < SPARSE_FROM_MEMBERS {
		return complete;
	}
	let others = n - 1;
	let corrupt = ((goals.corrupt * n as f64) as usize).min(others);
	let dropped = ((goals.dropout * n as f64) as usize).min(others);
	let removed = (corrupt + dropped).min(others);
	// Each bound holds for every member at once: a union bound over n.
	let privacy_limit = below(goals.security_bits) / n as f64;
	let correct_limit = below(goals.correctness_bits) / n as f64;
	let mut k = 2;
	while k + 1 < n && k <= MAX_SPARSE_DEGREE {
		// No run of k/2 ring positions all removed (one per start, n starts).
		if run_removed(others, removed, k / 2) <= privacy_limit {
			let colluders = upper_tails(others, corrupt, k);
			let drops = upper_tails(others, dropped, k);
			// The least t that colluders reach too rarely; then enough
			// survivors must remain: more than k − t dropped is too rare.
			if let Some(t) = (1..=k).find(|&t| colluders[t] <= privacy_limit) {
				if drops[k - t + 1] <= correct_limit {
					return Neighbourhood { degree: k, threshold: t };
				}
			}
		}
		k += 2;
	}
	complete
}

/// Halvings after which `2^-bits` is 0 in f64: the least subnormal is
/// `2^-1074`, and half of it rounds (to even) to 0.
const HALVINGS_TO_ZERO: u32 = 1075;

/// `2^-bits`, exactly. The goals come from the requester's announcement,
/// so the loop stops once the value is 0: `u32::MAX` bits cost 1075 steps,
/// not four billion (seconds of a member's time at each round).
fn below(bits: u32) -> f64 {
	(0..bits.min(HALVINGS_TO_ZERO)).fold(1.0, |p, _| p * 0.5)
}

/// `tails[x] = P[X ≥ x]` for `x` in `0..=draws + 1`, where `X` counts the
/// marked items among `draws` drawn without replacement from `population`
/// items of which `marked` are marked (hypergeometric). Summed from the far
/// end so that small tails keep their precision.
fn upper_tails(population: usize, marked: usize, draws: usize) -> Vec<f64> {
	let mut pmf = vec![0.0f64; draws + 2];
	let unmarked = population - marked;
	if draws <= unmarked {
		// P[X = 0] = Π (unmarked − j) / (population − j).
		let mut p = 1.0f64;
		for j in 0..draws {
			p = p * (unmarked - j) as f64 / (population - j) as f64;
		}
		pmf[0] = p;
		for x in 0..draws.min(marked) {
			let num = (marked - x) as f64 * (draws - x) as f64;
			let den = (x + 1) as f64 * (unmarked + x + 1 - draws) as f64;
			pmf[x + 1] = pmf[x] * num / den;
		}
	} else {
		// More draws than unmarked items: at least draws − unmarked marked.
		// Rare here (the degree is far below the population); be
		// conservative and call every count certain.
		pmf.iter_mut().take(draws + 1).for_each(|p| *p = 1.0);
	}
	let mut tails = vec![0.0f64; draws + 2];
	for x in (0..=draws).rev() {
		tails[x] = (tails[x + 1] + pmf[x]).min(1.0);
	}
	tails
}

/// The chance that `run` given positions are all among `removed` of
/// `population` (drawn without replacement).
fn run_removed(population: usize, removed: usize, run: usize) -> f64 {
	if run > removed {
		return 0.0;
	}
	let mut p = 1.0f64;
	for j in 0..run {
		p = p * (removed - j) as f64 / (population - j) as f64;
	}
	p
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn small_rounds_use_the_complete_graph() {
		for n in 2..SPARSE_FROM_MEMBERS {
			let h = choose(n, n / 2 + 1, GraphChoice::SparseDefault);
			assert!(h.is_complete(n), "n = {n}: {h:?}");
			assert_eq!(h.threshold, n / 2 + 1);
		}
		assert_eq!(choose(1000, 501, GraphChoice::Complete), Neighbourhood { degree: 999, threshold: 501 });
	}

	#[test]
	fn the_degree_grows_logarithmically() {
		let at = |n| choose(n, n / 2 + 1, GraphChoice::SparseDefault);
		let (h100, h1k, h10k, h100k) = (at(100), at(1_000), at(10_000), at(100_000));
		assert!(!h100.is_complete(100), "{h100:?}");
		assert!(h100.degree <= h1k.degree && h1k.degree <= h10k.degree && h10k.degree <= h100k.degree);
		// A hundredfold more members costs a handful of neighbours.
		assert!(h100k.degree < 150 && h100k.degree - h1k.degree <= 40, "{h1k:?} {h100k:?}");
	}

	#[test]
	fn the_chosen_neighbourhood_meets_the_goals_and_is_the_least_that_does() {
		let goals = GraphGoals::default();
		for n in [64, 100, 1_000, 10_000] {
			let h = choose(n, n / 2 + 1, GraphChoice::Sparse(goals));
			let (k, t) = (h.degree, h.threshold);
			assert_eq!(k % 2, 0);
			let corrupt = (goals.corrupt * n as f64) as usize;
			let dropped = (goals.dropout * n as f64) as usize;
			let privacy = below(goals.security_bits) / n as f64;
			let correct = below(goals.correctness_bits) / n as f64;
			assert!(upper_tails(n - 1, corrupt, k)[t] <= privacy, "{n}: {h:?}");
			assert!(upper_tails(n - 1, dropped, k)[k - t + 1] <= correct, "{n}: {h:?}");
			assert!(run_removed(n - 1, corrupt + dropped, k / 2) <= privacy, "{n}: {h:?}");
			// One threshold lower and the colluders could reach it too often.
			assert!(t == 1 || upper_tails(n - 1, corrupt, k)[t - 1] > privacy, "{n}: {h:?}");
		}
	}

	#[test]
	fn stricter_goals_need_more_neighbours() {
		let n = 10_000;
		let base = choose(n, 5001, GraphChoice::SparseDefault);
		let strict = choose(n, 5001, GraphChoice::Sparse(GraphGoals { corrupt: 0.25, ..GraphGoals::default() }));
		assert!(strict.degree > base.degree, "{base:?} {strict:?}");
		let impossible = GraphGoals { corrupt: 0.5, dropout: 0.5, ..GraphGoals::default() };
		assert!(choose(n, 5001, GraphChoice::Sparse(impossible)).is_complete(n));
		assert!(GraphGoals { security_bits: 64, ..GraphGoals::default() }.at_least(&GraphGoals::default()));
		assert!(!GraphGoals { corrupt: 0.01, ..GraphGoals::default() }.at_least(&GraphGoals::default()));
	}

	#[test]
	fn hypergeometric_tails_are_exact() {
		// 2 marked of 4, draw 2: P[X=0] = 1/6, P[X=1] = 4/6, P[X=2] = 1/6.
		let t = upper_tails(4, 2, 2);
		assert!((t[0] - 1.0).abs() < 1e-15 && (t[1] - 5.0 / 6.0).abs() < 1e-15 && (t[2] - 1.0 / 6.0).abs() < 1e-15);
		assert_eq!(t[3], 0.0);
		assert_eq!(upper_tails(10, 0, 3)[1], 0.0);
		assert!((run_removed(10, 5, 2) - 5.0 / 10.0 * 4.0 / 9.0).abs() < 1e-15);
		assert_eq!(run_removed(10, 1, 2), 0.0);
		assert_eq!(below(3), 0.125);
	}

	#[test]
	fn any_stated_goal_is_sized_in_bounded_time() {
		// Regression (fuzz/corpus/peer_message/regression-security-bits): a
		// requester stating u32::MAX security bits made every member loop
		// four billion times per bound. The value is unchanged: 0 from
		// 1075 halvings on.
		assert_eq!(below(1074), f64::from_bits(1));
		assert_eq!(below(HALVINGS_TO_ZERO), 0.0);
		assert_eq!(below(u32::MAX), 0.0);
		let huge = GraphGoals { security_bits: u32::MAX, correctness_bits: u32::MAX, ..GraphGoals::default() };
		let capped = GraphGoals { security_bits: HALVINGS_TO_ZERO, correctness_bits: HALVINGS_TO_ZERO, ..huge };
		for n in [64, 1000] {
			assert_eq!(
				choose(n, n / 2 + 1, GraphChoice::Sparse(huge)),
				choose(n, n / 2 + 1, GraphChoice::Sparse(capped))
			);
		}
	}
}
