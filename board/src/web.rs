//! The board's HTTP surface: pages for people (cookie sessions) and one API
//! address per user (bearer tokens) that forwards to the worker through
//! [`crate::filter`].
//!
//! Every request that is not GET or HEAD must come from the board's own
//! origin, checked before any handler runs; every form of a signed-in page
//! also carries the session's CSRF token.

// The guards' errors are the HTTP answers themselves, made once per request
// on its way out: boxing a `Response` there would buy nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::{
	body::Bytes,
	extract::{DefaultBodyLimit, Path, Query, Request, State},
	http::{header, HeaderMap, HeaderValue, Method, StatusCode},
	middleware::{self, Next},
	response::{Html, IntoResponse, Redirect, Response},
	routing::{any, get, post},
	Form, Router,
};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
	chart, filter,
	jupyter::{Hub, HubState},
	pages::{self, message, page, time},
	secret,
	store::{AccountState, Role, Session, Store, StoreError, Throttle, User},
	worker::{Worker, WorkerError},
};

/// The session cookie's name.
pub const COOKIE: &str = "delta_board_session";
/// Largest API request, as the worker's own limit.
pub const API_BODY_LIMIT: usize = 16 << 20;
/// Most of a refused cross-site request's body the board reads to keep
/// its connection open; past it the connection closes.
const REFUSED_BODY_LIMIT: usize = 1 << 20;
/// Largest result shown inline on a task's page (the download has it all).
const RESULT_SHOWN: usize = 64 << 10;

/// What every handler shares.
pub struct App {
	pub store: Store,
	pub worker: Worker,
	/// Mark the cookie `Secure` (the board is served over https).
	pub secure_cookie: bool,
	/// JupyterLab, when the board runs a hub.
	pub hub: Option<Arc<Hub>>,
	/// The board's own address as this machine reaches it (notebook
	/// kernels' `DELTA_URL` points here).
	pub board_url: String,
}

/// The board's routes over `app`.
pub fn router(app: Arc<App>) -> Router {
	Router::new()
		.route("/", get(home))
		.route("/setup", get(setup_form).post(setup))
		.route("/signup", get(signup_form).post(signup))
		.route("/login", get(login_form).post(login))
		.route("/logout", post(logout))
		.route("/tasks", get(tasks))
		.route("/tasks/{id}", get(task))
		.route("/tasks/{id}/log", get(task_log))
		.route("/tasks/{id}/history", get(task_history))
		.route("/tasks/{id}/result.json", get(task_result))
		.route("/tokens", get(tokens).post(create_token))
		.route("/tokens/{id}/revoke", post(revoke_token))
		.route("/datasets", get(datasets))
		.route("/members", get(members))
		.route("/node", get(node))
		.route("/users", get(users))
		.route("/users/{name}/{action}", post(user_action))
		.route("/static/board.css", get(|| async { ([(header::CONTENT_TYPE, "text/css")], pages::CSS) }))
		.route("/static/board.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript")], pages::JS) }))
		.route("/api/{name}", post(api).layer(DefaultBodyLimit::max(API_BODY_LIMIT)))
		.route("/lab", get(lab))
		.route("/hub", any(jupyter))
		.route("/hub/{*rest}", any(jupyter))
		.route("/user/{*rest}", any(jupyter))
		.route("/internal/notebook-token", post(notebook_token))
		.layer(middleware::from_fn(same_origin))
		.with_state(app)
}

// -- failures -----------------------------------------------------------------------------

/// A page that could not be served, with the reason shown to the person.
#[derive(Debug)]
pub struct Failure {
	status: StatusCode,
	text: String,
}

impl Failure {
	fn new(status: StatusCode, text: impl Into<String>) -> Failure {
		Failure { status, text: text.into() }
	}
}

impl From<StoreError> for Failure {
	fn from(e: StoreError) -> Failure {
		tracing::error!("store: {e}");
		Failure::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
	}
}

impl From<WorkerError> for Failure {
	fn from(e: WorkerError) -> Failure {
		match e {
			WorkerError::Rpc { code, message } if code == filter::UNKNOWN_TASK => {
				Failure::new(StatusCode::NOT_FOUND, message)
			},
			other => {
				tracing::warn!("worker: {other}");
				Failure::new(StatusCode::BAD_GATEWAY, other.to_string())
			},
		}
	}
}

impl IntoResponse for Failure {
	fn into_response(self) -> Response {
		let title = self.status.canonical_reason().unwrap_or("Error");
		let body = page(title, None, html! { (message("error", &self.text)) p { a href="/" { "Back to the board" } } });
		(self.status, Html(body.into_string())).into_response()
	}
}

type PageResult = Result<Response, Failure>;

fn html_page(markup: Markup) -> Response {
	Html(markup.into_string()).into_response()
}

fn status_page(status: StatusCode, markup: Markup) -> Response {
	(status, Html(markup.into_string())).into_response()
}

// -- cross-site requests and sessions -----------------------------------------------------

/// Refuses a state-changing request from another origin: its `Origin` must
/// name this board's host; without `Origin`, `Sec-Fetch-Site` must not say
/// the request is cross-site. The API is exempt (its bearer token is no
/// ambient credential a browser would attach).
async fn same_origin(request: Request, next: Next) -> Response {
	let m = request.method();
	if m == Method::GET || m == Method::HEAD || request.uri().path().starts_with("/api/") {
		return next.run(request).await;
	}
	if let Err(why) = check_origin(request.headers()) {
		tracing::warn!("refused a cross-site {} {}: {why}", request.method(), request.uri().path());
		// The body is read (up to a bound) before the refusal: with it left
		// unread the connection closes after the 403, and a client that has
		// already sent its next request on it sees that request fail.
		let _ = axum::body::to_bytes(request.into_body(), REFUSED_BODY_LIMIT).await;
		return Failure::new(StatusCode::FORBIDDEN, format!("cross-site request refused: {why}")).into_response();
	}
	next.run(request).await
}

fn check_origin(headers: &HeaderMap) -> Result<(), String> {
	let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
	let host = text(header::HOST).ok_or("the request names no Host")?;
	if let Some(origin) = text(header::ORIGIN) {
		let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
		return if origin_host == host { Ok(()) } else { Err(format!("origin {origin} is not this board ({host})")) };
	}
	match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
		None | Some("same-origin") | Some("none") => Ok(()),
		Some(other) => Err(format!("Sec-Fetch-Site: {other}")),
	}
}

fn cookie(headers: &HeaderMap) -> Option<String> {
	headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
		let (k, v) = c.trim().split_once('=')?;
		(k == COOKIE).then(|| v.to_owned())
	})
}

fn session(app: &App, headers: &HeaderMap) -> Result<Option<Session>, Failure> {
	match cookie(headers) {
		Some(c) => Ok(app.store.session(&c)?),
		None => Ok(None),
	}
}

/// The session, or the response that sends the person to sign in.
fn signed_in(app: &App, headers: &HeaderMap) -> Result<Session, Response> {
	match session(app, headers) {
		Ok(Some(s)) => Ok(s),
		Ok(None) => Err(Redirect::to("/login").into_response()),
		Err(f) => Err(f.into_response()),
	}
}

