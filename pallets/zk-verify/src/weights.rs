
//! Weights for `pallet_delta_zk_verify`, measured by `delta-chain benchmark pallet`.
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
// pallet_delta_zk_verify
// --extrinsic
// *
// --steps
// 50
// --repeat
// 20
// --template
// scripts/pallet-weight-template.hbs
// --output
// pallets/zk-verify/src/weights.rs

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::RocksDbWeight}};
use core::marker::PhantomData;

/// The weight of each call of `pallet_delta_zk_verify`.
pub trait WeightInfo {
	fn register_key(n: u32, ) -> Weight;
	fn remove_key() -> Weight;
	fn verify_proof(n: u32, ) -> Weight;
	fn commit_dataset() -> Weight;
}

/// Weights measured on the reference machine, with the runtime's database
/// weights.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `ZkVerify::Keys` (r:1 w:1)
	/// Proof: `ZkVerify::Keys` (`max_values`: None, `max_size`: Some(4184), added: 6659, mode: `MaxEncodedLen`)
	/// The range of component `n` is `[1, 16]`.
	fn register_key(n: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `97`
		//  Estimated: `7649`
		// Minimum execution time: 2_348_842_000 picoseconds.
		Weight::from_parts(2_506_641_298, 7649)
			.saturating_add(Weight::from_parts(170_581_674, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `ZkVerify::Keys` (r:1 w:1)
	/// Proof: `ZkVerify::Keys` (`max_values`: None, `max_size`: Some(4184), added: 6659, mode: `MaxEncodedLen`)
	fn remove_key() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `633`
		//  Estimated: `7649`
		// Minimum execution time: 238_895_000 picoseconds.
		Weight::from_parts(246_437_000, 7649)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `ZkVerify::Keys` (r:1 w:0)
	/// Proof: `ZkVerify::Keys` (`max_values`: None, `max_size`: Some(4184), added: 6659, mode: `MaxEncodedLen`)
	/// Storage: `ZkVerify::NextAttestation` (r:1 w:1)
	/// Proof: `ZkVerify::NextAttestation` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `ZkVerify::Attestations` (r:0 w:1)
	/// Proof: `ZkVerify::Attestations` (`max_values`: None, `max_size`: Some(129), added: 2604, mode: `MaxEncodedLen`)
	/// The range of component `n` is `[1, 16]`.
	fn verify_proof(n: u32, ) -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `585 + n * (48 ±0)`
		//  Estimated: `7649`
		// Minimum execution time: 2_130_220_000 picoseconds.
		Weight::from_parts(2_057_884_477, 7649)
			.saturating_add(Weight::from_parts(398_697_218, 0).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(2_u64))
	}
	/// Storage: `ZkVerify::Keys` (r:1 w:0)
	/// Proof: `ZkVerify::Keys` (`max_values`: None, `max_size`: Some(4184), added: 6659, mode: `MaxEncodedLen`)
	/// Storage: `Timestamp::Now` (r:1 w:0)
	/// Proof: `Timestamp::Now` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `ZkVerify::NextAttestation` (r:1 w:1)
	/// Proof: `ZkVerify::NextAttestation` (`max_values`: Some(1), `max_size`: Some(8), added: 503, mode: `MaxEncodedLen`)
	/// Storage: `ZkVerify::DatasetCommitments` (r:0 w:1)
	/// Proof: `ZkVerify::DatasetCommitments` (`max_values`: None, `max_size`: Some(214), added: 2689, mode: `MaxEncodedLen`)
	/// Storage: `ZkVerify::Attestations` (r:0 w:1)
	/// Proof: `ZkVerify::Attestations` (`max_values`: None, `max_size`: Some(129), added: 2604, mode: `MaxEncodedLen`)
	fn commit_dataset() -> Weight {
		// Proof Size summary in bytes:
		//  Measured:  `797`
		//  Estimated: `7649`
		// Minimum execution time: 3_570_377_000 picoseconds.
		Weight::from_parts(3_714_001_000, 7649)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
}

/// The same figures with RocksDB weights, for tests and mock runtimes.
impl WeightInfo for () {
	fn register_key(n: u32, ) -> Weight {
		Weight::from_parts(2_506_641_298, 7649)
			.saturating_add(Weight::from_parts(170_581_674, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	fn remove_key() -> Weight {
		Weight::from_parts(246_437_000, 7649)
			.saturating_add(RocksDbWeight::get().reads(1_u64))
			.saturating_add(RocksDbWeight::get().writes(1_u64))
	}
	fn verify_proof(n: u32, ) -> Weight {
		Weight::from_parts(2_057_884_477, 7649)
			.saturating_add(Weight::from_parts(398_697_218, 0).saturating_mul(n.into()))
			.saturating_add(RocksDbWeight::get().reads(2_u64))
			.saturating_add(RocksDbWeight::get().writes(2_u64))
	}
	fn commit_dataset() -> Weight {
		Weight::from_parts(3_714_001_000, 7649)
			.saturating_add(RocksDbWeight::get().reads(3_u64))
			.saturating_add(RocksDbWeight::get().writes(3_u64))
	}
}
