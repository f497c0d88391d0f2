//! Deltaboard: one `delta-worker` shared by many people through a web UI.
//! Each person has an account (approved by an administrator), API tokens
//! of their own and an API address, `/api/<name>`, that forwards to the
//! worker only what the filter admits; pages show each person their own
//! tasks (administrators all of them), live.
//!
//! The worker is unchanged and knows nothing of the board's users: the
//! board holds the worker's token and keeps, in its own SQLite store, who
//! submitted which task. See `docs/board.md`.

pub mod chart;
pub mod filter;
pub mod jupyter;
pub mod pages;
pub mod secret;
pub mod store;
pub mod web;
pub mod worker;
