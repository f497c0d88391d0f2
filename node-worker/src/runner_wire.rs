//! The worker's side of the runner protocol's wire: how a reply line is
//! framed and read, and how the steps and values in replies are decoded.
//!
//! Everything here is a pure function of the bytes the runner wrote, and
//! the runner runs the requester's code: every byte is untrusted. So each
//! decoder returns an error, never panics, and holds at most a stated
//! number of bytes whatever the runner writes.
//!
//! This module depends only on `delta-engine`, `serde_json`, `base64` and
//! `thiserror`, never on the rest of the worker: the fuzz targets under
//! `fuzz/` compile this very file (`#[path]`) without the worker's
//! dependency tree, so what is fuzzed is what the worker runs.

use std::io::{self, BufRead};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use delta_engine::{
	tensor::{split_bytes, MAX_STEP_ELEMENTS},
	DType, EngineError, OutputSpec, Privacy, StepSpec, Values,
};
use serde_json::{json, Value};

/// Longest reply line read from a runner: a map's values at the engine's
/// largest step (8-byte elements, base64) with 1 MiB for the rest of the
/// reply. A longer line is dropped, not held.
pub const MAX_REPLY_BYTES: usize = (MAX_STEP_ELEMENTS * 8).div_ceil(3) * 4 + (1 << 20);

/// Longest log line kept from a runner's stderr, in bytes; the rest of a
/// longer line is read and dropped.
pub const MAX_LOG_LINE_BYTES: usize = 8 * 1024;

/// Why a runner's reply is refused.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
	/// A step in the reply lacks a field or has one of the wrong type.
	#[error("malformed step: {0}")]
	MalformedStep(&'static str),
	/// The step's declared outputs are refused (names, sizes): the task's
	/// code declared them, so this is the task's error.
	#[error("{0}")]
	Outputs(EngineError),
	/// The reply line is not a JSON document.
	#[error("the runner replied with non-JSON")]
	NotJson,
	/// The reply line is longer than the worker reads.
	#[error("the runner's reply exceeds the limit of {limit} bytes")]
	TooLong {
		/// The limit, in bytes.
		limit: usize,
	},
}

/// One line of a runner's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Line {
	/// The line's bytes, without its `\n` (or `\r\n`).
	Bytes(Vec<u8>),
	/// The line was longer than the limit; its bytes were dropped.
	TooLong,
}

/// Reads the next line of `reader`, holding at most `limit` of its bytes:
/// the rest of a longer line is read and dropped, so a runner that writes
/// without end costs the worker no memory. `None` at the end of the
/// stream.
pub fn read_line_bounded<R: BufRead>(reader: &mut R, limit: usize) -> io::Result<Option<Line>> {
	let mut line = Vec::new();
	let mut too_long = false;
	let mut read_any = false;
	loop {
		let buf = match reader.fill_buf() {
			Ok(buf) => buf,
			Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
			Err(e) => return Err(e),
		};
		if buf.is_empty() {
			break;
		}
		read_any = true;
		let newline = buf.iter().position(|b| *b == b'\n');
		let chunk = &buf[..newline.unwrap_or(buf.len())];
		if !too_long {
			if line.len() + chunk.len() > limit {
				too_long = true;
				line = Vec::new();
			} else {
				line.extend_from_slice(chunk);
			}
		}
		let used = newline.map_or(buf.len(), |i| i + 1);
		reader.consume(used);
		if newline.is_some() {
			break;
		}
	}
	if !read_any {
		return Ok(None);
	}
	if too_long {
		return Ok(Some(Line::TooLong));
	}
	if line.last() == Some(&b'\r') {
		line.pop();
	}
	Ok(Some(Line::Bytes(line)))
}

/// A reply line as JSON.
pub fn decode_reply(line: &Line) -> Result<Value, WireError> {
	match line {
		Line::Bytes(bytes) => serde_json::from_slice(bytes).map_err(|_| WireError::NotJson),
		Line::TooLong => Err(WireError::TooLong { limit: MAX_REPLY_BYTES }),
	}
}

/// A step as the runner reads it.
pub fn step_json(step: &StepSpec) -> Value {
	let mut v = json!({
		"dataset": step.dataset,
		"body": B64.encode(&step.body),
		// `[name, dtype, shape]`, with the bound as a fourth element when
		// the step declares one.
		"outputs": step.outputs.iter().map(|o| match o.bound {
			Some(bound) => json!([o.name, o.dtype.name(), o.shape, bound]),
			None => json!([o.name, o.dtype.name(), o.shape]),
		}).collect::<Vec<_>>(),
	});
	if let Some(p) = &step.privacy {
		v["privacy"] = json!({"clip": p.clip, "noise_multiplier": p.noise_multiplier, "delta": p.delta});
	}
	v
}

