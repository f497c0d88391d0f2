//! The requesters' API: JSON-RPC 2.0 over HTTP and WebSocket on one port.
//! Every request must carry `Authorization: Bearer <token>`; without the
//! right token the HTTP request is answered 401 before any method runs.
//!
//! Methods (params by name):
//! - `delta_submit {package, members?, min_members?, threshold?, phase_timeout_s?, compute_timeout_s?}` -> `{id}`
//! - `delta_status {id}`, `delta_list {}`: where tasks stand
//! - `delta_result {id}` -> `{result}` (the task's result, JSON as the SDK encodes it)
//! - `delta_logs {id, from}` -> `{lines, next}`; subscription `delta_subscribeLogs {id}`
//! - `delta_events {id, from}` -> `{events, next}`: what happened, typed
//!   (`{"event": "members_joined", "round": 0, "members": 3, ...}`)
//! - `delta_datasets {}`: names and schemas of the shared datasets, never
//!   their data, with each snapshot's `version`, `rows`, `sha256` and
//!   `prepared_ms`, and the differential privacy it requires (`privacy`)
//! - `delta_refreshDatasets {names?}` -> `[{name, version, rows, hash, error?}]`:
//!   prepares new snapshots (every dataset without `names`); a failed one
//!   keeps the old snapshot and says why
//! - `delta_info {}`: this worker's account and name
//! - `delta_policy {}`: the holder's policy (who may ask, who may run
//!   code, least members and rows, round and output caps)
//! - `delta_members {}` -> `[{account, name, endpoint, peer_id, this_worker}]`:
//!   the network's registered members, as the ledger lists them

use std::{
	future::Future,
	net::SocketAddr,
	pin::Pin,
	sync::Arc,
	task::{Context, Poll},
	time::Duration,
};

use jsonrpsee::{
	server::{HttpBody, HttpRequest, HttpResponse, Server, ServerHandle},
	types::{ErrorObject, ErrorObjectOwned},
	RpcModule, SubscriptionMessage,
};
use serde::Deserialize;
use serde_json::json;

use crate::{
	state::Submission,
	worker::{SubmitError, SubmitRequest, Worker},
};

/// Error codes of the API.
pub mod codes {
	/// No task with that id.
	pub const UNKNOWN_TASK: i32 = -32004;
	/// The task has not finished.
	pub const NOT_FINISHED: i32 = -32010;
	/// The task failed.
	pub const FAILED: i32 = -32011;
	/// The package was refused.
	pub const PACKAGE_REFUSED: i32 = -32020;
	/// The member list cannot be used.
	pub const MEMBERS: i32 = -32021;
	/// The ledger or storage is unavailable.
	pub const UNAVAILABLE: i32 = -32030;
}

fn error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
	ErrorObject::owned(code, message.into(), None::<()>)
}

fn invalid(e: impl std::fmt::Display) -> ErrorObjectOwned {
	error(-32602, format!("invalid params: {e}"))
}

