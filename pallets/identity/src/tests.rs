use crate::{mock::*, AccountByPeerId, Error, Event, MemberCount, Members};
use frame_support::{assert_noop, assert_ok};
use sp_runtime::BuildStorage;

const ALICE: u64 = 1;
const BOB: u64 = 2;

fn register(who: u64, n: u8) {
	assert_ok!(DeltaIdentity::register(
		RuntimeOrigin::signed(who),
		format!("holder {n}").into_bytes(),
		format!("/ip4/127.0.0.1/tcp/{}", 4000 + u32::from(n)).into_bytes(),
		peer_id(n),
	));
}

/// Everything the pallet stores, to assert that a refused call changed nothing.
fn snapshot() -> (Vec<(u64, crate::MemberOf<Test>)>, Vec<(crate::PeerId, u64)>, u32) {
	let mut members: Vec<_> = Members::<Test>::iter().collect();
	members.sort_by_key(|(who, _)| *who);
	let mut peers: Vec<_> = AccountByPeerId::<Test>::iter().collect();
	peers.sort();
	(members, peers, MemberCount::<Test>::get())
}

#[test]
fn register_stores_member_and_emits_event() {
	new_test_ext().execute_with(|| {
		System::set_block_number(7);
		register(ALICE, 1);
		let member = Members::<Test>::get(ALICE).expect("registered");
		assert_eq!(member.display_name.to_vec(), b"holder 1".to_vec());
		assert_eq!(member.endpoint.to_vec(), b"/ip4/127.0.0.1/tcp/4001".to_vec());
		assert_eq!(member.peer_id.to_vec(), peer_id(1));
		assert_eq!((member.registered_at, member.updated_at), (7, 7));
		assert_eq!(AccountByPeerId::<Test>::get(member.peer_id.clone()), Some(ALICE));
		assert_eq!(MemberCount::<Test>::get(), 1);
		System::assert_last_event(
			Event::Registered { who: ALICE, peer_id: peer_id(1).try_into().unwrap() }.into(),
		);
		assert_eq!(DeltaIdentity::members().len(), 1);
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(1)), Some(ALICE));
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(2)), None);
	});
}

#[test]
fn register_refuses_duplicates_and_taken_peer_ids() {
	new_test_ext().execute_with(|| {
		register(ALICE, 1);
		let before = snapshot();
		assert_noop!(
			DeltaIdentity::register(
				RuntimeOrigin::signed(ALICE),
				b"again".to_vec(),
				b"/ip4/127.0.0.1/tcp/5000".to_vec(),
				peer_id(9),
			),
			Error::<Test>::AlreadyRegistered
		);
		assert_noop!(
			DeltaIdentity::register(
				RuntimeOrigin::signed(BOB),
				b"impostor".to_vec(),
				b"/ip4/127.0.0.1/tcp/5000".to_vec(),
				peer_id(1),
			),
			Error::<Test>::PeerIdInUse
		);
		assert_eq!(snapshot(), before);
	});
}

#[test]
fn register_names_each_malformed_field() {
	new_test_ext().execute_with(|| {
		let good_name = b"holder".to_vec();
		let good_endpoint = b"/ip4/127.0.0.1/tcp/4001".to_vec();
		let cases: Vec<(Vec<u8>, Vec<u8>, Vec<u8>, Error<Test>)> = vec![
			(b"".to_vec(), good_endpoint.clone(), peer_id(1), Error::<Test>::DisplayNameEmpty),
			(vec![b'x'; 65], good_endpoint.clone(), peer_id(1), Error::<Test>::DisplayNameTooLong),
			(b"a\0b".to_vec(), good_endpoint.clone(), peer_id(1), Error::<Test>::DisplayNameInvalid),
			(good_name.clone(), vec![b'/'; 257], peer_id(1), Error::<Test>::EndpointTooLong),
			(
				good_name.clone(),
				b"127.0.0.1:4001".to_vec(),
				peer_id(1),
				Error::<Test>::MalformedEndpoint,
			),
			(good_name.clone(), good_endpoint.clone(), vec![0; 65], Error::<Test>::PeerIdTooLong),
			(good_name.clone(), good_endpoint.clone(), b"peer".to_vec(), Error::<Test>::MalformedPeerId),
		];
		for (name, endpoint, peer, error) in cases {
			assert_noop!(
				DeltaIdentity::register(RuntimeOrigin::signed(ALICE), name, endpoint, peer),
				error
			);
		}
		assert_eq!(snapshot(), (vec![], vec![], 0));
	});
}

#[test]
fn register_refuses_beyond_max_members() {
	new_test_ext().execute_with(|| {
		for who in 0..u64::from(MAX_MEMBERS) {
			register(who + 10, who as u8 + 10);
		}
		let before = snapshot();
		assert_noop!(
			DeltaIdentity::register(
				RuntimeOrigin::signed(ALICE),
				b"one too many".to_vec(),
				b"/ip4/127.0.0.1/tcp/4001".to_vec(),
				peer_id(1),
			),
			Error::<Test>::TooManyMembers
		);
		assert_eq!(snapshot(), before);
	});
}

