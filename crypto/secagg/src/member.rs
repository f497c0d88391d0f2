//! The member's side of a round.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::{CryptoRng, RngCore};
use zeroize::{Zeroize, Zeroizing};

use crate::{
	keys::{self, SecretKey},
	messages::*,
	prg,
	ring::RingVector,
	shamir::{self, Share},
	Config, Error, MemberId, NeighbourGraph, SHARE_PLAINTEXT_LEN,
};

enum State {
	AwaitingRoster,
	AwaitingShares {
		roster: BTreeMap<MemberId, AdvertiseKeys>,
		graph: NeighbourGraph,
		own_seed_share: Share,
		own_key_share: Share,
	},
	AwaitingUnmask {
		/// Neighbours whose shares arrived (the member's view of who shared).
		shared: BTreeSet<MemberId>,
		/// Shares this member holds, by owner: (self-mask seed, masking key).
		held: BTreeMap<MemberId, (Share, Share)>,
		graph: NeighbourGraph,
	},
	Done,
}

impl State {
	fn name(&self) -> &'static str {
		match self {
			State::AwaitingRoster => "advertise keys",
			State::AwaitingShares { .. } => "share keys",
			State::AwaitingUnmask { .. } => "unmask",
			State::Done => "done",
		}
	}
}

/// One member's state machine. Create it with [`Member::new`], then feed it
/// the aggregator's messages in order.
pub struct Member {
	config: Config,
	id: MemberId,
	channel_secret: SecretKey,
	masking_secret: SecretKey,
	self_seed: Zeroizing<[u8; 32]>,
	state: State,
}

impl Member {
	/// A member with fresh keys, and the keys to advertise.
	pub fn new<R: RngCore + CryptoRng>(config: Config, id: MemberId, rng: &mut R) -> (Self, AdvertiseKeys) {
		let channel_secret = SecretKey::generate(rng);
		let masking_secret = SecretKey::generate(rng);
		let mut self_seed = Zeroizing::new([0u8; 32]);
		rng.fill_bytes(self_seed.as_mut_slice());
		let advert =
			AdvertiseKeys { member: id, channel_key: channel_secret.public(), masking_key: masking_secret.public() };
		let member = Self { config, id, channel_secret, masking_secret, self_seed, state: State::AwaitingRoster };
		(member, advert)
	}

	/// Sets the member's id and the round's graph seed, for ledgers where
	/// both are only known once the member set is fixed (after the member
	/// advertised its keys): ids are positions in the fixed member list and
	/// the seed is drawn when the list is fixed. Allowed only before the
	/// roster is processed.
	pub fn bind(&mut self, id: MemberId, graph_seed: [u8; 32]) -> Result<(), Error> {
		if !matches!(self.state, State::AwaitingRoster) {
			return Err(Error::UnexpectedMessage { message: "member binding", phase: self.state.name() });
		}
		self.id = id;
		self.config.graph_seed = graph_seed;
		Ok(())
	}

	/// Sets the neighbourhood (degree and share threshold), for ledgers
	/// where the number of members, from which SecAgg+ sizes it, is only
	/// known once the member set is fixed. Allowed only before the roster
	/// is processed.
	pub fn set_neighbourhood(&mut self, neighbourhood: crate::Neighbourhood) -> Result<(), Error> {
		if !matches!(self.state, State::AwaitingRoster) {
			return Err(Error::UnexpectedMessage { message: "member neighbourhood", phase: self.state.name() });
		}
		self.config.degree = neighbourhood.degree;
		self.config.threshold = neighbourhood.threshold;
		Ok(())
	}

	/// The public keys this member advertises, under its current id.
	pub fn advertised_keys(&self) -> AdvertiseKeys {
		AdvertiseKeys {
			member: self.id,
			channel_key: self.channel_secret.public(),
			masking_key: self.masking_secret.public(),
		}
	}

	/// This member's id.
	pub fn id(&self) -> MemberId {
		self.id
	}

