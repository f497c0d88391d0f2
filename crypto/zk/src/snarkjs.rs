//! Interoperability with snarkjs (circom): its Groth16 JSON on the
//! `bls12381` curve to and from Delta's encoding, so circuits written in
//! circom can be verified by `ZkVerify` too.
//!
//! snarkjs writes field elements as decimal strings and points in
//! projective form: G1 `[x, y, z]`, G2 `[[x.c0, x.c1], [y.c0, y.c1],
//! [z.c0, z.c1]]`, with `z = 1` for affine points and `z = 0` for the point
//! at infinity. Files: `verification_key.json` (`protocol`, `curve`,
//! `nPublic`, `vk_alpha_1`, `vk_beta_2`, `vk_gamma_2`, `vk_delta_2`, `IC`),
//! `proof.json` (`pi_a`, `pi_b`, `pi_c`), `public.json` (decimal inputs).

use bls12_381::{G1Affine, G2Affine, Scalar};
use ff::PrimeField;
use serde_json::{json, Value};

use crate::encoding::{DecodeError, Proof, VerifyingKey, MAX_PUBLIC_INPUTS};

/// Why a snarkjs document cannot be converted.
#[derive(Debug, thiserror::Error)]
pub enum SnarkjsError {
	/// Not JSON, or a field is missing or of the wrong type.
	#[error("malformed snarkjs JSON: {0}")]
	Malformed(String),
	/// Another protocol or curve.
	#[error("unsupported {what}: {found} (Delta verifies groth16 on bls12381)")]
	Unsupported {
		/// `protocol` or `curve`.
		what: &'static str,
		/// What the document says.
		found: String,
	},
	/// A number is not a valid field element.
	#[error("{0} is not a field element")]
	BadNumber(String),
	/// A point is invalid (see the decode error).
	#[error(transparent)]
	Point(#[from] DecodeError),
}

fn malformed(what: &str) -> SnarkjsError {
	SnarkjsError::Malformed(what.to_string())
}

/// A decimal string as 48 big-endian bytes (an Fp element's width).
fn decimal_to_be48(text: &str) -> Result<[u8; 48], SnarkjsError> {
	if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
		return Err(SnarkjsError::BadNumber(text.to_string()));
	}
	let mut out = [0u8; 48];
	for digit in text.bytes().map(|b| u32::from(b - b'0')) {
		let mut carry = digit;
		for byte in out.iter_mut().rev() {
			let v = u32::from(*byte) * 10 + carry;
			*byte = (v & 0xff) as u8;
			carry = v >> 8;
		}
		if carry != 0 {
			return Err(SnarkjsError::BadNumber(text.to_string()));
		}
	}
	Ok(out)
}

/// Big-endian bytes as a decimal string.
fn be_to_decimal(bytes: &[u8]) -> String {
	let mut digits = Vec::new();
	let mut n = bytes.to_vec();
	while n.iter().any(|b| *b != 0) {
		let mut rem = 0u32;
		for byte in n.iter_mut() {
			let v = (rem << 8) | u32::from(*byte);
			*byte = (v / 10) as u8;
			rem = v % 10;
		}
		digits.push(b'0' + rem as u8);
	}
	if digits.is_empty() {
		return "0".into();
	}
	digits.reverse();
	String::from_utf8(digits).unwrap_or_default()
}

fn str_at<'a>(v: &'a Value, i: usize, what: &str) -> Result<&'a str, SnarkjsError> {
	v.get(i).and_then(Value::as_str).ok_or_else(|| malformed(what))
}

fn g1_from(v: &Value, what: &'static str) -> Result<G1Affine, SnarkjsError> {
	if str_at(v, 2, what)? == "0" {
		return Ok(G1Affine::identity());
	}
	if str_at(v, 2, what)? != "1" {
		return Err(malformed(&format!("{what}: only affine points (z = 1) are supported")));
	}
	let mut raw = [0u8; 96];
	raw[..48].copy_from_slice(&decimal_to_be48(str_at(v, 0, what)?)?);
	raw[48..].copy_from_slice(&decimal_to_be48(str_at(v, 1, what)?)?);
	if raw[0] & 0xe0 != 0 {
		return Err(SnarkjsError::BadNumber(format!("{what}: coordinate above the field")));
	}
	// `_unchecked` parses only; the curve equation is checked here (the
	// compressed round trip below would otherwise recompute y from x and
	// silently accept a wrong y), the subgroup by Delta's decoder.
	let point = Option::<G1Affine>::from(G1Affine::from_uncompressed_unchecked(&raw))
		.filter(|p| bool::from(p.is_on_curve()))
		.ok_or(DecodeError::NotOnCurve { what })?;
	// Re-validate through Delta's decoder (subgroup check).
	Ok(crate::encoding::g1(&point.to_compressed(), what, true)?)
}

