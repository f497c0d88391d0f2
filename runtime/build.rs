fn main() {
	#[cfg(feature = "std")]
	{
		// The target dir lives outside the checkout, so the wasm builder cannot
		// find Cargo.lock by walking up from it. Point it at this workspace, for
		// this runtime only (a global setting would mislead the wasm builds of
		// other crates' test runtimes).
		if std::env::var_os("WASM_BUILD_WORKSPACE_HINT").is_none() {
			if let Some(root) = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent() {
				std::env::set_var("WASM_BUILD_WORKSPACE_HINT", root);
			}
		}
		substrate_wasm_builder::WasmBuilder::build_using_defaults();
	}
}
