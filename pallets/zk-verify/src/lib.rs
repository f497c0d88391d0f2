//! # Delta zero-knowledge verification pallet (`ZkVerify`)
//!
//! Groth16 proofs over BLS12-381, verified natively through the
//! `delta_zk_verify` host function (bellman cannot run in wasm).
//!
//! - **Keys** are registered once ([`Pallet::register_key`]): validated by
//!   the host (format, points on the curve and in the subgroup, no forbidden
//!   identities), stored under the SHA-256 of their encoding, with a deposit
//!   reserved from the owner (returned by [`Pallet::remove_key`]). Proofs
//!   name the key by hash, so a prover cannot pick a verifier of its own.
//! - **Verification** ([`Pallet::verify`]): the proof and public inputs are
//!   checked against a registered key; on success an [`Attestation`] records
//!   who proved what (key, hash of the inputs, optional task and round) and
//!   [`Event::Verified`] is emitted. Every refusal is a named error and
//!   records nothing; the caller still pays the benchmarked weight.
//! - **Dataset commitments** ([`Pallet::commit_dataset`]): a proof against a
//!   `DatasetCommitment` key (public inputs: Merkle root, row count, column
//!   ranges; see `delta-zk`) stores the member's latest commitment for that
//!   dataset name with its block and time, so data is committed before a
//!   task uses it.
//!
//! Encodings (keys, proofs, inputs) are those of `delta_zk::encoding`.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod weights;
pub use weights::WeightInfo;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// What a key's proofs state, which fixes how the pallet reads their
/// public inputs.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	TypeInfo,
	MaxEncodedLen,
	serde::Serialize,
	serde::Deserialize,
)]
pub enum KeyKind {
	/// Any statement; proofs yield an attestation only.
	Generic,
	/// Dataset commitment: inputs `root, n, lo_0, hi_0, ...`.
	DatasetCommitment,
	/// Sum over committed data: inputs `root, commitment`.
	ContributionSum,
}

/// Length of an encoded proof.
pub const PROOF_LEN: usize = 192;

