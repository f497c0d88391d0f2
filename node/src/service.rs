//! Assembles the node: client, database, networking, transaction pool, RPC,
//! and block production.
//!
//! Two block-production modes share everything else:
//! - **Development chains** ([`ChainType::Development`], `--dev`): manual
//!   seal. A block is sealed the moment a transaction enters the pool (or
//!   `--min-block-interval` ms after the previous block, with every
//!   transaction that came meanwhile), an empty block every
//!   `--empty-block-interval` ms so that time moves, and
//!   every block is final at once. `engine_createBlock` seals on request
//!   (tests use it to drive blocks deterministically).
//! - **Every other chain**: Aura slots with GRANDPA finality.

use std::{sync::Arc, time::Duration};

use codec::Decode;
use delta_runtime::{opaque::Block, Hash, RuntimeApi, SLOT_DURATION};
use futures::{channel::mpsc, FutureExt, StreamExt};
use sc_client_api::{Backend, BlockBackend, StorageProvider};
use sc_consensus_aura::{ImportQueueParams, SlotProportion, StartAuraParams};
use sc_consensus_grandpa::SharedVoterState;
use sc_consensus_manual_seal::{
	consensus::aura::AuraConsensusDataProvider, EngineCommand, ManualSealParams,
};
use sc_service::{
	error::Error as ServiceError, ChainType, Configuration, TaskManager, WarpSyncConfig,
};
use sc_telemetry::{Telemetry, TelemetryWorker};
use sc_transaction_pool_api::{OffchainTransactionPoolFactory, TransactionPool};
use sp_consensus_aura::sr25519::{AuthorityId as AuraId, AuthorityPair as AuraPair};
use sp_core::storage::StorageKey;

/// Host functions the runtime may call: Substrate's and Groth16
/// verification (`delta-zk-host`). Benchmarking builds add the
/// benchmarking host functions, which the runtime then imports.
#[cfg(not(feature = "runtime-benchmarks"))]
pub type HostFunctions = (sp_io::SubstrateHostFunctions, delta_zk_host::delta_zk_verify::HostFunctions);
/// Host functions the runtime may call, including benchmarking ones.
#[cfg(feature = "runtime-benchmarks")]
pub type HostFunctions = (
	sp_io::SubstrateHostFunctions,
	frame_benchmarking::benchmarking::HostFunctions,
	delta_zk_host::delta_zk_verify::HostFunctions,
);

/// The full client.
pub type FullClient =
	sc_service::TFullClient<Block, RuntimeApi, sc_executor::WasmExecutor<HostFunctions>>;
type FullBackend = sc_service::TFullBackend<Block>;
type FullSelectChain = sc_consensus::LongestChain<FullBackend, Block>;
type FullPool = sc_transaction_pool::TransactionPoolHandle<Block, FullClient>;

/// GRANDPA justifications are kept for every block at this period.
const GRANDPA_JUSTIFICATION_PERIOD: u32 = 512;

/// What both block-production modes start from.
struct Base {
	client: Arc<FullClient>,
	backend: Arc<FullBackend>,
	keystore_container: sc_service::KeystoreContainer,
	task_manager: TaskManager,
	select_chain: FullSelectChain,
	transaction_pool: Arc<FullPool>,
	telemetry: Option<Telemetry>,
}

fn new_base(config: &Configuration) -> Result<Base, ServiceError> {
	let telemetry = config
		.telemetry_endpoints
		.clone()
		.filter(|x| !x.is_empty())
		.map(|endpoints| -> Result<_, sc_telemetry::Error> {
			let worker = TelemetryWorker::new(16)?;
			let telemetry = worker.handle().new_telemetry(endpoints);
			Ok((worker, telemetry))
		})
		.transpose()?;

	let executor = sc_service::new_wasm_executor::<HostFunctions>(&config.executor);
	let (client, backend, keystore_container, task_manager) =
		sc_service::new_full_parts::<Block, RuntimeApi, _>(
			config,
			telemetry.as_ref().map(|(_, telemetry)| telemetry.handle()),
			executor,
			Vec::new(),
		)?;
	let client = Arc::new(client);

	let telemetry = telemetry.map(|(worker, telemetry)| {
		task_manager.spawn_handle().spawn("telemetry", None, worker.run());
		telemetry
	});

	let select_chain = sc_consensus::LongestChain::new(backend.clone());
	let transaction_pool = Arc::from(
		sc_transaction_pool::Builder::new(
			task_manager.spawn_essential_handle(),
			client.clone(),
			config.role.is_authority().into(),
		)
		.with_options(config.transaction_pool.clone())
		.with_prometheus(config.prometheus_registry())
		.build(),
	);

	Ok(Base {
		client,
		backend,
		keystore_container,
		task_manager,
		select_chain,
		transaction_pool,
		telemetry,
	})
}

