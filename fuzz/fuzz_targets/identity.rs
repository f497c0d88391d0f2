//! A member's registration record as the identity pallet and the
//! coordinator check it before storing it (`delta-primitives::identity`):
//! the endpoint multiaddr (with any base58 `/p2p/` peer id), the binary
//! peer id, the display name. The first byte picks which (`e`, `p`, `n`).

#![no_main]

use delta_primitives::identity::{validate_display_name, validate_endpoint, validate_peer_id};
use libfuzzer_sys::fuzz_target;

fuzz_target!(init: delta_fuzz::init("identity"), |data: &[u8]| {
	let Some((&which, data)) = data.split_first() else { return };
	match which {
		b'e' => {
			let _ = validate_endpoint(data);
		},
		b'p' => {
			let _ = validate_peer_id(data);
		},
		b'n' => {
			let _ = validate_display_name(data);
		},
		_ => {
			let _ = delta_primitives::base58::decode(&String::from_utf8_lossy(data));
		},
	}
});
