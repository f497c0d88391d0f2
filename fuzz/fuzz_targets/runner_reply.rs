//! Runner replies: the lines a worker reads from a sandboxed runner's
//! stdout (task code writes them), framed with a bound, parsed as JSON,
//! and the steps and map values in them decoded
//! (`node-worker/src/runner_wire.rs`, compiled here from the same file).

#![no_main]

use delta_fuzz::runner_wire::{decode_reply, read_line_bounded, step_from_json, step_json, values_from_b64};
use libfuzzer_sys::fuzz_target;

/// A small line limit, so that overlong lines are reached by small inputs.
const LIMIT: usize = 512;

fuzz_target!(init: delta_fuzz::init("runner_reply"), |data: &[u8]| {
	let mut reader = std::io::BufReader::with_capacity(64, data);
	let mut held = 0usize;
	while let Some(line) = read_line_bounded(&mut reader, LIMIT).expect("reading a slice cannot fail") {
		if let delta_fuzz::runner_wire::Line::Bytes(bytes) = &line {
			assert!(bytes.len() <= LIMIT, "a line longer than the limit was held");
			held += bytes.len() + 1;
		}
		assert!(held <= data.len() + 1, "more bytes held than read");
		let Ok(reply) = decode_reply(&line) else { continue };
		let Ok(step) = step_from_json(&reply["step"]) else { continue };
		// A decoded step re-encodes to itself.
		assert_eq!(step_from_json(&step_json(&step)).expect("a written step reads back"), step);
		if let Some(values) = reply["values"].as_str() {
			let _ = values_from_b64(&step, values);
		}
	}
});
