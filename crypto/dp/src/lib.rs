//! # delta-dp: distributed differential privacy for Delta
//!
//! Secure aggregation hides each member's contribution inside the sum;
//! differential privacy bounds what the sum itself says about any one
//! member. Members add the noise themselves, in the ring, before masking
//! (Kairouz, Liu, Steinke, "The Distributed Discrete Gaussian Mechanism
//! for Federated Learning with Secure Aggregation", ICML 2021): no server,
//! requester or aggregator is trusted to add it, and no one member's noise
//! is enough to hide it alone, only the sum of at least the threshold's.
//!
//! - [`sampler`]: an exact, integer-only discrete Gaussian sampler over a
//!   CSPRNG stream.
//! - [`lattice`]: clipping, scaling and noising a member's contribution,
//!   and the lattice both sides derive for a step.
//! - [`accountant`]: RDP curves, composition and (ε, δ).
//!
//! Sans-I/O, like `delta-secagg`: the caller brings the randomness.

#![deny(missing_docs)]
// Unsafe code only in `simd`, which says why each use is sound.
#![deny(unsafe_code)]

pub mod accountant;
mod exact;
pub mod lattice;
pub mod sampler;
#[cfg(target_arch = "x86_64")]
mod simd;

pub use accountant::{noise_multiplier_for, Accountant, DistributedDiscreteGaussian};
pub use lattice::{Lattice, Privacy};
pub use sampler::{DiscreteGaussian, NoiseRng};

/// Why a privacy request cannot be met.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DpError {
	/// A parameter outside what the mechanism supports.
	#[error("differential privacy: {0}")]
	Parameter(String),
	/// No lattice holds the clipped, noised sum in the ring.
	#[error(
		"differential privacy: a clip norm of {clip} with noise multiplier {noise_multiplier} for {members} members does not fit the {ring_bits}-bit ring"
	)]
	NoRoom {
		/// The clip norm.
		clip: f64,
		/// The noise multiplier.
		noise_multiplier: f64,
		/// Most members.
		members: u32,
		/// The ring.
		ring_bits: u32,
	},
	/// A value is NaN or infinite.
	#[error("differential privacy: value {index} is NaN or infinite")]
	NotFinite {
		/// Its position in the contribution.
		index: usize,
	},
}
