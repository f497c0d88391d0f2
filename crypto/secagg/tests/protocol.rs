//! The whole protocol through the public API: exact sums under any dropout
//! pattern that leaves enough members, named errors otherwise, and every
//! kind of bad input refused without derailing the round.

use std::collections::BTreeSet;

use delta_secagg::*;
use proptest::prelude::*;
use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

fn config(threshold: usize, degree: usize, d: usize, ring: Ring) -> Config {
	Config {
		context: RoundContext { task_id: b"task-7".to_vec(), round: 2 },
		threshold,
		degree,
		vector_len: d,
		ring,
		graph_seed: [42; 32],
	}
}

fn input(ring: Ring, d: usize, member: MemberId) -> RingVector {
	// Values near the ring's edges, so wrap-around is exercised.
	let v: Vec<u128> = (0..d as u128).map(|i| (i * 7919 + u128::from(member) * 104_729) ^ (u128::MAX - i)).collect();
	match ring {
		Ring::Bits32 => RingVector::U32(v.iter().map(|x| *x as u32).collect()),
		Ring::Bits64 => RingVector::U64(v.iter().map(|x| *x as u64).collect()),
		Ring::Bits128 => RingVector::U128(v),
	}
}

#[derive(Debug, Clone)]
struct Scenario {
	n: u32,
	threshold: usize,
	degree: usize,
	d: usize,
	ring: Ring,
	/// Per member: the phase it stops taking part in (0 advertise, 1 share
	/// keys, 2 masked input, 3 unmask, 4 never).
	leaves_at: Vec<u8>,
	seed: u64,
}

fn scenario() -> impl Strategy<Value = Scenario> {
	(2u32..11, 1usize..12, 0usize..40, prop_oneof![Just(Ring::Bits32), Just(Ring::Bits64), Just(Ring::Bits128)], any::<u64>())
		.prop_flat_map(|(n, degree, d, ring, seed)| {
			let neighbourhood = if degree + 1 >= n as usize { n as usize } else { 2 * degree.div_ceil(2) + 1 };
			(
				Just(n),
				1usize..=neighbourhood,
				Just(degree),
				Just(d),
				Just(ring),
				proptest::collection::vec(prop_oneof![1 => 0u8..4, 4 => Just(4u8)], n as usize),
				Just(seed),
			)
		})
		.prop_map(|(n, threshold, degree, d, ring, leaves_at, seed)| Scenario {
			n,
			threshold,
			degree,
			d,
			ring,
			leaves_at,
			seed,
		})
}

/// Runs the scenario; returns the sum, or the first error from a phase close.
fn run(s: &Scenario) -> (Result<RingVector, Error>, RingVector, BTreeSet<MemberId>) {
	let cfg = config(s.threshold, s.degree, s.d, s.ring);
	let mut rng = ChaCha20Rng::seed_from_u64(s.seed);
	let mut agg = Aggregator::new(cfg.clone());
	let mut members = Vec::new();
	for id in 0..s.n {
		let (m, advert) = Member::new(cfg.clone(), id, &mut rng);
		if s.leaves_at[id as usize] > 0 {
			agg.receive_advertise(advert).unwrap();
			members.push(m);
		}
	}
	let expected_none = RingVector::zeros(s.ring, s.d);
	let roster = match agg.close_advertise() {
		Ok(r) => r,
		Err(e) => return (Err(e), expected_none, BTreeSet::new()),
	};
	let mut sharing = Vec::new();
	for mut m in members {
		if s.leaves_at[m.id() as usize] > 1 {
			agg.receive_share_keys(m.share_keys(&roster, &mut rng).unwrap()).unwrap();
			sharing.push(m);
		}
	}
	let deliveries = match agg.close_share_keys() {
		Ok(d) => d,
		Err(e) => return (Err(e), expected_none, BTreeSet::new()),
	};
	let mut expected = RingVector::zeros(s.ring, s.d);
	let mut survivors = Vec::new();
	let mut u3 = BTreeSet::new();
	for (mut m, delivery) in sharing.into_iter().zip(&deliveries) {
		assert_eq!(delivery.to, m.id());
		if s.leaves_at[m.id() as usize] > 2 {
			let x = input(s.ring, s.d, m.id());
			// A member whose neighbourhood is too thin refuses to mask; it
			// counts as dropped.
			if let Ok(masked) = m.masked_input(delivery, &x) {
				agg.receive_masked_input(masked).unwrap();
				expected.add_assign(&x);
				u3.insert(m.id());
				survivors.push(m);
			}
		}
	}
	let request = match agg.close_masked_input() {
		Ok(r) => r,
		Err(e) => return (Err(e), expected, u3),
	};
	for mut m in survivors {
		if s.leaves_at[m.id() as usize] > 3 {
			agg.receive_unmask(m.unmask(&request).unwrap()).unwrap();
		}
	}
	(agg.finish(), expected, u3)
}

