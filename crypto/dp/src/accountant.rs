//! Rényi differential privacy accounting: the curves of the Gaussian and
//! the distributed discrete Gaussian, composition over steps, and the
//! conversion to (ε, δ).
//!
//! The orders and the conversion are those of Google's `dp-accounting`
//! (PyPI, 0.6.0: `RdpAccountant`'s default orders and
//! `compute_epsilon`'s bound of Balle et al. 2020 / Canonne, Kamath,
//! Steinke 2020, proposition 12), so that the two agree on the Gaussian
//! mechanism; `dp-accounting` has no discrete-Gaussian event, so that
//! curve (Kairouz, Liu, Steinke 2021, proposition 14) is written here.

use crate::DpError;

/// The Rényi orders `dp-accounting`'s `RdpAccountant` uses by default.
pub fn default_orders() -> Vec<f64> {
	(1..100)
		.map(|x| 1.0 + f64::from(x) / 10.0)
		.chain((11..64).map(f64::from))
		.chain([128.0, 256.0, 512.0, 1024.0])
		.collect()
}

/// RDP of the Gaussian mechanism with noise multiplier `z` (noise standard
/// deviation over L2 sensitivity) at `order`.
pub fn gaussian_rdp(z: f64, order: f64) -> f64 {
	order / (2.0 * z * z)
}

/// The sum of `members` independent discrete Gaussians of standard
/// deviation `member_std` each, added to an integer vector of `dim`
/// coordinates whose L2 and L1 sensitivities are `l2` and `l1` (all in
/// lattice units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DistributedDiscreteGaussian {
	/// L2 sensitivity.
	pub l2: f64,
	/// L1 sensitivity.
	pub l1: f64,
	/// Each member's noise standard deviation.
	pub member_std: f64,
	/// How many members' noise the sum holds at least.
	pub members: u32,
	/// Coordinates.
	pub dim: usize,
}

impl DistributedDiscreteGaussian {
	/// Its RDP at `order` (Kairouz, Liu, Steinke 2021, proposition 14):
	/// the Gaussian's, plus a term τ for the sum of discrete Gaussians not
	/// being one, negligible once each member's σ is a few lattice units.
	pub fn rdp(&self, order: f64) -> f64 {
		let n = f64::from(self.members.max(1));
		let var = self.member_std * self.member_std;
		let tau = 10.0
			* (1..self.members)
				.map(|k| {
					let k = f64::from(k);
					(-2.0 * std::f64::consts::PI.powi(2) * var * k / (k + 1.0)).exp()
				})
				.sum::<f64>();
		let d = self.dim as f64;
		let l2 = self.l2 / (n.sqrt() * self.member_std);
		let l1 = self.l1 / (n.sqrt() * self.member_std);
		let a = order / 2.0 * l2 * l2 + tau * d;
		let b = order / 2.0 * (l2 * l2 + 2.0 * l1 * tau + tau * tau * d);
		let c = order / 2.0 * (l2 + d.sqrt() * tau).powi(2);
		a.min(b).min(c)
	}
}

/// The smallest ε for `delta` given RDP values at `orders`, and the order
/// that gives it (as `dp-accounting`'s `compute_epsilon`).
pub fn epsilon(orders: &[f64], rdp: &[f64], delta: f64) -> (f64, f64) {
	if !(delta > 0.0) {
		let none = rdp.iter().all(|r| *r == 0.0);
		return (if none { 0.0 } else { f64::INFINITY }, 0.0);
	}
	let mut best = (f64::INFINITY, orders.first().copied().unwrap_or(0.0));
	for (&a, &r) in orders.iter().zip(rdp) {
		let eps = if r < 0.0 || delta * delta + (-r).exp_m1() > 0.0 {
			0.0
		} else if a > 1.01 {
			r + (-1.0 / a).ln_1p() - (delta * a).ln() / (a - 1.0)
		} else {
			f64::INFINITY
		};
		if eps < best.0 {
			best = (eps, a);
		}
	}
	(best.0.max(0.0), best.1)
}

/// RDP spent so far, at the default orders.
#[derive(Clone, Debug, PartialEq)]
pub struct Accountant {
	orders: Vec<f64>,
	rdp: Vec<f64>,
}

impl Default for Accountant {
	fn default() -> Self {
		let orders = default_orders();
		let rdp = vec![0.0; orders.len()];
		Self { orders, rdp }
	}
}

impl Accountant {
	/// Nothing spent.
	pub fn new() -> Self {
		Self::default()
	}

	/// Composes `times` runs of a mechanism with RDP curve `curve`.
	pub fn compose(&mut self, curve: impl Fn(f64) -> f64, times: u32) {
		for (r, a) in self.rdp.iter_mut().zip(&self.orders) {
			*r += f64::from(times) * curve(*a);
		}
	}

	/// Composes `times` Gaussian mechanisms of noise multiplier `z`.
	pub fn compose_gaussian(&mut self, z: f64, times: u32) {
		self.compose(|a| gaussian_rdp(z, a), times);
	}

