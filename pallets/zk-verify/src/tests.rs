use crate::{mock::*, Attestations, DatasetCommitments, Error, Event, KeyKind, Keys, NextAttestation};
use frame_support::{assert_noop, assert_ok, traits::ReservableCurrency};
use sp_runtime::BuildStorage;

const VK: &[u8] = include_bytes!("../../../crypto/zk/fixtures/dataset_5x2.vk");
const PROOF: &[u8] = include_bytes!("../../../crypto/zk/fixtures/dataset_5x2.proof");
const INPUTS: &[u8] = include_bytes!("../../../crypto/zk/fixtures/dataset_5x2.inputs");
const SUM_VK: &[u8] = include_bytes!("../../../crypto/zk/fixtures/sum_5x2_col1.vk");
const SUM_PROOF: &[u8] = include_bytes!("../../../crypto/zk/fixtures/sum_5x2_col1.proof");
const SUM_INPUTS: &[u8] = include_bytes!("../../../crypto/zk/fixtures/sum_5x2_col1.inputs");

fn hash(key: &[u8]) -> [u8; 32] {
	sp_io::hashing::sha2_256(key)
}

fn register(who: u64, kind: KeyKind, key: &[u8]) -> sp_runtime::DispatchResult {
	ZkVerify::register_key(RuntimeOrigin::signed(who), kind, key.to_vec())
}

#[test]
fn a_key_is_registered_once_with_a_deposit_and_removed_by_its_owner() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(1, KeyKind::DatasetCommitment, VK));
		assert_eq!(Balances::reserved_balance(1), 100);
		System::assert_last_event(
			Event::KeyRegistered { hash: hash(VK), owner: Some(1), kind: KeyKind::DatasetCommitment, inputs: 6 }.into(),
		);
		assert_noop!(register(2, KeyKind::Generic, VK), Error::<Test>::KeyExists);
		assert_noop!(ZkVerify::remove_key(RuntimeOrigin::signed(2), hash(VK)), Error::<Test>::NotKeyOwner);
		assert_ok!(ZkVerify::remove_key(RuntimeOrigin::signed(1), hash(VK)));
		assert_eq!(Balances::reserved_balance(1), 0);
		assert!(!Keys::<Test>::contains_key(hash(VK)));
		assert_noop!(ZkVerify::remove_key(RuntimeOrigin::signed(1), hash(VK)), Error::<Test>::UnknownKey);
	});
}

#[test]
fn malformed_or_unfit_keys_are_refused_by_name() {
	new_test_ext().execute_with(|| {
		assert_noop!(register(1, KeyKind::Generic, &VK[..VK.len() - 1]), Error::<Test>::MalformedKey);
		let mut bad_tag = VK.to_vec();
		bad_tag[0] = b'X';
		assert_noop!(register(1, KeyKind::Generic, &bad_tag), Error::<Test>::MalformedKey);
		let mut off_curve = VK.to_vec();
		off_curve[10] ^= 0xff;
		assert_noop!(register(1, KeyKind::Generic, &off_curve), Error::<Test>::MalformedKey);
		assert_noop!(register(1, KeyKind::Generic, &vec![0u8; 5000]), Error::<Test>::KeyTooLarge);
		// A 6-input key cannot be a contribution-sum key (2 inputs).
		assert_noop!(register(1, KeyKind::ContributionSum, VK), Error::<Test>::KeyDoesNotFitKind);
		assert_noop!(register(4, KeyKind::Generic, VK), Error::<Test>::InsufficientDeposit);
		assert_eq!(Keys::<Test>::iter().count(), 0);
	});
}

