//! The built-in chain specifications, all from the runtime's genesis presets.

use delta_runtime::WASM_BINARY;
use sc_service::ChainType;

/// A chain specification of Delta Chain.
/// Building genesis runs the runtime, which registers the genesis
/// verifying keys through the Groth16 host function.
pub type ChainSpec =
	sc_service::GenericChainSpec<sc_service::NoExtension, delta_zk_host::delta_zk_verify::HostFunctions>;

fn properties() -> sc_service::Properties {
	let mut properties = sc_service::Properties::new();
	properties.insert("tokenSymbol".into(), "DELTA".into());
	properties.insert("tokenDecimals".into(), 12.into());
	properties.insert("ss58Format".into(), 42.into());
	properties
}

fn wasm() -> Result<&'static [u8], String> {
	WASM_BINARY.ok_or_else(|| {
		"the runtime's wasm binary is missing: rebuild without SKIP_WASM_BUILD".to_string()
	})
}

/// `--dev`: Alice alone, sealing on demand.
pub fn development() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("Delta Development")
		.with_id("delta_dev")
		.with_chain_type(ChainType::Development)
		.with_genesis_config_preset_name(sp_genesis_builder::DEV_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// `--chain local`: Alice, Bob and Charlie as Aura + GRANDPA validators.
pub fn local_testnet() -> Result<ChainSpec, String> {
	Ok(ChainSpec::builder(wasm()?, None)
		.with_name("Delta Local Testnet")
		.with_id("delta_local")
		.with_chain_type(ChainType::Local)
		.with_genesis_config_preset_name(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET)
		.with_properties(properties())
		.build())
}

/// Builds a chain specification from a template file (`*.template.json`):
/// the network's name, id, chain type, boot nodes and properties, and a
/// genesis patch over the runtime's defaults. The runtime code is this
/// binary's, so a template never carries a stale runtime. See
/// `chain-spec/README.md`.
pub fn from_template(path: &std::path::Path) -> Result<ChainSpec, String> {
	let text = std::fs::read_to_string(path)
		.map_err(|e| format!("cannot read chain-spec template {}: {e}", path.display()))?;
	let template: serde_json::Value = serde_json::from_str(&text)
		.map_err(|e| format!("chain-spec template {} is not JSON: {e}", path.display()))?;
	let field = |name: &str| {
		template
			.get(name)
			.ok_or_else(|| format!("chain-spec template {} has no `{name}`", path.display()))
	};
	let text_field = |name: &str| -> Result<String, String> {
		field(name)?
			.as_str()
			.map(str::to_owned)
			.ok_or_else(|| format!("`{name}` in {} must be a string", path.display()))
	};
	let chain_type: ChainType = serde_json::from_value(field("chainType")?.clone())
		.map_err(|e| format!("`chainType` in {}: {e}", path.display()))?;
	let boot_nodes = match template.get("bootNodes") {
		None => Vec::new(),
		Some(value) => serde_json::from_value::<Vec<String>>(value.clone())
			.map_err(|e| format!("`bootNodes` in {}: {e}", path.display()))?
			.iter()
			.map(|node| {
				node.parse::<sc_network::config::MultiaddrWithPeerId>()
					.map_err(|e| format!("boot node {node} in {}: {e}", path.display()))
			})
			.collect::<Result<Vec<_>, _>>()?,
	};
	let properties = match template.get("properties") {
		None => properties(),
		Some(value) => serde_json::from_value(value.clone())
			.map_err(|e| format!("`properties` in {}: {e}", path.display()))?,
	};
	let mut builder = ChainSpec::builder(wasm()?, None)
		.with_name(&text_field("name")?)
		.with_id(&text_field("id")?)
		.with_chain_type(chain_type)
		.with_boot_nodes(boot_nodes)
		.with_properties(properties)
		.with_genesis_config_patch(field("genesis")?.clone());
	if let Ok(protocol_id) = text_field("protocolId") {
		builder = builder.with_protocol_id(&protocol_id);
	}
	Ok(builder.build())
}