/// The condition under which the sum must come out, computed independently.
fn recoverable(s: &Scenario, u3: &BTreeSet<MemberId>) -> bool {
	let u1: Vec<MemberId> = (0..s.n).filter(|i| s.leaves_at[*i as usize] > 0).collect();
	let cfg = config(s.threshold, s.degree, s.d, s.ring);
	if u1.len() < s.threshold || cfg.check_members(u1.len()).is_err() {
		return false;
	}
	let u2: BTreeSet<MemberId> = u1.iter().copied().filter(|i| s.leaves_at[*i as usize] > 1).collect();
	if u2.len() < s.threshold || u3.len() < s.threshold {
		return false;
	}
	let graph = NeighbourGraph::new(&u1, s.degree, &[42; 32]);
	let responders: BTreeSet<MemberId> = u3.iter().copied().filter(|i| s.leaves_at[*i as usize] > 3).collect();
	u2.iter().all(|owner| {
		let have = graph.neighbours(*owner).iter().filter(|n| responders.contains(n)).count()
			+ usize::from(responders.contains(owner) && u3.contains(owner));
		// Owners in U2 but not U3 need mask-key shares; owners in U3 need
		// self-mask shares (their own included).
		have >= s.threshold
	})
}

proptest! {
	#![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

	#[test]
	fn the_sum_is_exact_whenever_enough_members_remain(s in scenario()) {
		let (result, expected, u3) = run(&s);
		if recoverable(&s, &u3) {
			prop_assert_eq!(result.expect("recoverable round failed"), expected);
		} else {
			prop_assert!(result.is_err(), "unrecoverable round returned a sum");
		}
	}
}

/// A round with 5 members, complete graph, t = 3, through masked input.
struct Midway {
	agg: Aggregator,
	members: Vec<Member>,
	roster: Roster,
	deliveries: Vec<ShareDelivery>,
	rng: ChaCha20Rng,
}

fn midway() -> Midway {
	midway_with(8, 9)
}

fn midway_with(d: usize, seed: u64) -> Midway {
	let cfg = config(3, 4, d, Ring::Bits64);
	let mut rng = ChaCha20Rng::seed_from_u64(seed);
	let mut agg = Aggregator::new(cfg.clone());
	let mut members = Vec::new();
	for id in 0..5 {
		let (m, advert) = Member::new(cfg.clone(), id, &mut rng);
		agg.receive_advertise(advert).unwrap();
		members.push(m);
	}
	let roster = agg.close_advertise().unwrap();
	for m in members.iter_mut() {
		agg.receive_share_keys(m.share_keys(&roster, &mut rng).unwrap()).unwrap();
	}
	let deliveries = agg.close_share_keys().unwrap();
	Midway { agg, members, roster, deliveries, rng }
}

