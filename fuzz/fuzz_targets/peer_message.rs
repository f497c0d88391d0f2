//! Peer messages: the postcard bytes a worker accepts from another worker
//! (`node-worker/src/transport.rs` decodes them as the engine's `Message`),
//! then what a member computes from an announcement before it touches any
//! data: the step's declared outputs, the fixed-point encoding of outputs
//! of those types, and the SecAgg+ neighbourhood for the graph the
//! requester asks for.

#![no_main]

use delta_engine::{io::canonical, tensor, Message, Values};
use libfuzzer_sys::fuzz_target;

/// Largest step the target encodes for real (the engine allows 2^26
/// elements; encoding that many is a legitimate gigabyte, not a finding).
const ENCODE_AT_MOST: usize = 1 << 12;

fuzz_target!(init: delta_fuzz::init("peer_message"), |data: &[u8]| {
	let Ok(message) = Message::decode(data) else { return };
	// What was decoded encodes, and decodes again to the same bytes.
	let bytes = canonical(&message).expect("a decoded message encodes");
	let again = Message::decode(&bytes).expect("an encoded message decodes");
	assert_eq!(canonical(&again).expect("re-encodes"), bytes);

	let Message::Announce(a) = message else { return };
	let Ok(len) = tensor::check_outputs(&a.step.outputs) else { return };
	if len <= ENCODE_AT_MOST {
		let values: Vec<Values> = a
			.step
			.outputs
			.iter()
			.map(|o| {
				let n = o.elements().unwrap_or(0);
				match o.dtype {
					delta_engine::DType::F64 => Values::F64(vec![0.5; n]),
					delta_engine::DType::F32 => Values::F32(vec![0.5; n]),
					delta_engine::DType::I64 => Values::I64(vec![1; n]),
				}
			})
			.collect();
		for members in [1, 3, 1000] {
			if let Ok(vector) = tensor::encode(&a.step.outputs, &values, &a.encoding, members) {
				let _ = tensor::decode(&a.step.outputs, &vector, &a.encoding, members);
			}
		}
	}
	// Both sides size the graph from the ledger's member count.
	for n in [2, 64, 1000] {
		let _ = delta_secagg::params::choose(n, n / 2 + 1, a.graph);
	}
});