	/// Phase 2: given the roster, share this member's secrets with its
	/// neighbours.
	pub fn share_keys<R: RngCore + CryptoRng>(&mut self, roster: &Roster, rng: &mut R) -> Result<ShareKeys, Error> {
		if !matches!(self.state, State::AwaitingRoster) {
			return Err(Error::UnexpectedMessage { message: "roster", phase: self.state.name() });
		}
		let mut members = BTreeMap::new();
		for advert in &roster.members {
			if members.insert(advert.member, advert.clone()).is_some() {
				return Err(Error::InvalidRequest { reason: "a member appears twice in the roster" });
			}
		}
		match members.get(&self.id) {
			Some(mine)
				if mine.channel_key == self.channel_secret.public()
					&& mine.masking_key == self.masking_secret.public() => {},
			_ => return Err(Error::InvalidRequest { reason: "the roster lacks this member's keys" }),
		}
		self.config.check_members(members.len())?;
		let ids: Vec<MemberId> = members.keys().copied().collect();
		let graph = NeighbourGraph::new(&ids, self.config.degree, &self.config.graph_seed);
		let neighbours = graph.neighbours(self.id).to_vec();
		let mut holders = neighbours.clone();
		holders.push(self.id);

		let seed_shares = shamir::split(&self.self_seed, &holders, self.config.threshold, rng)?;
		let key_shares = shamir::split(&self.masking_secret.to_bytes(), &holders, self.config.threshold, rng)?;
		let mut out = Vec::with_capacity(neighbours.len());
		let mut own = None;
		for (seed_share, key_share) in seed_shares.into_iter().zip(key_shares) {
			let to = seed_share.holder;
			if to == self.id {
				own = Some((seed_share, key_share));
				continue;
			}
			let peer = members.get(&to).ok_or(Error::UnknownMember { member: to })?;
			let mut plain = Zeroizing::new(Vec::with_capacity(SHARE_PLAINTEXT_LEN));
			plain.extend_from_slice(&self.id.to_le_bytes());
			plain.extend_from_slice(&to.to_le_bytes());
			plain.extend_from_slice(&seed_share.values[0]);
			plain.extend_from_slice(&seed_share.values[1]);
			plain.extend_from_slice(&key_share.values[0]);
			plain.extend_from_slice(&key_share.values[1]);
			let ciphertext =
				keys::seal(&self.channel_secret, &peer.channel_key, self.id, to, &self.config.context, &plain)?;
			out.push(EncryptedShare { from: self.id, to, ciphertext });
		}
		let (own_seed_share, own_key_share) =
			own.ok_or(Error::InvalidRequest { reason: "no share for this member itself" })?;
		self.state = State::AwaitingShares { roster: members, graph, own_seed_share, own_key_share };
		Ok(ShareKeys { member: self.id, shares: out })
	}

	/// Phase 3: receive the neighbours' shares and mask `input`.
	///
	/// Every share must be addressed to this member, come from a neighbour,
	/// appear once and authenticate; otherwise nothing changes and the error
	/// names the offending sender.
	pub fn masked_input(&mut self, delivery: &ShareDelivery, input: &RingVector) -> Result<MaskedInput, Error> {
		let State::AwaitingShares { roster, graph, own_seed_share, own_key_share } = &self.state else {
			return Err(Error::UnexpectedMessage { message: "share delivery", phase: self.state.name() });
		};
		if input.ring() != self.config.ring {
			return Err(Error::RingMismatch { expected: self.config.ring, got: input.ring() });
		}
		if input.len() != self.config.vector_len {
			return Err(Error::WrongLength { member: self.id, expected: self.config.vector_len, got: input.len() });
		}
		if delivery.to != self.id {
			return Err(Error::InvalidRequest { reason: "delivery addressed to another member" });
		}
		let mut held = BTreeMap::new();
		for share in &delivery.shares {
			if share.to != self.id || !graph.are_neighbours(self.id, share.from) {
				return Err(Error::Misrouted { from: share.from, to: share.to });
			}
			if held.contains_key(&share.from) {
				return Err(Error::Duplicate { member: share.from });
			}
			let peer = roster.get(&share.from).ok_or(Error::UnknownMember { member: share.from })?;
			let plain = keys::open(
				&self.channel_secret,
				&peer.channel_key,
				share.from,
				self.id,
				&self.config.context,
				&share.ciphertext,
			)?;
			if plain.len() != SHARE_PLAINTEXT_LEN
				|| plain[..4] != share.from.to_le_bytes()
				|| plain[4..8] != self.id.to_le_bytes()
			{
				return Err(Error::ShareAuthentication { from: share.from });
			}
			let part = |offset: usize| -> [u8; 32] {
				let mut out = [0u8; 32];
				out.copy_from_slice(&plain[offset..offset + 32]);
				out
			};
			let seed_share = Share { holder: self.id, values: [part(8), part(40)] };
			let key_share = Share { holder: self.id, values: [part(72), part(104)] };
			held.insert(share.from, (seed_share, key_share));
		}
		let shared: BTreeSet<MemberId> = held.keys().copied().collect();
		if shared.len() + 1 < self.config.threshold {
			return Err(Error::TooFewSurvivors {
				member: self.id,
				have: shared.len() + 1,
				need: self.config.threshold,
			});
		}

		let self_seed = keys::self_mask_seed(&self.self_seed, self.id, &self.config.context);
		let mut pair_seeds = Vec::with_capacity(shared.len());
		for peer_id in &shared {
			let peer = roster.get(peer_id).ok_or(Error::UnknownMember { member: *peer_id })?;
			let seed =
				keys::pairwise_seed(&self.masking_secret, &peer.masking_key, self.id, *peer_id, &self.config.context)?;
			// The lower id adds, the higher subtracts: the pair cancels in the sum.
			pair_seeds.push((seed, self.id > *peer_id));
		}
		let mut masks: Vec<(&[u8; 32], bool)> = Vec::with_capacity(pair_seeds.len() + 1);
		masks.push((&self_seed, false));
		masks.extend(pair_seeds.iter().map(|(seed, subtract)| (&**seed, *subtract)));
		let mut vector = input.clone();
		prg::apply_masks(&mut vector, &masks);
		held.insert(self.id, (own_seed_share.clone(), own_key_share.clone()));
		let graph = graph.clone();
		self.state = State::AwaitingUnmask { shared, held, graph };
		Ok(MaskedInput { member: self.id, vector })
	}

