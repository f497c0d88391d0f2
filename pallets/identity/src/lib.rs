//! # Delta identity pallet
//!
//! The registry of a Delta network's members: every data holder's worker
//! registers itself here under its chain account, so that requesters can
//! find it and other workers can reach and authenticate it.
//!
//! ## Terminology
//! - **Member**: a chain account that has registered a worker.
//! - **Display name**: what people see (`"Charité Hospital"`), UTF-8 without
//!   control characters, at most 64 bytes.
//! - **Endpoint**: the libp2p multiaddr where the worker listens, in text
//!   form (`/ip4/10.0.0.2/tcp/4001`); at most 256 bytes.
//! - **Peer id**: the binary libp2p peer id of the worker's network key. A
//!   peer proves ownership of it in the Noise handshake, so a worker that
//!   receives a connection can look up which member is calling, and drops
//!   connections from peer ids that belong to no member. One peer id
//!   belongs to at most one member.
//!
//! The rules for names, endpoints and peer ids live in
//! [`delta_primitives::identity`], shared with the coordinator.
//!
//! ## Calls
//! - [`Pallet::register`]: become a member.
//! - [`Pallet::update`]: change any of name, endpoint, peer id.
//! - [`Pallet::leave`]: stop being a member; frees the peer id.
//!
//! ## Events
//! [`Event::Registered`], [`Event::Updated`], [`Event::Left`].
//!
//! ## Reading members
//! The runtime API [`runtime_api::DeltaIdentityApi`] lists members and
//! resolves peer ids; the storage maps [`Members`] and [`AccountByPeerId`]
//! can also be read directly by any client.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
pub mod runtime_api;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod conformance_tests;
pub mod weights;
pub use weights::WeightInfo;

use codec::{Decode, Encode, MaxEncodedLen};
use delta_primitives::identity::{MAX_DISPLAY_NAME_LEN, MAX_ENDPOINT_LEN, MAX_PEER_ID_LEN};
use frame_support::{traits::ConstU32, BoundedVec};
use scale_info::TypeInfo;

/// A display name, bounded by [`MAX_DISPLAY_NAME_LEN`].
pub type DisplayName = BoundedVec<u8, ConstU32<MAX_DISPLAY_NAME_LEN>>;
/// A multiaddr in text form, bounded by [`MAX_ENDPOINT_LEN`].
pub type Endpoint = BoundedVec<u8, ConstU32<MAX_ENDPOINT_LEN>>;
/// A binary libp2p peer id, bounded by [`MAX_PEER_ID_LEN`].
pub type PeerId = BoundedVec<u8, ConstU32<MAX_PEER_ID_LEN>>;

/// What the network knows about one member.
#[derive(Clone, Encode, Decode, PartialEq, Eq, TypeInfo, MaxEncodedLen, Debug)]
pub struct MemberInfo<BlockNumber> {
	/// Shown to people choosing members for a task.
	pub display_name: DisplayName,
	/// Where the member's worker accepts libp2p connections.
	pub endpoint: Endpoint,
	/// The libp2p identity the worker proves in its handshake.
	pub peer_id: PeerId,
	/// Block at which the member registered.
	pub registered_at: BlockNumber,
	/// Block of the last change (equal to `registered_at` until updated).
	pub updated_at: BlockNumber,
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use delta_primitives::identity::{
		validate_display_name, validate_endpoint, validate_peer_id, DisplayNameError,
		EndpointError, PeerIdError,
	};
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// Configuration of the identity pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Upper bound on the number of members, so that listing them stays
		/// bounded.
		#[pallet::constant]
		type MaxMembers: Get<u32>;
		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// The member record of each registered account.
	pub type MemberOf<T> = MemberInfo<BlockNumberFor<T>>;

	/// Members by account.
	#[pallet::storage]
	pub type Members<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, MemberOf<T>, OptionQuery>;

	/// The member that owns each registered peer id: what a worker asks when
	/// a peer connects.
	#[pallet::storage]
	pub type AccountByPeerId<T: Config> =
		StorageMap<_, Blake2_128Concat, PeerId, T::AccountId, OptionQuery>;

	/// How many members are registered.
	#[pallet::storage]
	pub type MemberCount<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Members as defined at genesis: `(account, display name, endpoint,
	/// peer id)`, validated by the same rules as [`Pallet::register`].
	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// The members present from the first block.
		pub members: Vec<(T::AccountId, Vec<u8>, Vec<u8>, Vec<u8>)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for (who, name, endpoint, peer_id) in &self.members {
				let result = Pallet::<T>::do_register(
					who.clone(),
					name.clone(),
					endpoint.clone(),
					peer_id.clone(),
				);
				assert!(result.is_ok(), "invalid genesis member: {:?}", result);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// An account registered its worker.
		Registered {
			/// The new member.
			who: T::AccountId,
			/// The peer id its worker will authenticate with.
			peer_id: PeerId,
		},
		/// A member changed its name, endpoint or peer id.
		Updated {
			/// The member.
			who: T::AccountId,
			/// The peer id after the change.
			peer_id: PeerId,
		},
		/// A member left the network.
		Left {
			/// The former member.
			who: T::AccountId,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is already a member; use `update` to change it.
		AlreadyRegistered,
		/// The account is not a member.
		NotRegistered,
		/// The display name is empty or only whitespace.
		DisplayNameEmpty,
		/// The display name is longer than 64 bytes.
		DisplayNameTooLong,
		/// The display name is not UTF-8 or contains control characters.
		DisplayNameInvalid,
		/// The endpoint is longer than 256 bytes.
		EndpointTooLong,
		/// The endpoint is not a dialable multiaddr such as
		/// `/ip4/10.0.0.2/tcp/4001`.
		MalformedEndpoint,
		/// The peer id is longer than 64 bytes.
		PeerIdTooLong,
		/// The bytes are not a binary libp2p peer id.
		MalformedPeerId,
		/// Another member already registered this peer id.
		PeerIdInUse,
		/// The network has reached its maximum number of members.
		TooManyMembers,
		/// `update` was called without anything to change.
		NothingToUpdate,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers the caller's worker as a member.
		///
		/// `peer_id` is the binary libp2p peer id (the bytes behind the
		/// base58 `12D3KooW...` text).
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register())]
		pub fn register(
			origin: OriginFor<T>,
			display_name: Vec<u8>,
			endpoint: Vec<u8>,
			peer_id: Vec<u8>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::do_register(who, display_name, endpoint, peer_id)
		}

