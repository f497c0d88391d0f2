//! A runtime with frame-system and the task pallet; accounts 1 to 20 are
//! registered members, others are not.

use crate as pallet_delta_task;
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
	pub type DeltaTask = pallet_delta_task::Pallet<Test>;
}

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

parameter_types! {
	/// Accounts registered by benchmarks, beyond 1..=20.
	pub static Registered: Vec<u64> = Vec::new();
	/// Blocks a finished task's round data is kept; tests may change it.
	pub static Retention: u64 = 10;
}

/// Accounts 1..=20 are registered (and whoever benchmarks register).
pub struct FirstTwenty;
impl crate::MemberRegistry<u64> for FirstTwenty {
	fn is_member(who: &u64) -> bool {
		(1..=20).contains(who) || Registered::get().contains(who)
	}
	#[cfg(feature = "runtime-benchmarks")]
	fn register_for_benchmarks(who: &u64) {
		Registered::mutate(|r| r.push(*who));
	}
}

impl pallet_delta_task::Config for Test {
	type Members = FirstTwenty;
	type MaxDatasets = ConstU32<4>;
	type MaxDatasetNameLen = ConstU32<16>;
	type MaxRounds = ConstU32<10>;
	type MaxRevealsPerCall = ConstU32<8>;
	type MaxShareLen = ConstU32<128>;
	type MaxDeadlinesPerBlock = ConstU32<4>;
	type Retention = Retention;
	type MaxPrunePerBlock = ConstU32<8>;
	type WeightInfo = ();
}

/// Fresh storage at block 1.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

/// Moves to block `n`, running `on_initialize` on the way.
pub fn run_to(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		DeltaTask::on_initialize(next);
	}
}
