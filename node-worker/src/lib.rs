//! # delta-worker: a data holder's node
//!
//! Keeps the holder's datasets at home and takes part in the tasks its
//! policy allows: it follows the ledger (a Delta Chain node or a
//! coordinator), talks to other workers over libp2p, runs task code in a
//! sandboxed Python process, and serves requesters over an authenticated
//! JSON-RPC API. The protocol itself is `delta-engine`'s; this crate is its
//! adapters plus the operator's concerns (configuration, keys, state,
//! policy).

pub mod api;
pub mod config;
pub mod consent;
pub mod datasets;
pub mod directory;
pub mod executor;
pub mod keys;
pub mod ledger;
pub mod pool;
pub mod runner_wire;
pub mod sandbox;
pub mod state;
pub mod transport;
pub mod worker;
