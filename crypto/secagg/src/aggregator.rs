//! The aggregator's side of a round: it routes shares, sums masked inputs
//! and removes the masks. It never holds enough to unmask one member.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
	keys::{self, SecretKey},
	messages::*,
	prg,
	ring::RingVector,
	shamir::{self, Share},
	Config, Error, MemberId, NeighbourGraph, SHARE_PLAINTEXT_LEN,
};

/// Ciphertext length of one encrypted share (plaintext plus the tag).
const SHARE_CIPHERTEXT_LEN: usize = SHARE_PLAINTEXT_LEN + 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
	AdvertiseKeys,
	ShareKeys,
	MaskedInput,
	Unmask,
	Done,
}

impl Phase {
	fn name(self) -> &'static str {
		match self {
			Phase::AdvertiseKeys => "advertise keys",
			Phase::ShareKeys => "share keys",
			Phase::MaskedInput => "masked input",
			Phase::Unmask => "unmask",
			Phase::Done => "done",
		}
	}
}

/// The aggregator's state machine. Feed it members' messages with the
/// `receive_*` methods; end a phase (at its quorum or deadline, the caller's
/// choice) with the matching `close_*` method, which returns what to send.
pub struct Aggregator {
	config: Config,
	phase: Phase,
	roster: BTreeMap<MemberId, AdvertiseKeys>,
	graph: Option<NeighbourGraph>,
	share_bundles: BTreeMap<MemberId, Vec<EncryptedShare>>,
	/// Members that shared (U2).
	shared: BTreeSet<MemberId>,
	sum: RingVector,
	/// Members whose masked input arrived (U3).
	masked: BTreeSet<MemberId>,
	dropped: BTreeSet<MemberId>,
	responses: BTreeMap<MemberId, UnmaskResponse>,
}

impl Aggregator {
	/// An aggregator for one round.
	pub fn new(config: Config) -> Self {
		let sum = RingVector::zeros(config.ring, config.vector_len);
		Self {
			config,
			phase: Phase::AdvertiseKeys,
			roster: BTreeMap::new(),
			graph: None,
			share_bundles: BTreeMap::new(),
			shared: BTreeSet::new(),
			sum,
			masked: BTreeSet::new(),
			dropped: BTreeSet::new(),
			responses: BTreeMap::new(),
		}
	}

	fn expect(&self, phase: Phase, message: &'static str) -> Result<(), Error> {
		if self.phase == phase {
			Ok(())
		} else {
			Err(Error::UnexpectedMessage { message, phase: self.phase.name() })
		}
	}

	fn graph(&self) -> Result<&NeighbourGraph, Error> {
		self.graph.as_ref().ok_or(Error::UnexpectedMessage { message: "graph", phase: self.phase.name() })
	}

	/// Phase 1: a member's public keys.
	pub fn receive_advertise(&mut self, advert: AdvertiseKeys) -> Result<(), Error> {
		self.expect(Phase::AdvertiseKeys, "advertised keys")?;
		if self.roster.contains_key(&advert.member) {
			return Err(Error::Duplicate { member: advert.member });
		}
		if advert.channel_key == advert.masking_key {
			return Err(Error::InvalidRequest { reason: "the two public keys must differ" });
		}
		self.roster.insert(advert.member, advert);
		Ok(())
	}

	/// Ends phase 1: the roster to send to every member.
	pub fn close_advertise(&mut self) -> Result<Roster, Error> {
		self.expect(Phase::AdvertiseKeys, "close of advertise keys")?;
		self.config.check_members(self.roster.len())?;
		if self.roster.len() < self.config.threshold {
			return Err(Error::TooFewSurvivors {
				member: self.lowest(),
				have: self.roster.len(),
				need: self.config.threshold,
			});
		}
		let ids: Vec<MemberId> = self.roster.keys().copied().collect();
		self.graph = Some(NeighbourGraph::new(&ids, self.config.degree, &self.config.graph_seed));
		self.phase = Phase::ShareKeys;
		Ok(Roster { members: self.roster.values().cloned().collect() })
	}

	fn lowest(&self) -> MemberId {
		self.roster.keys().next().copied().unwrap_or_default()
	}