/// When a development chain seals blocks.
#[derive(Clone, Copy, Debug)]
pub struct DevPacing {
	/// An empty block after this long without one, so that time moves.
	pub empty_block_interval: Duration,
	/// Least time between two blocks sealed for transactions (zero: at
	/// once), so that block counts, which round deadlines use, keep to the
	/// wall clock under load.
	pub min_block_interval: Duration,
}

/// Starts the node for `config`'s chain.
pub fn new_full<N: sc_network::NetworkBackend<Block, Hash>>(
	config: Configuration,
	pacing: DevPacing,
) -> Result<TaskManager, ServiceError> {
	if config.chain_spec.chain_type() == ChainType::Development {
		new_dev::<N>(config, pacing)
	} else {
		new_aura_grandpa::<N>(config)
	}
}

/// The timestamp stored in the state of block `at` (0 at genesis).
fn stored_timestamp(client: &FullClient, at: Hash) -> u64 {
	let mut key = sp_io::hashing::twox_128(b"Timestamp").to_vec();
	key.extend_from_slice(&sp_io::hashing::twox_128(b"Now"));
	client
		.storage(at, &StorageKey(key))
		.ok()
		.flatten()
		.and_then(|data| u64::decode(&mut &data.0[..]).ok())
		.unwrap_or(0)
}

