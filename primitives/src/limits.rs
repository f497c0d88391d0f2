//! The limits every Delta ledger enforces, in one place: the runtime's
//! pallet constants, the coordinator's defaults and the worker's checks
//! before a submission reaches a ledger all read these, so the chain and
//! the coordinator cannot disagree about what a task may be.

/// Most registered members of the network.
pub const MAX_MEMBERS: u32 = 1_024;

/// Most members of one round (bounds per-round storage and the
/// aggregator's work).
pub const MAX_ROUND_MEMBERS: u32 = crate::round::MAX_ROUND_MEMBERS;

/// Most datasets one task may name.
pub const MAX_DATASETS: u32 = 16;

/// Longest dataset name, in bytes.
pub const MAX_DATASET_NAME_LEN: u32 = 64;

/// Most rounds one task may run.
pub const MAX_ROUNDS: u32 = 1_000;

/// Most revealed shares one `reveal` call may carry.
pub const MAX_REVEALS_PER_CALL: u32 = 128;

/// Longest revealed share, in bytes.
pub const MAX_SHARE_LEN: u32 = 128;

/// How long a finished task's round data is kept, in milliseconds (a
/// week): long enough for requesters and auditors to read it, short enough
/// that state stays small. A chain keeps it for this many ms of blocks.
pub const RETENTION_MS: u64 = 7 * 24 * 3600 * 1000;
