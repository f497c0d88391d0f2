//! Benchmarks for the identity pallet, at the worst case of each call:
//! the longest accepted name and endpoint (validation is linear in their
//! length) and a peer id change that moves the index.

use super::*;
use alloc::{vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;

fn longest_name() -> Vec<u8> {
	vec![b'n'; MAX_DISPLAY_NAME_LEN as usize]
}

/// A valid `/dns4/<host>/tcp/4001` multiaddr close to the length limit, so
/// the validator walks the most bytes.
fn longest_endpoint() -> Vec<u8> {
	let prefix = b"/dns4/";
	let suffix = b"/tcp/4001";
	let host_len = MAX_ENDPOINT_LEN as usize - prefix.len() - suffix.len();
	let mut host: Vec<u8> = (0..host_len).map(|i| if i % 60 == 59 { b'.' } else { b'h' }).collect();
	if host.last() == Some(&b'.') {
		host.pop();
	}
	let mut endpoint = prefix.to_vec();
	endpoint.extend(host);
	endpoint.extend_from_slice(suffix);
	endpoint
}

fn peer_id(n: u8) -> Vec<u8> {
	let mut id = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
	id.extend_from_slice(&[n; 32]);
	id
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register() {
		let caller: T::AccountId = whitelisted_caller();
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()), longest_name(), longest_endpoint(), peer_id(1));
		assert!(Members::<T>::contains_key(&caller));
	}

	#[benchmark]
	fn update() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		Pallet::<T>::register(
			RawOrigin::Signed(caller.clone()).into(),
			b"before".to_vec(),
			b"/ip4/127.0.0.1/tcp/4001".to_vec(),
			peer_id(1),
		)?;
		#[extrinsic_call]
		_(
			RawOrigin::Signed(caller.clone()),
			Some(longest_name()),
			Some(longest_endpoint()),
			Some(peer_id(2)),
		);
		assert_eq!(Pallet::<T>::account_by_peer_id(peer_id(2)), Some(caller));
		Ok(())
	}

	#[benchmark]
	fn leave() -> Result<(), BenchmarkError> {
		let caller: T::AccountId = whitelisted_caller();
		Pallet::<T>::register(
			RawOrigin::Signed(caller.clone()).into(),
			longest_name(),
			longest_endpoint(),
			peer_id(1),
		)?;
		#[extrinsic_call]
		_(RawOrigin::Signed(caller.clone()));
		assert!(!Members::<T>::contains_key(&caller));
		Ok(())
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_test_ext(), crate::mock::Test);
}