#[test]
fn bad_messages_are_refused_by_name_and_the_round_goes_on() {
	let Midway { mut agg, mut members, roster, deliveries, mut rng } = midway();

	// A member refuses a tampered share, a share replayed under another
	// sender, a duplicate and a wrong-length input, and stays usable.
	let good = &deliveries[0];
	let x = input(Ring::Bits64, 8, 0);
	let mut tampered = good.clone();
	tampered.shares[0].ciphertext[3] ^= 0x40;
	assert_eq!(
		members[0].masked_input(&tampered, &x).err(),
		Some(Error::ShareAuthentication { from: tampered.shares[0].from })
	);
	let mut relabelled = good.clone();
	relabelled.shares[0].from = relabelled.shares[1].from;
	assert!(matches!(
		members[0].masked_input(&relabelled, &x).err(),
		Some(Error::Duplicate { .. } | Error::ShareAuthentication { .. })
	));
	let mut duplicated = good.clone();
	duplicated.shares.push(duplicated.shares[0].clone());
	assert_eq!(
		members[0].masked_input(&duplicated, &x).err(),
		Some(Error::Duplicate { member: good.shares[0].from })
	);
	assert_eq!(
		members[0].masked_input(good, &input(Ring::Bits64, 7, 0)).err(),
		Some(Error::WrongLength { member: 0, expected: 8, got: 7 })
	);
	assert_eq!(
		members[0].masked_input(good, &RingVector::zeros(Ring::Bits32, 8)).err(),
		Some(Error::RingMismatch { expected: Ring::Bits64, got: Ring::Bits32 })
	);
	let mut expected = RingVector::zeros(Ring::Bits64, 8);
	let mut masked = Vec::new();
	for (m, d) in members.iter_mut().zip(&deliveries) {
		let x = input(Ring::Bits64, 8, m.id());
		expected.add_assign(&x);
		masked.push(m.masked_input(d, &x).unwrap());
	}

	// The aggregator refuses a stranger, a wrong length and a replay.
	assert_eq!(
		agg.receive_masked_input(MaskedInput { member: 77, vector: RingVector::zeros(Ring::Bits64, 8) }),
		Err(Error::UnknownMember { member: 77 })
	);
	assert_eq!(
		agg.receive_masked_input(MaskedInput { member: 1, vector: RingVector::zeros(Ring::Bits64, 9) }),
		Err(Error::WrongLength { member: 1, expected: 8, got: 9 })
	);
	for m in &masked {
		agg.receive_masked_input(m.clone()).unwrap();
	}
	assert_eq!(agg.receive_masked_input(masked[2].clone()), Err(Error::Duplicate { member: 2 }));
	assert_eq!(
		agg.receive_share_keys(ShareKeys { member: 0, shares: vec![] }),
		Err(Error::UnexpectedMessage { message: "share keys", phase: "masked input" })
	);
	let request = agg.close_masked_input().unwrap();
	for m in members.iter_mut() {
		agg.receive_unmask(m.unmask(&request).unwrap()).unwrap();
	}
	assert_eq!(agg.finish().unwrap(), expected);
	let _ = (roster, &mut rng);
}

#[test]
fn no_member_ever_reveals_both_kinds_of_share_for_one_peer() {
	let Midway { mut agg, mut members, deliveries, .. } = midway();
	// Member 4 drops after sharing keys.
	let mut expected = RingVector::zeros(Ring::Bits64, 8);
	for (m, d) in members.iter_mut().zip(&deliveries).take(4) {
		let x = input(Ring::Bits64, 8, m.id());
		expected.add_assign(&x);
		agg.receive_masked_input(m.masked_input(d, &x).unwrap()).unwrap();
	}
	let request = agg.close_masked_input().unwrap();
	assert_eq!(request.dropped, vec![4]);

	let response = members[0].unmask(&request).unwrap();
	assert!(response.self_mask_shares.iter().all(|(owner, _)| *owner != 4));
	assert_eq!(response.mask_key_shares.iter().map(|(o, _)| *o).collect::<Vec<_>>(), vec![4]);
	// A second request that calls member 4 a survivor would get its
	// self-mask share too: the member answers only once.
	let flipped = UnmaskRequest { survivors: vec![0, 1, 2, 4], dropped: vec![3] };
	assert_eq!(members[0].unmask(&flipped).err(), Some(Error::AlreadyUnmasked));

	// A response that carries both kinds for one peer is refused whole.
	let mut both = members[1].unmask(&request).unwrap();
	let stolen = both.mask_key_shares[0].1.clone();
	both.self_mask_shares.push((4, stolen));
	assert_eq!(agg.receive_unmask(both), Err(Error::Misrouted { from: 4, to: 1 }));

	agg.receive_unmask(response).unwrap();
	for m in members.iter_mut().take(4).skip(2) {
		agg.receive_unmask(m.unmask(&request).unwrap()).unwrap();
	}
	// Member 1's refused response is not needed: 0, 2, 3 make t = 3.
	assert_eq!(agg.finish().unwrap(), expected);
}

