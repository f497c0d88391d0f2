
//! Weights for `pallet_delta_task`, measured by `delta-chain benchmark pallet`.
//!
//! Generated with benchmark CLI 64.0.0 on 2026-11-24.
//! STEPS: `50`, REPEAT: `20`, LOW RANGE: `[]`, HIGH RANGE: `[]`
//! HOST: `vm`, CPU: `Intel(R) Xeon(R) Processor`
//! WASM-EXECUTION: `Compiled`, CHAIN: `Some("dev")`, DB CACHE: 1024
//!
//! Regenerate with `make weights` (see the Makefile); do not edit by hand.

// Executed command:
// /root/.cache/delta/target/debug/delta-chain
// benchmark
// pallet
// --chain
// dev
// --pallet
// pallet_delta_task
// --extrinsic
// *
// --steps
// 50
// --repeat
// 20
// --template
// scripts/pallet-weight-template.hbs
// --output
// pallets/task/src/weights.rs

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// The weight of each call of `pallet_delta_task`.
pub trait WeightInfo {
	fn create_task() -> Weight;
	fn start_round() -> Weight;
	fn join() -> Weight;
	fn commit_shares() -> Weight;
	fn commit_masked() -> Weight;
	fn reveal(n: u32, ) -> Weight;
	fn finish_round() -> Weight;
	fn finish_task() -> Weight;
	fn cancel_task() -> Weight;
	fn charge_privacy() -> Weight;
	fn on_initialize(n: u32, ) -> Weight;
	fn prune(n: u32, ) -> Weight;
}

