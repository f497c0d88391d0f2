//! Benchmarks with real keys and proofs (pre-generated fixtures from
//! `crypto/zk/examples/zk_fixtures.rs`: bellman cannot prove in wasm), each
//! at its worst case: a valid proof (the full pairing check runs) with `n`
//! public inputs.

use super::*;
use alloc::vec::Vec;
use frame_benchmarking::v2::*;
use frame_support::traits::{Currency, Get};
use frame_system::RawOrigin;

/// Key, proof and inputs of the fixture circuit with `n` public inputs.
fn fixture(n: u32) -> (&'static [u8], &'static [u8], &'static [u8]) {
	match n {
		1 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_1.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_1.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_1.inputs")[..],
		),
		2 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_2.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_2.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_2.inputs")[..],
		),
		3 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_3.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_3.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_3.inputs")[..],
		),
		4 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_4.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_4.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_4.inputs")[..],
		),
		5 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_5.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_5.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_5.inputs")[..],
		),
		6 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_6.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_6.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_6.inputs")[..],
		),
		7 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_7.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_7.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_7.inputs")[..],
		),
		8 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_8.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_8.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_8.inputs")[..],
		),
		9 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_9.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_9.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_9.inputs")[..],
		),
		10 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_10.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_10.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_10.inputs")[..],
		),
		11 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_11.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_11.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_11.inputs")[..],
		),
		12 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_12.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_12.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_12.inputs")[..],
		),
		13 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_13.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_13.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_13.inputs")[..],
		),
		14 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_14.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_14.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_14.inputs")[..],
		),
		15 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_15.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_15.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_15.inputs")[..],
		),
		16 => (
			&include_bytes!("../../../crypto/zk/fixtures/inputs_16.vk")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_16.proof")[..],
			&include_bytes!("../../../crypto/zk/fixtures/inputs_16.inputs")[..],
		),
		_ => panic!("fixtures exist for 1 to 16 public inputs"),
	}
}

const DATASET: (&[u8], &[u8], &[u8]) = (
	include_bytes!("../../../crypto/zk/fixtures/dataset_5x2.vk"),
	include_bytes!("../../../crypto/zk/fixtures/dataset_5x2.proof"),
	include_bytes!("../../../crypto/zk/fixtures/dataset_5x2.inputs"),
);

fn funded<T: Config>() -> T::AccountId {
	let who: T::AccountId = whitelisted_caller();
	let amount = T::KeyDeposit::get() * 10u32.into() + T::Currency::minimum_balance() * 10u32.into();
	T::Currency::make_free_balance_be(&who, amount);
	who
}

#[benchmarks(where T: Config)]
mod benchmarks {
	use super::*;

	/// Registering a key with `n` public inputs (validated and prepared by
	/// the host).
	#[benchmark]
	fn register_key(n: Linear<1, 16>) {
		let who = funded::<T>();
		let (key, _, _) = fixture(n);
		#[extrinsic_call]
		_(RawOrigin::Signed(who), KeyKind::Generic, key.to_vec());
		assert!(Keys::<T>::contains_key(sp_io::hashing::sha2_256(key)));
	}

	#[benchmark]
	fn remove_key() {
		let who = funded::<T>();
		let (key, _, _) = fixture(1);
		Pallet::<T>::register_key(RawOrigin::Signed(who.clone()).into(), KeyKind::Generic, key.to_vec())
			.expect("valid key");
		#[extrinsic_call]
		_(RawOrigin::Signed(who), sp_io::hashing::sha2_256(key));
	}

	/// Verifying a valid proof with `n` public inputs.
	#[benchmark]
	fn verify_proof(n: Linear<1, 16>) {
		let who = funded::<T>();
		let (key, proof, inputs) = fixture(n);
		Pallet::<T>::register_key(RawOrigin::Signed(who.clone()).into(), KeyKind::Generic, key.to_vec())
			.expect("valid key");
		#[block]
		{
			Pallet::<T>::verify(
				RawOrigin::Signed(who).into(),
				sp_io::hashing::sha2_256(key),
				proof.to_vec(),
				inputs.to_vec(),
				Some((1, 2)),
			)
			.expect("verifies");
		}
		assert_eq!(NextAttestation::<T>::get(), 1);
	}

	/// Committing to a dataset with the 6-input fixture; the call adds
	/// `verify_proof`'s per-input cost for other input counts.
	#[benchmark]
	fn commit_dataset() {
		let who = funded::<T>();
		let (key, proof, inputs) = DATASET;
		// Genesis presets may already hold this key.
		if !Keys::<T>::contains_key(sp_io::hashing::sha2_256(key)) {
			Pallet::<T>::register_key(RawOrigin::Signed(who.clone()).into(), KeyKind::DatasetCommitment, key.to_vec())
				.expect("valid key");
		}
		let name: Vec<u8> = alloc::vec![b'd'; T::MaxDatasetNameLen::get() as usize];
		#[extrinsic_call]
		_(RawOrigin::Signed(who), name, sp_io::hashing::sha2_256(key), proof.to_vec(), inputs.to_vec());
		assert_eq!(NextAttestation::<T>::get(), 1);
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
