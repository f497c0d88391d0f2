//! The forwarding filter of a user's API address: which JSON-RPC calls pass
//! to the worker, and what of the worker's answer the caller may see.
//!
//! It is a filter, not a pass-through: the request is parsed and checked
//! before the worker hears of it, a task id the caller does not own is
//! answered exactly as an id that does not exist (so ids cannot be probed),
//! and `delta_list` is cut down to the caller's own tasks.

use serde_json::{json, Value};

use crate::store::{Store, StoreError, User};

/// The worker's code for a task it does not know; the board answers it for
/// tasks the caller may not see too.
pub const UNKNOWN_TASK: i64 = -32004;
/// Standard JSON-RPC codes.
pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL: i64 = -32603;
/// Not allowed for this caller (an administrator's method).
pub const FORBIDDEN: i64 = -32003;
/// The worker behind the board cannot be reached.
pub const WORKER_UNAVAILABLE: i64 = -32030;

/// What a method needs before it may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
	/// Anybody signed in with a token.
	Anyone,
	/// Params carry `id`, a task the caller must be allowed to see.
	OwnTask,
	/// Administrators only.
	Admin,
}

/// What the board does with the worker's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum After {
	/// Pass it on unchanged.
	Pass,
	/// Record the new task's id against the caller.
	RecordSubmission,
	/// Keep only the caller's own tasks.
	FilterList,
}

fn rule(method: &str) -> Option<(Rule, After)> {
	Some(match method {
		"delta_submit" => (Rule::Anyone, After::RecordSubmission),
		"delta_list" => (Rule::Anyone, After::FilterList),
		"delta_status" | "delta_result" | "delta_logs" | "delta_events" => (Rule::OwnTask, After::Pass),
		"delta_datasets" | "delta_info" | "delta_policy" | "delta_members" | "delta_privacySpent" => {
			(Rule::Anyone, After::Pass)
		},
		"delta_refreshDatasets" => (Rule::Admin, After::Pass),
		_ => return None,
	})
}

/// A JSON-RPC error to send back instead of forwarding.
#[derive(Clone, Debug, PartialEq)]
pub struct Refusal {
	pub id: Value,
	pub code: i64,
	pub message: String,
}

impl Refusal {
	fn new(id: &Value, code: i64, message: impl Into<String>) -> Refusal {
		Refusal { id: id.clone(), code, message: message.into() }
	}

	/// The JSON-RPC response body.
	pub fn body(&self) -> String {
		json!({ "jsonrpc": "2.0", "error": { "code": self.code, "message": self.message }, "id": self.id }).to_string()
	}
}

/// A call that may be forwarded.
#[derive(Clone, Debug, PartialEq)]
pub struct Admitted {
	/// The request's JSON-RPC id, for answers the board writes itself.
	pub id: Value,
	pub method: String,
	pub after: After,
}