/// An administrator's session, or why not.
fn admin(app: &App, headers: &HeaderMap) -> Result<Session, Response> {
	let s = signed_in(app, headers)?;
	if s.user.is_admin() {
		Ok(s)
	} else {
		Err(Failure::new(StatusCode::FORBIDDEN, "this page is for the board's administrators").into_response())
	}
}

fn csrf_ok(s: &Session, presented: &str) -> Result<(), Response> {
	if secret::same(s.csrf.as_bytes(), presented.as_bytes()) {
		Ok(())
	} else {
		Err(Failure::new(StatusCode::FORBIDDEN, "the form's CSRF token is wrong: reload the page and try again")
			.into_response())
	}
}

fn session_cookie(app: &App, value: &str) -> HeaderValue {
	let secure = if app.secure_cookie { "; Secure" } else { "" };
	let max_age = crate::store::SESSION_FOR.as_secs();
	HeaderValue::from_str(&format!("{COOKIE}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"))
		.unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

fn start_session(app: &App, name: &str) -> PageResult {
	let value = app.store.new_session(name)?;
	let mut response = Redirect::to("/tasks").into_response();
	response.headers_mut().insert(header::SET_COOKIE, session_cookie(app, &value));
	Ok(response)
}

async fn hash(password: String) -> Result<Result<String, secret::PasswordError>, Failure> {
	tokio::task::spawn_blocking(move || secret::hash_password(&password))
		.await
		.map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, format!("password hashing: {e}")))
}

// -- signing up, in and out ---------------------------------------------------------------

async fn home(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	Ok(match session(&app, &headers)? {
		Some(_) => Redirect::to("/tasks").into_response(),
		None => Redirect::to("/login").into_response(),
	})
}

#[derive(Deserialize)]
struct SetupQuery {
	#[serde(default)]
	token: String,
}

fn account_fields(confirm: bool) -> Markup {
	html! {
		label { "Name " input name="name" required pattern="[a-z][a-z0-9_-]{1,31}" autocomplete="username"; }
		small { "2 to 32 characters: lower-case letters, digits, - and _, starting with a letter." }
		label { "Password " input type="password" name="password" required minlength="10" autocomplete="new-password"; }
		@if confirm {
			label { "Password again " input type="password" name="again" required minlength="10" autocomplete="new-password"; }
		}
	}
}

fn setup_page(token: &str, error: Option<&str>) -> Markup {
	page(
		"Set up the board",
		None,
		html! {
			@if let Some(e) = error { (message("error", e)) }
			p { "Choose the first administrator's name and password. This address works once." }
			form #setup method="post" action="/setup" {
				input type="hidden" name="token" value=(token);
				(account_fields(true))
				button type="submit" { "Create administrator" }
			}
		},
	)
}

async fn setup_form(State(app): State<Arc<App>>, Query(q): Query<SetupQuery>) -> PageResult {
	if app.store.has_admin()? {
		return Err(Failure::new(StatusCode::GONE, "the board is already set up: sign in instead"));
	}
	Ok(html_page(setup_page(&q.token, None)))
}

#[derive(Deserialize)]
struct SetupForm {
	token: String,
	name: String,
	password: String,
	again: String,
}

async fn setup(State(app): State<Arc<App>>, Form(f): Form<SetupForm>) -> PageResult {
	if app.store.has_admin()? {
		return Err(Failure::new(StatusCode::GONE, "the board is already set up: sign in instead"));
	}
	if let Err(why) = account_problem(&f.name, &f.password, &f.again) {
		return Ok(status_page(StatusCode::BAD_REQUEST, setup_page(&f.token, Some(&why))));
	}
	let hashed = match hash(f.password).await? {
		Ok(h) => h,
		Err(e) => return Ok(status_page(StatusCode::BAD_REQUEST, setup_page(&f.token, Some(&e.to_string())))),
	};
	if !app.store.set_up(&f.token, &f.name, &hashed)? {
		return Err(Failure::new(StatusCode::FORBIDDEN, "the set-up token is wrong or already used"));
	}
	tracing::info!("board set up; administrator {}", f.name);
	start_session(&app, &f.name)
}

fn account_problem(name: &str, password: &str, again: &str) -> Result<(), String> {
	if !secret::valid_name(name) {
		return Err(format!(
			"{name:?} cannot be a name: use 2 to 32 lower-case letters, digits, - and _, starting with a letter"
		));
	}
	if password != again {
		return Err("the two passwords differ".into());
	}
	Ok(())
}

fn signup_page(error: Option<&str>) -> Markup {
	page(
		"Sign up",
		None,
		html! {
			@if let Some(e) = error { (message("error", e)) }
			p { "An administrator approves new accounts before they can sign in." }
			form #signup method="post" action="/signup" {
				(account_fields(true))
				button type="submit" { "Sign up" }
			}
			p { "Have an account? " a href="/login" { "Sign in" } }
		},
	)
}

async fn signup_form() -> Response {
	html_page(signup_page(None))
}

#[derive(Deserialize)]
struct SignupForm {
	name: String,
	password: String,
	again: String,
}

async fn signup(State(app): State<Arc<App>>, Form(f): Form<SignupForm>) -> PageResult {
	if let Err(why) = account_problem(&f.name, &f.password, &f.again) {
		return Ok(status_page(StatusCode::BAD_REQUEST, signup_page(Some(&why))));
	}
	let hashed = match hash(f.password).await? {
		Ok(h) => h,
		Err(e) => return Ok(status_page(StatusCode::BAD_REQUEST, signup_page(Some(&e.to_string())))),
	};
	match app.store.sign_up(&f.name, &hashed) {
		Ok(()) => {},
		Err(e @ StoreError::NameTaken(_)) => {
			return Ok(status_page(StatusCode::CONFLICT, signup_page(Some(&e.to_string()))));
		},
		Err(e) => return Err(e.into()),
	}
	tracing::info!("account {} signed up; waits for approval", f.name);
	Ok(html_page(page(
		"Signed up",
		None,
		html! {
			(message("note", &format!("Account {} created. An administrator must approve it before you can sign in.", f.name)))
			p { a href="/login" { "Sign in" } }
		},
	)))
}

fn login_page(error: Option<&str>) -> Markup {
	page(
		"Sign in",
		None,
		html! {
			@if let Some(e) = error { (message("error", e)) }
			form #login method="post" action="/login" {
				label { "Name " input name="name" required autocomplete="username"; }
				label { "Password " input type="password" name="password" required autocomplete="current-password"; }
				button type="submit" { "Sign in" }
			}
			p { "No account? " a href="/signup" { "Sign up" } }
		},
	)
}

async fn login_form(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	if session(&app, &headers)?.is_some() {
		return Ok(Redirect::to("/tasks").into_response());
	}
	Ok(html_page(login_page(None)))
}

#[derive(Deserialize)]
struct LoginForm {
	name: String,
	password: String,
}