#[test]
fn fewer_than_threshold_is_a_named_error() {
	let Midway { mut agg, mut members, deliveries, .. } = midway();
	for (m, d) in members.iter_mut().zip(&deliveries).take(2) {
		agg.receive_masked_input(m.masked_input(d, &input(Ring::Bits64, 8, m.id())).unwrap()).unwrap();
	}
	assert!(matches!(agg.close_masked_input(), Err(Error::TooFewSurvivors { need: 3, .. })));
}

#[test]
fn wrong_shares_are_detected_not_summed() {
	let Midway { mut agg, mut members, deliveries, .. } = midway();
	for (m, d) in members.iter_mut().zip(&deliveries).take(4) {
		agg.receive_masked_input(m.masked_input(d, &input(Ring::Bits64, 8, m.id())).unwrap()).unwrap();
	}
	let request = agg.close_masked_input().unwrap();
	for (i, m) in members.iter_mut().take(4).enumerate() {
		let mut response = m.unmask(&request).unwrap();
		if i == 0 {
			// A lying member corrupts its share of the dropped member's key.
			response.mask_key_shares[0].1.values[0][0] ^= 1;
		}
		agg.receive_unmask(response).unwrap();
	}
	assert_eq!(agg.finish(), Err(Error::InconsistentSecret { member: 4 }));
}

#[test]
fn messages_from_strangers_and_replays_are_refused() {
	let cfg = config(2, 2, 4, Ring::Bits32);
	let mut rng = ChaCha20Rng::seed_from_u64(5);
	let mut agg = Aggregator::new(cfg.clone());
	let (mut a, advert_a) = Member::new(cfg.clone(), 0, &mut rng);
	let (_, advert_b) = Member::new(cfg.clone(), 1, &mut rng);
	agg.receive_advertise(advert_a.clone()).unwrap();
	assert_eq!(agg.receive_advertise(advert_a), Err(Error::Duplicate { member: 0 }));
	agg.receive_advertise(advert_b).unwrap();
	let roster = agg.close_advertise().unwrap();
	let shares = a.share_keys(&roster, &mut rng).unwrap();
	let mut stranger = shares.clone();
	stranger.member = 9;
	assert_eq!(agg.receive_share_keys(stranger), Err(Error::UnknownMember { member: 9 }));
	agg.receive_share_keys(shares.clone()).unwrap();
	assert_eq!(agg.receive_share_keys(shares), Err(Error::Duplicate { member: 0 }));
	// A roster that leaves the member out is refused.
	let (mut c, _) = Member::new(cfg, 2, &mut rng);
	assert!(matches!(c.share_keys(&roster, &mut rng), Err(Error::InvalidRequest { .. })));
}

#[test]
fn a_masked_vector_looks_uniform() {
	// An all-zero input, masked: chi-square over byte values with 255
	// degrees of freedom. Mean 255, sd ~22.6; 400 is beyond 6 sd.
	let Midway { mut members, deliveries, .. } = midway_with(20_000, 11);
	let masked = members[0].masked_input(&deliveries[0], &RingVector::zeros(Ring::Bits64, 20_000)).unwrap();
	let RingVector::U64(values) = masked.vector else { panic!("ring changed") };
	let mut counts = [0u64; 256];
	for v in &values {
		for b in v.to_le_bytes() {
			counts[b as usize] += 1;
		}
	}
	let total: u64 = counts.iter().sum();
	let expect = total as f64 / 256.0;
	let chi2: f64 = counts.iter().map(|c| (*c as f64 - expect).powi(2) / expect).sum();
	assert!(chi2 < 400.0, "chi-square {chi2} says the masked vector is not uniform");
	// And the top bit of each element is set about half the time.
	let high = values.iter().filter(|v| **v >> 63 == 1).count() as f64 / values.len() as f64;
	assert!((high - 0.5).abs() < 0.02, "top bit set in {high} of elements");
}
