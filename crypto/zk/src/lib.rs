//! # delta-zk: Groth16 on BLS12-381 for Delta
//!
//! - [`encoding`]: the fixed byte encoding of proofs, verifying keys and
//!   public inputs, with validation (on curve, in the subgroup, no forbidden
//!   points at infinity, canonical scalars, bounded input count).
//! - [`verify`]: verification against a validated, prepared key, referenced
//!   by the SHA-256 of its encoding.
//! - [`mimc`]: the SNARK-friendly hash (MiMC-5, parameters documented).
//! - [`circuits`]: the dataset-commitment and sum-over-committed-data
//!   circuits.
//! - [`prove`]: parameter generation and proving helpers for those circuits.
//! - [`snarkjs`]: conversion from and to snarkjs's Groth16 JSON (bls12381).
//!
//! bellman and groth16 are std-only, so the chain verifies through a host
//! function that calls this crate natively (see `pallets/zk-verify`).

pub mod circuits;
pub mod encoding;
pub mod mimc;
pub mod prove;
pub mod snarkjs;
pub mod verify;

pub use encoding::{DecodeError, Proof, VerifyingKey};
pub use verify::{key_hash, PreparedKey, VerifyError};