async fn login(State(app): State<Arc<App>>, Form(f): Form<LoginForm>) -> PageResult {
	if let Throttle::Locked(left) = app.store.throttle(&f.name)? {
		let secs = left.as_secs().max(1);
		let text = format!("Too many wrong passwords for {}: try again in {secs} s.", f.name);
		let mut response = status_page(StatusCode::TOO_MANY_REQUESTS, login_page(Some(&text)));
		if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
			response.headers_mut().insert(header::RETRY_AFTER, v);
		}
		return Ok(response);
	}
	let found = app.store.credentials(&f.name)?;
	// An unknown name costs the same hashing as a known one, so names
	// cannot be told apart by timing.
	let stored = found.as_ref().map(|(_, h)| h.clone()).unwrap_or_else(secret::decoy_hash);
	let password = f.password;
	let right = tokio::task::spawn_blocking(move || secret::verify_password(&password, &stored))
		.await
		.map_err(|e| Failure::new(StatusCode::INTERNAL_SERVER_ERROR, format!("password check: {e}")))?;
	let user = match (found, right) {
		(Some((user, _)), true) => user,
		_ => {
			app.store.failed_sign_in(&f.name)?;
			tracing::info!("wrong password for {:?}", f.name);
			return Ok(status_page(StatusCode::UNAUTHORIZED, login_page(Some("Wrong name or password."))));
		},
	};
	app.store.signed_in(&user.name)?;
	match user.state {
		AccountState::Active => start_session(&app, &user.name),
		AccountState::Pending => Ok(status_page(
			StatusCode::FORBIDDEN,
			login_page(Some("Your account waits for an administrator's approval.")),
		)),
		AccountState::Disabled => Ok(status_page(
			StatusCode::FORBIDDEN,
			login_page(Some("Your account is disabled: ask the board's administrator.")),
		)),
	}
}

#[derive(Deserialize)]
struct CsrfForm {
	csrf: String,
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<CsrfForm>) -> PageResult {
	if let (Some(c), Some(s)) = (cookie(&headers), session(&app, &headers)?) {
		if let Err(r) = csrf_ok(&s, &f.csrf) {
			return Ok(r);
		}
		app.store.end_session(&c)?;
	}
	let mut response = Redirect::to("/login").into_response();
	response.headers_mut().insert(
		header::SET_COOKIE,
		HeaderValue::from_str(&format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"))
			.unwrap_or_else(|_| HeaderValue::from_static("invalid=1")),
	);
	Ok(response)
}

// -- tasks --------------------------------------------------------------------------------

/// The tasks of the worker `user` may see, newest first.
async fn visible_tasks(app: &App, user: &User) -> Result<Vec<Value>, Failure> {
	let all = app.worker.call("delta_list", json!({})).await?;
	let mut list = match all {
		Value::Array(list) => list,
		_ => return Err(Failure::new(StatusCode::BAD_GATEWAY, "the worker's delta_list is not a list")),
	};
	if !user.is_admin() {
		let own = app.store.tasks_of(&user.name)?;
		list.retain(|s| s["id"].as_str().is_some_and(|id| own.contains(id)));
	}
	list.sort_by_key(|s| std::cmp::Reverse(s["created_ms"].as_u64().unwrap_or(0)));
	Ok(list)
}

/// "2 / 4": the round in progress (or the last one), counted from 1, of
/// the most the task may take. The worker counts rounds from 0.
fn round_of(s: &Value) -> String {
	format!("{} / {}", s["round"].as_u64().unwrap_or(0) + 1, s["rounds"].as_u64().unwrap_or(0))
}

fn last_progress(s: &Value) -> String {
	s["progress"].as_array().and_then(|p| p.last()).and_then(Value::as_str).unwrap_or("").to_owned()
}

async fn tasks(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	let s = match signed_in(&app, &headers) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let list = visible_tasks(&app, &s.user).await?;
	let owners = if s.user.is_admin() {
		Some(list.iter().map(|t| app.store.task_owner(t["id"].as_str().unwrap_or(""))).collect::<Result<Vec<_>, _>>()?)
	} else {
		None
	};
	let body = html! {
		@if list.is_empty() {
			(message("note", "No tasks yet. Submit one with delta.Client and your API address (see API tokens)."))
		}
		table #tasks {
			thead { tr {
				th { "Task" } th { "State" } th { "Round" } th { "Submitted" }
				@if owners.is_some() { th { "By" } }
				th { "Progress" }
			} }
			tbody {
				@for (i, t) in list.iter().enumerate() {
					@let id = t["id"].as_str().unwrap_or("");
					@let state = t["state"].as_str().unwrap_or("");
					tr data-task=(id) data-state=(state) {
						td { a href={ "/tasks/" (id) } { code { (id) } } }
						td { span class={ "state " (state) } { (state) } }
						td { (round_of(t)) }
						td { (time(t["created_ms"].as_u64().unwrap_or(0))) }
						@if let Some(o) = &owners { td { (o[i].as_deref().unwrap_or("(worker)")) } }
						td.progress { (last_progress(t)) }
					}
				}
			}
		}
	};
	Ok(html_page(page(if s.user.is_admin() { "All tasks" } else { "My tasks" }, Some(&s), body)))
}

/// The task page's session, once it is known the person may see `id`.
fn may_see(app: &App, headers: &HeaderMap, id: &str) -> Result<Session, Response> {
	let s = signed_in(app, headers)?;
	match app.store.may_see(&s.user, id) {
		Ok(true) => Ok(s),
		// The same answer as for a task that does not exist.
		Ok(false) => Err(Failure::new(StatusCode::NOT_FOUND, format!("no task {id}")).into_response()),
		Err(e) => Err(Failure::from(e).into_response()),
	}
}

fn log_lines(logs: &Value) -> Vec<String> {
	logs["lines"]
		.as_array()
		.map(|l| l.iter().filter_map(|x| x["line"].as_str().map(str::to_owned)).collect())
		.unwrap_or_default()
}

fn event_text(e: &Value) -> String {
	let Some(fields) = e.as_object() else { return e.to_string() };
	fields
		.iter()
		.filter(|(k, _)| !matches!(k.as_str(), "event" | "seq" | "ms"))
		.map(|(k, v)| format!("{k}={v}"))
		.collect::<Vec<_>>()
		.join(" ")
}

