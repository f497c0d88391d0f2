//! The worker's side of the runner protocol's wire: how a message is
//! framed (a JSON line, then the binary attachments its `blobs` names) and
//! read, and how the steps and values in replies are decoded.
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

use std::{
	borrow::Cow,
	io::{self, BufRead, Read, Write},
};

use base64::{engine::general_purpose::STANDARD as B64, Engine as _};
use delta_engine::{
	tensor::{split_bytes, MAX_STEP_ELEMENTS},
	DType, EngineError, OutputSpec, Privacy, StepSpec, Values,
};
use serde_json::{json, Value};

/// Longest reply line read from a runner: a task's result (`done`, whose
/// arrays `delta._wire` carries as base64 text) as large as a model at the
/// engine's largest step (8-byte elements, base64), with 1 MiB for the
/// rest of the reply; the other large fields come as attachments. A longer
/// line is dropped, not held.
pub const MAX_REPLY_BYTES: usize = (MAX_STEP_ELEMENTS * 8).div_ceil(3) * 4 + (1 << 20);

/// Most bytes of attachments one reply may carry: a map's values at the
/// engine's largest step (8-byte elements) and a step body as large, with
/// 1 MiB to spare. A reply naming more is read and dropped, not held.
pub const MAX_ATTACHED_BYTES: usize = 2 * MAX_STEP_ELEMENTS * 8 + (1 << 20);

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
	/// The reply's `blobs` is not a list of byte lengths: where the next
	/// reply starts is unknown, so nothing more is read from this runner.
	#[error("the runner's reply has a malformed attachment list")]
	MalformedBlobs,
	/// A binary field is missing, names an attachment that was not sent,
	/// or is neither an attachment nor base64 text.
	#[error("the runner's reply has no valid {0}")]
	Binary(&'static str),
}

/// A message of the runner protocol: its JSON object and its attachments.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Message {
	/// The JSON line, without `blobs`.
	pub json: Value,
	/// The attachments, in order.
	pub blobs: Vec<Vec<u8>>,
}

impl Message {
	/// The binary field `value` (`{"blob": i}`, or base64 text) of this
	/// message, named `what` in the error.
	pub fn binary<'a>(&'a self, value: &Value, what: &'static str) -> Result<Cow<'a, [u8]>, WireError> {
		binary(value, &self.blobs, what)
	}
}

/// A message's JSON fields, as `message["field"]`.
impl std::ops::Index<&str> for Message {
	type Output = Value;

	fn index(&self, key: &str) -> &Value {
		&self.json[key]
	}
}

/// The binary field `value`: the attachment `{"blob": i}` of `blobs`, or
/// base64 text.
pub fn binary<'a>(value: &Value, blobs: &'a [Vec<u8>], what: &'static str) -> Result<Cow<'a, [u8]>, WireError> {
	if let Some(text) = value.as_str() {
		return B64.decode(text).map(Cow::Owned).map_err(|_| WireError::Binary(what));
	}
	let index = value.as_object().filter(|o| o.len() == 1).and_then(|o| o.get("blob")).and_then(Value::as_u64);
	index
		.and_then(|i| usize::try_from(i).ok())
		.and_then(|i| blobs.get(i))
		.map(|b| Cow::Borrowed(b.as_slice()))
		.ok_or(WireError::Binary(what))
}

/// A request being built: its JSON and the attachments it refers to.
pub struct Request<'a> {
	/// The JSON object (`blobs` is added when it is written).
	pub json: Value,
	blobs: Vec<&'a [u8]>,
}

impl<'a> Request<'a> {
	/// A request of `json` without attachments yet.
	pub fn new(json: Value) -> Self {
		Self { json, blobs: Vec::new() }
	}

	/// Attaches `bytes`; returns the JSON that refers to them.
	pub fn attach(&mut self, bytes: &'a [u8]) -> Value {
		self.blobs.push(bytes);
		json!({ "blob": self.blobs.len() - 1 })
	}

	/// Writes the request: its JSON line (with `blobs` when it has
	/// attachments), then the attachments as they are.
	pub fn write_to<W: Write>(mut self, out: &mut W) -> io::Result<()> {
		if !self.blobs.is_empty() {
			self.json["blobs"] = json!(self.blobs.iter().map(|b| b.len()).collect::<Vec<_>>());
		}
		let mut line = self.json.to_string().into_bytes();
		line.push(b'\n');
		out.write_all(&line)?;
		for blob in &self.blobs {
			out.write_all(blob)?;
		}
		out.flush()
	}
}