/// Weights measured on the reference machine, with the runtime's database
/// weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `DeltaTask::NextTaskId` (r:1 w:1)
	/// Proof: `DeltaTask::NextTaskId` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Tasks` (r:0 w:1)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	fn create_task() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `6`
		//  Estimated: `1493`
		// Minimum execution time: 131_390_000 picoseconds.
		Weight::from_parts(138_325_000, 1493)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:1)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Deadlines` (r:1 w:1)
	/// Proof: `DeltaTask::Deadlines` (`max_values`: None, `max_size`: Some(782), added: 3257, mode: `MaxEncodedLen`)
	fn start_round() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1380`
		//  Estimated: `4660`
		// Minimum execution time: 221_887_000 picoseconds.
		Weight::from_parts(231_221_000, 4660)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `DeltaIdentity::Members` (r:1 w:0)
	/// Proof: `DeltaIdentity::Members` (`max_values`: None, `max_size`: Some(446), added: 2921, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Tasks` (r:1 w:0)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::RoundMembers` (r:1 w:1)
	/// Proof: `DeltaTask::RoundMembers` (`max_values`: None, `max_size`: Some(207), added: 2682, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Deadlines` (r:2 w:2)
	/// Proof: `DeltaTask::Deadlines` (`max_values`: None, `max_size`: Some(782), added: 3257, mode: `MaxEncodedLen`)
	/// Storage: `System::ParentHash` (r:1 w:0)
	/// Proof: `System::ParentHash` (`max_values`: Some(1), `max_size`: Some(32), added: 527, mode: `MaxEncodedLen`)
	fn join() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1701`
		//  Estimated: `7504`
		// Minimum execution time: 412_755_000 picoseconds.
		Weight::from_parts(428_088_000, 7504)
			.saturating_add(T::DbWeight::get().reads(7_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:0)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::RoundMembers` (r:1 w:1)
	/// Proof: `DeltaTask::RoundMembers` (`max_values`: None, `max_size`: Some(207), added: 2682, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Deadlines` (r:2 w:2)
	/// Proof: `DeltaTask::Deadlines` (`max_values`: None, `max_size`: Some(782), added: 3257, mode: `MaxEncodedLen`)
	fn commit_shares() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1663`
		//  Estimated: `7504`
		// Minimum execution time: 351_806_000 picoseconds.
		Weight::from_parts(363_988_000, 7504)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:0)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::RoundMembers` (r:1 w:1)
	/// Proof: `DeltaTask::RoundMembers` (`max_values`: None, `max_size`: Some(207), added: 2682, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Deadlines` (r:2 w:2)
	/// Proof: `DeltaTask::Deadlines` (`max_values`: None, `max_size`: Some(782), added: 3257, mode: `MaxEncodedLen`)
	fn commit_masked() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1695`
		//  Estimated: `7504`
		// Minimum execution time: 351_906_000 picoseconds.
		Weight::from_parts(364_975_000, 7504)
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `DeltaTask::RoundMembers` (r:128 w:1)
	/// Proof: `DeltaTask::RoundMembers` (`max_values`: None, `max_size`: Some(207), added: 2682, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Tasks` (r:1 w:0)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Reveals` (r:0 w:128)
	/// Proof: `DeltaTask::Reveals` (`max_values`: None, `max_size`: Some(255), added: 2730, mode: `MaxEncodedLen`)
	/// The range of component `n` is `[2, 128]`.
	fn reveal(n: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1501 + n * (187 ±0)`
		//  Estimated: `4660 + n * (2682 ±0)`
		// Minimum execution time: 451_527_000 picoseconds.
		Weight::from_parts(275_827_432, 4660)
			.saturating_add(Weight::from_parts(93_307_099, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(2_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2682).saturating_mul(n.into()))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:0)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	fn finish_round() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1509`
		//  Estimated: `4660`
		// Minimum execution time: 183_860_000 picoseconds.
		Weight::from_parts(192_645_000, 4660)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:1)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneTail` (r:1 w:1)
	/// Proof: `DeltaTask::PruneTail` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneQueue` (r:0 w:1)
	/// Proof: `DeltaTask::PruneQueue` (`max_values`: None, `max_size`: Some(28), added: 2503, mode: `MaxEncodedLen`)
	fn finish_task() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1256`
		//  Estimated: `4660`
		// Minimum execution time: 180_959_000 picoseconds.
		Weight::from_parts(188_917_000, 4660)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:1)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:1 w:1)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Deadlines` (r:1 w:1)
	/// Proof: `DeltaTask::Deadlines` (`max_values`: None, `max_size`: Some(782), added: 3257, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneTail` (r:1 w:1)
	/// Proof: `DeltaTask::PruneTail` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneQueue` (r:0 w:1)
	/// Proof: `DeltaTask::PruneQueue` (`max_values`: None, `max_size`: Some(28), added: 2503, mode: `MaxEncodedLen`)
	fn cancel_task() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1489`
		//  Estimated: `4660`
		// Minimum execution time: 266_469_000 picoseconds.
		Weight::from_parts(275_651_000, 4660)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	/// Storage: `DeltaTask::Tasks` (r:1 w:0)
	/// Proof: `DeltaTask::Tasks` (`max_values`: None, `max_size`: Some(1195), added: 3670, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PrivacySpent` (r:1 w:1)
	/// Proof: `DeltaTask::PrivacySpent` (`max_values`: None, `max_size`: Some(186), added: 2661, mode: `MaxEncodedLen`)
	/// (Measured on 2026-12-04, AMD EPYC; the other weights are from the
	/// 2026-11-24 run.)
	fn charge_privacy() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `1465`
		//  Estimated: `4660`
		// Minimum execution time: 304_652_000 picoseconds.
		Weight::from_parts(322_699_000, 4660)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `DeltaTask::Deadlines` (r:2 w:2)
	/// Proof: `DeltaTask::Deadlines` (`max_values`: None, `max_size`: Some(782), added: 3257, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:64 w:64)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// Storage: `System::ParentHash` (r:1 w:0)
	/// Proof: `System::ParentHash` (`max_values`: Some(1), `max_size`: Some(32), added: 527, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneHead` (r:1 w:0)
	/// Proof: `DeltaTask::PruneHead` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneTail` (r:1 w:0)
	/// Proof: `DeltaTask::PruneTail` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// The range of component `n` is `[0, 64]`.
	fn on_initialize(n: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `198 + n * (77 ±0)`
		//  Estimated: `7257 + n * (2639 ±0)`
		// Minimum execution time: 45_906_000 picoseconds.
		Weight::from_parts(112_098_066, 7257)
			.saturating_add(Weight::from_parts(87_020_309, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(2_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2639).saturating_mul(n.into()))
	}
	/// Storage: `DeltaTask::PruneHead` (r:1 w:1)
	/// Proof: `DeltaTask::PruneHead` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneTail` (r:1 w:0)
	/// Proof: `DeltaTask::PruneTail` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::PruneQueue` (r:1 w:1)
	/// Proof: `DeltaTask::PruneQueue` (`max_values`: None, `max_size`: Some(28), added: 2503, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Reveals` (r:256 w:256)
	/// Proof: `DeltaTask::Reveals` (`max_values`: None, `max_size`: Some(255), added: 2730, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::RoundMembers` (r:256 w:256)
	/// Proof: `DeltaTask::RoundMembers` (`max_values`: None, `max_size`: Some(207), added: 2682, mode: `MaxEncodedLen`)
	/// Storage: `DeltaTask::Rounds` (r:256 w:256)
	/// Proof: `DeltaTask::Rounds` (`max_values`: None, `max_size`: Some(164), added: 2639, mode: `MaxEncodedLen`)
	/// The range of component `n` is `[0, 256]`.
	fn prune(n: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `318 + n * (219 ±0)`
		//  Estimated: `3493 + n * (2730 ±0)`
		// Minimum execution time: 187_968_000 picoseconds.
		Weight::from_parts(129_501_010, 3493)
			.saturating_add(Weight::from_parts(18_761_199, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().reads((3_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(2_u64))
			.saturating_add(T::DbWeight::get().writes((3_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2730).saturating_mul(n.into()))
	}
}

/// The same figures with RocksDB weights, for tests and mock runtimes.
impl WeightInfo for () {
	fn create_task() -> Weight {
		Weight::from_parts(138_325_000, 1493)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn start_round() -> Weight {
		Weight::from_parts(231_221_000, 4660)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn join() -> Weight {
		Weight::from_parts(428_088_000, 7504)
			.saturating_add(RocksDbWeight::get().reads(7_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn commit_shares() -> Weight {
		Weight::from_parts(363_988_000, 7504)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn commit_masked() -> Weight {
		Weight::from_parts(364_975_000, 7504)
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().writes(4_u64))
	}
	fn reveal(n: u32, ) -> Weight {
		Weight::from_parts(275_827_432, 4660)
			.saturating_add(Weight::from_parts(93_307_099, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2682).saturating_mul(n.into()))
	}
	fn finish_round() -> Weight {
		Weight::from_parts(192_645_000, 4660)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	fn finish_task() -> Weight {
		Weight::from_parts(188_917_000, 4660)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn cancel_task() -> Weight {
		Weight::from_parts(275_651_000, 4660)
			.saturating_add(RocksDbWeight::get().reads(4_u64))
			.saturating_add(RocksDbWeight::get().writes(5_u64))
	}
	fn charge_privacy() -> Weight {
		Weight::from_parts(322_699_000, 4660)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	fn on_initialize(n: u32, ) -> Weight {
		Weight::from_parts(112_098_066, 7257)
			.saturating_add(Weight::from_parts(87_020_309, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(5_u64))
			.saturating_add(RocksDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
			.saturating_add(RocksDbWeight::get().writes((1_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2639).saturating_mul(n.into()))
	}
	fn prune(n: u32, ) -> Weight {
		Weight::from_parts(129_501_010, 3493)
			.saturating_add(Weight::from_parts(18_761_199, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().reads((3_u64).saturating_mul(n.into())))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
			.saturating_add(RocksDbWeight::get().writes((3_u64).saturating_mul(n.into())))
			.saturating_add(Weight::from_parts(0, 2730).saturating_mul(n.into()))
	}
}
