//! How long the board takes to answer a tasks page with 1 000 tasks (the
//! issue's target: under 100 ms), through the router as a browser's
//! request reaches it: session check, the worker's `delta_list` over
//! loopback HTTP (a stand-in worker that answers 1 000 tasks), the owner
//! of each task from SQLite, and the rendered page. An administrator's
//! page (every task, with its owner) and a member's (their 500 of the
//! 1 000). Figures only; nothing here fails on timing.
//!
//! `cargo bench -p delta-board --bench pages`

use std::sync::Arc;

use axum::{
	body::{Body, Bytes},
	http::{header, Request, StatusCode},
	response::IntoResponse,
	routing::post,
	Router,
};
use criterion::{criterion_group, criterion_main, Criterion};
use delta_board::{
	secret,
	store::{AccountState, Store},
	web::{self, App, COOKIE},
	worker::Worker,
};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const TASKS: usize = 1_000;

/// The `delta_list` answer of a worker with `TASKS` tasks, some running.
fn task_list() -> Value {
	let tasks: Vec<Value> = (0..TASKS)
		.map(|i| {
			json!({
				"id": format!("{i:016x}"),
				"state": if i % 10 == 0 { "running" } else { "done" },
				"round": i % 5,
				"rounds": 5,
				"created_ms": 1_790_000_000_000u64 + i as u64 * 1000,
				"progress": ["members joined", format!("round {} of 5 summed", i % 5)],
			})
		})
		.collect();
	json!(tasks)
}

async fn stand_in_worker() -> String {
	let list = Arc::new(task_list());
	let rpc = move |body: Bytes| {
		let list = list.clone();
		async move {
			let call: Value = serde_json::from_slice(&body).unwrap_or_default();
			axum::Json(json!({ "jsonrpc": "2.0", "id": call["id"], "result": *list })).into_response()
		}
	};
	let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
	let url = format!("http://{}", listener.local_addr().expect("address"));
	tokio::spawn(async move { axum::serve(listener, Router::new().route("/", post(rpc))).await });
	url
}

fn page_request(session: &str) -> Request<Body> {
	Request::get("/tasks")
		.header(header::HOST, "board.bench")
		.header(header::COOKIE, format!("{COOKIE}={session}"))
		.body(Body::empty())
		.expect("request")
}

fn pages(c: &mut Criterion) {
	let runtime = tokio::runtime::Runtime::new().expect("runtime");
	let dir = tempfile::tempdir().expect("tempdir");
	let (router, admin, member) = runtime.block_on(async {
		let store = Store::open(&dir.path().join("board.sqlite")).expect("store");
		let hashed = secret::hash_password("a long password").expect("hash");
		let token = store.new_setup_token().expect("setup token");
		assert!(store.set_up(&token, "root", &hashed).expect("set up"));
		store.sign_up("ann", &hashed).expect("sign up");
		store.set_state("ann", AccountState::Active).expect("approve");
		for i in (0..TASKS).step_by(2) {
			store.record_task("ann", &format!("{i:016x}")).expect("record");
		}
		let admin = store.new_session("root").expect("session");
		let member = store.new_session("ann").expect("session");
		let worker = Worker::new(&stand_in_worker().await, "bench-token");
		let app =
			Arc::new(App { store, worker, secure_cookie: false, hub: None, board_url: "http://board.bench".into() });
		(web::router(app), admin, member)
	});
	for (name, session, rows) in [("admin", &admin, TASKS), ("member", &member, TASKS / 2)] {
		let page = runtime.block_on(async {
			let response = router.clone().oneshot(page_request(session)).await.expect("response");
			assert_eq!(response.status(), StatusCode::OK);
			String::from_utf8(response.into_body().collect().await.expect("body").to_bytes().to_vec()).expect("utf-8")
		});
		assert_eq!(page.matches("<tr data-task=").count(), rows, "the {name} page lists its tasks");
		c.bench_function(&format!("tasks page, {TASKS} tasks at the worker, {name} ({rows} rows)"), |b| {
			b.iter(|| {
				runtime.block_on(async {
					let response = router.clone().oneshot(page_request(session)).await.expect("response");
					response.into_body().collect().await.expect("body").to_bytes().len()
				})
			})
		});
	}
}

criterion_group! {
	name = benches;
	config = Criterion::default().sample_size(30);
	targets = pages
}
criterion_main!(benches);