/// Checks one request body of `user`. `Err(Refusal)` is the answer to send;
/// a store failure is the board's own fault and is reported as such.
pub fn admit(store: &Store, user: &User, body: &[u8]) -> Result<Result<Admitted, Refusal>, StoreError> {
	let null = Value::Null;
	let request: Value = match serde_json::from_slice(body) {
		Ok(v) => v,
		Err(e) => return Ok(Err(Refusal::new(&null, PARSE_ERROR, format!("parse error: {e}")))),
	};
	let Some(object) = request.as_object() else {
		let message = if request.is_array() {
			"batches are not offered through the board: send one call per request"
		} else {
			"a request is a JSON-RPC object"
		};
		return Ok(Err(Refusal::new(&null, INVALID_REQUEST, message)));
	};
	let id = object.get("id").cloned().unwrap_or(Value::Null);
	let Some(method) = object.get("method").and_then(Value::as_str) else {
		return Ok(Err(Refusal::new(&id, INVALID_REQUEST, "the request names no method")));
	};
	let Some((rule, after)) = rule(method) else {
		let message = if method.starts_with("delta_subscribe") || method.starts_with("delta_unsubscribe") {
			format!("{method}: subscriptions are not offered through the board; poll delta_logs instead")
		} else {
			format!("method not found: {method} is not offered through the board")
		};
		return Ok(Err(Refusal::new(&id, METHOD_NOT_FOUND, message)));
	};
	let params = object.get("params");
	if params.is_some_and(|p| !p.is_object() && !p.is_null()) {
		return Ok(Err(Refusal::new(
			&id,
			INVALID_PARAMS,
			"invalid params: the board takes params by name (an object)",
		)));
	}
	match rule {
		Rule::Anyone => {},
		Rule::Admin => {
			if !user.is_admin() {
				return Ok(Err(Refusal::new(&id, FORBIDDEN, format!("{method} is for the board's administrators"))));
			}
		},
		Rule::OwnTask => {
			let Some(task) = params.and_then(|p| p.get("id")).and_then(Value::as_str) else {
				return Ok(Err(Refusal::new(&id, INVALID_PARAMS, "invalid params: missing field `id`")));
			};
			if !store.may_see(user, task)? {
				return Ok(Err(Refusal::new(&id, UNKNOWN_TASK, format!("no task {task}"))));
			}
		},
	}
	Ok(Ok(Admitted { id, method: method.to_owned(), after }))
}

/// What the caller gets of the worker's `answer` to an admitted call, and
/// the id of a task it submitted (to record against the caller).
pub fn answer(store: &Store, user: &User, call: &Admitted, answer: &[u8]) -> Result<Answer, StoreError> {
	match call.after {
		After::Pass => Ok(Answer { body: None, submitted: None }),
		After::RecordSubmission => {
			let parsed: Option<Value> = serde_json::from_slice(answer).ok();
			let submitted =
				parsed.as_ref().and_then(|v| v.pointer("/result/id")).and_then(Value::as_str).map(str::to_owned);
			Ok(Answer { body: None, submitted })
		},
		After::FilterList => {
			if user.is_admin() {
				return Ok(Answer { body: None, submitted: None });
			}
			let Ok(mut parsed) = serde_json::from_slice::<Value>(answer) else {
				return Ok(Answer { body: None, submitted: None });
			};
			if let Some(list) = parsed.get_mut("result").and_then(Value::as_array_mut) {
				let own = store.tasks_of(&user.name)?;
				list.retain(|s| s["id"].as_str().is_some_and(|id| own.contains(id)));
			}
			Ok(Answer { body: Some(parsed.to_string()), submitted: None })
		},
	}
}

/// The result of [`answer`].
#[derive(Debug, PartialEq)]
pub struct Answer {
	/// A new body to send instead of the worker's (`None`: the worker's as it is).
	pub body: Option<String>,
	/// The id of a task just submitted.
	pub submitted: Option<String>,
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::store::{AccountState, Role};

	fn store_with(users: &[(&str, Role)]) -> (tempfile::TempDir, Store) {
		let dir = tempfile::tempdir().unwrap();
		let store = Store::open(&dir.path().join("board.sqlite")).unwrap();
		for (name, role) in users {
			store.sign_up(name, "hash").unwrap();
			store.set_state(name, AccountState::Active).unwrap();
			store.set_role(name, *role).unwrap();
		}
		(dir, store)
	}

	fn user(store: &Store, name: &str) -> User {
		store.user(name).unwrap().unwrap()
	}

	fn refusal(store: &Store, u: &User, body: &str) -> Refusal {
		admit(store, u, body.as_bytes()).unwrap().unwrap_err()
	}

