//! # Delta task pallet
//!
//! Tasks and their rounds on Delta Chain. A requester creates a task (the
//! commitment of its package, the datasets it reads, how many rounds, the
//! round parameters); each round then runs the secure-aggregation phases
//! Open → ShareKeys → Compute → Unmask → Done, moved by
//! [`delta_primitives::round::RoundState`], the same state machine the
//! coordinator runs. A phase ends as soon as its quorum is met or, without
//! anyone calling, in `on_initialize` of the block where its deadline falls.
//!
//! ## Calls
//! - [`Pallet::create_task`], [`Pallet::start_round`], [`Pallet::finish_round`],
//!   [`Pallet::finish_task`], [`Pallet::cancel_task`]: the task's owner.
//! - [`Pallet::join`], [`Pallet::commit_shares`], [`Pallet::commit_masked`],
//!   [`Pallet::reveal`]: members (registered identities) in the round.
//!
//! ## Randomness
//! When the member set is fixed (Open ends), the round's neighbour-graph
//! seed is the hash of the block before the one that fixed it. The requester
//! cannot choose it; the author of that block could try a few alternative
//! blocks (it can reorder or withhold transactions) to bias the seed among a
//! handful of candidates, which is why the graph's degree, not the seed,
//! carries the security argument.
//!
//! ## Reading
//! The runtime API [`runtime_api::DeltaTaskApi`] returns a task and a round
//! with its members; the storage items can also be read directly.
//!
//! ## Pruning
//! When a task is finished or cancelled it is queued for pruning; once
//! [`Config::Retention`] blocks have passed, `on_initialize` removes its
//! rounds, round members and reveals, at most [`Config::MaxPrunePerBlock`]
//! entries of each per block, and emits [`Event::TaskPruned`]. The task
//! record itself stays, so its owner, package and status remain readable.
//!
//! ## Conformance
//! The coordinator runs the same rules off chain; `ledger-conformance`
//! holds the scenarios both ledgers must pass, and this pallet's tests run
//! them (and random call sequences side by side with the coordinator)
//! against the mock runtime.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod conformance_tests;
#[cfg(test)]
mod mock;
pub mod runtime_api;
#[cfg(test)]
mod tests;
pub mod weights;
pub use weights::WeightInfo;

use codec::{Decode, Encode, MaxEncodedLen};
use scale_info::TypeInfo;

/// A task's number, assigned in order of creation.
pub type TaskId = u64;
/// A round's number within its task, from 0.
pub type RoundNo = u32;
/// A 32-byte commitment (a hash computed off chain).
pub type Commitment = [u8; 32];

pub use delta_primitives::task::{TaskKind, TaskStatus};