/// Reads the next reply of `reader`: a line of at most `line_limit` bytes
/// (see [`read_line_bounded`]), then the attachments it names, at most
/// `attached_limit` bytes in all (more are read and dropped). `None` at the
/// end of the stream. A reply that is refused (not JSON, too long) is
/// `Some(Err(..))`, and the next one can still be read, except after
/// [`WireError::MalformedBlobs`].
pub fn read_message<R: BufRead>(
	reader: &mut R,
	line_limit: usize,
	attached_limit: usize,
) -> io::Result<Option<Result<Message, WireError>>> {
	let Some(line) = read_line_bounded(reader, line_limit)? else {
		return Ok(None);
	};
	let mut json = match decode_reply(&line) {
		Ok(v) => v,
		Err(e) => return Ok(Some(Err(e))),
	};
	let lengths = match json.as_object_mut().and_then(|o| o.remove("blobs")) {
		None => Vec::new(),
		Some(list) => {
			let lengths: Option<Vec<u64>> = list.as_array().and_then(|a| a.iter().map(Value::as_u64).collect());
			match lengths {
				Some(l) => l,
				None => return Ok(Some(Err(WireError::MalformedBlobs))),
			}
		},
	};
	let total = lengths.iter().try_fold(0u64, |sum, n| sum.checked_add(*n));
	let Some(total) = total else {
		return Ok(Some(Err(WireError::MalformedBlobs)));
	};
	if total > attached_limit as u64 {
		// Read and dropped, so that the next reply is found.
		let skipped = io::copy(&mut reader.take(total), &mut io::sink())?;
		if skipped != total {
			return Ok(None);
		}
		return Ok(Some(Err(WireError::TooLong { limit: attached_limit })));
	}
	let mut blobs = Vec::with_capacity(lengths.len());
	for n in lengths {
		// `total` is within the limit, so each length fits in memory.
		let mut blob = vec![0u8; n as usize];
		if let Err(e) = reader.read_exact(&mut blob) {
			return if e.kind() == io::ErrorKind::UnexpectedEof { Ok(None) } else { Err(e) };
		}
		blobs.push(blob);
	}
	Ok(Some(Ok(Message { json, blobs })))
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

/// A reply line as JSON (its attachments are read by [`read_message`]).
pub fn decode_reply(line: &Line) -> Result<Value, WireError> {
	match line {
		Line::Bytes(bytes) => serde_json::from_slice(bytes).map_err(|_| WireError::NotJson),
		Line::TooLong => Err(WireError::TooLong { limit: MAX_REPLY_BYTES }),
	}
}

/// A step as the runner reads it, its body attached to `request`.
pub fn step_json<'a>(step: &'a StepSpec, request: &mut Request<'a>) -> Value {
	let body = request.attach(&step.body);
	let mut v = json!({
		"dataset": step.dataset,
		"body": body,
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

/// A step from the runner's reply (`v`, with the reply's attachments
/// `blobs`), its outputs checked against the engine's bounds.
pub fn step_from_json(v: &Value, blobs: &[Vec<u8>]) -> Result<StepSpec, WireError> {
	let bad = WireError::MalformedStep;
	let dataset = v["dataset"].as_str().ok_or(bad("dataset"))?.to_string();
	let body = binary(&v["body"], blobs, "step body").map_err(|_| bad("body"))?.into_owned();
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

/// A map's reply: its outputs' bytes (the attachment or base64 text
/// `value` of `reply`), each in its declared type, checked against the step.
pub fn values_from_reply(step: &StepSpec, reply: &Message) -> Result<Vec<Values>, EngineError> {
	let bytes = reply
		.binary(&reply.json["values"], "values")
		.map_err(|_| EngineError::Executor("the map's values are neither an attachment nor base64".into()))?;
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

	/// A step as the worker writes it, and the attachments it carries.
	fn wire(step: &StepSpec) -> (Value, Vec<Vec<u8>>) {
		let mut request = Request::new(json!({}));
		let v = step_json(step, &mut request);
		(v, request.blobs.iter().map(|b| b.to_vec()).collect())
	}

	fn messages(bytes: &[u8], attached_limit: usize) -> Vec<Result<Message, WireError>> {
		let mut reader = io::BufReader::with_capacity(4, bytes);
		std::iter::from_fn(|| read_message(&mut reader, 1024, attached_limit).unwrap()).collect()
	}

	#[test]
	fn steps_round_trip_and_malformed_ones_name_the_field() {
		let step = StepSpec {
			dataset: "d".into(),
			body: vec![1, 2, 3],
			outputs: vec![OutputSpec::new("w", DType::F32, vec![2, 3]).bounded(0.5)],
			privacy: None,
		};
		let (v, blobs) = wire(&step);
		assert_eq!(v["body"], json!({"blob": 0}), "the body travels as an attachment");
		assert_eq!(step_from_json(&v, &blobs).unwrap(), step);
		// A reader also takes the body as base64 text.
		let mut text = v.clone();
		text["body"] = json!(B64.encode([1, 2, 3]));
		assert_eq!(step_from_json(&text, &[]).unwrap(), step);
		assert_eq!(step_from_json(&v, &[]).unwrap_err().to_string(), "malformed step: body");
		let private =
			StepSpec { privacy: Some(Privacy { clip: 2.0, noise_multiplier: 1.1, delta: 1e-6 }), ..step.clone() };
		let (mut refused, blobs) = wire(&private);
		assert_eq!(step_from_json(&refused, &blobs).unwrap(), private);
		refused["privacy"]["noise_multiplier"] = json!(0.0);
		assert!(step_from_json(&refused, &blobs).unwrap_err().to_string().contains("noise multiplier"));
		let (mut v, blobs) = wire(&step);
		v["outputs"][0][2] = json!([1u64 << 33]);
		assert_eq!(step_from_json(&v, &blobs).unwrap_err().to_string(), "malformed step: output shape");
		v["outputs"][0][2] = json!([1 << 14, 1 << 14]);
		assert!(matches!(step_from_json(&v, &blobs), Err(WireError::Outputs(_))));
		assert_eq!(step_from_json(&json!(7), &[]).unwrap_err().to_string(), "malformed step: dataset");
		let reply = Message { json: json!({"values": {"blob": 0}}), blobs: vec![vec![0u8; 24]] };
		assert_eq!(values_from_reply(&step, &reply).unwrap(), [Values::F32(vec![0.0; 6])]);
		let text = Message { json: json!({"values": B64.encode([0u8; 24])}), blobs: vec![] };
		assert_eq!(values_from_reply(&step, &text).unwrap(), [Values::F32(vec![0.0; 6])]);
		for wrong in [json!({"values": "!"}), json!({"values": {"blob": 1}}), json!({})] {
			let reply = Message { json: wrong, blobs: vec![vec![0u8; 24]] };
			assert!(values_from_reply(&step, &reply).is_err());
		}
	}

	#[test]
	fn messages_carry_their_attachments_and_bad_framing_is_refused_without_holding_it() {
		let (values, body) = (vec![7u8; 10], vec![1u8, 0, 2]);
		let mut request = Request::new(json!({"op": "reduce"}));
		let sums = request.attach(&values);
		request.json["sums"] = sums;
		let step = request.attach(&body);
		request.json["body"] = step;
		let mut written = Vec::new();
		request.write_to(&mut written).unwrap();
		written.extend_from_slice(b"{\"ok\":true}\n");
		let read = messages(&written, 1 << 20);
		let first = read[0].as_ref().unwrap();
		assert_eq!(first.json, json!({"op": "reduce", "sums": {"blob": 0}, "body": {"blob": 1}}));
		assert_eq!(first.binary(&first.json["sums"], "sums").unwrap().as_ref(), &values[..]);
		assert_eq!(first.binary(&first.json["body"], "body").unwrap().as_ref(), &body[..]);
		assert_eq!(read[1].as_ref().unwrap().json, json!({"ok": true}), "the next message is found");
		assert_eq!(read.len(), 2);

		// Attachments past the limit are read and dropped; the next reply
		// is still found.
		let mut big = b"{\"blobs\":[6,5]}\n".to_vec();
		big.extend_from_slice(b"abcdefghijk{}\n");
		let read = messages(&big, 10);
		assert!(matches!(read[0], Err(WireError::TooLong { limit: 10 })));
		assert_eq!(read[1].as_ref().unwrap().json, json!({}));
		// A list that is not byte lengths loses the framing; a stream that
		// ends inside an attachment ends.
		let read = messages(b"{\"blobs\":[-1]}\n", 10);
		assert!(matches!(read[..], [Err(WireError::MalformedBlobs)]));
		let read = messages(b"{\"blobs\":\"x\"}\n", 10);
		assert!(matches!(read[..], [Err(WireError::MalformedBlobs)]));
		assert!(messages(b"{\"blobs\":[4]}\nab", 10).is_empty());
	}
}
