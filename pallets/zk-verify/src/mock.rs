//! A runtime with frame-system, balances and the pallet; accounts 1 to 3
//! hold funds, 4 holds none.

use crate as pallet_delta_zk_verify;
use frame_support::{derive_impl, parameter_types, traits::ConstU32};
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Test;

	#[runtime::pallet_index(0)]
	pub type System = frame_system::Pallet<Test>;

	#[runtime::pallet_index(1)]
	pub type Balances = pallet_balances::Pallet<Test>;

	#[runtime::pallet_index(2)]
	pub type ZkVerify = pallet_delta_zk_verify::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
}

/// A fixed clock: 2026-11-24T00:00:00Z.
pub struct FixedTime;
impl frame_support::traits::UnixTime for FixedTime {
	fn now() -> core::time::Duration {
		core::time::Duration::from_millis(1_795_478_400_000)
	}
}

parameter_types! {
	pub const KeyDeposit: u64 = 100;
}

impl pallet_delta_zk_verify::Config for Test {
	type Currency = Balances;
	type KeyDeposit = KeyDeposit;
	type MaxKeyLen = ConstU32<4096>;
	type MaxPublicInputs = ConstU32<16>;
	type MaxDatasetNameLen = ConstU32<64>;
	type Time = FixedTime;
	type WeightInfo = ();
}

/// Fresh storage at block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_balances::GenesisConfig::<Test> { balances: vec![(1, 1_000), (2, 1_000), (3, 1_000)], ..Default::default() }
		.assimilate_storage(&mut storage)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}
