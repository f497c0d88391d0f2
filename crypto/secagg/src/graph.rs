//! The neighbour graph of SecAgg+, derived from a public seed.
//!
//! Members exchange masks and shares only with their neighbours. The graph
//! is a Harary graph over a pseudo-random ordering of the members: the
//! members are shuffled (Fisher-Yates, driven by AES-CTR keyed from the
//! round's public seed, with rejection sampling so every order is equally
//! likely), placed on a ring, and each is joined to the `k/2` members on
//! either side (`k` rounded up to even). When `k >= n - 1` the graph is
//! complete, which is the original SecAgg of Bonawitz et al.
//!
//! Because the seed is public randomness the aggregator does not choose
//! (on chain: a block hash after the member set is fixed), the aggregator
//! cannot pick a member's neighbours to isolate it.

use std::collections::BTreeMap;

use crate::{prg, MemberId};

/// Who is whose neighbour in one round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NeighbourGraph {
	neighbours: BTreeMap<MemberId, Vec<MemberId>>,
}

struct SeedStream {
	bytes: Vec<u8>,
	pos: usize,
	seed: [u8; 32],
	blocks: u64,
}

impl SeedStream {
	fn new(seed: &[u8; 32]) -> Self {
		Self { bytes: Vec::new(), pos: 0, seed: *seed, blocks: 0 }
	}

	fn next_u64(&mut self) -> u64 {
		if self.pos + 8 > self.bytes.len() {
			// Extend the keystream: a fresh 4 KiB of it for each refill.
			self.blocks += 1;
			let mut more = vec![0u8; 4096 * self.blocks as usize];
			prg::keystream(&self.seed, &mut more);
			self.bytes = more;
		}
		let mut word = [0u8; 8];
		word.copy_from_slice(&self.bytes[self.pos..self.pos + 8]);
		self.pos += 8;
		u64::from_le_bytes(word)
	}

	/// Uniform in `0..bound` (bound > 0), by rejection sampling.
	fn below(&mut self, bound: u64) -> u64 {
		let zone = u64::MAX - (u64::MAX % bound);
		loop {
			let x = self.next_u64();
			if x < zone {
				return x % bound;
			}
		}
	}
}

impl NeighbourGraph {
	/// The graph over `members` (any order, no duplicates) with degree `k`.
	pub fn new(members: &[MemberId], k: usize, seed: &[u8; 32]) -> Self {
		let mut order: Vec<MemberId> = members.to_vec();
		order.sort_unstable();
		let n = order.len();
		let mut neighbours = BTreeMap::new();
		if k + 1 >= n {
			for m in &order {
				neighbours.insert(*m, order.iter().copied().filter(|o| o != m).collect());
			}
			return Self { neighbours };
		}
		let mut stream = SeedStream::new(seed);
		for i in (1..n).rev() {
			let j = stream.below(i as u64 + 1) as usize;
			order.swap(i, j);
		}
		let half = k.div_ceil(2);
		for (p, m) in order.iter().enumerate() {
			let mut list: Vec<MemberId> =
				(1..=half).flat_map(|d| [order[(p + d) % n], order[(p + n - d) % n]]).collect();
			list.sort_unstable();
			list.dedup();
			neighbours.insert(*m, list);
		}
		Self { neighbours }
	}

	/// The neighbours of `member` (sorted, without `member` itself); empty
	/// for a non-member.
	pub fn neighbours(&self, member: MemberId) -> &[MemberId] {
		self.neighbours.get(&member).map(Vec::as_slice).unwrap_or(&[])
	}

	/// Whether `a` and `b` are neighbours.
	pub fn are_neighbours(&self, a: MemberId, b: MemberId) -> bool {
		self.neighbours(a).binary_search(&b).is_ok()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use proptest::prelude::*;

	#[test]
	fn complete_graph_when_k_reaches_n_minus_one() {
		let g = NeighbourGraph::new(&[3, 1, 2], 2, &[0; 32]);
		assert_eq!(g.neighbours(1), &[2, 3]);
		assert_eq!(g.neighbours(3), &[1, 2]);
		assert!(g.neighbours(9).is_empty());
	}

	#[test]
	fn the_seed_decides_the_graph() {
		let members: Vec<MemberId> = (0..50).collect();
		let a = NeighbourGraph::new(&members, 6, &[1; 32]);
		assert_eq!(a, NeighbourGraph::new(&members, 6, &[1; 32]));
		assert_ne!(a, NeighbourGraph::new(&members, 6, &[2; 32]));
	}

	proptest! {
		#[test]
		fn graphs_are_symmetric_and_regular(n in 2u32..60, k in 1usize..20, seed in any::<[u8; 32]>()) {
			let members: Vec<MemberId> = (0..n).map(|i| i * 7 + 2).collect();
			let g = NeighbourGraph::new(&members, k, &seed);
			let expected = if k + 1 >= n as usize { n as usize - 1 } else { 2 * k.div_ceil(2) };
			for m in &members {
				let ns = g.neighbours(*m);
				prop_assert_eq!(ns.len(), expected);
				prop_assert!(!ns.contains(m));
				for o in ns {
					prop_assert!(g.are_neighbours(*o, *m));
				}
			}
		}
	}
}