async fn task(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> PageResult {
	let s = match may_see(&app, &headers, &id) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let status = app.worker.call("delta_status", json!({ "id": id })).await?;
	let logs = app.worker.call("delta_logs", json!({ "id": id, "from": 0 })).await?;
	let events = app.worker.call("delta_events", json!({ "id": id, "from": 0 })).await?;
	let state = status["state"].as_str().unwrap_or("").to_owned();
	let result = if state == "done" {
		let r = app.worker.call("delta_result", json!({ "id": id })).await?;
		serde_json::to_string_pretty(&r["result"]).ok()
	} else {
		None
	};
	let lines = log_lines(&logs);
	let rows = chart::history(&lines);
	let body = html! {
		dl.facts {
			dt { "State" } dd { span #state class={ "state " (state) } { (state) } }
			dt { "Round" } dd #round { (round_of(&status)) }
			dt { "Submitted" } dd { (time(status["created_ms"].as_u64().unwrap_or(0))) }
			@if let Some(f) = status["finished_ms"].as_u64() { dt { "Finished" } dd { (time(f)) } }
			@if let Some(t) = status["ledger_task"].as_u64() { dt { "Ledger task" } dd { (t) } }
			@if let Some(e) = status["error"].as_str() { dt { "Error" } dd.error { (e) } }
		}
		section #history data-task=(id) { (chart::render(&rows)) }
		@if let Some(r) = &result {
			section #result-section {
				h2 { "Result" }
				p { a #download href={ "/tasks/" (id) "/result.json" } download={ "task-" (id) ".json" } { "Download the result (JSON)" } }
				@if r.len() > RESULT_SHOWN {
					pre #result { (&r[..floor_char_boundary(r, RESULT_SHOWN)]) "\n…" }
				} @else {
					pre #result { (r) }
				}
			}
		}
		section {
			h2 { "Log" }
			pre #log data-task=(id) data-next=(logs["next"]) data-state=(state) { @for l in &lines { (l) "\n" } }
		}
		section {
			h2 { "Events" }
			ol #events {
				@for e in events["events"].as_array().into_iter().flatten() {
					li data-event=(e["event"].as_str().unwrap_or("")) {
						strong { (e["event"].as_str().unwrap_or("?")) } " " (event_text(e))
					}
				}
			}
		}
	};
	Ok(html_page(page(&format!("Task {id}"), Some(&s), body)))
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
	while at > 0 && !text.is_char_boundary(at) {
		at -= 1;
	}
	at
}

#[derive(Deserialize)]
struct LogFrom {
	#[serde(default)]
	from: u64,
}

/// New log lines from `from`, for the page's live view.
async fn task_log(
	State(app): State<Arc<App>>,
	headers: HeaderMap,
	Path(id): Path<String>,
	Query(q): Query<LogFrom>,
) -> PageResult {
	if let Err(r) = may_see(&app, &headers, &id) {
		return Ok(r);
	}
	let logs = app.worker.call("delta_logs", json!({ "id": id, "from": q.from })).await?;
	let status = app.worker.call("delta_status", json!({ "id": id })).await?;
	let body = json!({
		"lines": log_lines(&logs),
		"next": logs["next"],
		"state": status["state"],
		"round": status["round"],
		"rounds": status["rounds"],
	});
	Ok(axum::Json(body).into_response())
}

/// The history charts alone, for the page's live view.
async fn task_history(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> PageResult {
	if let Err(r) = may_see(&app, &headers, &id) {
		return Ok(r);
	}
	let logs = app.worker.call("delta_logs", json!({ "id": id, "from": 0 })).await?;
	Ok(html_page(chart::render(&chart::history(&log_lines(&logs)))))
}

async fn task_result(State(app): State<Arc<App>>, headers: HeaderMap, Path(id): Path<String>) -> PageResult {
	if let Err(r) = may_see(&app, &headers, &id) {
		return Ok(r);
	}
	let r = match app.worker.call("delta_result", json!({ "id": id })).await {
		Ok(r) => r,
		Err(WorkerError::Rpc { code, message }) if code != filter::UNKNOWN_TASK => {
			return Err(Failure::new(StatusCode::CONFLICT, format!("task {id} has no result: {message}")));
		},
		Err(e) => return Err(e.into()),
	};
	let disposition = format!("attachment; filename=\"task-{id}.json\"");
	let mut response = ([(header::CONTENT_TYPE, "application/json")], r["result"].to_string()).into_response();
	if let Ok(v) = HeaderValue::from_str(&disposition) {
		response.headers_mut().insert(header::CONTENT_DISPOSITION, v);
	}
	Ok(response)
}

// -- API tokens and the API address -------------------------------------------------------

fn api_address(headers: &HeaderMap, name: &str) -> String {
	let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("127.0.0.1");
	format!("http://{host}/api/{name}")
}

fn tokens_page(app: &App, s: &Session, headers: &HeaderMap, new: Option<&str>) -> PageResult {
	let list = app.store.tokens(&s.user.name)?;
	let address = api_address(headers, &s.user.name);
	let body = html! {
		p { "Your API address: " code #api-address { (address) } }
		@if let Some(token) = new {
			section.new-token {
				(message("note", "Your new token. Copy it now: the board keeps only its hash and cannot show it again."))
				pre { code #new-token { (token) } }
				p { "In Python:" }
				pre { code { "import delta\nclient = delta.Client(\"" (address) "\", token=\"" (token) "\")" } }
			}
		}
		form #new-token-form method="post" action="/tokens" {
			input type="hidden" name="csrf" value=(s.csrf);
			label { "Label " input name="label" required maxlength="64" placeholder="laptop"; }
			button type="submit" { "Create a token" }
		}
		table #tokens {
			thead { tr { th { "Label" } th { "Created" } th { "Last used" } th {} } }
			tbody {
				@for t in &list {
					tr data-token=(t.id) {
						td { (t.label) }
						td { (time(t.created_ms)) }
						td { (t.last_used_ms.map(time).unwrap_or_else(|| "never".into())) }
						td {
							form method="post" action={ "/tokens/" (t.id) "/revoke" } {
								input type="hidden" name="csrf" value=(s.csrf);
								button type="submit" { "Revoke" }
							}
						}
					}
				}
			}
		}
	};
	Ok(html_page(page("API tokens", Some(s), body)))
}

async fn tokens(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	match signed_in(&app, &headers) {
		Ok(s) => tokens_page(&app, &s, &headers, None),
		Err(r) => Ok(r),
	}
}

#[derive(Deserialize)]
struct TokenForm {
	csrf: String,
	label: String,
}

async fn create_token(State(app): State<Arc<App>>, headers: HeaderMap, Form(f): Form<TokenForm>) -> PageResult {
	let s = match signed_in(&app, &headers).and_then(|s| csrf_ok(&s, &f.csrf).map(|()| s)) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let label = f.label.trim();
	if label.is_empty() || label.chars().count() > 64 {
		return Err(Failure::new(StatusCode::BAD_REQUEST, "a token's label is 1 to 64 characters"));
	}
	let token = app.store.new_token(&s.user.name, label)?;
	tracing::info!("{} created API token {label:?}", s.user.name);
	tokens_page(&app, &s, &headers, Some(&token))
}

async fn revoke_token(
	State(app): State<Arc<App>>,
	headers: HeaderMap,
	Path(id): Path<i64>,
	Form(f): Form<CsrfForm>,
) -> PageResult {
	let s = match signed_in(&app, &headers).and_then(|s| csrf_ok(&s, &f.csrf).map(|()| s)) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	if !app.store.revoke_token(&s.user.name, id)? {
		return Err(Failure::new(StatusCode::NOT_FOUND, format!("you have no token {id}")));
	}
	Ok(Redirect::to("/tokens").into_response())
}

/// A user's API address: the bearer token must be one of `name`'s, then
/// the call passes the filter and goes to the worker.
async fn api(State(app): State<Arc<App>>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
	let presented = headers
		.get(header::AUTHORIZATION)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.strip_prefix("Bearer "))
		.map(str::trim);
	let user = match presented.map(|t| app.store.token_user(t)) {
		Some(Ok(Some(u))) if u.name == name => u,
		Some(Err(e)) => {
			return rpc_error(StatusCode::INTERNAL_SERVER_ERROR, &Value::Null, filter::INTERNAL, &e.to_string())
		},
		_ => return unauthorized(),
	};
	let call = match filter::admit(&app.store, &user, &body) {
		Ok(Ok(call)) => call,
		Ok(Err(refusal)) => return json_response(StatusCode::OK, refusal.body()),
		Err(e) => return rpc_error(StatusCode::INTERNAL_SERVER_ERROR, &Value::Null, filter::INTERNAL, &e.to_string()),
	};
	let answer = match app.worker.forward(body).await {
		Ok(a) => a,
		Err(e) => {
			tracing::warn!("forwarding {} for {}: {e}", call.method, user.name);
			return rpc_error(StatusCode::OK, &call.id, filter::WORKER_UNAVAILABLE, &e.to_string());
		},
	};
	match filter::answer(&app.store, &user, &call, &answer) {
		Ok(filtered) => {
			if let Some(id) = filtered.submitted {
				if let Err(e) = app.store.record_task(&user.name, &id) {
					// The task runs on the worker but its owner is unknown: say so
					// rather than hand out an id the owner cannot use.
					tracing::error!("task {id} of {} could not be recorded: {e}", user.name);
					return rpc_error(
						StatusCode::OK,
						&call.id,
						filter::INTERNAL,
						&format!("task {id} was submitted but the board could not record it: {e}"),
					);
				}
				tracing::info!("{} submitted task {id}", user.name);
			}
			match filtered.body {
				Some(b) => json_response(StatusCode::OK, b),
				None => json_response(StatusCode::OK, answer),
			}
		},
		Err(e) => rpc_error(StatusCode::INTERNAL_SERVER_ERROR, &call.id, filter::INTERNAL, &e.to_string()),
	}
}

fn json_response(status: StatusCode, body: impl Into<axum::body::Body>) -> Response {
	(status, [(header::CONTENT_TYPE, "application/json")], body.into()).into_response()
}

fn rpc_error(status: StatusCode, id: &Value, code: i64, text: &str) -> Response {
	let body = json!({ "jsonrpc": "2.0", "error": { "code": code, "message": text }, "id": id });
	json_response(status, body.to_string())
}

fn unauthorized() -> Response {
	let mut r = rpc_error(
		StatusCode::UNAUTHORIZED,
		&Value::Null,
		-32001,
		"unauthorized: send Authorization: Bearer <token>, a token of this address's user",
	);
	r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
	r
}

// -- datasets, node, users ----------------------------------------------------------------

async fn datasets(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	let s = match signed_in(&app, &headers) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let list = app.worker.call("delta_datasets", json!({})).await?;
	let body = html! {
		p { "What this node's holder shares: names and schemas, never the data." }
		@for d in list.as_array().into_iter().flatten() {
			section.dataset data-dataset=(d["name"].as_str().unwrap_or("")) {
				h2 { (d["name"].as_str().unwrap_or("?")) }
				p.facts {
					(d["rows"]) " rows · version " (d["version"])
					@if let Some(ms) = d["prepared_ms"].as_u64() { " · prepared " (time(ms)) }
					@if let Some(h) = d["sha256"].as_str() { " · sha256 " code { (h.get(..16).unwrap_or(h)) "…" } }
				}
				@if let Some(dp) = d["privacy"].as_object() {
					p.privacy {
						"Differential privacy required: at most ε = " (dp.get("max_epsilon").unwrap_or(&Value::Null))
						" per task at δ ≤ " (dp.get("max_delta").unwrap_or(&Value::Null))
						@if let Some(b) = dp.get("budget").filter(|b| !b.is_null()) { "; a budget of ε = " (b) " per requester" }
						"."
					}
				}
				table.columns {
					thead { tr { th { "Column" } th { "Type" } th { "Levels or shape" } } }
					tbody {
						@for c in d["columns"].as_array().into_iter().flatten() {
							tr {
								td { code { (c["name"].as_str().unwrap_or("")) } }
								td { (c["type"].as_str().unwrap_or("")) }
								td {
									@if let Some(levels) = c["levels"].as_array() {
										(levels.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "))
									} @else if let Some(shape) = c["shape"].as_array() {
										(shape.iter().map(Value::to_string).collect::<Vec<_>>().join(" × "))
									}
								}
							}
						}
					}
				}
			}
		}
	};
	Ok(html_page(page("Datasets", Some(&s), body)))
}

/// The network's members, as the ledger lists them: who a task may ask.
async fn members(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	let s = match signed_in(&app, &headers) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let answer = app.worker.call("delta_members", json!({})).await?;
	let mut list: Vec<&Value> = answer.as_array().into_iter().flatten().collect();
	list.sort_by_key(|m| m["name"].as_str().unwrap_or(""));
	let body = html! {
		p { "The network's registered members: data holders whose workers a task may ask to join. Each keeps its data at home." }
		@if list.is_empty() { (message("note", "The ledger lists no members yet.")) }
		table #members {
			thead { tr { th { "Member" } th { "Account" } th { "Endpoint" } th { "Peer" } } }
			tbody {
				@for m in list {
					@let account = m["account"].as_str().unwrap_or("");
					tr data-member=(account) {
						td {
							(m["name"].as_str().unwrap_or(""))
							@if m["this_worker"].as_bool() == Some(true) { " " span.tag { "this node" } }
						}
						td { code { (account) } }
						td { code { (m["endpoint"].as_str().unwrap_or("")) } }
						td { code { (m["peer_id"].as_str().unwrap_or("")) } }
					}
				}
			}
		}
	};
	Ok(html_page(page("Members", Some(&s), body)))
}

async fn node(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	let s = match signed_in(&app, &headers) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let info = app.worker.call("delta_info", json!({})).await;
	let policy = match &info {
		Ok(_) => app.worker.call("delta_policy", json!({})).await.ok(),
		Err(_) => None,
	};
	let who = |v: &Value| match v {
		Value::String(s) if s == "*" => "every registered member".to_owned(),
		Value::Array(list) if list.is_empty() => "nobody (approved packages only)".to_owned(),
		Value::Array(list) => list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", "),
		_ => String::new(),
	};
	let body = html! {
		dl.facts {
			dt { "Worker" } dd { code { (app.worker.url()) } }
			@match &info {
				Ok(i) => {
					dt { "State" } dd #node-state { span.state.done { "reachable" } }
					dt { "Name" } dd { (i["name"].as_str().unwrap_or("")) }
					dt { "Account" } dd { code { (i["account"].as_str().unwrap_or("")) } }
					dt { "Idle task runners" } dd { (i["idle_runners"]) }
				},
				Err(e) => {
					dt { "State" } dd #node-state { span.state.failed { "unreachable" } " " (e.to_string()) }
				},
			}
		}
		@if let Some(p) = &policy {
			h2 { "The holder's policy" }
			p { "What this node's members check every task against before they compute." }
			dl.facts #policy {
				dt { "Who may ask" } dd { (who(&p["requesters"])) }
				dt { "Whose code runs without approval" } dd { (who(&p["code_requesters"])) }
				dt { "Least members per round" } dd data-policy="min_members" { (p["min_members"]) }
				dt { "Least rows in a dataset" } dd { (p["min_rows"]) }
				dt { "Least rows behind an analytics cell" } dd data-policy="min_cell_rows" { (p["min_cell_rows"]) }
				dt { "Most rounds" } dd { (p["max_rounds"]) }
				dt { "Most values per step" } dd { (p["max_values_per_step"]) }
				dt { "Rows per value asked" } dd {
					@if p["rows_per_value"].as_u64() == Some(0) { "no such cap" } @else { "at least " (p["rows_per_value"]) }
				}
			}
		}
	};
	Ok(html_page(page("Node", Some(&s), body)))
}