/// The dev chain: manual seal driven by the pool, a timer and RPC.
fn new_dev<N: sc_network::NetworkBackend<Block, Hash>>(
	config: Configuration,
	pacing: DevPacing,
) -> Result<TaskManager, ServiceError> {
	let Base {
		client,
		backend,
		keystore_container,
		mut task_manager,
		select_chain,
		transaction_pool,
		mut telemetry,
	} = new_base(&config)?;

	let import_queue = sc_consensus_manual_seal::import_queue(
		Box::new(client.clone()),
		&task_manager.spawn_essential_handle(),
		config.prometheus_registry(),
	);

	let net_config = sc_network::config::FullNetworkConfiguration::<Block, Hash, N>::new(
		&config.network,
		config.prometheus_registry().cloned(),
	);
	let metrics = N::register_notification_metrics(config.prometheus_registry());
	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: None,
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	let (rpc_seal_sink, rpc_seal_commands) = mpsc::channel::<EngineCommand<Hash>>(1024);
	let rpc_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		Box::new(move |_| {
			let deps = crate::rpc::FullDeps {
				client: client.clone(),
				pool: pool.clone(),
				manual_seal: Some(rpc_seal_sink.clone()),
			};
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	let prometheus_registry = config.prometheus_registry().cloned();
	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: Arc::new(network.clone()),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service,
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	let proposer_factory = sc_basic_authorship::ProposerFactory::new(
		task_manager.spawn_handle(),
		client.clone(),
		transaction_pool.clone(),
		prometheus_registry.as_ref(),
		telemetry.as_ref().map(|x| x.handle()),
	);

	// A transaction in the pool: seal now, or `min_block_interval` after
	// the last block, with whatever else arrived meanwhile. Nothing for a
	// while: seal an empty block so that timestamps and deadlines move.
	let seal = |create_empty| EngineCommand::SealNewBlock {
		create_empty,
		finalize: true,
		parent_hash: None,
		sender: None,
	};
	let imports = transaction_pool.import_notification_stream();
	let paced = futures::stream::unfold((imports, std::time::Instant::now()), move |(mut imports, last)| async move {
		let until_empty = pacing.empty_block_interval.saturating_sub(last.elapsed());
		let transaction = futures::select! {
			n = imports.next().fuse() => n.is_some(),
			_ = futures_timer::Delay::new(until_empty).fuse() => false,
		};
		if transaction {
			let wait = pacing.min_block_interval.saturating_sub(last.elapsed());
			if !wait.is_zero() {
				futures_timer::Delay::new(wait).await;
			}
			// Every transaction that came meanwhile goes into this block.
			while let Some(Some(_)) = imports.next().now_or_never() {}
		}
		Some((seal(!transaction), (imports, std::time::Instant::now())))
	});
	let commands_stream = futures::stream::select(rpc_seal_commands, Box::pin(paced));

	// Aura requires each block's slot to exceed its parent's, and the slot
	// is the timestamp divided by the slot length. Blocks sealed on demand
	// can come faster than slots, so each block's timestamp is the wall
	// clock or one slot after its parent, whichever is later. On a busy dev
	// chain block time therefore runs ahead of the wall clock; it catches up
	// when the chain goes quiet.
	let cidp_client = client.clone();
	let create_inherent_data_providers = move |parent: Hash, ()| {
		let client = cidp_client.clone();
		async move {
			let now = sp_timestamp::Timestamp::current().as_millis();
			let next = now.max(stored_timestamp(&client, parent).saturating_add(SLOT_DURATION));
			Ok::<_, Box<dyn std::error::Error + Send + Sync>>(sp_timestamp::InherentDataProvider::new(
				next.into(),
			))
		}
	};

	let authorship = sc_consensus_manual_seal::run_manual_seal(ManualSealParams {
		block_import: client.clone(),
		env: proposer_factory,
		client: client.clone(),
		pool: transaction_pool,
		commands_stream,
		select_chain,
		consensus_data_provider: Some(Box::new(AuraConsensusDataProvider::new(client))),
		create_inherent_data_providers,
	});
	task_manager
		.spawn_essential_handle()
		.spawn_blocking("manual-seal", Some("block-authoring"), authorship);

	Ok(task_manager)
}

/// A multi-validator chain: Aura authoring, GRANDPA finality.
fn new_aura_grandpa<N: sc_network::NetworkBackend<Block, Hash>>(
	config: Configuration,
) -> Result<TaskManager, ServiceError> {
	let Base {
		client,
		backend,
		keystore_container,
		mut task_manager,
		select_chain,
		transaction_pool,
		mut telemetry,
	} = new_base(&config)?;

	let (grandpa_block_import, grandpa_link) = sc_consensus_grandpa::block_import(
		client.clone(),
		GRANDPA_JUSTIFICATION_PERIOD,
		&client,
		select_chain.clone(),
		telemetry.as_ref().map(|x| x.handle()),
	)?;

	let cidp_client = client.clone();
	let import_queue =
		sc_consensus_aura::import_queue::<AuraPair, _, _, _, _, _>(ImportQueueParams {
			block_import: grandpa_block_import.clone(),
			justification_import: Some(Box::new(grandpa_block_import.clone())),
			client: client.clone(),
			create_inherent_data_providers: move |parent_hash, _| {
				let cidp_client = cidp_client.clone();
				async move {
					let slot_duration =
						sc_consensus_aura::standalone::slot_duration_at(&*cidp_client, parent_hash)?;
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
						*timestamp,
						slot_duration,
					);
					Ok((slot, timestamp))
				}
			},
			spawner: &task_manager.spawn_essential_handle(),
			registry: config.prometheus_registry(),
			check_for_equivocation: Default::default(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			compatibility_mode: Default::default(),
		})?;

	let mut net_config = sc_network::config::FullNetworkConfiguration::<Block, Hash, N>::new(
		&config.network,
		config.prometheus_registry().cloned(),
	);
	let metrics = N::register_notification_metrics(config.prometheus_registry());
	let peer_store_handle = net_config.peer_store_handle();
	let genesis_hash = client
		.block_hash(0)
		.ok()
		.flatten()
		.ok_or_else(|| ServiceError::Other("the database has no genesis block".into()))?;
	let grandpa_protocol_name =
		sc_consensus_grandpa::protocol_standard_name(&genesis_hash, &config.chain_spec);
	let (grandpa_protocol_config, grandpa_notification_service) =
		sc_consensus_grandpa::grandpa_peers_set_config::<_, N>(
			grandpa_protocol_name.clone(),
			metrics.clone(),
			peer_store_handle,
		);
	net_config.add_notification_protocol(grandpa_protocol_config);

	let warp_sync = Arc::new(sc_consensus_grandpa::warp_proof::NetworkProvider::new(
		backend.clone(),
		grandpa_link.shared_authority_set().clone(),
		Vec::default(),
	));

	let (network, system_rpc_tx, tx_handler_controller, sync_service, _bitswap) =
		sc_service::build_network(sc_service::BuildNetworkParams {
			config: &config,
			net_config,
			client: client.clone(),
			transaction_pool: transaction_pool.clone(),
			spawn_handle: task_manager.spawn_handle(),
			spawn_essential_handle: task_manager.spawn_essential_handle(),
			import_queue,
			block_announce_validator_builder: None,
			warp_sync_config: Some(WarpSyncConfig::WithProvider(warp_sync)),
			block_relay: None,
			metrics,
			gap_sync_body_policy: None,
		})?;

	if config.offchain_worker.enabled {
		let offchain_workers =
			sc_offchain::OffchainWorkers::new(sc_offchain::OffchainWorkerOptions {
				runtime_api_provider: client.clone(),
				is_validator: config.role.is_authority(),
				keystore: Some(keystore_container.keystore()),
				offchain_db: backend.offchain_storage(),
				transaction_pool: Some(OffchainTransactionPoolFactory::new(
					transaction_pool.clone(),
				)),
				network_provider: Arc::new(network.clone()),
				enable_http_requests: true,
				custom_extensions: |_| vec![],
			})?;
		task_manager.spawn_handle().spawn(
			"offchain-workers-runner",
			"offchain-worker",
			offchain_workers.run(client.clone(), task_manager.spawn_handle()).boxed(),
		);
	}

	let role = config.role;
	let force_authoring = config.force_authoring;
	let name = config.network.node_name.clone();
	let enable_grandpa = !config.disable_grandpa;
	let prometheus_registry = config.prometheus_registry().cloned();

	let rpc_builder = {
		let client = client.clone();
		let pool = transaction_pool.clone();
		Box::new(move |_| {
			let deps =
				crate::rpc::FullDeps { client: client.clone(), pool: pool.clone(), manual_seal: None };
			crate::rpc::create_full(deps).map_err(Into::into)
		})
	};

	sc_service::spawn_tasks(sc_service::SpawnTasksParams {
		network: Arc::new(network.clone()),
		client: client.clone(),
		keystore: keystore_container.keystore(),
		task_manager: &mut task_manager,
		transaction_pool: transaction_pool.clone(),
		rpc_builder,
		backend,
		system_rpc_tx,
		tx_handler_controller,
		sync_service: sync_service.clone(),
		config,
		telemetry: telemetry.as_mut(),
		tracing_execute_block: None,
	})?;

	if role.is_authority() {
		let proposer_factory = sc_basic_authorship::ProposerFactory::new(
			task_manager.spawn_handle(),
			client.clone(),
			transaction_pool.clone(),
			prometheus_registry.as_ref(),
			telemetry.as_ref().map(|x| x.handle()),
		);
		let slot_duration = sc_consensus_aura::slot_duration::<AuraId, _, _>(&*client)?;
		let aura = sc_consensus_aura::start_aura::<AuraPair, _, _, _, _, _, _, _, _, _, _>(
			StartAuraParams {
				slot_duration,
				client,
				select_chain,
				block_import: grandpa_block_import,
				proposer_factory,
				create_inherent_data_providers: move |_, ()| async move {
					let timestamp = sp_timestamp::InherentDataProvider::from_system_time();
					let slot = sp_consensus_aura::inherents::InherentDataProvider::from_timestamp_and_slot_duration(
						*timestamp,
						slot_duration,
					);
					Ok((slot, timestamp))
				},
				force_authoring,
				backoff_authoring_blocks: Option::<()>::None,
				keystore: keystore_container.keystore(),
				sync_oracle: sync_service.clone(),
				justification_sync_link: sync_service.clone(),
				block_proposal_slot_portion: SlotProportion::new(2f32 / 3f32),
				max_block_proposal_slot_portion: None,
				telemetry: telemetry.as_ref().map(|x| x.handle()),
				compatibility_mode: Default::default(),
			},
		)?;
		task_manager
			.spawn_essential_handle()
			.spawn_blocking("aura", Some("block-authoring"), aura);
	}

	if enable_grandpa {
		let keystore = if role.is_authority() { Some(keystore_container.keystore()) } else { None };
		let grandpa_config = sc_consensus_grandpa::Config {
			gossip_duration: Duration::from_millis(333),
			justification_generation_period: GRANDPA_JUSTIFICATION_PERIOD,
			name: Some(name),
			observer_enabled: false,
			keystore,
			local_role: role,
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			protocol_name: grandpa_protocol_name,
		};
		let grandpa_params = sc_consensus_grandpa::GrandpaParams {
			config: grandpa_config,
			link: grandpa_link,
			network,
			sync: Arc::new(sync_service),
			notification_service: grandpa_notification_service,
			voting_rule: sc_consensus_grandpa::VotingRulesBuilder::default().build(),
			prometheus_registry,
			shared_voter_state: SharedVoterState::empty(),
			telemetry: telemetry.as_ref().map(|x| x.handle()),
			offchain_tx_pool_factory: OffchainTransactionPoolFactory::new(transaction_pool),
		};
		task_manager.spawn_essential_handle().spawn_blocking(
			"grandpa-voter",
			None,
			sc_consensus_grandpa::run_grandpa_voter(grandpa_params)?,
		);
	}

	Ok(task_manager)
}
