//! Key agreement and the derived keys of one round.
//!
//! Every member holds two X25519 key pairs per round: the *channel* pair,
//! whose agreement keys the AEAD that carries Shamir shares between two
//! members through the aggregator, and the *masking* pair, whose agreement
//! seeds the pairwise masks. Every key derived from a shared secret goes
//! through HKDF-SHA256 with a distinct label and the round's context
//! (task id, round), so no two uses of a secret can collide.

use chacha20poly1305::{
	aead::{Aead, KeyInit, Payload},
	ChaCha20Poly1305,
};
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::{Zeroize, Zeroizing};

use crate::{Error, MemberId, RoundContext};

const SHARE_KEY_LABEL: &[u8] = b"delta-secagg/v1/share-key";
const PAIR_MASK_LABEL: &[u8] = b"delta-secagg/v1/pairwise-mask";
const SELF_MASK_LABEL: &[u8] = b"delta-secagg/v1/self-mask";

/// An X25519 secret key; zeroized on drop, neither `Debug` nor `Clone`.
pub struct SecretKey(StaticSecret);

impl SecretKey {
	/// A fresh key from a cryptographic RNG.
	pub fn generate<R: RngCore + CryptoRng>(rng: &mut R) -> Self {
		Self(StaticSecret::random_from_rng(rng))
	}

	/// The key from its 32 bytes (as reconstructed from shares).
	pub fn from_bytes(bytes: [u8; 32]) -> Self {
		Self(StaticSecret::from(bytes))
	}

	/// The secret bytes, for secret sharing.
	pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
		Zeroizing::new(self.0.to_bytes())
	}

	/// The public key.
	pub fn public(&self) -> [u8; 32] {
		PublicKey::from(&self.0).to_bytes()
	}

	fn agree(&self, peer: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, Error> {
		let shared = self.0.diffie_hellman(&PublicKey::from(*peer));
		// A low-order peer key yields an all-zero secret that anyone knows.
		if !shared.was_contributory() {
			return Err(Error::WeakPublicKey);
		}
		Ok(Zeroizing::new(shared.to_bytes()))
	}
}

fn derive(ikm: &[u8], context: &RoundContext, label: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
	let mut salt = Vec::with_capacity(context.task_id.len() + 8);
	salt.extend_from_slice(&context.task_id);
	salt.extend_from_slice(&context.round.to_le_bytes());
	let mut full_info = Vec::with_capacity(label.len() + info.len());
	full_info.extend_from_slice(label);
	full_info.extend_from_slice(info);
	let mut out = Zeroizing::new([0u8; 32]);
	Hkdf::<Sha256>::new(Some(&salt), ikm)
		.expand(&full_info, out.as_mut_slice())
		.expect("32 bytes is a valid HKDF-SHA256 output length");
	out
}

/// The seed of the mask between `a` and `b`, from `a`'s masking secret and
/// `b`'s masking public key (the same from either side).
pub fn pairwise_seed(
	secret: &SecretKey,
	peer_public: &[u8; 32],
	a: MemberId,
	b: MemberId,
	context: &RoundContext,
) -> Result<Zeroizing<[u8; 32]>, Error> {
	let shared = secret.agree(peer_public)?;
	let (lo, hi) = if a < b { (a, b) } else { (b, a) };
	let mut info = [0u8; 8];
	info[..4].copy_from_slice(&lo.to_le_bytes());
	info[4..].copy_from_slice(&hi.to_le_bytes());
	Ok(derive(shared.as_slice(), context, PAIR_MASK_LABEL, &info))
}

/// The PRG seed of a member's self mask, from its secret 32-byte seed.
pub fn self_mask_seed(seed: &[u8; 32], member: MemberId, context: &RoundContext) -> Zeroizing<[u8; 32]> {
	derive(seed, context, SELF_MASK_LABEL, &member.to_le_bytes())
}

fn associated_data(context: &RoundContext, from: MemberId, to: MemberId) -> Vec<u8> {
	let mut ad = Vec::with_capacity(context.task_id.len() + 16);
	ad.extend_from_slice(&(context.task_id.len() as u32).to_le_bytes());
	ad.extend_from_slice(&context.task_id);
	ad.extend_from_slice(&context.round.to_le_bytes());
	ad.extend_from_slice(&from.to_le_bytes());
	ad.extend_from_slice(&to.to_le_bytes());
	ad
}