async fn users(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	let s = match admin(&app, &headers) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let list = app.store.users()?;
	let action = |name: &str, what: &str, label: &str| {
		html! {
			form.inline method="post" action={ "/users/" (name) "/" (what) } {
				input type="hidden" name="csrf" value=(s.csrf);
				button type="submit" data-action=(what) { (label) }
			}
		}
	};
	let body = html! {
		table #users {
			thead { tr { th { "Name" } th { "Role" } th { "State" } th { "Since" } th {} } }
			tbody {
				@for u in &list {
					tr data-user=(u.name) data-state=(u.state.as_str()) {
						td { (u.name) }
						td { (if u.is_admin() { "admin" } else { "member" }) }
						td { span class={ "state " (u.state.as_str()) } { (u.state.as_str()) } }
						td { (time(u.created_ms)) }
						td {
							@if u.name != s.user.name {
								@match u.state {
									AccountState::Pending => { (action(&u.name, "approve", "Approve")) (action(&u.name, "disable", "Refuse")) },
									AccountState::Active => {
										@if !u.is_admin() { (action(&u.name, "make-admin", "Make admin")) }
										(action(&u.name, "disable", "Disable"))
									},
									AccountState::Disabled => { (action(&u.name, "enable", "Enable")) },
								}
							}
						}
					}
				}
			}
		}
	};
	Ok(html_page(page("Users", Some(&s), body)))
}