/// Whether an account is a registered member of the network. The runtime
/// implements it with the identity pallet.
pub trait MemberRegistry<AccountId> {
	/// True if `who` may take part in rounds.
	fn is_member(who: &AccountId) -> bool;
	/// Makes `who` a member, so benchmarks can act as one.
	#[cfg(feature = "runtime-benchmarks")]
	fn register_for_benchmarks(who: &AccountId);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use alloc::vec::Vec;
	use delta_primitives::round::{
		check_reveal, Action, MemberStatus, Phase, PhaseChange, RoundParams, RoundState, ShareKind,
	};
	use delta_primitives::task::{check_join_keys, TaskError};
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use sp_runtime::traits::{SaturatedConversion, Saturating, UniqueSaturatedInto};

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	/// Configuration of the task pallet.
	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Who counts as a member of the network.
		type Members: MemberRegistry<Self::AccountId>;
		/// Most datasets one task may name.
		#[pallet::constant]
		type MaxDatasets: Get<u32>;
		/// Longest dataset name, in bytes.
		#[pallet::constant]
		type MaxDatasetNameLen: Get<u32>;
		/// Most rounds one task may run.
		#[pallet::constant]
		type MaxRounds: Get<u32>;
		/// Most shares one reveal call may carry.
		#[pallet::constant]
		type MaxRevealsPerCall: Get<u32>;
		/// Longest revealed share, in bytes.
		#[pallet::constant]
		type MaxShareLen: Get<u32>;
		/// Most round deadlines that may fall in one block; bounds the work
		/// of `on_initialize`.
		#[pallet::constant]
		type MaxDeadlinesPerBlock: Get<u32>;
		/// How long a finished or cancelled task's round data is kept
		/// before it is pruned, in blocks.
		#[pallet::constant]
		type Retention: Get<BlockNumberFor<Self>>;
		/// Most entries of each round-data map pruned per block; bounds the
		/// work of `on_initialize`.
		#[pallet::constant]
		type MaxPrunePerBlock: Get<u32>;
		/// Weights of this pallet's calls, from its benchmarks.
		type WeightInfo: WeightInfo;
	}

	/// A dataset name.
	pub type DatasetName<T> = BoundedVec<u8, <T as Config>::MaxDatasetNameLen>;

	/// A task as stored.
	#[derive(
		frame_support::CloneNoBound,
		frame_support::PartialEqNoBound,
		frame_support::EqNoBound,
		Encode,
		Decode,
		TypeInfo,
		MaxEncodedLen,
		frame_support::DebugNoBound,
	)]
	#[scale_info(skip_type_params(T))]
	pub struct TaskInfo<T: Config> {
		/// Who created it and drives its rounds.
		pub owner: T::AccountId,
		/// Hash of the task package; members refuse a package that differs.
		pub package: Commitment,
		/// What it computes.
		pub kind: TaskKind,
		/// The datasets it reads.
		pub datasets: BoundedVec<DatasetName<T>, T::MaxDatasets>,
		/// How many rounds it may run.
		pub rounds: u32,
		/// Parameters of each round (deadlines in blocks).
		pub params: RoundParams,
		/// Its status.
		pub status: TaskStatus,
		/// Rounds started so far.
		pub rounds_started: u32,
		/// Block of creation.
		pub created_at: BlockNumberFor<T>,
	}

	/// A round as stored.
	#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
	pub struct RoundInfo {
		/// Phase, deadline and counts.
		pub state: RoundState,
		/// Neighbour-graph seed, fixed when Open ends.
		pub seed: Option<[u8; 32]>,
		/// Commitment of the result, once the owner finished the round.
		pub result: Option<Commitment>,
	}

	/// A member's record in a round.
	#[derive(Clone, PartialEq, Eq, Encode, Decode, TypeInfo, MaxEncodedLen, Debug)]
	pub struct RoundMember {
		/// How far it has come.
		pub status: MemberStatus,
		/// X25519 key of its share channel.
		pub channel_key: [u8; 32],
		/// X25519 key of its pairwise masks.
		pub masking_key: [u8; 32],
		/// Commitment of its encrypted shares.
		pub shares: Option<Commitment>,
		/// Commitment of its masked input.
		pub masked: Option<Commitment>,
	}

	/// The next task id.
	#[pallet::storage]
	pub type NextTaskId<T> = StorageValue<_, TaskId, ValueQuery>;

	/// Tasks by id.
	#[pallet::storage]
	pub type Tasks<T: Config> = StorageMap<_, Twox64Concat, TaskId, TaskInfo<T>, OptionQuery>;

	/// Rounds by task and number.
	#[pallet::storage]
	pub type Rounds<T> = StorageDoubleMap<_, Twox64Concat, TaskId, Twox64Concat, RoundNo, RoundInfo, OptionQuery>;

	/// Members of each round.
	#[pallet::storage]
	pub type RoundMembers<T: Config> = StorageNMap<
		_,
		(NMapKey<Twox64Concat, TaskId>, NMapKey<Twox64Concat, RoundNo>, NMapKey<Blake2_128Concat, T::AccountId>),
		RoundMember,
		OptionQuery,
	>;

	/// Revealed shares: (task, round, revealer, owner of the secret) to the
	/// kind and the share.
	#[pallet::storage]
	pub type Reveals<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Twox64Concat, TaskId>,
			NMapKey<Twox64Concat, RoundNo>,
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Blake2_128Concat, T::AccountId>,
		),
		(ShareKind, BoundedVec<u8, T::MaxShareLen>),
		OptionQuery,
	>;

	/// Rounds whose current phase ends at each block.
	#[pallet::storage]
	pub type Deadlines<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<(TaskId, RoundNo), T::MaxDeadlinesPerBlock>,
		ValueQuery,
	>;

	/// Tasks waiting to be pruned, in order: queue position to (block from
	/// which it may be pruned, task). Retention is constant, so positions
	/// are also in order of due block.
	#[pallet::storage]
	pub type PruneQueue<T: Config> = StorageMap<_, Twox64Concat, u64, (BlockNumberFor<T>, TaskId), OptionQuery>;

	/// Position of the oldest entry in [`PruneQueue`].
	#[pallet::storage]
	pub type PruneHead<T> = StorageValue<_, u64, ValueQuery>;

	/// Position the next entry of [`PruneQueue`] takes.
	#[pallet::storage]
	pub type PruneTail<T> = StorageValue<_, u64, ValueQuery>;

	/// Privacy spent, in millionths of ε: (holder, dataset, requester) to
	/// the sum of the holder's charges for that requester's tasks on that
	/// dataset. Kept when tasks are pruned: a budget outlives its tasks.
	#[pallet::storage]
	pub type PrivacySpent<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Blake2_128Concat, DatasetName<T>>,
			NMapKey<Blake2_128Concat, T::AccountId>,
		),
		u64,
		ValueQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A task was created.
		TaskCreated { task: TaskId, owner: T::AccountId, package: Commitment },
		/// A round opened for joining.
		RoundStarted { task: TaskId, round: RoundNo, deadline: u64 },
		/// A member joined a round with its public keys.
		Joined { task: TaskId, round: RoundNo, who: T::AccountId },
		/// A member committed its encrypted shares.
		SharesCommitted { task: TaskId, round: RoundNo, who: T::AccountId, commitment: Commitment },
		/// A member committed its masked input.
		MaskedCommitted { task: TaskId, round: RoundNo, who: T::AccountId, commitment: Commitment },
		/// A member revealed its unmasking shares.
		Revealed { task: TaskId, round: RoundNo, who: T::AccountId, shares: u32 },
		/// A round changed phase (quorum met or deadline passed).
		PhaseChanged { task: TaskId, round: RoundNo, phase: Phase, deadline: u64 },
		/// The member set is fixed and the neighbour-graph seed drawn.
		SeedFixed { task: TaskId, round: RoundNo, seed: [u8; 32] },
		/// The owner recorded a round's result.
		RoundFinished { task: TaskId, round: RoundNo, result: Commitment },
		/// The owner finished the task.
		TaskFinished { task: TaskId },
		/// The owner cancelled the task.
		TaskCancelled { task: TaskId },
		/// A finished or cancelled task's round data was removed after the
		/// retention period.
		TaskPruned { task: TaskId },
		/// A holder recorded privacy given to a task's owner on its dataset
		/// (millionths of ε); `total` is what that requester has spent there.
		PrivacyCharged {
			task: TaskId,
			holder: T::AccountId,
			requester: T::AccountId,
			dataset: DatasetName<T>,
			epsilon: u64,
			total: u64,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No task with this id.
		UnknownTask,
		/// No such round in this task.
		UnknownRound,
		/// Only the task's owner may do this.
		NotOwner,
		/// The task is finished or cancelled.
		TaskNotActive,
		/// Too many datasets.
		TooManyDatasets,
		/// A dataset name is empty or too long.
		BadDatasetName,
		/// `rounds` is zero or above the maximum.
		BadRoundCount,
		/// Round parameters: fewer than 2 members.
		TooFewMembers,
		/// Round parameters: `min_members` above `max_members`.
		MinAboveMax,
		/// Round parameters: too many members for one round.
		TooManyMembers,
		/// Round parameters: threshold below 2 or above `min_members`.
		BadThreshold,
		/// Round parameters: a phase timeout is zero.
		ZeroTimeout,
		/// The previous round is still running.
		RoundInProgress,
		/// All the task's rounds have been started.
		NoRoundsLeft,
		/// The caller is not a registered member of the network.
		NotRegistered,
		/// The action belongs to another phase.
		WrongPhase,
		/// The phase's deadline has passed.
		DeadlinePassed,
		/// The caller already joined this round.
		AlreadyJoined,
		/// The round has all the members it may have.
		RoundFull,
		/// The caller is not a member of this round.
		NotInRound,
		/// The caller dropped out of this round earlier.
		DroppedOut,
		/// The caller already did this in this round.
		AlreadyDone,
		/// The two public keys must be distinct and non-zero.
		BadKeys,
		/// Too many shares in one reveal, or a share too long.
		RevealTooLarge,
		/// A revealed share names an account that is not in the round or
		/// never shared.
		RevealForUnknownMember,
		/// A revealed share of the wrong kind for its owner: revealing it
		/// together with the other kind would unmask the owner's input.
		WrongShareKind,
		/// The same owner appears twice in one reveal.
		DuplicateReveal,
		/// Too many deadlines fall in the same block; try again next block.
		DeadlineSlotsFull,
		/// A privacy charge of zero, above the largest one charge may be,
		/// or for a dataset the task does not read.
		BadCharge,
	}

	/// The shared refusal names map one to one onto this pallet's errors.
	impl<T> From<TaskError> for Error<T> {
		fn from(e: TaskError) -> Self {
			match e {
				TaskError::UnknownTask => Error::UnknownTask,
				TaskError::UnknownRound => Error::UnknownRound,
				TaskError::NotOwner => Error::NotOwner,
				TaskError::TaskNotActive => Error::TaskNotActive,
				TaskError::TooManyDatasets => Error::TooManyDatasets,
				TaskError::BadDatasetName => Error::BadDatasetName,
				TaskError::BadRoundCount => Error::BadRoundCount,
				TaskError::TooFewMembers => Error::TooFewMembers,
				TaskError::MinAboveMax => Error::MinAboveMax,
				TaskError::TooManyMembers => Error::TooManyMembers,
				TaskError::BadThreshold => Error::BadThreshold,
				TaskError::ZeroTimeout => Error::ZeroTimeout,
				TaskError::RoundInProgress => Error::RoundInProgress,
				TaskError::NoRoundsLeft => Error::NoRoundsLeft,
				TaskError::NotRegistered => Error::NotRegistered,
				TaskError::WrongPhase => Error::WrongPhase,
				TaskError::DeadlinePassed => Error::DeadlinePassed,
				TaskError::AlreadyJoined => Error::AlreadyJoined,
				TaskError::RoundFull => Error::RoundFull,
				TaskError::NotInRound => Error::NotInRound,
				TaskError::DroppedOut => Error::DroppedOut,
				TaskError::AlreadyDone => Error::AlreadyDone,
				TaskError::BadKeys => Error::BadKeys,
				TaskError::RevealTooLarge => Error::RevealTooLarge,
				TaskError::RevealForUnknownMember => Error::RevealForUnknownMember,
				TaskError::WrongShareKind => Error::WrongShareKind,
				TaskError::DuplicateReveal => Error::DuplicateReveal,
				TaskError::DeadlineSlotsFull => Error::DeadlineSlotsFull,
				TaskError::BadCharge => Error::BadCharge,
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let due = Deadlines::<T>::take(now);
			let weight = T::WeightInfo::on_initialize(due.len() as u32);
			for (task, round) in due {
				Rounds::<T>::mutate(task, round, |info| {
					let Some(info) = info else { return };
					if let Some(change) = info.state.tick(Self::now_u64(now)) {
						Self::on_phase_change(task, round, info, change);
						// The slot of this block was taken above. If the new
						// deadline's slot is full, use the next free one: the
						// phase then ends a little later, never earlier.
						let mut at = change.deadline;
						for _ in 0..16 {
							if at == 0 || Self::schedule(task, round, at).is_ok() {
								break;
							}
							at = at.saturating_add(1);
						}
					}
				});
			}
			weight.saturating_add(Self::prune_step(now))
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Creates a task; the caller becomes its owner.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::create_task())]
		pub fn create_task(
			origin: OriginFor<T>,
			package: Commitment,
			kind: TaskKind,
			datasets: Vec<Vec<u8>>,
			rounds: u32,
			params: RoundParams,
		) -> DispatchResult {
			let owner = ensure_signed(origin)?;
			params.validate().map_err(|e| Error::<T>::from(TaskError::from(e)))?;
			ensure!(rounds >= 1 && rounds <= T::MaxRounds::get(), Error::<T>::BadRoundCount);
			ensure!(datasets.len() <= T::MaxDatasets::get() as usize, Error::<T>::TooManyDatasets);
			let mut names = BoundedVec::new();
			for name in datasets {
				ensure!(!name.is_empty(), Error::<T>::BadDatasetName);
				let name: DatasetName<T> = name.try_into().map_err(|_| Error::<T>::BadDatasetName)?;
				names.try_push(name).map_err(|_| Error::<T>::TooManyDatasets)?;
			}
			let task = NextTaskId::<T>::get();
			NextTaskId::<T>::put(task.saturating_add(1));
			Tasks::<T>::insert(
				task,
				TaskInfo {
					owner: owner.clone(),
					package,
					kind,
					datasets: names,
					rounds,
					params,
					status: TaskStatus::Active,
					rounds_started: 0,
					created_at: frame_system::Pallet::<T>::block_number(),
				},
			);
			Self::deposit_event(Event::TaskCreated { task, owner, package });
			Ok(())
		}

		/// Opens the task's next round for joining.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::start_round())]
		pub fn start_round(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut info = Tasks::<T>::get(task).ok_or(Error::<T>::UnknownTask)?;
			ensure!(info.owner == who, Error::<T>::NotOwner);
			ensure!(info.status == TaskStatus::Active, Error::<T>::TaskNotActive);
			ensure!(info.rounds_started < info.rounds, Error::<T>::NoRoundsLeft);
			if let Some(previous) = info.rounds_started.checked_sub(1) {
				let over = Rounds::<T>::get(task, previous).is_none_or(|r| r.state.is_over());
				ensure!(over, Error::<T>::RoundInProgress);
			}
			let round = info.rounds_started;
			let now = Self::now_u64(frame_system::Pallet::<T>::block_number());
			let state = RoundState::start(info.params, now).map_err(|e| Error::<T>::from(TaskError::from(e)))?;
			Self::schedule(task, round, state.deadline)?;
			Rounds::<T>::insert(task, round, RoundInfo { state, seed: None, result: None });
			info.rounds_started = round.saturating_add(1);
			Tasks::<T>::insert(task, info);
			Self::deposit_event(Event::RoundStarted { task, round, deadline: state.deadline });
			Ok(())
		}

		/// Joins an open round with the member's two X25519 public keys.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::join())]
		pub fn join(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundNo,
			channel_key: [u8; 32],
			masking_key: [u8; 32],
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(T::Members::is_member(&who), Error::<T>::NotRegistered);
			check_join_keys(&channel_key, &masking_key).map_err(Error::<T>::from)?;
			Self::act(task, round, &who, Action::Join, |record| match record {
				None => Some(RoundMember {
					status: MemberStatus::Joined,
					channel_key,
					masking_key,
					shares: None,
					masked: None,
				}),
				Some(_) => None,
			})?;
			Self::deposit_event(Event::Joined { task, round, who });
			Ok(())
		}

		/// Commits the encrypted shares the member distributed.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::commit_shares())]
		pub fn commit_shares(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundNo,
			commitment: Commitment,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::act(task, round, &who, Action::CommitShares, |record| {
				record.map(|mut r| {
					r.shares = Some(commitment);
					r
				})
			})?;
			Self::deposit_event(Event::SharesCommitted { task, round, who, commitment });
			Ok(())
		}

		/// Commits the member's masked input, sent to the requester off chain.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::commit_masked())]
		pub fn commit_masked(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundNo,
			commitment: Commitment,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::act(task, round, &who, Action::CommitMasked, |record| {
				record.map(|mut r| {
					r.masked = Some(commitment);
					r
				})
			})?;
			Self::deposit_event(Event::MaskedCommitted { task, round, who, commitment });
			Ok(())
		}

		/// Reveals, for each listed owner, one share of its secrets: the
		/// self-mask share if the owner's masked input arrived, the mask-key
		/// share if it dropped out after sharing; never both.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::reveal(shares.len() as u32))]
		pub fn reveal(
			origin: OriginFor<T>,
			task: TaskId,
			round: RoundNo,
			shares: Vec<(T::AccountId, ShareKind, Vec<u8>)>,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			ensure!(shares.len() <= T::MaxRevealsPerCall::get() as usize, Error::<T>::RevealTooLarge);
			let mut checked = Vec::with_capacity(shares.len());
			for (i, (owner, kind, share)) in shares.iter().enumerate() {
				ensure!(shares[..i].iter().all(|(other, _, _)| other != owner), Error::<T>::DuplicateReveal);
				let status =
					RoundMembers::<T>::get((task, round, owner)).ok_or(Error::<T>::RevealForUnknownMember)?.status;
				check_reveal(status, *kind).map_err(|e| Error::<T>::from(TaskError::from(e)))?;
				let share: BoundedVec<u8, T::MaxShareLen> =
					share.clone().try_into().map_err(|_| Error::<T>::RevealTooLarge)?;
				checked.push((owner.clone(), *kind, share));
			}
			let count = checked.len() as u32;
			Self::act(task, round, &who, Action::Reveal, |record| record)?;
			for (owner, kind, share) in checked {
				Reveals::<T>::insert((task, round, who.clone(), owner), (kind, share));
			}
			Self::deposit_event(Event::Revealed { task, round, who, shares: count });
			Ok(())
		}

		/// Records the result of a round whose reveals are closed.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::finish_round())]
		pub fn finish_round(origin: OriginFor<T>, task: TaskId, round: RoundNo, result: Commitment) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::UnknownTask)?;
			ensure!(info.owner == who, Error::<T>::NotOwner);
			Rounds::<T>::try_mutate(task, round, |r| -> DispatchResult {
				let r = r.as_mut().ok_or(Error::<T>::UnknownRound)?;
				ensure!(r.state.phase == Phase::Done && r.result.is_none(), Error::<T>::WrongPhase);
				r.result = Some(result);
				Ok(())
			})?;
			Self::deposit_event(Event::RoundFinished { task, round, result });
			Ok(())
		}

		/// Marks the task finished; no more rounds start.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::finish_task())]
		pub fn finish_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			Self::end_task(origin, task, TaskStatus::Finished)
		}

		/// Cancels the task and its running round.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::cancel_task())]
		pub fn cancel_task(origin: OriginFor<T>, task: TaskId) -> DispatchResult {
			Self::end_task(origin, task, TaskStatus::Cancelled)
		}

		/// Records privacy the caller (a data holder) gave the task's owner
		/// on one of the holder's datasets, in millionths of ε, adding it to
		/// what that requester has spent there. Holders charge before their
		/// noised contribution leaves them and refuse tasks past their
		/// budget; the record is the audit trail either side can read.
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::charge_privacy())]
		pub fn charge_privacy(origin: OriginFor<T>, task: TaskId, dataset: Vec<u8>, epsilon: u64) -> DispatchResult {
			let holder = ensure_signed(origin)?;
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::UnknownTask)?;
			ensure!(info.status == TaskStatus::Active, Error::<T>::TaskNotActive);
			let declared = info.datasets.iter().any(|d| d.as_slice() == dataset.as_slice());
			delta_primitives::task::check_privacy_charge(epsilon, declared).map_err(Error::<T>::from)?;
			let dataset: DatasetName<T> = dataset.try_into().map_err(|_| Error::<T>::BadCharge)?;
			let requester = info.owner;
			let total = PrivacySpent::<T>::mutate((&holder, &dataset, &requester), |spent| {
				*spent = spent.saturating_add(epsilon);
				*spent
			});
			Self::deposit_event(Event::PrivacyCharged { task, holder, requester, dataset, epsilon, total });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Privacy `requester` has spent on `holder`'s `dataset`, in
		/// millionths of ε, for the runtime API.
		pub fn privacy_spent(holder: T::AccountId, dataset: Vec<u8>, requester: T::AccountId) -> u64 {
			match DatasetName::<T>::try_from(dataset) {
				Ok(name) => PrivacySpent::<T>::get((holder, name, requester)),
				Err(_) => 0,
			}
		}

		/// A task, for the runtime API.
		pub fn task_view(task: TaskId) -> Option<crate::runtime_api::TaskView<T::AccountId>> {
			Tasks::<T>::get(task).map(|t| crate::runtime_api::TaskView {
				owner: t.owner,
				package: t.package,
				kind: t.kind,
				datasets: t.datasets.into_iter().map(|d| d.into_inner()).collect(),
				rounds: t.rounds,
				params: t.params,
				status: t.status,
				rounds_started: t.rounds_started,
			})
		}

		/// A round with its members, for the runtime API (members bounded
		/// by the round's `max_members`).
		pub fn round_view(task: TaskId, round: RoundNo) -> Option<crate::runtime_api::RoundView<T::AccountId>> {
			let info = Rounds::<T>::get(task, round)?;
			let members =
				RoundMembers::<T>::iter_prefix((task, round)).take(info.state.params.max_members as usize).collect();
			Some(crate::runtime_api::RoundView { state: info.state, seed: info.seed, result: info.result, members })
		}

		/// Prunes (part of) the oldest due task in the queue; returns the
		/// weight used. Removes at most `MaxPrunePerBlock` entries of each
		/// map, so a task with more round data takes several blocks.
		pub(crate) fn prune_step(now: BlockNumberFor<T>) -> Weight {
			let head = PruneHead::<T>::get();
			if head >= PruneTail::<T>::get() {
				return T::DbWeight::get().reads(2);
			}
			let Some((due, task)) = PruneQueue::<T>::get(head) else {
				PruneHead::<T>::put(head.saturating_add(1));
				return T::DbWeight::get().reads_writes(3, 1);
			};
			if due > now {
				return T::DbWeight::get().reads(3);
			}
			let limit = T::MaxPrunePerBlock::get();
			let reveals = Reveals::<T>::clear_prefix((task,), limit, None);
			let members = RoundMembers::<T>::clear_prefix((task,), limit, None);
			let rounds = Rounds::<T>::clear_prefix(task, limit, None);
			let done =
				reveals.maybe_cursor.is_none() && members.maybe_cursor.is_none() && rounds.maybe_cursor.is_none();
			if done {
				PruneQueue::<T>::remove(head);
				PruneHead::<T>::put(head.saturating_add(1));
				Self::deposit_event(Event::TaskPruned { task });
			}
			let removed = reveals.unique.max(members.unique).max(rounds.unique);
			T::WeightInfo::prune(removed)
		}

		fn now_u64(n: BlockNumberFor<T>) -> u64 {
			n.saturated_into::<u64>()
		}

		fn schedule(task: TaskId, round: RoundNo, deadline: u64) -> DispatchResult {
			if deadline == 0 {
				return Ok(());
			}
			let at: BlockNumberFor<T> = deadline.unique_saturated_into();
			Deadlines::<T>::try_mutate(at, |slots| slots.try_push((task, round)))
				.map_err(|_| Error::<T>::DeadlineSlotsFull.into())
		}

		/// Moves a round's deadline entry from `old` to `new`, so that slots
		/// hold only live deadlines.
		fn reschedule(task: TaskId, round: RoundNo, old: u64, new: u64) -> DispatchResult {
			if old == new {
				return Ok(());
			}
			if old != 0 {
				let at: BlockNumberFor<T> = old.unique_saturated_into();
				Deadlines::<T>::mutate(at, |slots| slots.retain(|entry| *entry != (task, round)));
			}
			Self::schedule(task, round, new)
		}

		fn on_phase_change(task: TaskId, round: RoundNo, info: &mut RoundInfo, change: PhaseChange) {
			if change.phase == Phase::ShareKeys && info.seed.is_none() {
				let seed: [u8; 32] = frame_system::Pallet::<T>::parent_hash().as_ref().try_into().unwrap_or([0; 32]);
				info.seed = Some(seed);
				Self::deposit_event(Event::SeedFixed { task, round, seed });
			}
			Self::deposit_event(Event::PhaseChanged { task, round, phase: change.phase, deadline: change.deadline });
		}

		/// Applies a member's action to a round: checks it with the shared
		/// state machine, updates the member's record with `update`, and
		/// handles a phase change. Nothing is written on error.
		fn act(
			task: TaskId,
			round: RoundNo,
			who: &T::AccountId,
			action: Action,
			update: impl FnOnce(Option<RoundMember>) -> Option<RoundMember>,
		) -> DispatchResult {
			let info = Tasks::<T>::get(task).ok_or(Error::<T>::UnknownTask)?;
			ensure!(info.status == TaskStatus::Active, Error::<T>::TaskNotActive);
			let mut round_info = Rounds::<T>::get(task, round).ok_or(Error::<T>::UnknownRound)?;
			let record = RoundMembers::<T>::get((task, round, who));
			let now = Self::now_u64(frame_system::Pallet::<T>::block_number());
			let old_deadline = round_info.state.deadline;
			let (status, change) = round_info
				.state
				.apply(action, record.as_ref().map(|r| r.status), now)
				.map_err(|e| Error::<T>::from(TaskError::from(e)))?;
			let mut record = update(record).ok_or(Error::<T>::AlreadyJoined)?;
			record.status = status;
			RoundMembers::<T>::insert((task, round, who), record);
			if let Some(change) = change {
				// Fails the whole call (nothing written) if the new
				// deadline's slot is full.
				Self::reschedule(task, round, old_deadline, change.deadline)?;
				Self::on_phase_change(task, round, &mut round_info, change);
			}
			Rounds::<T>::insert(task, round, round_info);
			Ok(())
		}

		fn end_task(origin: OriginFor<T>, task: TaskId, status: TaskStatus) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let mut info = Tasks::<T>::get(task).ok_or(Error::<T>::UnknownTask)?;
			ensure!(info.owner == who, Error::<T>::NotOwner);
			ensure!(info.status == TaskStatus::Active, Error::<T>::TaskNotActive);
			if status == TaskStatus::Cancelled {
				if let Some(current) = info.rounds_started.checked_sub(1) {
					Rounds::<T>::mutate(task, current, |r| {
						if let Some(r) = r {
							let old = r.state.deadline;
							if let Ok(change) = r.state.cancel() {
								let _ = Self::reschedule(task, current, old, 0);
								Self::deposit_event(Event::PhaseChanged {
									task,
									round: current,
									phase: change.phase,
									deadline: 0,
								});
							}
						}
					});
				}
			} else if let Some(current) = info.rounds_started.checked_sub(1) {
				let over = Rounds::<T>::get(task, current).is_none_or(|r| r.state.is_over());
				ensure!(over, Error::<T>::RoundInProgress);
			}
			info.status = status;
			Tasks::<T>::insert(task, info);
			let due = frame_system::Pallet::<T>::block_number().saturating_add(T::Retention::get());
			let tail = PruneTail::<T>::get();
			PruneQueue::<T>::insert(tail, (due, task));
			PruneTail::<T>::put(tail.saturating_add(1));
			Self::deposit_event(match status {
				TaskStatus::Cancelled => Event::TaskCancelled { task },
				_ => Event::TaskFinished { task },
			});
			Ok(())
		}
	}
}
