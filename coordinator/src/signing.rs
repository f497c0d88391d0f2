//! Signed calls: who sent a call, and that it is not a replay.
//!
//! A caller signs, with its sr25519 key, the bytes
//! `b"delta-coordinator/v1:" ++ instance ++ payload`, where `instance` is the
//! coordinator's 32-byte identity (from `coordinator_info`) and `payload` is
//! the exact JSON text of a [`SignedPayload`] `{"nonce": n, "call": {...}}`.
//! Signing the text as sent means no canonical JSON form is needed. The
//! signature uses Substrate's sr25519 signing context (`"substrate"`), so
//! polkadot.js and substrate-interface keypairs sign calls unchanged.
//!
//! Replay protection: the nonce must equal the signer's next nonce, which
//! every accepted or rule-refused call uses up; the instance binds the
//! signature to one coordinator, the domain prefix to this protocol.

use crate::{
	error::CallError,
	types::{AccountId, Call, SignedPayload},
};
use serde::{Deserialize, Serialize};
use sp_core::{sr25519, Pair as _};

/// Prefix of every signed message.
pub const SIGNING_DOMAIN: &[u8] = b"delta-coordinator/v1:";

/// Largest payload accepted, in bytes: a reveal of 128 shares of 128 bytes
/// in hex with its JSON fits with room to spare.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// A call as submitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCall {
	/// The signer's account (SS58 or `0x` hex public key).
	pub signer: String,
	/// The JSON text of a [`SignedPayload`], exactly as signed.
	pub payload: String,
	/// The sr25519 signature, `0x` followed by 128 hex digits.
	pub signature: String,
}

/// The bytes a signer signs.
pub fn signing_message(instance: &[u8; 32], payload: &str) -> Vec<u8> {
	let mut message = Vec::with_capacity(SIGNING_DOMAIN.len() + 32 + payload.len());
	message.extend_from_slice(SIGNING_DOMAIN);
	message.extend_from_slice(instance);
	message.extend_from_slice(payload.as_bytes());
	message
}

/// Checks size, signer, signature and payload form; returns the signer and
/// the payload. The nonce is checked by the ledger.
pub fn verify(instance: &[u8; 32], signed: &SignedCall) -> Result<(AccountId, SignedPayload), CallError> {
	if signed.payload.len() > MAX_PAYLOAD_BYTES {
		return Err(CallError::PayloadTooLarge { size: signed.payload.len(), limit: MAX_PAYLOAD_BYTES });
	}
	let signer = AccountId::parse(&signed.signer).map_err(|e| CallError::Malformed(format!("signer: {e}")))?;
	let raw = signed
		.signature
		.strip_prefix("0x")
		.and_then(|h| hex::decode(h).ok())
		.and_then(|b| <[u8; 64]>::try_from(b).ok())
		.ok_or_else(|| CallError::Malformed("signature: expected 0x and 64 bytes of hex".into()))?;
	let signature = sr25519::Signature::from_raw(raw);
	let public = sr25519::Public::from_raw(signer.0);
	if !sr25519::Pair::verify(&signature, signing_message(instance, &signed.payload), &public) {
		return Err(CallError::BadSignature);
	}
	let payload: SignedPayload = serde_json::from_str(&signed.payload)?;
	Ok((signer, payload))
}

/// Signs `call` with nonce `nonce` for the coordinator `instance`; what a
/// Rust client (or a test) does before submitting.
pub fn sign(pair: &sr25519::Pair, instance: &[u8; 32], nonce: u64, call: &Call) -> SignedCall {
	let payload =
		serde_json::to_string(&SignedPayload { nonce, call: call.clone() }).unwrap_or_else(|_| String::from("{}"));
	let signature = pair.sign(&signing_message(instance, &payload));
	SignedCall {
		signer: AccountId(pair.public().0).to_ss58(),
		payload,
		signature: format!("0x{}", hex::encode(signature.0)),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn pair(seed: &str) -> sr25519::Pair {
		sr25519::Pair::from_string(seed, None).unwrap()
	}

	#[test]
	fn a_signed_call_verifies_and_tampering_is_detected() {
		let instance = [5; 32];
		let alice = pair("//Alice");
		let signed = sign(&alice, &instance, 3, &Call::Leave);
		let (who, payload) = verify(&instance, &signed).unwrap();
		assert_eq!(who.0, alice.public().0);
		assert_eq!(payload, SignedPayload { nonce: 3, call: Call::Leave });

		let mut other_nonce = signed.clone();
		other_nonce.payload = other_nonce.payload.replace("\"nonce\":3", "\"nonce\":4");
		assert!(matches!(verify(&instance, &other_nonce), Err(CallError::BadSignature)));

		assert!(matches!(verify(&[6; 32], &signed), Err(CallError::BadSignature)), "bound to one coordinator");

		let mut impostor = signed.clone();
		impostor.signer = AccountId(pair("//Bob").public().0).to_ss58();
		assert!(matches!(verify(&instance, &impostor), Err(CallError::BadSignature)));

		let mut garbled = signed;
		garbled.signature = "0x1234".into();
		assert!(matches!(verify(&instance, &garbled), Err(CallError::Malformed(_))));
	}

	#[test]
	fn oversized_payloads_are_refused_before_verification() {
		let signed =
			SignedCall { signer: "nobody".into(), payload: "x".repeat(MAX_PAYLOAD_BYTES + 1), signature: "0x".into() };
		assert!(matches!(verify(&[0; 32], &signed), Err(CallError::PayloadTooLarge { .. })));
	}

	#[test]
	fn a_valid_signature_over_an_invalid_payload_is_malformed() {
		let instance = [1; 32];
		let alice = pair("//Alice");
		let payload = r#"{"nonce":0,"call":{"call":"mint"}}"#.to_string();
		let signature = alice.sign(&signing_message(&instance, &payload));
		let signed = SignedCall {
			signer: AccountId(alice.public().0).to_ss58(),
			payload,
			signature: format!("0x{}", hex::encode(signature.0)),
		};
		assert!(matches!(verify(&instance, &signed), Err(CallError::Malformed(m)) if m.contains("unknown variant")));
	}
}