async fn user_action(
	State(app): State<Arc<App>>,
	headers: HeaderMap,
	Path((name, what)): Path<(String, String)>,
	Form(f): Form<CsrfForm>,
) -> PageResult {
	let s = match admin(&app, &headers).and_then(|s| csrf_ok(&s, &f.csrf).map(|()| s)) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	if name == s.user.name {
		return Err(Failure::new(StatusCode::BAD_REQUEST, "administrators cannot change their own account here"));
	}
	let done = match what.as_str() {
		"approve" | "enable" => app.store.set_state(&name, AccountState::Active),
		"disable" => app.store.set_state(&name, AccountState::Disabled),
		"make-admin" => app.store.set_role(&name, Role::Admin),
		other => return Err(Failure::new(StatusCode::NOT_FOUND, format!("no action {other:?} on accounts"))),
	};
	match done {
		Ok(()) => {},
		Err(e @ StoreError::NoSuchUser(_)) => return Err(Failure::new(StatusCode::NOT_FOUND, e.to_string())),
		Err(e) => return Err(e.into()),
	}
	tracing::info!("{} did {what} on account {name}", s.user.name);
	Ok(Redirect::to("/users").into_response())
}

// -- JupyterLab -----------------------------------------------------------------------------

async fn lab(State(app): State<Arc<App>>, headers: HeaderMap) -> PageResult {
	let s = match signed_in(&app, &headers) {
		Ok(s) => s,
		Err(r) => return Ok(r),
	};
	let Some(hub) = &app.hub else {
		return Err(Failure::new(
			StatusCode::NOT_FOUND,
			"this board runs without JupyterLab (start it with --jupyterhub)",
		));
	};
	let body = match hub.state() {
		HubState::Ready => {
			let src = format!("/hub/login?auth_ticket={}&next=/hub/spawn/{}", hub.ticket(&s.user.name), s.user.name);
			html! {
				p.lab-note { "Kernels have " code { "DELTA_URL" } " and " code { "DELTA_TOKEN" } " set to your own API address and a token of yours: " code { "delta.Client()" } " needs no arguments." }
				iframe #lab src=(src) title="JupyterLab" {}
			}
		},
		HubState::Starting => html! {
			(message("note", "JupyterLab is starting; this page reloads in a few seconds."))
			meta http-equiv="refresh" content="3";
		},
		HubState::Stopped(why) => html! {
			(message("error", "JupyterLab has stopped; the board's operator can see why in its log."))
			@if s.user.is_admin() { pre { (why) } }
		},
	};
	Ok(html_page(page("JupyterLab", Some(&s), body)))
}

/// `/hub/...` and `/user/<name>/...`, forwarded to the hub for a signed-in
/// person, and a person's own server only to them.
async fn jupyter(State(app): State<Arc<App>>, request: Request) -> Response {
	let Some(hub) = app.hub.clone() else {
		return Failure::new(StatusCode::NOT_FOUND, "this board runs without JupyterLab").into_response();
	};
	let s = match signed_in(&app, request.headers()) {
		Ok(s) => s,
		Err(r) => return r,
	};
	if let Some(rest) = request.uri().path().strip_prefix("/user/") {
		let owner = rest.split('/').next().unwrap_or("");
		if owner != s.user.name {
			return Failure::new(StatusCode::FORBIDDEN, "this is another person's JupyterLab").into_response();
		}
	}
	hub.forward(request).await
}

#[derive(Deserialize)]
struct NotebookTokenRequest {
	name: String,
}

/// The hub, before it starts a person's server, asks for an API token of
/// theirs (authenticated with the secret the board started the hub with).
/// The previous notebook token of that person is revoked.
async fn notebook_token(State(app): State<Arc<App>>, headers: HeaderMap, body: Bytes) -> Response {
	let presented = headers
		.get(header::AUTHORIZATION)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.strip_prefix("Bearer "))
		.unwrap_or("");
	let Some(hub) = &app.hub else { return StatusCode::NOT_FOUND.into_response() };
	if !hub.is_hub(presented) {
		return StatusCode::UNAUTHORIZED.into_response();
	}
	let Ok(NotebookTokenRequest { name }) = serde_json::from_slice(&body) else {
		return (StatusCode::BAD_REQUEST, "expected {\"name\": ...}").into_response();
	};
	match app.store.user(&name) {
		Ok(Some(u)) if u.state == AccountState::Active => {},
		Ok(_) => return (StatusCode::FORBIDDEN, format!("{name} is not an active account")).into_response(),
		Err(e) => return Failure::from(e).into_response(),
	}
	match app.store.replace_token(&name, NOTEBOOK_TOKEN) {
		Ok(token) => {
			tracing::info!("notebook API token for {name}");
			let url = format!("{}/api/{name}", app.board_url.trim_end_matches('/'));
			axum::Json(json!({ "url": url, "token": token })).into_response()
		},
		Err(e) => Failure::from(e).into_response(),
	}
}

/// The label of the API token a person's notebooks use.
pub const NOTEBOOK_TOKEN: &str = "jupyterlab";

#[cfg(test)]
mod tests {
	use axum::body::Body;
	use http_body_util::BodyExt;
	use tower::ServiceExt;

	use super::*;

	const HOST: &str = "board.test:8080";

	struct Fixture {
		_dir: tempfile::TempDir,
		app: Arc<App>,
	}

	/// A board whose worker is `worker_url` (a closed port where the test
	/// needs no worker), with an administrator `root` and a member `ann`.
	fn board(worker_url: &str) -> Fixture {
		let dir = tempfile::tempdir().unwrap();
		let store = Store::open(&dir.path().join("board.sqlite")).unwrap();
		let hashed = secret::hash_password("a long password").unwrap();
		let token = store.new_setup_token().unwrap();
		assert!(store.set_up(&token, "root", &hashed).unwrap());
		for name in ["ann", "bob"] {
			store.sign_up(name, &hashed).unwrap();
			store.set_state(name, AccountState::Active).unwrap();
		}
		let app = Arc::new(App {
			store,
			worker: Worker::new(worker_url, "worker-token"),
			secure_cookie: false,
			hub: None,
			board_url: format!("http://{HOST}"),
		});
		Fixture { _dir: dir, app }
	}