/// The number of public inputs an encoded key of `len` bytes declares (its
/// length is `4 + 48 + 3 * 96 + 4 + 48 * (n + 1)`), capped at the maximum:
/// what a key's weight is computed from before it is decoded.
pub fn inputs_of_key_len<T: Config>(len: usize) -> u32 {
	let n = len.saturating_sub(4 + 48 + 3 * 96 + 4 + 48) / 48;
	(n as u32).min(<T::MaxPublicInputs as frame_support::traits::Get<u32>>::get())
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use delta_zk_host::{code, delta_zk_verify};
	use frame_support::{
		pallet_prelude::*,
		traits::{ReservableCurrency, UnixTime},
	};
	use frame_system::pallet_prelude::*;

	/// A balance of the configured currency.
	pub type BalanceOf<T> =
		<<T as Config>::Currency as frame_support::traits::Currency<<T as frame_system::Config>::AccountId>>::Balance;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Reserves key deposits.
		type Currency: ReservableCurrency<Self::AccountId>;
		/// Deposit per registered key; keys occupy state until removed.
		#[pallet::constant]
		type KeyDeposit: Get<BalanceOf<Self>>;
		/// Longest encoded key, in bytes.
		#[pallet::constant]
		type MaxKeyLen: Get<u32>;
		/// Most public inputs a key may take.
		#[pallet::constant]
		type MaxPublicInputs: Get<u32>;
		/// Longest dataset name, in bytes.
		#[pallet::constant]
		type MaxDatasetNameLen: Get<u32>;
		/// Wall-clock time for dataset commitments.
		type Time: UnixTime;
		/// Weights from this pallet's benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// A registered key.
	#[derive(CloneNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, TypeInfo, MaxEncodedLen, DebugNoBound)]
	#[scale_info(skip_type_params(T))]
	pub struct KeyInfo<T: Config> {
		/// Who registered it (`None`: genesis) and its deposit.
		pub owner: Option<(T::AccountId, BalanceOf<T>)>,
		/// What its proofs state.
		pub kind: KeyKind,
		/// Number of public inputs.
		pub inputs: u32,
		/// The encoded key.
		pub key: BoundedVec<u8, T::MaxKeyLen>,
	}

	/// Who proved what.
	#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
	pub struct Attestation<AccountId, BlockNumber> {
		/// The account that submitted the proof.
		pub prover: AccountId,
		/// The key's hash.
		pub key: [u8; 32],
		/// SHA-256 of the encoded public inputs.
		pub inputs: [u8; 32],
		/// The task and round the proof is for, if any.
		pub statement: Option<(u64, u32)>,
		/// When.
		pub at: BlockNumber,
	}

	/// A member's latest commitment to one of its datasets.
	#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
	pub struct DatasetCommitment<BlockNumber> {
		/// Merkle root of the rows (MiMC-5, see `delta-zk`).
		pub root: [u8; 32],
		/// Number of rows.
		pub rows: u64,
		/// The key the proof was checked against.
		pub key: [u8; 32],
		/// Block of the commitment.
		pub at: BlockNumber,
		/// Its time, ms since the Unix epoch.
		pub at_ms: u64,
	}

	/// A dataset name.
	pub type DatasetName<T> = BoundedVec<u8, <T as Config>::MaxDatasetNameLen>;

	/// Registered keys by hash.
	#[pallet::storage]
	pub type Keys<T: Config> = StorageMap<_, Identity, [u8; 32], KeyInfo<T>, OptionQuery>;

	/// Attestations by number.
	#[pallet::storage]
	pub type Attestations<T: Config> =
		StorageMap<_, Twox64Concat, u64, Attestation<T::AccountId, BlockNumberFor<T>>, OptionQuery>;

	/// The next attestation's number.
	#[pallet::storage]
	pub type NextAttestation<T> = StorageValue<_, u64, ValueQuery>;

	/// Latest dataset commitments by member and dataset name.
	#[pallet::storage]
	pub type DatasetCommitments<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		DatasetName<T>,
		DatasetCommitment<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Keys registered at genesis (no owner, no deposit).
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// (kind, encoded key).
		pub keys: Vec<(KeyKind, Vec<u8>)>,
		/// Unused.
		pub _phantom: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (kind, key) in &self.keys {
				let result = Pallet::<T>::insert_key(None, *kind, key.clone());
				assert!(result.is_ok(), "invalid genesis key: {result:?}");
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A key was registered.
		KeyRegistered { hash: [u8; 32], owner: Option<T::AccountId>, kind: KeyKind, inputs: u32 },
		/// A key was removed and its deposit returned.
		KeyRemoved { hash: [u8; 32] },
		/// A proof verified; the attestation is stored under `id`.
		Verified { id: u64, prover: T::AccountId, key: [u8; 32], statement: Option<(u64, u32)> },
		/// A member committed to a dataset.
		DatasetCommitted { who: T::AccountId, name: DatasetName<T>, root: [u8; 32], rows: u64 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The key is longer than `MaxKeyLen`.
		KeyTooLarge,
		/// The key is malformed: bad format, a point not on the curve or not
		/// in the subgroup, or a forbidden point at infinity.
		MalformedKey,
		/// The key takes more public inputs than `MaxPublicInputs`.
		TooManyInputs,
		/// The key's input count does not fit its kind.
		KeyDoesNotFitKind,
		/// This key is already registered.
		KeyExists,
		/// No key with this hash.
		UnknownKey,
		/// Only the key's owner may remove it (genesis keys stay).
		NotKeyOwner,
		/// The deposit cannot be reserved.
		InsufficientDeposit,
		/// The proof is malformed (length, points).
		MalformedProof,
		/// The public inputs are malformed (length, non-canonical scalars).
		MalformedInputs,
		/// The number of public inputs differs from the key's.
		WrongInputCount,
		/// The proof does not verify for these inputs under this key.
		InvalidProof,
		/// The key is not of the kind this call needs.
		WrongKeyKind,
		/// The dataset name is empty or too long.
		BadDatasetName,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers a verifying key, reserving the deposit.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_key(inputs_of_key_len::<T>(key.len())))]
		pub fn register_key(origin: OriginFor<T>, kind: KeyKind, key: Vec<u8>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::insert_key(Some(who), kind, key)
		}

		/// Removes the caller's key and returns its deposit.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::remove_key())]
		pub fn remove_key(origin: OriginFor<T>, hash: [u8; 32]) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Keys::<T>::get(hash).ok_or(Error::<T>::UnknownKey)?;
			let Some((owner, deposit)) = info.owner else { return Err(Error::<T>::NotKeyOwner.into()) };
			ensure!(owner == who, Error::<T>::NotKeyOwner);
			T::Currency::unreserve(&owner, deposit);
			Keys::<T>::remove(hash);
			Self::deposit_event(Event::KeyRemoved { hash });
			Ok(())
		}

		/// Verifies a proof against a registered key and records an
		/// attestation, optionally for a task and round.
		#[pallet::call_index(2)]
		// The benchmark measures a prepared key from the host's cache; a miss
		// costs what validating the key costs, which `register_key` measures.
		#[pallet::weight(T::WeightInfo::verify_proof((inputs.len() / 32) as u32)
			.saturating_add(T::WeightInfo::register_key((inputs.len() / 32) as u32)))]
		pub fn verify(
			origin: OriginFor<T>,
			key: [u8; 32],
			proof: Vec<u8>,
			inputs: Vec<u8>,
			statement: Option<(u64, u32)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Keys::<T>::get(key).ok_or(Error::<T>::UnknownKey)?;
			Self::check(&info, &proof, &inputs)?;
			Self::attest(who, key, &inputs, statement);
			Ok(())
		}

		/// Commits the caller to a dataset with a dataset-commitment proof.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::commit_dataset()
			.saturating_add(
				T::WeightInfo::verify_proof((inputs.len() / 32) as u32).saturating_sub(T::WeightInfo::verify_proof(6))
			)
			.saturating_add(T::WeightInfo::register_key((inputs.len() / 32) as u32)))]
		pub fn commit_dataset(
			origin: OriginFor<T>,
			name: Vec<u8>,
			key: [u8; 32],
			proof: Vec<u8>,
			inputs: Vec<u8>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(!name.is_empty(), Error::<T>::BadDatasetName);
			let name: DatasetName<T> = name.try_into().map_err(|_| Error::<T>::BadDatasetName)?;
			let info = Keys::<T>::get(key).ok_or(Error::<T>::UnknownKey)?;
			ensure!(info.kind == KeyKind::DatasetCommitment, Error::<T>::WrongKeyKind);
			Self::check(&info, &proof, &inputs)?;
			let mut root = [0u8; 32];
			root.copy_from_slice(&inputs[..32]);
			// The row count is a canonical scalar below 2^64 (the circuit's
			// shape), little-endian.
			let rows_bytes: [u8; 8] = inputs[32..40].try_into().map_err(|_| Error::<T>::MalformedInputs)?;
			ensure!(inputs[40..64].iter().all(|b| *b == 0), Error::<T>::MalformedInputs);
			let rows = u64::from_le_bytes(rows_bytes);
			let commitment = DatasetCommitment {
				root,
				rows,
				key,
				at: frame_system::Pallet::<T>::block_number(),
				at_ms: T::Time::now().as_millis() as u64,
			};
			DatasetCommitments::<T>::insert(&who, &name, commitment);
			Self::attest(who.clone(), key, &inputs, None);
			Self::deposit_event(Event::DatasetCommitted { who, name, root, rows });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		pub(crate) fn insert_key(owner: Option<T::AccountId>, kind: KeyKind, key: Vec<u8>) -> DispatchResult {
			let key: BoundedVec<u8, T::MaxKeyLen> = key.try_into().map_err(|_| Error::<T>::KeyTooLarge)?;
			let hash = sp_io::hashing::sha2_256(&key);
			ensure!(!Keys::<T>::contains_key(hash), Error::<T>::KeyExists);
			let inputs = delta_zk_verify::validate_key(&key);
			ensure!(inputs != code::INVALID_KEY, Error::<T>::MalformedKey);
			ensure!(inputs <= T::MaxPublicInputs::get(), Error::<T>::TooManyInputs);
			let fits = match kind {
				KeyKind::Generic => true,
				KeyKind::DatasetCommitment => inputs >= 2 && (inputs - 2) % 2 == 0,
				KeyKind::ContributionSum => inputs == 2,
			};
			ensure!(fits, Error::<T>::KeyDoesNotFitKind);
			let owner = match owner {
				Some(who) => {
					let deposit = T::KeyDeposit::get();
					T::Currency::reserve(&who, deposit).map_err(|_| Error::<T>::InsufficientDeposit)?;
					Some((who, deposit))
				},
				None => None,
			};
			let event_owner = owner.as_ref().map(|(who, _)| who.clone());
			Keys::<T>::insert(hash, KeyInfo { owner, kind, inputs, key });
			Self::deposit_event(Event::KeyRegistered { hash, owner: event_owner, kind, inputs });
			Ok(())
		}

		fn check(info: &KeyInfo<T>, proof: &[u8], inputs: &[u8]) -> DispatchResult {
			ensure!(proof.len() == PROOF_LEN, Error::<T>::MalformedProof);
			ensure!(inputs.len() % 32 == 0, Error::<T>::MalformedInputs);
			ensure!(inputs.len() / 32 == info.inputs as usize, Error::<T>::WrongInputCount);
			match delta_zk_verify::verify_groth16(&info.key, proof, inputs) {
				code::OK => Ok(()),
				code::MALFORMED_PROOF => Err(Error::<T>::MalformedProof.into()),
				code::MALFORMED_INPUTS => Err(Error::<T>::MalformedInputs.into()),
				code::WRONG_INPUT_COUNT => Err(Error::<T>::WrongInputCount.into()),
				code::MALFORMED_KEY => Err(Error::<T>::MalformedKey.into()),
				_ => Err(Error::<T>::InvalidProof.into()),
			}
		}

		fn attest(prover: T::AccountId, key: [u8; 32], inputs: &[u8], statement: Option<(u64, u32)>) {
			let id = NextAttestation::<T>::get();
			NextAttestation::<T>::put(id.saturating_add(1));
			let attestation = Attestation {
				prover: prover.clone(),
				key,
				inputs: sp_io::hashing::sha2_256(inputs),
				statement,
				at: frame_system::Pallet::<T>::block_number(),
			};
			Attestations::<T>::insert(id, attestation);
			Self::deposit_event(Event::Verified { id, prover, key, statement });
		}
	}
}