		/// Changes any of the caller's display name, endpoint and peer id;
		/// `None` keeps the current value.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::update())]
		pub fn update(
			origin: OriginFor<T>,
			display_name: Option<Vec<u8>>,
			endpoint: Option<Vec<u8>>,
			peer_id: Option<Vec<u8>>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(
				display_name.is_some() || endpoint.is_some() || peer_id.is_some(),
				Error::<T>::NothingToUpdate
			);
			let mut member = Members::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			if let Some(name) = display_name {
				member.display_name = Self::checked_display_name(name)?;
			}
			if let Some(endpoint) = endpoint {
				member.endpoint = Self::checked_endpoint(endpoint)?;
			}
			let old_peer_id = member.peer_id.clone();
			if let Some(peer_id) = peer_id {
				let peer_id = Self::checked_peer_id(peer_id)?;
				if peer_id != old_peer_id {
					ensure!(
						!AccountByPeerId::<T>::contains_key(&peer_id),
						Error::<T>::PeerIdInUse
					);
				}
				member.peer_id = peer_id;
			}
			member.updated_at = frame_system::Pallet::<T>::block_number();
			if member.peer_id != old_peer_id {
				AccountByPeerId::<T>::remove(&old_peer_id);
				AccountByPeerId::<T>::insert(&member.peer_id, &who);
			}
			let peer_id = member.peer_id.clone();
			Members::<T>::insert(&who, member);
			Self::deposit_event(Event::Updated { who, peer_id });
			Ok(())
		}

		/// Removes the caller from the members and frees its peer id.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::leave())]
		pub fn leave(origin: OriginFor<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let member = Members::<T>::take(&who).ok_or(Error::<T>::NotRegistered)?;
			AccountByPeerId::<T>::remove(&member.peer_id);
			MemberCount::<T>::mutate(|count| *count = count.saturating_sub(1));
			Self::deposit_event(Event::Left { who });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		fn do_register(
			who: T::AccountId,
			display_name: Vec<u8>,
			endpoint: Vec<u8>,
			peer_id: Vec<u8>,
		) -> DispatchResult {
			ensure!(!Members::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			let display_name = Self::checked_display_name(display_name)?;
			let endpoint = Self::checked_endpoint(endpoint)?;
			let peer_id = Self::checked_peer_id(peer_id)?;
			ensure!(!AccountByPeerId::<T>::contains_key(&peer_id), Error::<T>::PeerIdInUse);
			let count = MemberCount::<T>::get();
			ensure!(count < T::MaxMembers::get(), Error::<T>::TooManyMembers);

			let now = frame_system::Pallet::<T>::block_number();
			AccountByPeerId::<T>::insert(&peer_id, &who);
			Members::<T>::insert(
				&who,
				MemberInfo {
					display_name,
					endpoint,
					peer_id: peer_id.clone(),
					registered_at: now,
					updated_at: now,
				},
			);
			MemberCount::<T>::put(count.saturating_add(1));
			Self::deposit_event(Event::Registered { who, peer_id });
			Ok(())
		}

		fn checked_display_name(name: Vec<u8>) -> Result<DisplayName, Error<T>> {
			validate_display_name(&name).map_err(|e| match e {
				DisplayNameError::Empty => Error::<T>::DisplayNameEmpty,
				DisplayNameError::TooLong => Error::<T>::DisplayNameTooLong,
				DisplayNameError::Invalid => Error::<T>::DisplayNameInvalid,
			})?;
			name.try_into().map_err(|_| Error::<T>::DisplayNameTooLong)
		}

		fn checked_endpoint(endpoint: Vec<u8>) -> Result<Endpoint, Error<T>> {
			validate_endpoint(&endpoint).map_err(|e| match e {
				EndpointError::TooLong => Error::<T>::EndpointTooLong,
				EndpointError::Malformed(_) => Error::<T>::MalformedEndpoint,
			})?;
			endpoint.try_into().map_err(|_| Error::<T>::EndpointTooLong)
		}

		fn checked_peer_id(peer_id: Vec<u8>) -> Result<PeerId, Error<T>> {
			validate_peer_id(&peer_id).map_err(|e| match e {
				PeerIdError::TooLong => Error::<T>::PeerIdTooLong,
				PeerIdError::Malformed => Error::<T>::MalformedPeerId,
			})?;
			peer_id.try_into().map_err(|_| Error::<T>::PeerIdTooLong)
		}

		/// All members, in storage order (bounded by `MaxMembers`).
		pub fn members() -> Vec<(T::AccountId, MemberOf<T>)> {
			Members::<T>::iter().take(T::MaxMembers::get() as usize).collect()
		}

		/// The member whose worker uses `peer_id`, if any.
		pub fn account_by_peer_id(peer_id: Vec<u8>) -> Option<T::AccountId> {
			let peer_id: PeerId = peer_id.try_into().ok()?;
			AccountByPeerId::<T>::get(peer_id)
		}
	}
}