#[test]
fn a_valid_proof_is_attested_and_bad_ones_record_nothing() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(1, KeyKind::ContributionSum, SUM_VK));
		let key = hash(SUM_VK);
		let verify = |proof: &[u8], inputs: &[u8]| {
			ZkVerify::verify(RuntimeOrigin::signed(2), key, proof.to_vec(), inputs.to_vec(), Some((7, 0)))
		};
		assert_noop!(
			ZkVerify::verify(RuntimeOrigin::signed(2), [9; 32], SUM_PROOF.to_vec(), SUM_INPUTS.to_vec(), None),
			Error::<Test>::UnknownKey
		);
		let mut other = SUM_INPUTS.to_vec();
		other[40] ^= 1;
		assert_noop!(verify(SUM_PROOF, &other), Error::<Test>::InvalidProof);
		assert_noop!(verify(SUM_PROOF, &SUM_INPUTS[..32]), Error::<Test>::WrongInputCount);
		assert_noop!(verify(SUM_PROOF, &SUM_INPUTS[..40]), Error::<Test>::MalformedInputs);
		let mut high = SUM_INPUTS.to_vec();
		high[..32].copy_from_slice(&[0xff; 32]);
		assert_noop!(verify(SUM_PROOF, &high), Error::<Test>::MalformedInputs);
		assert_noop!(verify(&SUM_PROOF[..191], SUM_INPUTS), Error::<Test>::MalformedProof);
		let mut garbled = SUM_PROOF.to_vec();
		garbled[5] ^= 0xff;
		assert_noop!(verify(&garbled, SUM_INPUTS), Error::<Test>::MalformedProof);
		// A valid proof of another key's statement.
		assert_noop!(verify(PROOF, &INPUTS[..64]), Error::<Test>::InvalidProof);
		assert_eq!(NextAttestation::<Test>::get(), 0);

		assert_ok!(verify(SUM_PROOF, SUM_INPUTS));
		let attestation = Attestations::<Test>::get(0).unwrap();
		assert_eq!((attestation.prover, attestation.key, attestation.statement), (2, key, Some((7, 0))));
		assert_eq!(attestation.inputs, sp_io::hashing::sha2_256(SUM_INPUTS));
		System::assert_last_event(Event::Verified { id: 0, prover: 2, key, statement: Some((7, 0)) }.into());
	});
}

#[test]
fn a_dataset_commitment_is_stored_with_root_rows_and_time() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(1, KeyKind::DatasetCommitment, VK));
		assert_ok!(register(1, KeyKind::ContributionSum, SUM_VK));
		let commit = |name: &[u8], key: [u8; 32], proof: &[u8], inputs: &[u8]| {
			ZkVerify::commit_dataset(RuntimeOrigin::signed(3), name.to_vec(), key, proof.to_vec(), inputs.to_vec())
		};
		assert_noop!(commit(b"", hash(VK), PROOF, INPUTS), Error::<Test>::BadDatasetName);
		assert_noop!(commit(&[b'x'; 65], hash(VK), PROOF, INPUTS), Error::<Test>::BadDatasetName);
		assert_noop!(commit(b"patients", hash(SUM_VK), SUM_PROOF, SUM_INPUTS), Error::<Test>::WrongKeyKind);
		let mut lie = INPUTS.to_vec();
		lie[32] = 6; // claims 6 rows
		assert_noop!(commit(b"patients", hash(VK), PROOF, &lie), Error::<Test>::InvalidProof);
		assert_ok!(commit(b"patients", hash(VK), PROOF, INPUTS));
		let name: crate::DatasetName<Test> = b"patients".to_vec().try_into().unwrap();
		let stored = DatasetCommitments::<Test>::get(3, &name).unwrap();
		assert_eq!(stored.rows, 5);
		assert_eq!(&stored.root[..], &INPUTS[..32]);
		assert_eq!((stored.at, stored.at_ms), (1, 1_795_478_400_000));
		assert_eq!(Balances::reserved_balance(3), 0);
		assert!(Balances::can_reserve(&3, 1));
	});
}

#[test]
fn genesis_keys_have_no_owner_and_stay() {
	let mut storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	crate::GenesisConfig::<Test> {
		keys: vec![(KeyKind::DatasetCommitment, VK.to_vec())],
		_phantom: Default::default(),
	}
	.assimilate_storage(&mut storage)
	.unwrap();
	sp_io::TestExternalities::new(storage).execute_with(|| {
		System::set_block_number(1);
		let info = Keys::<Test>::get(hash(VK)).unwrap();
		assert!(info.owner.is_none());
		assert_noop!(ZkVerify::remove_key(RuntimeOrigin::signed(1), hash(VK)), Error::<Test>::NotKeyOwner);
	});
}