fn g2_from(v: &Value, what: &'static str) -> Result<G2Affine, SnarkjsError> {
	let z = v.get(2).ok_or_else(|| malformed(what))?;
	if str_at(z, 0, what)? != "1" || str_at(z, 1, what)? != "0" {
		return Err(malformed(&format!("{what}: only affine, finite points (z = 1) are supported")));
	}
	let x = v.get(0).ok_or_else(|| malformed(what))?;
	let y = v.get(1).ok_or_else(|| malformed(what))?;
	let mut raw = [0u8; 192];
	// zkcrypto's uncompressed G2: x.c1, x.c0, y.c1, y.c0.
	raw[..48].copy_from_slice(&decimal_to_be48(str_at(x, 1, what)?)?);
	raw[48..96].copy_from_slice(&decimal_to_be48(str_at(x, 0, what)?)?);
	raw[96..144].copy_from_slice(&decimal_to_be48(str_at(y, 1, what)?)?);
	raw[144..].copy_from_slice(&decimal_to_be48(str_at(y, 0, what)?)?);
	if raw[0] & 0xe0 != 0 {
		return Err(SnarkjsError::BadNumber(format!("{what}: coordinate above the field")));
	}
	let point = Option::<G2Affine>::from(G2Affine::from_uncompressed_unchecked(&raw))
		.filter(|p| bool::from(p.is_on_curve()))
		.ok_or(DecodeError::NotOnCurve { what })?;
	Ok(crate::encoding::g2(&point.to_compressed(), what)?)
}

fn g1_to(p: &G1Affine) -> Value {
	if bool::from(p.is_identity()) {
		return json!(["0", "1", "0"]);
	}
	let raw = p.to_uncompressed();
	json!([be_to_decimal(&raw[..48]), be_to_decimal(&raw[48..]), "1"])
}

fn g2_to(p: &G2Affine) -> Value {
	let raw = p.to_uncompressed();
	json!([
		[be_to_decimal(&raw[48..96]), be_to_decimal(&raw[..48])],
		[be_to_decimal(&raw[144..]), be_to_decimal(&raw[96..144])],
		["1", "0"]
	])
}

fn parse(json: &str) -> Result<Value, SnarkjsError> {
	serde_json::from_str(json).map_err(|e| SnarkjsError::Malformed(e.to_string()))
}

fn check_header(v: &Value) -> Result<(), SnarkjsError> {
	for (field, expected) in [("protocol", "groth16"), ("curve", "bls12381")] {
		match v.get(field).and_then(Value::as_str) {
			Some(found) if found == expected => {},
			Some(found) => {
				return Err(SnarkjsError::Unsupported {
					what: if field == "protocol" { "protocol" } else { "curve" },
					found: found.to_string(),
				})
			},
			None => return Err(malformed(field)),
		}
	}
	Ok(())
}

/// A snarkjs `verification_key.json` as a Delta verifying key.
pub fn verifying_key_from_json(json: &str) -> Result<VerifyingKey, SnarkjsError> {
	let v = parse(json)?;
	check_header(&v)?;
	let ic = v.get("IC").and_then(Value::as_array).ok_or_else(|| malformed("IC"))?;
	let n = v.get("nPublic").and_then(Value::as_u64).ok_or_else(|| malformed("nPublic"))?;
	// Bounded before `n + 1`: a stated u64::MAX overflowed.
	let n = usize::try_from(n)
		.ok()
		.filter(|n| *n <= MAX_PUBLIC_INPUTS)
		.ok_or(DecodeError::TooManyInputs { got: usize::try_from(n).unwrap_or(usize::MAX) })?;
	if ic.len() != n + 1 {
		return Err(malformed("IC must hold nPublic + 1 points"));
	}
	let key = VerifyingKey {
		alpha_g1: g1_from(v.get("vk_alpha_1").ok_or_else(|| malformed("vk_alpha_1"))?, "alpha")?,
		beta_g2: g2_from(v.get("vk_beta_2").ok_or_else(|| malformed("vk_beta_2"))?, "beta")?,
		gamma_g2: g2_from(v.get("vk_gamma_2").ok_or_else(|| malformed("vk_gamma_2"))?, "gamma")?,
		delta_g2: g2_from(v.get("vk_delta_2").ok_or_else(|| malformed("vk_delta_2"))?, "delta")?,
		ic: ic.iter().map(|p| g1_from(p, "IC point")).collect::<Result<_, _>>()?,
	};
	// Round-trip through the strict decoder for the identity rules.
	Ok(VerifyingKey::from_bytes(&key.to_bytes())?)
}