	/// Phase 4: reveal, for itself and each neighbour that shared, exactly
	/// one kind of share: the self-mask seed's if it survived, the masking
	/// key's if it dropped out. A member answers one request only.
	pub fn unmask(&mut self, request: &UnmaskRequest) -> Result<UnmaskResponse, Error> {
		let State::AwaitingUnmask { shared, held, graph } = &self.state else {
			return match self.state {
				State::Done => Err(Error::AlreadyUnmasked),
				_ => Err(Error::UnexpectedMessage { message: "unmask request", phase: self.state.name() }),
			};
		};
		let survivors: BTreeSet<MemberId> = request.survivors.iter().copied().collect();
		let dropped: BTreeSet<MemberId> = request.dropped.iter().copied().collect();
		if survivors.len() != request.survivors.len() || dropped.len() != request.dropped.len() {
			return Err(Error::InvalidRequest { reason: "a member is listed twice" });
		}
		if survivors.intersection(&dropped).next().is_some() {
			return Err(Error::InvalidRequest { reason: "a member is both survivor and dropped" });
		}
		if !survivors.contains(&self.id) {
			return Err(Error::InvalidRequest { reason: "this member is not among the survivors" });
		}
		if survivors.len() < self.config.threshold {
			return Err(Error::TooFewSurvivors { member: self.id, have: survivors.len(), need: self.config.threshold });
		}
		// Every neighbour that shared must be classified, and nobody else:
		// a survivor outside the neighbourhood gets nothing from us.
		for peer in shared {
			if !survivors.contains(peer) && !dropped.contains(peer) {
				return Err(Error::InvalidRequest { reason: "a neighbour is neither survivor nor dropped" });
			}
		}
		for peer in &dropped {
			if graph.are_neighbours(self.id, *peer) && !shared.contains(peer) {
				return Err(Error::InvalidRequest { reason: "a dropped neighbour never shared with us" });
			}
		}
		let mut self_mask_shares = Vec::new();
		let mut mask_key_shares = Vec::new();
		for (owner, (seed_share, key_share)) in held {
			if survivors.contains(owner) {
				self_mask_shares.push((*owner, seed_share.clone()));
			} else if dropped.contains(owner) {
				mask_key_shares.push((*owner, key_share.clone()));
			}
		}
		self.state = State::Done;
		Ok(UnmaskResponse { member: self.id, self_mask_shares, mask_key_shares })
	}
}

impl Drop for Member {
	fn drop(&mut self) {
		self.self_seed.zeroize();
	}
}