	/// Phase 2: a member's encrypted shares, one per neighbour.
	pub fn receive_share_keys(&mut self, message: ShareKeys) -> Result<(), Error> {
		self.expect(Phase::ShareKeys, "share keys")?;
		let from = message.member;
		if !self.roster.contains_key(&from) {
			return Err(Error::UnknownMember { member: from });
		}
		if self.share_bundles.contains_key(&from) {
			return Err(Error::Duplicate { member: from });
		}
		let graph = self.graph()?;
		let mut seen = BTreeSet::new();
		for share in &message.shares {
			if share.from != from || !graph.are_neighbours(from, share.to) {
				return Err(Error::Misrouted { from: share.from, to: share.to });
			}
			if !seen.insert(share.to) {
				return Err(Error::Duplicate { member: from });
			}
			if share.ciphertext.len() != SHARE_CIPHERTEXT_LEN {
				return Err(Error::ShareAuthentication { from });
			}
		}
		if let Some(missing) = graph.neighbours(from).iter().find(|n| !seen.contains(*n)) {
			return Err(Error::MissingShare { from, to: *missing });
		}
		self.share_bundles.insert(from, message.shares);
		Ok(())
	}

	/// Ends phase 2: what to deliver to each member that shared.
	pub fn close_share_keys(&mut self) -> Result<Vec<ShareDelivery>, Error> {
		self.expect(Phase::ShareKeys, "close of share keys")?;
		self.shared = self.share_bundles.keys().copied().collect();
		if self.shared.len() < self.config.threshold {
			return Err(Error::TooFewSurvivors {
				member: self.lowest(),
				have: self.shared.len(),
				need: self.config.threshold,
			});
		}
		let mut deliveries: BTreeMap<MemberId, Vec<EncryptedShare>> =
			self.shared.iter().map(|m| (*m, Vec::new())).collect();
		for bundle in self.share_bundles.values() {
			for share in bundle {
				if let Some(inbox) = deliveries.get_mut(&share.to) {
					inbox.push(share.clone());
				}
			}
		}
		self.phase = Phase::MaskedInput;
		Ok(deliveries.into_iter().map(|(to, shares)| ShareDelivery { to, shares }).collect())
	}

	/// Phase 3: a member's masked input, added to the running sum at once.
	pub fn receive_masked_input(&mut self, message: MaskedInput) -> Result<(), Error> {
		self.expect(Phase::MaskedInput, "masked input")?;
		let member = message.member;
		if !self.shared.contains(&member) {
			return Err(Error::UnknownMember { member });
		}
		if self.masked.contains(&member) {
			return Err(Error::Duplicate { member });
		}
		if message.vector.ring() != self.config.ring {
			return Err(Error::RingMismatch { expected: self.config.ring, got: message.vector.ring() });
		}
		if message.vector.len() != self.config.vector_len {
			return Err(Error::WrongLength { member, expected: self.config.vector_len, got: message.vector.len() });
		}
		self.sum.add_assign(&message.vector);
		self.masked.insert(member);
		Ok(())
	}

	/// Ends phase 3: the request to send to every survivor. Fails at once if
	/// the survivors could not unmask some member's secrets.
	pub fn close_masked_input(&mut self) -> Result<UnmaskRequest, Error> {
		self.expect(Phase::MaskedInput, "close of masked input")?;
		self.dropped = self.shared.difference(&self.masked).copied().collect();
		self.check_recoverable(&self.masked)?;
		self.phase = Phase::Unmask;
		Ok(UnmaskRequest {
			survivors: self.masked.iter().copied().collect(),
			dropped: self.dropped.iter().copied().collect(),
		})
	}

	/// Whether `helpers` (members that can give shares) hold at least
	/// `threshold` shares of every secret that must be reconstructed.
	fn check_recoverable(&self, helpers: &BTreeSet<MemberId>) -> Result<(), Error> {
		let graph = self.graph()?;
		let t = self.config.threshold;
		if self.masked.len() < t {
			return Err(Error::TooFewSurvivors { member: self.lowest(), have: self.masked.len(), need: t });
		}
		for owner in self.masked.iter().chain(self.dropped.iter()) {
			let mut have = graph.neighbours(*owner).iter().filter(|n| helpers.contains(n)).count();
			if helpers.contains(owner) {
				have += 1;
			}
			if have < t {
				return Err(Error::TooFewSurvivors { member: *owner, have, need: t });
			}
		}
		Ok(())
	}

