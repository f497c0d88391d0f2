//! The board's connection to its `delta-worker`: JSON-RPC over HTTP with the
//! worker's own token, which never leaves the board. Connections are kept
//! alive and reused, so forwarding a user's call costs little more than
//! the worker's own answer.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

/// The longest the board waits for one answer of the worker.
const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// What asking the worker can fail with.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
	#[error("the worker at {url} cannot be reached: {detail}")]
	Unreachable { url: String, detail: String },
	#[error("the worker at {url} did not answer within {} s", ANSWER_WITHIN.as_secs())]
	Timeout { url: String },
	#[error("the worker at {url} answered HTTP {status}: {body}")]
	Http { url: String, status: u16, body: String },
	#[error("the worker at {url} sent something that is not JSON-RPC: {detail}")]
	Malformed { url: String, detail: String },
	/// The worker's own JSON-RPC error, passed on as it came.
	#[error("{message} (JSON-RPC error {code})")]
	Rpc { code: i64, message: String },
}

/// One worker's API.
#[derive(Clone)]
pub struct Worker {
	url: String,
	authorization: String,
	client: Client<HttpConnector, Full<Bytes>>,
}

impl Worker {
	/// The worker at `url` (`http://host:port`) with its API `token`.
	pub fn new(url: &str, token: &str) -> Worker {
		let mut connector = HttpConnector::new();
		connector.set_nodelay(true);
		let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(connector);
		Worker { url: url.trim_end_matches('/').to_owned(), authorization: format!("Bearer {}", token.trim()), client }
	}

	/// The worker's address.
	pub fn url(&self) -> &str {
		&self.url
	}

	/// Sends one JSON-RPC request body as it is and returns the worker's
	/// answer body as it is (HTTP 200 only).
	pub async fn forward(&self, body: Bytes) -> Result<Bytes, WorkerError> {
		let request = hyper::Request::post(&self.url)
			.header(hyper::header::CONTENT_TYPE, "application/json")
			.header(hyper::header::AUTHORIZATION, &self.authorization)
			.body(Full::new(body))
			.map_err(|e| WorkerError::Unreachable { url: self.url.clone(), detail: e.to_string() })?;
		let exchange = async {
			let response = self
				.client
				.request(request)
				.await
				.map_err(|e| WorkerError::Unreachable { url: self.url.clone(), detail: error_chain(&e) })?;
			let status = response.status();
			let bytes = response
				.into_body()
				.collect()
				.await
				.map_err(|e| WorkerError::Unreachable { url: self.url.clone(), detail: e.to_string() })?
				.to_bytes();
			if !status.is_success() {
				let body = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
				return Err(WorkerError::Http { url: self.url.clone(), status: status.as_u16(), body });
			}
			Ok(bytes)
		};
		tokio::time::timeout(ANSWER_WITHIN, exchange)
			.await
			.map_err(|_| WorkerError::Timeout { url: self.url.clone() })?
	}

	/// Calls `method` with `params` and returns its result.
	pub async fn call(&self, method: &str, params: Value) -> Result<Value, WorkerError> {
		let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
		let raw = self.forward(Bytes::from(body.to_string())).await?;
		let mut answer: Value = serde_json::from_slice(&raw)
			.map_err(|e| WorkerError::Malformed { url: self.url.clone(), detail: e.to_string() })?;
		if let Some(error) = answer.get("error") {
			return Err(WorkerError::Rpc {
				code: error["code"].as_i64().unwrap_or(0),
				message: error["message"].as_str().unwrap_or("unknown error").to_owned(),
			});
		}
		match answer.get_mut("result") {
			Some(result) => Ok(result.take()),
			None => Err(WorkerError::Malformed { url: self.url.clone(), detail: "neither result nor error".into() }),
		}
	}
}

fn error_chain(e: &dyn std::error::Error) -> String {
	let mut text = e.to_string();
	let mut source = e.source();
	while let Some(s) = source {
		text.push_str(": ");
		text.push_str(&s.to_string());
		source = s.source();
	}
	text
}