	async fn send(f: &Fixture, request: axum::http::Request<Body>) -> (StatusCode, HeaderMap, String) {
		let response = router(Arc::clone(&f.app)).oneshot(request).await.unwrap();
		let (parts, body) = response.into_parts();
		let bytes = body.collect().await.unwrap().to_bytes();
		(parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
	}

	fn form(path: &str) -> axum::http::request::Builder {
		axum::http::Request::post(path)
			.header(header::HOST, HOST)
			.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
	}

	fn get(path: &str, cookie: Option<&str>) -> axum::http::Request<Body> {
		let mut r = axum::http::Request::get(path).header(header::HOST, HOST);
		if let Some(c) = cookie {
			r = r.header(header::COOKIE, format!("{COOKIE}={c}"));
		}
		r.body(Body::empty()).unwrap()
	}

	const SIGNUP: &str = "name=mallory&password=a+long+password&again=a+long+password";

	#[tokio::test]
	async fn cross_site_posts_are_refused_before_any_handler_runs() {
		let f = board("http://127.0.0.1:9");
		let evil = form("/signup").header(header::ORIGIN, "http://evil.test").body(Body::from(SIGNUP)).unwrap();
		let (status, _, text) = send(&f, evil).await;
		assert_eq!(status, StatusCode::FORBIDDEN);
		assert!(text.contains("cross-site request refused"), "{text}");
		let fetched = form("/signup").header("sec-fetch-site", "cross-site").body(Body::from(SIGNUP)).unwrap();
		assert_eq!(send(&f, fetched).await.0, StatusCode::FORBIDDEN);
		assert_eq!(f.app.store.user("mallory").unwrap(), None, "nothing ran");

		let own = form("/signup").header(header::ORIGIN, format!("http://{HOST}")).body(Body::from(SIGNUP)).unwrap();
		let (status, _, text) = send(&f, own).await;
		assert_eq!(status, StatusCode::OK, "{text}");
		assert_eq!(f.app.store.user("mallory").unwrap().unwrap().state, AccountState::Pending);
	}

	/// Reads one response (headers and a `content-length` body) from `s`;
	/// `None` if the board closed the connection first.
	async fn read_response(s: &mut tokio::net::TcpStream) -> Option<String> {
		use tokio::io::AsyncReadExt;
		let mut got = Vec::new();
		let mut chunk = [0u8; 4096];
		loop {
			let text = String::from_utf8_lossy(&got).into_owned();
			if let Some(end) = text.find("\r\n\r\n") {
				let length = text[..end]
					.lines()
					.find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length: ").map(str::to_owned))
					.map_or(0, |n| n.trim().parse::<usize>().unwrap());
				if got.len() >= end + 4 + length {
					return Some(text);
				}
			}
			match s.read(&mut chunk).await {
				Ok(0) | Err(_) => return None,
				Ok(n) => got.extend_from_slice(&chunk[..n]),
			}
		}
	}

	#[tokio::test]
	async fn a_refused_cross_site_post_leaves_the_connection_open_for_the_next_request() {
		use tokio::io::AsyncWriteExt;
		// The refusal is answered after the body is read: a socket closed
		// with the body unread is reset, and the reset can overtake the 403.
		let f = board("http://127.0.0.1:9");
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let addr = listener.local_addr().unwrap();
		let app = router(Arc::clone(&f.app));
		tokio::spawn(async move { axum::serve(listener, app).await });
		let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
		let body = "x".repeat(200_000) + "&" + SIGNUP;
		let evil = format!(
			"POST /signup HTTP/1.1\r\nHost: {HOST}\r\nOrigin: http://evil.test\r\n\
			 Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
			body.len()
		);
		s.write_all(evil.as_bytes()).await.unwrap();
		let refused = read_response(&mut s).await.expect("the 403 arrives");
		assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
		assert!(refused.contains("cross-site request refused"), "{refused}");
		s.write_all(format!("GET /login HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes()).await.unwrap();
		let next = read_response(&mut s).await.expect("the connection is still open");
		assert!(next.starts_with("HTTP/1.1 200"), "{next}");
		assert_eq!(f.app.store.user("mallory").unwrap(), None, "nothing ran");
	}

	#[tokio::test]
	async fn pages_need_a_session_and_forms_its_csrf_token() {
		let f = board("http://127.0.0.1:9");
		let (status, headers, _) = send(&f, get("/tokens", None)).await;
		assert_eq!((status, headers[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/login"));

		let ann = f.app.store.new_session("ann").unwrap();
		let (status, _, _) = send(&f, get("/users", Some(&ann))).await;
		assert_eq!(status, StatusCode::FORBIDDEN, "the users page is for administrators");
		let (status, _, page) = send(&f, get("/tokens", Some(&ann))).await;
		assert_eq!(status, StatusCode::OK);
		assert!(page.contains("http://board.test:8080/api/ann"), "{page}");

		let forged = form("/tokens")
			.header(header::COOKIE, format!("{COOKIE}={ann}"))
			.body(Body::from("csrf=00&label=x"))
			.unwrap();
		assert_eq!(send(&f, forged).await.0, StatusCode::FORBIDDEN);
		assert!(f.app.store.tokens("ann").unwrap().is_empty());
		let csrf = f.app.store.session(&ann).unwrap().unwrap().csrf;
		let real = form("/tokens")
			.header(header::COOKIE, format!("{COOKIE}={ann}"))
			.body(Body::from(format!("csrf={csrf}&label=laptop")))
			.unwrap();
		let (status, _, page) = send(&f, real).await;
		assert_eq!(status, StatusCode::OK);
		assert!(page.contains("<code id=\"new-token\">dbt_"), "the token is shown once");
		assert_eq!(f.app.store.tokens("ann").unwrap()[0].label, "laptop");
	}

	#[tokio::test]
	async fn the_sixth_wrong_password_is_answered_429_even_when_right() {
		let f = board("http://127.0.0.1:9");
		let login = |password: &str| {
			let body = format!("name=ann&password={password}");
			form("/login").body(Body::from(body)).unwrap()
		};
		for _ in 0..5 {
			assert_eq!(send(&f, login("wrong+password")).await.0, StatusCode::UNAUTHORIZED);
		}
		let (status, headers, _) = send(&f, login("a+long+password")).await;
		assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
		assert!(headers[header::RETRY_AFTER].to_str().unwrap().parse::<u64>().unwrap() > 0);
		let (status, headers, _) = send(&f, {
			let body = "name=bob&password=a+long+password";
			form("/login").body(Body::from(body)).unwrap()
		})
		.await;
		assert_eq!(status, StatusCode::SEE_OTHER, "another name is not locked");
		let cookie = headers[header::SET_COOKIE].to_str().unwrap();
		assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
	}

	fn api_call(name: &str, token: Option<&str>, body: &str) -> axum::http::Request<Body> {
		let mut r = axum::http::Request::post(format!("/api/{name}")).header(header::HOST, HOST);
		if let Some(t) = token {
			r = r.header(header::AUTHORIZATION, format!("Bearer {t}"));
		}
		r.body(Body::from(body.to_owned())).unwrap()
	}

	#[tokio::test]
	async fn the_api_refuses_missing_and_foreign_tokens_before_reading_the_call() {
		let f = board("http://127.0.0.1:9");
		let ann = f.app.store.new_token("ann", "t").unwrap();
		let list = r#"{"jsonrpc":"2.0","id":1,"method":"delta_list"}"#;
		for (name, token) in [("ann", None), ("ann", Some("dbt_00")), ("bob", Some(ann.as_str()))] {
			let (status, headers, body) = send(&f, api_call(name, token, list)).await;
			assert_eq!(status, StatusCode::UNAUTHORIZED, "{name} {token:?}");
			assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
			assert!(body.contains("-32001"));
		}
		let (status, _, body) = send(&f, api_call("ann", Some(&ann), "[]")).await;
		assert_eq!(status, StatusCode::OK);
		assert!(body.contains("-32600"), "{body}");
		// A worker that cannot be reached is a JSON-RPC error naming it.
		let (_, _, body) = send(&f, api_call("ann", Some(&ann), list)).await;
		let v: Value = serde_json::from_str(&body).unwrap();
		assert_eq!(v["error"]["code"], filter::WORKER_UNAVAILABLE);
		assert!(v["error"]["message"].as_str().unwrap().contains("127.0.0.1:9"), "{v}");
		assert_eq!(v["id"], 1);
	}

	/// A stand-in worker on loopback that knows two tasks and accepts
	/// one submission; it checks the board sends the worker's token.
	async fn fake_worker() -> String {
		async fn rpc(headers: HeaderMap, body: Bytes) -> Response {
			if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some("Bearer worker-token") {
				return StatusCode::UNAUTHORIZED.into_response();
			}
			let call: Value = serde_json::from_slice(&body).unwrap();
			let result = match call["method"].as_str().unwrap() {
				"delta_submit" => json!({ "id": "t-new" }),
				"delta_info" => json!({ "account": "5Ann", "name": "Hospital A", "idle_runners": 1 }),
				"delta_policy" => json!({
					"requesters": "*", "code_requesters": [], "min_members": 3, "min_rows": 1, "max_rounds": 64,
					"min_cell_rows": 5, "max_values_per_step": 67108864, "rows_per_value": 0,
				}),
				"delta_members" => json!([
					{ "account": "5Ann", "name": "Hospital <A>", "endpoint": "/ip4/127.0.0.1/tcp/1", "peer_id": "12D3a", "this_worker": true },
					{ "account": "5Bob", "name": "Clinic B", "endpoint": "/ip4/127.0.0.1/tcp/2", "peer_id": "12D3b", "this_worker": false },
				]),
				"delta_list" => json!([
					{ "id": "t-new", "state": "running", "round": 0, "rounds": 1, "created_ms": 2, "progress": ["ok"] },
					{ "id": "t-other", "state": "done", "round": 0, "rounds": 1, "created_ms": 1, "progress": [] },
				]),
				// Raw text: the digits must reach the download unchanged.
				"delta_result" => {
					let body = format!(
						r#"{{"jsonrpc":"2.0","id":{},"result":{{"result":{{"v":114.12956946418623}}}}}}"#,
						call["id"]
					);
					return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
				},
				other => panic!("unexpected {other}"),
			};
			axum::Json(json!({ "jsonrpc": "2.0", "id": call["id"], "result": result })).into_response()
		}
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let url = format!("http://{}", listener.local_addr().unwrap());
		tokio::spawn(async move { axum::serve(listener, Router::new().route("/", post(rpc))).await });
		url
	}

	#[tokio::test]
	async fn a_submission_is_recorded_against_its_caller_and_lists_show_own_tasks_only() {
		let f = board(&fake_worker().await);
		let ann = f.app.store.new_token("ann", "t").unwrap();
		let submit = r#"{"jsonrpc":"2.0","id":5,"method":"delta_submit","params":{"package":"AA=="}}"#;
		let (status, _, body) = send(&f, api_call("ann", Some(&ann), submit)).await;
		assert_eq!(status, StatusCode::OK);
		assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["result"]["id"], "t-new");
		assert_eq!(f.app.store.task_owner("t-new").unwrap().as_deref(), Some("ann"));

		let list = r#"{"jsonrpc":"2.0","id":6,"method":"delta_list"}"#;
		let (_, _, body) = send(&f, api_call("ann", Some(&ann), list)).await;
		let ids: Vec<String> = serde_json::from_str::<Value>(&body).unwrap()["result"]
			.as_array()
			.unwrap()
			.iter()
			.map(|s| s["id"].as_str().unwrap().to_owned())
			.collect();
		assert_eq!(ids, ["t-new"]);

		let bob = f.app.store.new_session("bob").unwrap();
		let (_, _, page) = send(&f, get("/tasks", Some(&bob))).await;
		assert!(!page.contains("data-task="), "bob's page lists none of ann's tasks");
		let root = f.app.store.new_session("root").unwrap();
		let (_, _, page) = send(&f, get("/tasks", Some(&root))).await;
		assert!(page.contains("data-task=\"t-new\"") && page.contains("data-task=\"t-other\""));
		assert!(page.contains("<td>ann</td>") && page.contains("(worker)"), "{page}");
	}

	#[tokio::test]
	async fn a_downloaded_result_keeps_the_workers_digits() {
		let f = board(&fake_worker().await);
		f.app.store.record_task("ann", "t-new").unwrap();
		let ann = f.app.store.new_session("ann").unwrap();
		let (status, headers, body) = send(&f, get("/tasks/t-new/result.json", Some(&ann))).await;
		assert_eq!(status, StatusCode::OK);
		assert!(headers[header::CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment"));
		assert_eq!(body, r#"{"v":114.12956946418623}"#);
	}

	#[tokio::test]
	async fn the_members_page_lists_the_ledgers_members_escaped() {
		let f = board(&fake_worker().await);
		let (status, _, _) = send(&f, get("/members", None)).await;
		assert_eq!(status, StatusCode::SEE_OTHER, "signed out: to the sign-in page");
		let ann = f.app.store.new_session("ann").unwrap();
		let (status, _, page) = send(&f, get("/members", Some(&ann))).await;
		assert_eq!(status, StatusCode::OK);
		assert!(page.contains(r#"data-member="5Ann""#) && page.contains(r#"data-member="5Bob""#), "{page}");
		assert!(page.contains("Hospital &lt;A&gt;") && !page.contains("Hospital <A>"), "names are escaped");
		assert_eq!(page.matches("this node").count(), 1);
	}

	#[tokio::test]
	async fn the_node_page_shows_the_holders_policy() {
		let f = board(&fake_worker().await);
		let ann = f.app.store.new_session("ann").unwrap();
		let (status, _, page) = send(&f, get("/node", Some(&ann))).await;
		assert_eq!(status, StatusCode::OK);
		assert!(page.contains("reachable") && page.contains("Hospital A"), "{page}");
		assert!(page.contains(r#"<dd data-policy="min_members">3</dd>"#), "{page}");
		assert!(page.contains("every registered member") && page.contains("nobody (approved packages only)"));
		assert!(page.contains("no such cap"));
	}
}