/// A snarkjs `proof.json` as a Delta proof.
pub fn proof_from_json(json: &str) -> Result<Proof, SnarkjsError> {
	let v = parse(json)?;
	check_header(&v)?;
	Ok(Proof {
		a: g1_from(v.get("pi_a").ok_or_else(|| malformed("pi_a"))?, "proof A")?,
		b: g2_from(v.get("pi_b").ok_or_else(|| malformed("pi_b"))?, "proof B")?,
		c: g1_from(v.get("pi_c").ok_or_else(|| malformed("pi_c"))?, "proof C")?,
	})
}

/// A snarkjs `public.json` as public inputs.
pub fn inputs_from_json(json: &str) -> Result<Vec<Scalar>, SnarkjsError> {
	let v = parse(json)?;
	let items = v.as_array().ok_or_else(|| malformed("public inputs must be an array"))?;
	items
		.iter()
		.map(|item| {
			let text = item.as_str().ok_or_else(|| malformed("public inputs are decimal strings"))?;
			let be = decimal_to_be48(text)?;
			if be[..16].iter().any(|b| *b != 0) {
				return Err(SnarkjsError::BadNumber(text.to_string()));
			}
			let mut le = [0u8; 32];
			for (i, b) in be[16..].iter().rev().enumerate() {
				le[i] = *b;
			}
			Option::<Scalar>::from(Scalar::from_repr(le)).ok_or_else(|| SnarkjsError::BadNumber(text.to_string()))
		})
		.collect()
}

/// A Delta key in snarkjs's `verification_key.json` form.
pub fn verifying_key_to_json(key: &VerifyingKey) -> String {
	json!({
		"protocol": "groth16",
		"curve": "bls12381",
		"nPublic": key.public_inputs(),
		"vk_alpha_1": g1_to(&key.alpha_g1),
		"vk_beta_2": g2_to(&key.beta_g2),
		"vk_gamma_2": g2_to(&key.gamma_g2),
		"vk_delta_2": g2_to(&key.delta_g2),
		"IC": key.ic.iter().map(g1_to).collect::<Vec<_>>(),
	})
	.to_string()
}

/// A Delta proof in snarkjs's `proof.json` form.
pub fn proof_to_json(proof: &Proof) -> String {
	json!({
		"protocol": "groth16",
		"curve": "bls12381",
		"pi_a": g1_to(&proof.a),
		"pi_b": g2_to(&proof.b),
		"pi_c": g1_to(&proof.c),
	})
	.to_string()
}

/// Public inputs in snarkjs's `public.json` form.
pub fn inputs_to_json(inputs: &[Scalar]) -> String {
	let items: Vec<String> = inputs
		.iter()
		.map(|s| {
			let mut be = s.to_repr();
			be.reverse();
			be_to_decimal(&be)
		})
		.collect();
	json!(items).to_string()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn decimals_round_trip() {
		for n in ["0", "1", "255", "256", "4002409555221667393417789825735904156556882819939007885332058136124031650490837864442687629129015664037894272559787"] {
			let be = decimal_to_be48(n).unwrap();
			assert_eq!(be_to_decimal(&be), n);
		}
		assert!(decimal_to_be48("12a").is_err());
		assert!(decimal_to_be48(&"9".repeat(120)).is_err(), "overflow is refused");
	}

	#[test]
	fn any_stated_input_count_is_refused_without_overflow() {
		// Regression (fuzz/corpus/zk_snarkjs/regression-npublic-max): nPublic
		// = u64::MAX overflowed `nPublic + 1` instead of being refused.
		for n in [u64::MAX, u64::MAX - 1, 65] {
			let doc = format!(r#"{{"protocol":"groth16","curve":"bls12381","nPublic":{n},"IC":[]}}"#);
			assert!(
				matches!(verifying_key_from_json(&doc), Err(SnarkjsError::Point(DecodeError::TooManyInputs { .. }))),
				"{n}"
			);
		}
	}
}
