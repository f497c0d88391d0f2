//! The pallet (over the mock runtime) passes the identity half of the
//! ledger conformance suite, which the coordinator's registry passes too.

use crate::{mock::*, AccountByPeerId, Members};
use delta_ledger_conformance::{
	identity::{run_identity, IdentityLedger, Record},
	Outcome, Who,
};
use sp_runtime::{DispatchError, DispatchResult, ModuleError};

/// The identity pallet over the mock runtime.
struct PalletRegistry {
	ext: sp_io::TestExternalities,
}

fn account(who: Who) -> u64 {
	1_000 + u64::from(who)
}

fn name(e: DispatchError) -> &'static str {
	match e {
		DispatchError::Module(ModuleError { message: Some(m), .. }) => m,
		other => panic!("not a pallet error: {other:?}"),
	}
}

impl PalletRegistry {
	fn run(&mut self, f: impl FnOnce() -> DispatchResult) -> Outcome {
		self.ext.execute_with(f).map_err(name)
	}
}

impl IdentityLedger for PalletRegistry {
	fn register(&mut self, who: Who, display_name: &str, endpoint: &str, peer_id: &[u8]) -> Outcome {
		let (n, e, p) = (display_name.as_bytes().to_vec(), endpoint.as_bytes().to_vec(), peer_id.to_vec());
		self.run(|| DeltaIdentity::register(RuntimeOrigin::signed(account(who)), n, e, p))
	}

	fn update(&mut self, who: Who, display_name: Option<&str>, endpoint: Option<&str>, peer_id: Option<&[u8]>) -> Outcome {
		let n = display_name.map(|s| s.as_bytes().to_vec());
		let e = endpoint.map(|s| s.as_bytes().to_vec());
		let p = peer_id.map(<[u8]>::to_vec);
		self.run(|| DeltaIdentity::update(RuntimeOrigin::signed(account(who)), n, e, p))
	}

	fn leave(&mut self, who: Who) -> Outcome {
		self.run(|| DeltaIdentity::leave(RuntimeOrigin::signed(account(who))))
	}

	fn member(&mut self, who: Who) -> Option<Record> {
		self.ext.execute_with(|| {
			Members::<Test>::get(account(who))
				.map(|m| (m.display_name.to_vec(), m.endpoint.to_vec(), m.peer_id.to_vec()))
		})
	}

	fn by_peer_id(&mut self, peer_id: &[u8]) -> Option<Who> {
		let key: crate::PeerId = peer_id.to_vec().try_into().ok()?;
		self.ext.execute_with(|| AccountByPeerId::<Test>::get(key)).map(|a| (a - 1_000) as Who)
	}
}

#[test]
fn the_pallet_passes_the_identity_suite() {
	run_identity(|| Box::new(PalletRegistry { ext: new_test_ext() }) as Box<dyn IdentityLedger>);
}