	/// Phase 4: a survivor's shares. Each must be held by the sender, for a
	/// member in its neighbourhood, and of the one kind that member's fate
	/// allows; anything else is refused whole.
	pub fn receive_unmask(&mut self, response: UnmaskResponse) -> Result<(), Error> {
		self.expect(Phase::Unmask, "unmask response")?;
		let member = response.member;
		if !self.masked.contains(&member) {
			return Err(Error::UnknownMember { member });
		}
		if self.responses.contains_key(&member) {
			return Err(Error::Duplicate { member });
		}
		let graph = self.graph()?;
		let in_reach = |owner: MemberId| owner == member || graph.are_neighbours(member, owner);
		let mut owners = BTreeSet::new();
		for (owner, share) in &response.self_mask_shares {
			if share.holder != member || !in_reach(*owner) || !self.masked.contains(owner) {
				return Err(Error::Misrouted { from: *owner, to: member });
			}
			if !owners.insert(*owner) {
				return Err(Error::Duplicate { member });
			}
		}
		for (owner, share) in &response.mask_key_shares {
			if share.holder != member || !in_reach(*owner) || !self.dropped.contains(owner) {
				return Err(Error::Misrouted { from: *owner, to: member });
			}
			// `owners` already holds every self-mask owner: one kind per peer.
			if !owners.insert(*owner) {
				return Err(Error::Duplicate { member });
			}
		}
		self.responses.insert(member, response);
		Ok(())
	}

	/// Ends the round: reconstructs the secrets, removes every mask and
	/// returns the exact sum of the survivors' inputs.
	pub fn finish(&mut self) -> Result<RingVector, Error> {
		self.expect(Phase::Unmask, "finish")?;
		let helpers: BTreeSet<MemberId> = self.responses.keys().copied().collect();
		self.check_recoverable(&helpers)?;
		let t = self.config.threshold;
		let context = self.config.context.clone();

		let mut seed_shares: BTreeMap<MemberId, Vec<Share>> = BTreeMap::new();
		let mut key_shares: BTreeMap<MemberId, Vec<Share>> = BTreeMap::new();
		for response in self.responses.values() {
			for (owner, share) in &response.self_mask_shares {
				seed_shares.entry(*owner).or_default().push(share.clone());
			}
			for (owner, share) in &response.mask_key_shares {
				key_shares.entry(*owner).or_default().push(share.clone());
			}
		}

		// Collect every mask to remove, then remove them all in one pass.
		let mut seeds: Vec<(zeroize::Zeroizing<[u8; 32]>, bool)> = Vec::new();
		for owner in &self.masked {
			let shares = seed_shares.get(owner).map(Vec::as_slice).unwrap_or(&[]);
			let seed = reconstruct_checked(*owner, shares, t)?;
			seeds.push((keys::self_mask_seed(&seed, *owner, &context), true));
		}
		let graph = self.graph()?.clone();
		for owner in &self.dropped {
			let shares = key_shares.get(owner).map(Vec::as_slice).unwrap_or(&[]);
			let secret = SecretKey::from_bytes(*reconstruct_checked(*owner, shares, t)?);
			let advert = self.roster.get(owner).ok_or(Error::UnknownMember { member: *owner })?;
			if secret.public() != advert.masking_key {
				return Err(Error::InconsistentSecret { member: *owner });
			}
			for peer in graph.neighbours(*owner).iter().filter(|p| self.masked.contains(p)) {
				let peer_key = &self.roster.get(peer).ok_or(Error::UnknownMember { member: *peer })?.masking_key;
				let seed = keys::pairwise_seed(&secret, peer_key, *owner, *peer, &context)?;
				// The survivor added the mask if its id is lower, else
				// subtracted it; undo exactly that.
				seeds.push((seed, *peer < *owner));
			}
		}
		let masks: Vec<(&[u8; 32], bool)> = seeds.iter().map(|(seed, sub)| (&**seed, *sub)).collect();
		let mut sum = self.sum.clone();
		prg::apply_masks(&mut sum, &masks);
		self.phase = Phase::Done;
		Ok(sum)
	}
}

/// Reconstructs a secret from `t` shares and, when more are at hand,
/// checks it against a second, different set of `t` shares.
fn reconstruct_checked(owner: MemberId, shares: &[Share], t: usize) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
	if shares.len() < t {
		return Err(Error::TooFewSurvivors { member: owner, have: shares.len(), need: t });
	}
	let first = zeroize::Zeroizing::new(
		shamir::reconstruct(shares, t).map_err(|_| Error::InconsistentSecret { member: owner })?,
	);
	if shares.len() > t {
		let last = zeroize::Zeroizing::new(
			shamir::reconstruct(&shares[shares.len() - t..], t)
				.map_err(|_| Error::InconsistentSecret { member: owner })?,
		);
		if *first != *last {
			return Err(Error::InconsistentSecret { member: owner });
		}
	}
	Ok(first)
}