fn share_cipher(
	secret: &SecretKey,
	peer_public: &[u8; 32],
	from: MemberId,
	to: MemberId,
	context: &RoundContext,
) -> Result<ChaCha20Poly1305, Error> {
	let shared = secret.agree(peer_public)?;
	let mut info = [0u8; 8];
	info[..4].copy_from_slice(&from.to_le_bytes());
	info[4..].copy_from_slice(&to.to_le_bytes());
	let key = derive(shared.as_slice(), context, SHARE_KEY_LABEL, &info);
	Ok(ChaCha20Poly1305::new(key.as_slice().into()))
}

/// Encrypts `plaintext` from `from` to `to`. Each (round, from, to) key is
/// used for exactly one message, so the nonce is fixed.
pub fn seal(
	secret: &SecretKey,
	peer_public: &[u8; 32],
	from: MemberId,
	to: MemberId,
	context: &RoundContext,
	plaintext: &[u8],
) -> Result<Vec<u8>, Error> {
	let cipher = share_cipher(secret, peer_public, from, to, context)?;
	let ad = associated_data(context, from, to);
	cipher
		.encrypt(&[0u8; 12].into(), Payload { msg: plaintext, aad: &ad })
		.map_err(|_| Error::ShareAuthentication { from })
}

/// Decrypts and authenticates a message from `from` to `to`.
pub fn open(
	secret: &SecretKey,
	peer_public: &[u8; 32],
	from: MemberId,
	to: MemberId,
	context: &RoundContext,
	ciphertext: &[u8],
) -> Result<Zeroizing<Vec<u8>>, Error> {
	let cipher = share_cipher(secret, peer_public, from, to, context)?;
	let ad = associated_data(context, from, to);
	let mut plain = cipher
		.decrypt(&[0u8; 12].into(), Payload { msg: ciphertext, aad: &ad })
		.map_err(|_| Error::ShareAuthentication { from })?;
	let out = Zeroizing::new(plain.clone());
	plain.zeroize();
	Ok(out)
}

#[cfg(test)]
mod tests {
	use super::*;
	use rand_chacha::{rand_core::SeedableRng, ChaCha20Rng};

	fn ctx() -> RoundContext {
		RoundContext { task_id: b"task-1".to_vec(), round: 3 }
	}

	#[test]
	fn both_sides_derive_the_same_pairwise_seed() {
		let mut rng = ChaCha20Rng::seed_from_u64(1);
		let a = SecretKey::generate(&mut rng);
		let b = SecretKey::generate(&mut rng);
		let ab = pairwise_seed(&a, &b.public(), 1, 2, &ctx()).unwrap();
		let ba = pairwise_seed(&b, &a.public(), 2, 1, &ctx()).unwrap();
		assert_eq!(*ab, *ba);
		let other_round = RoundContext { round: 4, ..ctx() };
		assert_ne!(*ab, *pairwise_seed(&a, &b.public(), 1, 2, &other_round).unwrap());
	}

	#[test]
	fn shares_are_bound_to_sender_receiver_and_round() {
		let mut rng = ChaCha20Rng::seed_from_u64(2);
		let a = SecretKey::generate(&mut rng);
		let b = SecretKey::generate(&mut rng);
		let sealed = seal(&a, &b.public(), 1, 2, &ctx(), b"share").unwrap();
		assert_eq!(open(&b, &a.public(), 1, 2, &ctx(), &sealed).unwrap().as_slice(), b"share");
		// Replayed in another round, or claimed by another sender: refused.
		let round4 = RoundContext { round: 4, ..ctx() };
		assert_eq!(open(&b, &a.public(), 1, 2, &round4, &sealed).err(), Some(Error::ShareAuthentication { from: 1 }));
		assert_eq!(open(&b, &a.public(), 3, 2, &ctx(), &sealed).err(), Some(Error::ShareAuthentication { from: 3 }));
		let mut tampered = sealed.clone();
		tampered[0] ^= 1;
		assert!(open(&b, &a.public(), 1, 2, &ctx(), &tampered).is_err());
	}

	#[test]
	fn low_order_public_keys_are_refused() {
		let mut rng = ChaCha20Rng::seed_from_u64(3);
		let a = SecretKey::generate(&mut rng);
		assert_eq!(pairwise_seed(&a, &[0u8; 32], 1, 2, &ctx()).err(), Some(Error::WeakPublicKey));
	}
}
