//! Command-line interface of `delta-chain`.

/// Subcommands beyond running the node.
#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management: generate, inspect and insert keys.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Write a chain specification (use `--raw` for the form nodes load).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Export the chain specification of a running or stored chain.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Delete the chain's database.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Print the database's metadata.
	ChainInfo(sc_cli::ChainInfoCmd),

	/// Benchmark the runtime's pallets (`benchmark pallet`) or this machine
	/// (`benchmark machine`). Needs the `runtime-benchmarks` feature.
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),
}

/// `delta-chain [SUBCOMMAND] [OPTIONS]`.
#[derive(Debug, clap::Parser)]
pub struct Cli {
	/// What to do instead of running the node.
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	/// Running the node.
	#[clap(flatten)]
	pub run: sc_cli::RunCmd,

	/// On a development chain: milliseconds between empty blocks. Blocks with
	/// transactions are sealed as soon as a transaction arrives (but see
	/// `--min-block-interval`).
	#[arg(long, value_name = "MS", default_value_t = 6000)]
	pub empty_block_interval: u64,

	/// On a development chain: least milliseconds between two blocks. A
	/// transaction arriving sooner waits for the next block with any others
	/// that arrive meanwhile. Round deadlines count blocks, so set this to
	/// the block time workers assume (their `block_ms`) to keep deadlines
	/// to the wall clock when many transactions come; 0 seals every
	/// transaction at once.
	#[arg(long, value_name = "MS", default_value_t = 0)]
	pub min_block_interval: u64,
}