	/// Composes one distributed discrete Gaussian.
	pub fn compose_distributed(&mut self, mechanism: &DistributedDiscreteGaussian) {
		self.compose(|a| mechanism.rdp(a), 1);
	}

	/// ε at `delta` for everything composed so far.
	pub fn epsilon(&self, delta: f64) -> f64 {
		epsilon(&self.orders, &self.rdp, delta).0
	}

	/// The orders and the RDP at each.
	pub fn curve(&self) -> (&[f64], &[f64]) {
		(&self.orders, &self.rdp)
	}
}

/// The smallest noise multiplier (to 1e-6 relative) whose Gaussian
/// mechanism, composed `steps` times, spends at most `epsilon` at `delta`:
/// how a task turns a budget into noise.
pub fn noise_multiplier_for(epsilon: f64, delta: f64, steps: u32) -> Result<f64, DpError> {
	if !(epsilon.is_finite() && epsilon > 0.0) || !(delta > 0.0 && delta < 1.0) || steps == 0 {
		return Err(DpError::Parameter(format!(
			"a budget needs ε > 0, 0 < δ < 1 and at least one step (ε = {epsilon}, δ = {delta}, {steps} steps)"
		)));
	}
	let spent = |z: f64| {
		let mut a = Accountant::new();
		a.compose_gaussian(z, steps);
		a.epsilon(delta)
	};
	let (mut lo, mut hi) = (1e-3f64, 1e6f64);
	if spent(hi) > epsilon {
		return Err(DpError::Parameter(format!(
			"ε = {epsilon} at δ = {delta} over {steps} steps needs a noise multiplier above {hi}"
		)));
	}
	if spent(lo) <= epsilon {
		return Ok(lo);
	}
	while hi / lo > 1.0 + 1e-6 {
		let mid = (lo * hi).sqrt();
		if spent(mid) > epsilon {
			lo = mid;
		} else {
			hi = mid;
		}
	}
	Ok(hi)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_orders_are_dp_accountings() {
		let orders = default_orders();
		assert_eq!(orders.len(), 99 + 53 + 4);
		assert_eq!((orders[0], orders[98], orders[99], orders[155]), (1.1, 10.9, 11.0, 1024.0));
	}

	#[test]
	fn one_gaussian_release_spends_what_the_closed_form_says() {
		// The optimum of r(α) + ln(1 - 1/α) - ln(δα)/(α - 1) over these
		// orders, for z = 1, δ = 1e-5; dp-accounting 0.6.0 returns the same
		// (the SDK's test compares the two directly).
		let mut a = Accountant::new();
		a.compose_gaussian(1.0, 1);
		let eps = a.epsilon(1e-5);
		assert!((4.72..4.74).contains(&eps), "{eps}");
		// More noise spends less; composing twice spends more.
		let mut quieter = Accountant::new();
		quieter.compose_gaussian(2.0, 1);
		assert!(quieter.epsilon(1e-5) < eps);
		a.compose_gaussian(1.0, 1);
		assert!(a.epsilon(1e-5) > eps);
	}

	#[test]
	fn a_budget_gives_the_noise_that_spends_it() {
		for (eps, steps) in [(1.0, 1), (0.5, 10), (8.0, 100)] {
			let z = noise_multiplier_for(eps, 1e-6, steps).unwrap();
			let mut a = Accountant::new();
			a.compose_gaussian(z, steps);
			let spent = a.epsilon(1e-6);
			assert!(spent <= eps && spent > eps * 0.999, "ε {eps}: z {z} spends {spent}");
		}
		assert!(noise_multiplier_for(0.0, 1e-6, 1).is_err());
		assert!(noise_multiplier_for(1.0, 1.5, 1).is_err());
		assert!(noise_multiplier_for(1.0, 1e-6, 0).is_err());
	}

	#[test]
	fn the_distributed_discrete_gaussian_is_the_gaussian_once_sigma_is_a_few_units() {
		let ddg = DistributedDiscreteGaussian { l2: 1000.0, l1: 30_000.0, member_std: 600.0, members: 3, dim: 900 };
		// √3 · 600 / 1000 = noise multiplier 1.039.
		let z = 3f64.sqrt() * 600.0 / 1000.0;
		for order in [1.5, 2.0, 32.0] {
			assert!((ddg.rdp(order) - gaussian_rdp(z, order)).abs() < 1e-12);
		}
		// At σ = 0.5 per member the sum is visibly not a discrete Gaussian.
		let coarse = DistributedDiscreteGaussian { l2: 1.0, l1: 1.0, member_std: 0.5, members: 10, dim: 100 };
		assert!(coarse.rdp(2.0) > gaussian_rdp(10f64.sqrt() * 0.5, 2.0));
	}

	#[test]
	fn no_delta_means_no_finite_epsilon() {
		let mut a = Accountant::new();
		assert_eq!(a.epsilon(0.0), 0.0);
		a.compose_gaussian(1.0, 1);
		assert_eq!(a.epsilon(0.0), f64::INFINITY);
	}
}
