//! Runner replies: the messages a worker reads from a sandboxed runner's
//! stdout (task code writes them), a line framed with a bound and parsed
//! as JSON, then the attachments it names, bounded too, and the steps and
//! map values in them decoded (`node-worker/src/runner_wire.rs`, compiled
//! here from the same file).

#![no_main]

use delta_fuzz::runner_wire::{read_message, step_from_json, step_json, values_from_reply, Request};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that overlong lines and attachments are reached by
/// small inputs.
const LIMIT: usize = 512;
const ATTACHED: usize = 256;

fuzz_target!(init: delta_fuzz::init("runner_reply"), |data: &[u8]| {
	let mut reader = std::io::BufReader::with_capacity(64, data);
	while let Some(reply) = read_message(&mut reader, LIMIT, ATTACHED).expect("reading a slice cannot fail") {
		let Ok(reply) = reply else { continue };
		assert!(reply.blobs.iter().map(Vec::len).sum::<usize>() <= ATTACHED, "attachments past the limit were held");
		let Ok(step) = step_from_json(&reply["step"], &reply.blobs) else { continue };
		// A decoded step re-encodes to itself.
		let mut request = Request::new(serde_json::json!({}));
		let written = step_json(&step, &mut request);
		let mut bytes = Vec::new();
		request.write_to(&mut bytes).expect("writing to memory cannot fail");
		let mut back = std::io::BufReader::new(&bytes[..]);
		let read = read_message(&mut back, usize::MAX, usize::MAX).unwrap().unwrap().unwrap();
		assert_eq!(step_from_json(&written, &read.blobs).expect("a written step reads back"), step);
		let _ = values_from_reply(&step, &reply);
	}
});