	#[test]
	fn another_users_task_is_answered_as_unknown() {
		let (_d, store) = store_with(&[("ann", Role::Member), ("bob", Role::Member), ("root", Role::Admin)]);
		store.record_task("ann", "t1").unwrap();
		let bob = user(&store, "bob");
		for method in ["delta_status", "delta_result", "delta_logs", "delta_events"] {
			let body = format!(r#"{{"jsonrpc":"2.0","id":7,"method":"{method}","params":{{"id":"t1"}}}}"#);
			let r = refusal(&store, &bob, &body);
			assert_eq!((r.code, r.message.as_str(), r.id.clone()), (UNKNOWN_TASK, "no task t1", json!(7)));
			// The same answer as for an id nobody has.
			let other = refusal(&store, &bob, &body.replace("t1", "t9"));
			assert_eq!(other.code, UNKNOWN_TASK);
		}
		let ann = admit(&store, &user(&store, "ann"), br#"{"id":1,"method":"delta_result","params":{"id":"t1"}}"#);
		assert_eq!(ann.unwrap().unwrap().method, "delta_result");
		let root = admit(&store, &user(&store, "root"), br#"{"id":1,"method":"delta_logs","params":{"id":"t1"}}"#);
		assert!(root.unwrap().is_ok(), "administrators see every task");
	}

	#[test]
	fn only_offered_methods_pass_and_batches_and_subscriptions_are_refused() {
		let (_d, store) = store_with(&[("ann", Role::Member)]);
		let ann = user(&store, "ann");
		assert_eq!(refusal(&store, &ann, "[{\"id\":1,\"method\":\"delta_list\"}]").code, INVALID_REQUEST);
		assert_eq!(refusal(&store, &ann, "{not json").code, PARSE_ERROR);
		assert_eq!(refusal(&store, &ann, r#"{"id":1,"method":"system_health"}"#).code, METHOD_NOT_FOUND);
		let sub = refusal(&store, &ann, r#"{"id":1,"method":"delta_subscribeLogs","params":{"id":"x"}}"#);
		assert!(sub.message.contains("subscriptions"), "{}", sub.message);
		let positional = refusal(&store, &ann, r#"{"id":1,"method":"delta_status","params":["x"]}"#);
		assert_eq!(positional.code, INVALID_PARAMS);
		let missing = refusal(&store, &ann, r#"{"id":1,"method":"delta_status","params":{}}"#);
		assert_eq!(missing.code, INVALID_PARAMS);
		let refresh = refusal(&store, &ann, r#"{"id":1,"method":"delta_refreshDatasets"}"#);
		assert_eq!(refresh.code, FORBIDDEN);
		for method in ["delta_submit", "delta_list", "delta_datasets", "delta_info"] {
			let body = format!(r#"{{"jsonrpc":"2.0","id":"a","method":"{method}","params":{{}}}}"#);
			assert!(admit(&store, &ann, body.as_bytes()).unwrap().is_ok(), "{method}");
		}
	}

	#[test]
	fn submissions_are_recorded_and_lists_cut_to_the_callers_tasks() {
		let (_d, store) = store_with(&[("ann", Role::Member), ("root", Role::Admin)]);
		let ann = user(&store, "ann");
		let submit =
			admit(&store, &ann, br#"{"id":1,"method":"delta_submit","params":{"package":"x"}}"#).unwrap().unwrap();
		let got = answer(&store, &ann, &submit, br#"{"jsonrpc":"2.0","id":1,"result":{"id":"t1"}}"#).unwrap();
		assert_eq!(got, Answer { body: None, submitted: Some("t1".into()) });
		let refused = answer(&store, &ann, &submit, br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32020}}"#).unwrap();
		assert_eq!(refused.submitted, None);

		store.record_task("ann", "t1").unwrap();
		let list = admit(&store, &ann, br#"{"id":2,"method":"delta_list"}"#).unwrap().unwrap();
		let worker = br#"{"jsonrpc":"2.0","id":2,"result":[{"id":"t0","state":"done"},{"id":"t1","state":"running"}]}"#;
		let filtered = answer(&store, &ann, &list, worker).unwrap().body.unwrap();
		let v: Value = serde_json::from_str(&filtered).unwrap();
		assert_eq!(v["result"], json!([{"id": "t1", "state": "running"}]));
		assert_eq!(v["id"], json!(2));
		let root = user(&store, "root");
		assert_eq!(answer(&store, &root, &list, worker).unwrap().body, None, "administrators get the whole list");
	}
}
