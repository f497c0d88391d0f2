//! Genesis presets: the starting states a network builder picks from.
//!
//! - `development`: one validator (Alice), the well-known dev accounts
//!   funded, Alice as sudo. What `delta-chain --dev` runs.
//! - `local_testnet`: three validators (Alice, Bob, Charlie) for a network
//!   on one machine or a LAN, same funded accounts.
//!
//! A new network starts from `chain-spec/testnet-template.json` instead, with
//! its own validator keys; see `chain-spec/README.md`.

use crate::{AccountId, BalancesConfig, RuntimeGenesisConfig, SudoConfig, UNIT};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_delta_zk_verify::KeyKind;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// The verifying keys every preset registers at genesis: the dataset
/// commitment of 5 rows x 2 columns (ranges 18..=120, 100..=250) and the sum
/// of its column 1, from `crypto/zk/fixtures` (see `delta-zk`'s
/// `zk_fixtures` example). Real deployments register keys for their own
/// shapes with `ZkVerify::register_key`.
const DATASET_KEY: &[u8] = include_bytes!("../../crypto/zk/fixtures/dataset_5x2.vk");
const SUM_KEY: &[u8] = include_bytes!("../../crypto/zk/fixtures/sum_5x2_col1.vk");

/// Balance given to each endowed account: enough for years of test traffic.
const ENDOWMENT: u128 = 1_000_000 * UNIT;

fn genesis(authorities: Vec<(AuraId, GrandpaId)>, endowed: Vec<AccountId>, sudo: AccountId) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed.iter().cloned().map(|account| (account, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: authorities.iter().map(|(aura, _)| aura.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: authorities.iter().map(|(_, grandpa)| (grandpa.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(sudo) },
		zk_verify: pallet_delta_zk_verify::GenesisConfig {
			keys: vec![
				(KeyKind::DatasetCommitment, DATASET_KEY.to_vec()),
				(KeyKind::ContributionSum, SUM_KEY.to_vec()),
			],
		},
	})
}

fn authority(aura: Sr25519Keyring, grandpa: Ed25519Keyring) -> (AuraId, GrandpaId) {
	(aura.public().into(), grandpa.public().into())
}

fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter().map(|k| k.to_account_id()).collect()
}

/// The `development` preset.
pub fn development_config_genesis() -> Value {
	genesis(
		vec![authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The `local_testnet` preset.
pub fn local_config_genesis() -> Value {
	genesis(
		vec![
			authority(Sr25519Keyring::Alice, Ed25519Keyring::Alice),
			authority(Sr25519Keyring::Bob, Ed25519Keyring::Bob),
			authority(Sr25519Keyring::Charlie, Ed25519Keyring::Charlie),
		],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// The JSON patch of a named preset.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_config_genesis(),
		_ => return None,
	};
	serde_json::to_string(&patch).ok().map(|json| json.into_bytes())
}

/// The names of the presets above.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