/// A step from the runner's reply, its outputs checked against the
/// engine's bounds.
pub fn step_from_json(v: &Value) -> Result<StepSpec, WireError> {
	let bad = WireError::MalformedStep;
	let dataset = v["dataset"].as_str().ok_or(bad("dataset"))?.to_string();
	let body = B64.decode(v["body"].as_str().ok_or(bad("body"))?).map_err(|_| bad("body"))?;
	let mut outputs = Vec::new();
	for o in v["outputs"].as_array().ok_or(bad("outputs"))? {
		// `[name, dtype, shape]` or `[name, dtype, shape, bound]`.
		if !o.as_array().is_some_and(|a| (3..=4).contains(&a.len())) {
			return Err(bad("output"));
		}
		let name = o[0].as_str().ok_or(bad("output name"))?;
		let dtype = o[1].as_str().and_then(DType::from_name).ok_or(bad("output dtype"))?;
		let mut shape = Vec::new();
		for d in o[2].as_array().ok_or(bad("output shape"))? {
			shape.push(d.as_u64().and_then(|d| u32::try_from(d).ok()).ok_or(bad("output shape"))?);
		}
		// The bound is optional: absent or null for none.
		let bound = match o.get(3) {
			None | Some(Value::Null) => None,
			Some(b) => Some(b.as_f64().ok_or(bad("output bound"))?),
		};
		outputs.push(OutputSpec { name: name.to_string(), dtype, shape, bound });
	}
	delta_engine::tensor::check_outputs(&outputs).map_err(WireError::Outputs)?;
	// Differential privacy: absent or null for none.
	let privacy = match v.get("privacy") {
		None | Some(Value::Null) => None,
		Some(p) => {
			let field = |name: &'static str| p.get(name).and_then(Value::as_f64).ok_or(bad("privacy"));
			let privacy =
				Privacy { clip: field("clip")?, noise_multiplier: field("noise_multiplier")?, delta: field("delta")? };
			privacy.check().map_err(|e| WireError::Outputs(e.into()))?;
			Some(privacy)
		},
	};
	Ok(StepSpec { dataset, body, outputs, privacy })
}

/// A map's reply: its outputs' bytes, each in its declared type, checked
/// against the step.
pub fn values_from_b64(step: &StepSpec, text: &str) -> Result<Vec<Values>, EngineError> {
	let bytes = B64.decode(text).map_err(|_| EngineError::Executor("the map's values are not base64".into()))?;
	split_bytes(&step.outputs, &bytes, false)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn lines(input: &[u8], limit: usize) -> Vec<Line> {
		let mut reader = io::BufReader::with_capacity(4, input);
		std::iter::from_fn(|| read_line_bounded(&mut reader, limit).unwrap()).collect()
	}

	#[test]
	fn lines_are_split_and_an_overlong_one_is_dropped_not_held() {
		let got = lines(b"{}\r\nabcdefgh\nlast", 5);
		assert_eq!(got, [Line::Bytes(b"{}".to_vec()), Line::TooLong, Line::Bytes(b"last".to_vec())]);
		assert_eq!(lines(b"", 5), []);
		assert_eq!(lines(b"\n\n", 5), [Line::Bytes(vec![]), Line::Bytes(vec![])]);
		// A runner writing without end: only the limit is ever held.
		let endless = vec![b'x'; 1 << 20];
		assert_eq!(lines(&endless, 1024), [Line::TooLong]);
	}

	#[test]
	fn replies_that_are_not_json_or_too_long_are_protocol_errors() {
		assert!(matches!(decode_reply(&Line::Bytes(b"{\"ok\": tru".to_vec())), Err(WireError::NotJson)));
		assert!(matches!(decode_reply(&Line::Bytes(vec![0xff, b'{'])), Err(WireError::NotJson)));
		assert!(matches!(decode_reply(&Line::TooLong), Err(WireError::TooLong { .. })));
		assert_eq!(decode_reply(&Line::Bytes(b"{\"ok\":true}".to_vec())).unwrap(), json!({"ok": true}));
	}

	#[test]
	fn steps_round_trip_and_malformed_ones_name_the_field() {
		let step = StepSpec {
			dataset: "d".into(),
			body: vec![1, 2, 3],
			outputs: vec![OutputSpec::new("w", DType::F32, vec![2, 3]).bounded(0.5)],
			privacy: None,
		};
		assert_eq!(step_from_json(&step_json(&step)).unwrap(), step);
		let private =
			StepSpec { privacy: Some(Privacy { clip: 2.0, noise_multiplier: 1.1, delta: 1e-6 }), ..step.clone() };
		assert_eq!(step_from_json(&step_json(&private)).unwrap(), private);
		let mut refused = step_json(&private);
		refused["privacy"]["noise_multiplier"] = json!(0.0);
		assert!(step_from_json(&refused).unwrap_err().to_string().contains("noise multiplier"));
		let mut v = step_json(&step);
		v["outputs"][0][2] = json!([1u64 << 33]);
		assert_eq!(step_from_json(&v).unwrap_err().to_string(), "malformed step: output shape");
		v["outputs"][0][2] = json!([1 << 14, 1 << 14]);
		assert!(matches!(step_from_json(&v), Err(WireError::Outputs(_))));
		assert_eq!(step_from_json(&json!(7)).unwrap_err().to_string(), "malformed step: dataset");
		let values = values_from_b64(&step, &B64.encode([0u8; 24])).unwrap();
		assert_eq!(values, [Values::F32(vec![0.0; 6])]);
		assert!(values_from_b64(&step, "!").is_err());
	}
}
