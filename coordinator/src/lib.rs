//! # Delta coordinator
//!
//! Delta's ledger without a chain, for deployments whose members trust one
//! operator to run the rules: the same round state machine as
//! `pallet-delta-task` and the same member registry as
//! `pallet-delta-identity`, served over WebSocket JSON-RPC, with state in
//! SQLite so that a restart loses nothing.
//!
//! - [`ledger`]: the rules over SQLite, one transaction per call.
//! - [`signing`]: sr25519-signed calls with nonces, bound to one
//!   coordinator.
//! - [`rpc`]: the JSON-RPC methods, the event subscription and the clock
//!   that moves phases at their deadlines.
//! - [`types`]: calls, events and records with their JSON forms.
//!
//! What differs from the chain: time is in milliseconds, not blocks; the
//! neighbour-graph seed comes from the coordinator's CSPRNG when the member
//! set is fixed (the operator is trusted here, where on chain nobody is);
//! round data of finished tasks is pruned all at once rather than a bounded
//! amount per block. The conformance suite (`delta-ledger-conformance`)
//! checks that everything else matches.

pub mod error;
pub mod ledger;
#[cfg(feature = "server")]
pub mod rpc;
#[cfg(feature = "server")]
pub mod signing;
/// The ledger vocabulary the coordinator serves (`delta-ledger-api`).
pub use delta_ledger_api as types;

pub use error::{CallError, MemberError};
pub use ledger::Ledger;
pub use types::Limits;
