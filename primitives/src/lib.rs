//! Delta's shared rules, as plain functions over plain data.
//!
//! Both ledgers of Delta (the `pallet-delta-*` pallets on Delta Chain and the
//! coordinator service that replaces the chain where trust needs are low)
//! must accept and refuse exactly the same inputs. The rules therefore live
//! here, once, in a `no_std` crate with no storage, no I/O and no clock:
//! a ledger calls these functions and maps their errors onto its own.
//!
//! What this crate must not do: touch storage, perform I/O, read time, or
//! depend on FRAME. Anything that needs one of those belongs in a pallet or
//! in the worker.

#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

extern crate alloc;

pub mod base58;
pub mod identity;
pub mod limits;
pub mod round;
pub mod task;
