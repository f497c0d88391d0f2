//! `delta-chain`: the node of Delta Chain.
//!
//! `delta-chain --dev` runs a single-validator development chain that seals a
//! block as soon as a transaction arrives (and an empty one every few
//! seconds so that time moves), finalising each at once. Any other chain
//! (`--chain local`, or a spec file) runs Aura block authoring with GRANDPA
//! finality across its validators.

mod chain_spec;
mod cli;
mod command;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