#[test]
fn register_requires_a_signed_origin() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			DeltaIdentity::register(
				RuntimeOrigin::none(),
				b"nobody".to_vec(),
				b"/ip4/127.0.0.1/tcp/4001".to_vec(),
				peer_id(1),
			),
			sp_runtime::DispatchError::BadOrigin
		);
	});
}

#[test]
fn update_changes_only_what_is_given() {
	new_test_ext().execute_with(|| {
		register(ALICE, 1);
		System::set_block_number(5);
		assert_ok!(DeltaIdentity::update(
			RuntimeOrigin::signed(ALICE),
			None,
			Some(b"/dns4/holder.example.org/tcp/443/wss".to_vec()),
			None,
		));
		let member = Members::<Test>::get(ALICE).unwrap();
		assert_eq!(member.display_name.to_vec(), b"holder 1".to_vec());
		assert_eq!(member.endpoint.to_vec(), b"/dns4/holder.example.org/tcp/443/wss".to_vec());
		assert_eq!((member.registered_at, member.updated_at), (1, 5));
		System::assert_last_event(
			Event::Updated { who: ALICE, peer_id: peer_id(1).try_into().unwrap() }.into(),
		);
	});
}

#[test]
fn update_moves_the_peer_id_index() {
	new_test_ext().execute_with(|| {
		register(ALICE, 1);
		assert_ok!(DeltaIdentity::update(
			RuntimeOrigin::signed(ALICE),
			Some(b"renamed".to_vec()),
			None,
			Some(peer_id(3)),
		));
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(1)), None);
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(3)), Some(ALICE));
		// Re-stating the current peer id is not a conflict with oneself.
		assert_ok!(DeltaIdentity::update(
			RuntimeOrigin::signed(ALICE),
			None,
			None,
			Some(peer_id(3)),
		));
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(3)), Some(ALICE));
		assert_eq!(MemberCount::<Test>::get(), 1);
	});
}

#[test]
fn update_refusals_leave_state_intact() {
	new_test_ext().execute_with(|| {
		register(ALICE, 1);
		register(BOB, 2);
		let before = snapshot();
		assert_noop!(
			DeltaIdentity::update(RuntimeOrigin::signed(ALICE), None, None, None),
			Error::<Test>::NothingToUpdate
		);
		assert_noop!(
			DeltaIdentity::update(RuntimeOrigin::signed(3), Some(b"x".to_vec()), None, None),
			Error::<Test>::NotRegistered
		);
		assert_noop!(
			DeltaIdentity::update(RuntimeOrigin::signed(ALICE), None, None, Some(peer_id(2))),
			Error::<Test>::PeerIdInUse
		);
		// A valid name together with a bad endpoint changes neither.
		assert_noop!(
			DeltaIdentity::update(
				RuntimeOrigin::signed(ALICE),
				Some(b"new name".to_vec()),
				Some(b"/ip4/1.2.3.4".to_vec()),
				None,
			),
			Error::<Test>::MalformedEndpoint
		);
		assert_noop!(
			DeltaIdentity::update(RuntimeOrigin::signed(ALICE), Some(vec![]), None, None),
			Error::<Test>::DisplayNameEmpty
		);
		assert_noop!(
			DeltaIdentity::update(RuntimeOrigin::signed(ALICE), None, None, Some(vec![1, 2])),
			Error::<Test>::MalformedPeerId
		);
		assert_eq!(snapshot(), before);
	});
}

#[test]
fn leave_frees_the_peer_id() {
	new_test_ext().execute_with(|| {
		register(ALICE, 1);
		assert_ok!(DeltaIdentity::leave(RuntimeOrigin::signed(ALICE)));
		assert_eq!(Members::<Test>::get(ALICE), None);
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(1)), None);
		assert_eq!(MemberCount::<Test>::get(), 0);
		System::assert_last_event(Event::Left { who: ALICE }.into());
		// The freed peer id can be registered by someone else.
		register(BOB, 1);
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(1)), Some(BOB));
	});
}

#[test]
fn leave_refuses_non_members() {
	new_test_ext().execute_with(|| {
		register(BOB, 2);
		let before = snapshot();
		assert_noop!(DeltaIdentity::leave(RuntimeOrigin::signed(ALICE)), Error::<Test>::NotRegistered);
		assert_eq!(snapshot(), before);
	});
}

#[test]
fn genesis_members_are_registered() {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	crate::GenesisConfig::<Test> {
		members: vec![(
			ALICE,
			b"genesis holder".to_vec(),
			b"/ip4/127.0.0.1/tcp/4001".to_vec(),
			peer_id(1),
		)],
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	sp_io::TestExternalities::new(storage).execute_with(|| {
		assert_eq!(MemberCount::<Test>::get(), 1);
		assert_eq!(DeltaIdentity::account_by_peer_id(peer_id(1)), Some(ALICE));
	});
}