fn storage(e: rusqlite::Error) -> ErrorObjectOwned {
	error(codes::UNAVAILABLE, format!("state database: {e}"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IdParam {
	id: String,
}

/// Whose privacy spending on which dataset: the holder defaults to this
/// worker's account, the requester too (what this worker's own tasks have
/// spent).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshParam {
	#[serde(default)]
	names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivacyParam {
	dataset: String,
	#[serde(default)]
	holder: Option<String>,
	#[serde(default)]
	requester: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LogsParam {
	id: String,
	#[serde(default)]
	from: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Nothing {}

fn status(worker: &Worker, id: &str) -> Result<Submission, ErrorObjectOwned> {
	worker.state.get(id).map_err(storage)?.ok_or_else(|| error(codes::UNKNOWN_TASK, format!("no task {id}")))
}

fn with_progress(worker: &Worker, s: Submission) -> Result<serde_json::Value, ErrorObjectOwned> {
	let mut v = serde_json::to_value(&s).map_err(|e| error(-32603, e.to_string()))?;
	let lines = worker.state.logs(&s.id, 0).map_err(storage)?;
	v["progress"] = json!(lines.into_iter().map(|l| l.line).collect::<Vec<_>>());
	Ok(v)
}

/// The API's methods over `worker`.
pub fn rpc_module(worker: Arc<Worker>) -> Result<RpcModule<Arc<Worker>>, jsonrpsee::core::RegisterMethodError> {
	let mut m = RpcModule::new(worker);
	m.register_blocking_method("delta_submit", |p, w, _| {
		let req: SubmitRequest = p.parse().map_err(invalid)?;
		match w.submit(req) {
			Ok(id) => Ok(json!({ "id": id })),
			Err(e @ SubmitError::Invalid(_)) => Err(invalid(e)),
			Err(e @ SubmitError::Package(_)) => Err(error(codes::PACKAGE_REFUSED, e.to_string())),
			Err(e @ SubmitError::Members(_)) => Err(error(codes::MEMBERS, e.to_string())),
			Err(e @ SubmitError::Unavailable(_)) => Err(error(codes::UNAVAILABLE, e.to_string())),
		}
	})?;
	m.register_method("delta_status", |p, w, _| {
		let IdParam { id } = p.parse().map_err(invalid)?;
		let s = status(w, &id)?;
		with_progress(w, s)
	})?;
	m.register_method("delta_list", |p, w, _| {
		if p.as_str().is_some() {
			let _: Nothing = p.parse().map_err(invalid)?;
		}
		let all = w.state.list().map_err(storage)?;
		all.into_iter().map(|s| with_progress(w, s)).collect::<Result<Vec<_>, _>>()
	})?;
	m.register_method("delta_result", |p, w, _| {
		let IdParam { id } = p.parse().map_err(invalid)?;
		let s = status(w, &id)?;
		match s.state.as_str() {
			"done" => {
				let bytes = w.state.result(&id).map_err(storage)?.unwrap_or_default();
				let result: serde_json::Value =
					serde_json::from_slice(&bytes).map_err(|e| error(-32603, format!("stored result: {e}")))?;
				Ok(json!({ "result": result }))
			},
			"failed" => Err(error(codes::FAILED, format!("failed: {}", s.error.unwrap_or_default()))),
			_ => Err(error(codes::NOT_FINISHED, "not finished")),
		}
	})?;
	m.register_method("delta_logs", |p, w, _| {
		let LogsParam { id, from } = p.parse().map_err(invalid)?;
		status(w, &id)?;
		let lines = w.state.logs(&id, from).map_err(storage)?;
		let next = lines.last().map(|l| l.seq + 1).unwrap_or(from);
		Ok::<_, ErrorObjectOwned>(json!({ "lines": lines, "next": next }))
	})?;
	m.register_method("delta_events", |p, w, _| {
		let LogsParam { id, from } = p.parse().map_err(invalid)?;
		status(w, &id)?;
		let events = w.state.events(&id, from).map_err(storage)?;
		let next = events.last().and_then(|e| e["seq"].as_u64()).map(|s| s + 1).unwrap_or(from);
		Ok::<_, ErrorObjectOwned>(json!({ "events": events, "next": next }))
	})?;
	m.register_method("delta_datasets", |_, w, _| {
		json!(w
			.datasets
			.shared()
			.into_iter()
			.map(|(name, d)| {
				json!({
					"name": name,
					"columns": d.columns,
					"version": d.version,
					"rows": d.rows,
					"sha256": d.hash,
					"prepared_ms": d.prepared_ms,
					"privacy": d.privacy,
				})
			})
			.collect::<Vec<_>>())
	})?;
	m.register_blocking_method("delta_refreshDatasets", |p, w, _| {
		let RefreshParam { names } = if p.as_str().is_some_and(|t| !t.trim().is_empty()) {
			p.parse().map_err(invalid)?
		} else {
			RefreshParam { names: Vec::new() }
		};
		Ok::<_, ErrorObjectOwned>(json!(w.refresh_datasets(&names)))
	})?;
	m.register_blocking_method("delta_privacySpent", |p, w, _| {
		let PrivacyParam { dataset, holder, requester } = p.parse().map_err(invalid)?;
		let me = w.ledger.account();
		let account = |text: Option<String>| match text {
			Some(t) => delta_engine::AccountId::parse(&t).map_err(invalid),
			None => Ok(me),
		};
		let (holder, requester) = (account(holder)?, account(requester)?);
		let spent = w
			.ledger
			.privacy_spent(&holder, &dataset, &requester)
			.map_err(|e| error(codes::UNAVAILABLE, e.to_string()))?;
		Ok::<_, ErrorObjectOwned>(json!({
			"holder": holder.to_ss58(),
			"requester": requester.to_ss58(),
			"dataset": dataset,
			"epsilon": spent as f64 / 1e6,
		}))
	})?;
	m.register_method("delta_policy", |_, w, _| {
		let p = w.datasets.policy();
		let who = |r: &crate::datasets::Requesters| match r {
			crate::datasets::Requesters::Open => json!("*"),
			crate::datasets::Requesters::Only(list) => json!(list.iter().map(|a| a.to_ss58()).collect::<Vec<_>>()),
		};
		json!({
			"requesters": who(&p.requesters),
			"code_requesters": who(&p.code_requesters),
			"min_members": p.min_members,
			"min_rows": p.min_rows,
			"max_rounds": p.max_rounds,
			"min_cell_rows": p.min_cell_rows,
			"max_values_per_step": p.max_values_per_step,
			"rows_per_value": p.rows_per_value,
		})
	})?;
	m.register_blocking_method("delta_members", |_, w, _| {
		let members = w.ledger.members().map_err(|e| error(codes::UNAVAILABLE, e.to_string()))?;
		let me = w.ledger.account();
		Ok::<_, ErrorObjectOwned>(json!(members
			.into_iter()
			.map(|m| {
				let peer = libp2p::PeerId::from_bytes(&m.peer_id.0).map(|p| p.to_string()).unwrap_or_default();
				json!({
					"account": m.account.to_ss58(),
					"name": m.display_name,
					"endpoint": m.endpoint,
					"peer_id": peer,
					"this_worker": m.account == me,
				})
			})
			.collect::<Vec<_>>()))
	})?;
	m.register_method(
		"delta_info",
		|_, w, _| json!({ "account": w.ledger.account().to_ss58(), "name": w.name, "idle_runners": w.idle_runners() }),
	)?;
	m.register_subscription(
		"delta_subscribeLogs",
		"delta_log",
		"delta_unsubscribeLogs",
		|p, pending, w, _| async move {
			let IdParam { id } = match p.parse() {
				Ok(v) => v,
				Err(e) => {
					pending.reject(invalid(e)).await;
					return Ok(());
				},
			};
			if let Err(e) = status(&w, &id) {
				pending.reject(e).await;
				return Ok(());
			}
			let sink = pending.accept().await?;
			let mut from = 0;
			loop {
				let lines = w.state.logs(&id, from).map_err(|e| e.to_string())?;
				for l in &lines {
					sink.send(SubscriptionMessage::from_json(l)?).await?;
					from = l.seq + 1;
				}
				let finished =
					w.state.get(&id).map_err(|e| e.to_string())?.map(|s| s.state != "running").unwrap_or(true);
				if finished && lines.is_empty() {
					return Ok(());
				}
				tokio::time::sleep(Duration::from_millis(200)).await;
			}
		},
	)?;
	Ok(m)
}

/// Refuses HTTP requests without the bearer token.
#[derive(Clone)]
pub struct BearerLayer {
	expected: Arc<String>,
}

impl<S> tower::Layer<S> for BearerLayer {
	type Service = Bearer<S>;

	fn layer(&self, inner: S) -> Self::Service {
		Bearer { inner, expected: Arc::clone(&self.expected) }
	}
}

/// The service [`BearerLayer`] wraps around the server.
#[derive(Clone)]
pub struct Bearer<S> {
	inner: S,
	expected: Arc<String>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn same(a: &[u8], b: &[u8]) -> bool {
	a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<S, B> tower::Service<HttpRequest<B>> for Bearer<S>
where
	S: tower::Service<HttpRequest<B>, Response = HttpResponse>,
	S::Error: Into<BoxError> + 'static,
	S::Future: Send + 'static,
{
	type Response = HttpResponse;
	type Error = BoxError;
	type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send + 'static>>;

	fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
		self.inner.poll_ready(cx).map_err(Into::into)
	}

	fn call(&mut self, request: HttpRequest<B>) -> Self::Future {
		let presented = request
			.headers()
			.get(http::header::AUTHORIZATION)
			.and_then(|v| v.to_str().ok())
			.and_then(|v| v.strip_prefix("Bearer "))
			.map(|t| t.trim().as_bytes().to_vec());
		let authorized = presented.is_some_and(|t| same(&t, self.expected.as_bytes()));
		if !authorized {
			return Box::pin(async {
				let body = r#"{"jsonrpc":"2.0","error":{"code":-32001,"message":"unauthorized: send Authorization: Bearer <token>"},"id":null}"#;
				let response = http::Response::builder()
					.status(http::StatusCode::UNAUTHORIZED)
					.header(http::header::CONTENT_TYPE, "application/json")
					.header(http::header::WWW_AUTHENTICATE, "Bearer")
					.body(HttpBody::from(body))
					.map_err(|e| Box::new(e) as BoxError)?;
				Ok(response)
			});
		}
		let fut = self.inner.call(request);
		Box::pin(async move { fut.await.map_err(Into::into) })
	}
}

/// Serves the API on `addr` with `token`.
pub async fn serve(worker: Arc<Worker>, addr: SocketAddr, token: String) -> anyhow::Result<(SocketAddr, ServerHandle)> {
	let middleware = tower::ServiceBuilder::new().layer(BearerLayer { expected: Arc::new(token) });
	let server = Server::builder().set_http_middleware(middleware).max_request_body_size(16 << 20).build(addr).await?;
	let bound = server.local_addr()?;
	let handle = server.start(rpc_module(worker)?);
	Ok((bound, handle))
}
