
//! Weights for `pallet_delta_identity`, measured by `delta-chain benchmark pallet`.
//!
//! Generated with benchmark CLI 64.0.0 on 2026-11-24.
//! STEPS: `50`, REPEAT: `20`, LOW RANGE: `[]`, HIGH RANGE: `[]`
//! HOST: `vm`, CPU: `AMD EPYC`
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
// pallet_delta_identity
// --extrinsic
// *
// --steps
// 50
// --repeat
// 20
// --template
// scripts/pallet-weight-template.hbs
// --output
// pallets/identity/src/weights.rs

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// The weight of each call of `pallet_delta_identity`.
pub trait WeightInfo {
	fn register() -> Weight;
	fn update() -> Weight;
	fn leave() -> Weight;
}

/// Weights measured on the reference machine, with the runtime's database
/// weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `DeltaIdentity::Members` (r:1 w:1)
	/// Proof: `DeltaIdentity::Members` (`max_values`: None, `max_size`: Some(446), added: 2921, mode: `MaxEncodedLen`)
	/// Storage: `DeltaIdentity::AccountByPeerId` (r:1 w:1)
	/// Proof: `DeltaIdentity::AccountByPeerId` (`max_values`: None, `max_size`: Some(114), added: 2589, mode: `MaxEncodedLen`)
	/// Storage: `DeltaIdentity::MemberCount` (r:1 w:1)
	/// Proof: `DeltaIdentity::MemberCount` (`max_values`: Some(1), `max_size`: Some(4), added: 499, mode: `MaxEncodedLen`)
	fn register() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `6`
		//  Estimated: `3911`
		// Minimum execution time: 343_731_000 picoseconds.
		Weight::from_parts(369_218_000, 3911)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `DeltaIdentity::Members` (r:1 w:1)
	/// Proof: `DeltaIdentity::Members` (`max_values`: None, `max_size`: Some(446), added: 2921, mode: `MaxEncodedLen`)
	/// Storage: `DeltaIdentity::AccountByPeerId` (r:1 w:2)
	/// Proof: `DeltaIdentity::AccountByPeerId` (`max_values`: None, `max_size`: Some(114), added: 2589, mode: `MaxEncodedLen`)
	fn update() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `295`
		//  Estimated: `3911`
		// Minimum execution time: 478_102_000 picoseconds.
		Weight::from_parts(587_466_000, 3911)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `DeltaIdentity::Members` (r:1 w:1)
	/// Proof: `DeltaIdentity::Members` (`max_values`: None, `max_size`: Some(446), added: 2921, mode: `MaxEncodedLen`)
	/// Storage: `DeltaIdentity::MemberCount` (r:1 w:1)
	/// Proof: `DeltaIdentity::MemberCount` (`max_values`: Some(1), `max_size`: Some(4), added: 499, mode: `MaxEncodedLen`)
	/// Storage: `DeltaIdentity::AccountByPeerId` (r:0 w:1)
	/// Proof: `DeltaIdentity::AccountByPeerId` (`max_values`: None, `max_size`: Some(114), added: 2589, mode: `MaxEncodedLen`)
	fn leave() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `489`
		//  Estimated: `3911`
		// Minimum execution time: 343_891_000 picoseconds.
		Weight::from_parts(478_012_000, 3911)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
}

/// The same figures with RocksDB weights, for tests and mock runtimes.
impl WeightInfo for () {
	fn register() -> Weight {
		Weight::from_parts(369_218_000, 3911)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn update() -> Weight {
		Weight::from_parts(587_466_000, 3911)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
	fn leave() -> Weight {
		Weight::from_parts(478_012_000, 3911)
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
}
