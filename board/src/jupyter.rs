//! The board's JupyterLab: a JupyterHub on loopback that the board starts,
//! signs people into with short-lived tickets, and reaches through its own
//! origin. The board forwards `/hub/...` and `/user/<name>/...` (WebSockets
//! included) to the hub's proxy only for a signed-in person, and
//! `/user/<name>/` only for `<name>` themselves, so a hub cookie left
//! behind opens nothing once the board session ends.
//!
//! The hub's side is `board/jupyterhub/jupyterhub_config.py`; the two share
//! a secret made fresh at every start, which signs tickets and lets the hub
//! ask the board for a person's notebook API token.

use std::{
	net::{SocketAddr, TcpListener},
	path::{Path, PathBuf},
	process::Stdio,
	sync::{Arc, Mutex, PoisonError},
	time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
	body::Body,
	extract::Request,
	http::{header, HeaderValue, StatusCode},
	response::{IntoResponse, Response},
};
use hmac::{Hmac, Mac};
use hyper_util::{
	client::legacy::{connect::HttpConnector, Client},
	rt::{TokioExecutor, TokioIo},
};
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::secret;

/// How long a sign-in ticket is good for.
pub const TICKET_FOR: Duration = Duration::from_secs(60);
/// How long the hub may take to answer at start.
const START_WITHIN: Duration = Duration::from_secs(120);

/// What starting the hub can fail with.
#[derive(Debug, thiserror::Error)]
pub enum JupyterError {
	#[error("JupyterHub's configuration {0} does not exist (is --jupyterhub-config right?)")]
	NoConfig(PathBuf),
	#[error("{0} is not a Python environment with JupyterHub (is --jupyter-env right? scripts/setup.sh makes one)")]
	NoEnvironment(PathBuf),
	#[error("JupyterHub's proxy {0} is missing: run `npm ci` in board/jupyterhub (scripts/setup.sh does)")]
	NoProxy(PathBuf),
	#[error("no free loopback port for JupyterHub: {0}")]
	Port(std::io::Error),
	#[error("starting JupyterHub: {0}")]
	Spawn(std::io::Error),
}

/// Where the hub stands, for the Lab page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HubState {
	Starting,
	Ready,
	/// It exited; the reason and its last lines of output.
	Stopped(String),
}

/// The running hub.
pub struct Hub {
	proxy: SocketAddr,
	/// Kept-alive connections to the proxy (a Lab page makes dozens of
	/// requests); a WebSocket upgrade takes its connection out of the pool.
	client: Client<HttpConnector, Body>,
	secret: String,
	state: Mutex<HubState>,
	child: Mutex<Option<tokio::process::Child>>,
}

/// How to start the hub.
pub struct HubConfig {
	/// `board/jupyterhub/jupyterhub_config.py` (the proxy is beside it,
	/// in `node_modules`).
	pub config: PathBuf,
	/// The virtual environment with JupyterHub and JupyterLab.
	pub environment: PathBuf,
	/// The hub's own state folder (its database, people's home folders).
	pub state: PathBuf,
	/// The board's address as seen from this machine (kernels reach their
	/// API addresses there, the hub asks for tokens there).
	pub board_url: String,
}

fn free_port() -> Result<u16, JupyterError> {
	let listener = TcpListener::bind("127.0.0.1:0").map_err(JupyterError::Port)?;
	Ok(listener.local_addr().map_err(JupyterError::Port)?.port())
}

impl Hub {
	/// Starts JupyterHub (and, through it, its proxy) and returns at once;
	/// [`Hub::state`] says when it is ready.
	pub fn start(config: HubConfig) -> Result<Arc<Hub>, JupyterError> {
		if !config.config.is_file() {
			return Err(JupyterError::NoConfig(config.config));
		}
		let jupyterhub = config.environment.join("bin").join("jupyterhub");
		if !jupyterhub.is_file() {
			return Err(JupyterError::NoEnvironment(config.environment));
		}
		let folder = config.config.parent().unwrap_or(Path::new(".")).to_path_buf();
		let chp = folder.join("node_modules").join(".bin").join("configurable-http-proxy");
		if !chp.exists() {
			return Err(JupyterError::NoProxy(chp));
		}
		std::fs::create_dir_all(&config.state).map_err(JupyterError::Spawn)?;
		let (proxy_port, proxy_api_port, hub_port) = (free_port()?, free_port()?, free_port()?);
		let secret = secret::random_hex(32);
		let mut command = tokio::process::Command::new(&jupyterhub);
		command
			.arg("-f")
			.arg(&config.config)
			.current_dir(&config.state)
			.env("DELTA_BOARD_HUB_SECRET", &secret)
			.env("DELTA_BOARD_URL", &config.board_url)
			.env("DELTA_BOARD_HUB_STATE", &config.state)
			.env("DELTA_BOARD_JUPYTER_ENV", &config.environment)
			.env("DELTA_BOARD_PROXY_PORT", proxy_port.to_string())
			.env("DELTA_BOARD_PROXY_API_PORT", proxy_api_port.to_string())
			.env("DELTA_BOARD_HUB_PORT", hub_port.to_string())
			.env("CONFIGPROXY_AUTH_TOKEN", secret::random_hex(32))
			// The environment's own `bin` first: the hub starts its proxy
			// with node and its servers with the environment's Python.
			.env("PATH", path_with(&config.environment.join("bin")))
			.stdin(Stdio::null())
			.stdout(Stdio::piped())
			.stderr(Stdio::piped())
			.kill_on_drop(true);
		// A board that dies without stopping the hub (SIGKILL, a crash)
		// takes it along: the hub then stops the servers and its proxy,
		// and the next board's hub does not find the last one's ports and
		// database still in use. Hub::start runs on the main thread, which
		// lives as long as the board (the signal follows the parent thread).
		// SAFETY: prctl with integer arguments only, between fork and exec.
		unsafe {
			command.pre_exec(|| {
				if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
					return Err(std::io::Error::last_os_error());
				}
				Ok(())
			});
		}
		let mut child = command.spawn().map_err(JupyterError::Spawn)?;
		let mut connector = HttpConnector::new();
		connector.set_nodelay(true);
		let hub = Arc::new(Hub {
			proxy: SocketAddr::from(([127, 0, 0, 1], proxy_port)),
			client: Client::builder(TokioExecutor::new()).pool_idle_timeout(Duration::from_secs(60)).build(connector),
			secret,
			state: Mutex::new(HubState::Starting),
			child: Mutex::new(None),
		});
		let tail = Arc::new(Mutex::new(Vec::<String>::new()));
		let out: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = child.stdout.take().map(|s| Box::new(s) as _);
		let err: Option<Box<dyn tokio::io::AsyncRead + Unpin + Send>> = child.stderr.take().map(|s| Box::new(s) as _);
		for stream in [out, err].into_iter().flatten() {
			let tail = Arc::clone(&tail);
			tokio::spawn(async move {
				let mut lines = BufReader::new(stream).lines();
				while let Ok(Some(line)) = lines.next_line().await {
					tracing::info!(target: "jupyterhub", "{line}");
					let mut t = tail.lock().unwrap_or_else(PoisonError::into_inner);
					t.push(line);
					if t.len() > 20 {
						t.remove(0);
					}
				}
			});
		}
		*hub.child.lock().unwrap_or_else(PoisonError::into_inner) = Some(child);
		let watched = Arc::clone(&hub);
		tokio::spawn(async move { watched.watch(tail).await });
		Ok(hub)
	}

	async fn watch(self: Arc<Hub>, tail: Arc<Mutex<Vec<String>>>) {
		let started = tokio::time::Instant::now();
		loop {
			if let Some(status) = self.exited() {
				let lines = tail.lock().unwrap_or_else(PoisonError::into_inner).join("\n");
				tracing::error!("JupyterHub exited ({status}); JupyterLab is unavailable");
				self.set(HubState::Stopped(format!("JupyterHub exited ({status}):\n{lines}")));
				return;
			}
			if *self.state.lock().unwrap_or_else(PoisonError::into_inner) == HubState::Starting {
				if self.answers("/hub/api/").await {
					println!("jupyterhub ready");
					tracing::info!("JupyterHub ready (proxy on {})", self.proxy);
					self.set(HubState::Ready);
				} else if started.elapsed() > START_WITHIN {
					tracing::warn!("JupyterHub has not answered within {} s", START_WITHIN.as_secs());
				}
			}
			tokio::time::sleep(Duration::from_millis(500)).await;
		}
	}

	/// Whether a GET of `path` through the proxy answers 200 within 5 s.
	async fn answers(&self, path: &str) -> bool {
		let Ok(request) = hyper::Request::get(format!("http://{}{path}", self.proxy)).body(Body::empty()) else {
			return false;
		};
		let asked = tokio::time::timeout(Duration::from_secs(5), self.client.request(request)).await;
		matches!(asked, Ok(Ok(answer)) if answer.status() == StatusCode::OK)
	}

	fn exited(&self) -> Option<String> {
		let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
		match child.as_mut().map(|c| c.try_wait()) {
			Some(Ok(Some(status))) => Some(status.to_string()),
			Some(Err(e)) => Some(e.to_string()),
			Some(Ok(None)) => None,
			None => Some("stopped".into()),
		}
	}

	fn set(&self, state: HubState) {
		*self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
	}

	/// Where the hub stands.
	pub fn state(&self) -> HubState {
		self.state.lock().unwrap_or_else(PoisonError::into_inner).clone()
	}

	/// Whether `presented` is the secret the hub was started with.
	pub fn is_hub(&self, presented: &str) -> bool {
		secret::same(presented.as_bytes(), self.secret.as_bytes())
	}

	/// A sign-in ticket for `name`: `name.expires_ms.nonce.hmac`.
	pub fn ticket(&self, name: &str) -> String {
		let expires = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + TICKET_FOR;
		let signed = format!("{name}.{}.{}", expires.as_millis(), secret::random_hex(16));
		format!("{signed}.{}", sign(self.secret.as_bytes(), &signed))
	}

	/// Stops the hub (which stops its proxy and people's servers): SIGTERM,
	/// then SIGKILL after 10 s.
	pub async fn stop(&self) {
		let child = self.child.lock().unwrap_or_else(PoisonError::into_inner).take();
		let Some(mut child) = child else { return };
		if let Some(pid) = child.id().and_then(|p| libc::pid_t::try_from(p).ok()) {
			// SAFETY: kill takes integers only; `pid` is our child, not yet reaped.
			unsafe { libc::kill(pid, libc::SIGTERM) };
			if tokio::time::timeout(Duration::from_secs(10), child.wait()).await.is_ok() {
				return;
			}
		}
		let _ = child.kill().await;
	}

	/// Forwards one request (HTTP or a WebSocket upgrade) to the hub's proxy,
	/// `Host` and `Origin` as they came, so Jupyter's own origin checks see
	/// the board's origin.
	pub async fn forward(&self, mut request: Request) -> Response {
		let upgrade = request
			.headers()
			.get(header::UPGRADE)
			.and_then(|v| v.to_str().ok())
			.is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
		let downstream = upgrade.then(|| hyper::upgrade::on(&mut request));
		let path = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
		let (mut parts, body) = request.into_parts();
		parts.uri = match format!("http://{}{path}", self.proxy).parse() {
			Ok(uri) => uri,
			Err(_) => return (StatusCode::BAD_REQUEST, "bad path").into_response(),
		};
		if !upgrade {
			for h in [header::CONNECTION, header::UPGRADE, header::TE, header::TRAILER] {
				parts.headers.remove(h);
			}
			parts.headers.remove("keep-alive");
		}
		parts.headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
		let outgoing = hyper::Request::from_parts(parts, body);
		let answer = if upgrade {
			self.upgrade_connection(outgoing).await
		} else {
			self.client.request(outgoing).await.map_err(|e| e.to_string())
		};
		let mut answer = match answer {
			Ok(a) => a,
			Err(e) => return unavailable(format!("JupyterHub's proxy at {} cannot be reached: {e}", self.proxy)),
		};
		if let (Some(downstream), StatusCode::SWITCHING_PROTOCOLS) = (downstream, answer.status()) {
			let upstream = hyper::upgrade::on(&mut answer);
			tokio::spawn(async move {
				match tokio::try_join!(downstream, upstream) {
					Ok((down, up)) => {
						let (mut down, mut up) = (TokioIo::new(down), TokioIo::new(up));
						let _ = tokio::io::copy_bidirectional(&mut down, &mut up).await;
					},
					Err(e) => tracing::debug!("WebSocket to JupyterHub: {e}"),
				}
			});
		}
		answer.map(Body::new)
	}
}

impl Hub {
	/// A WebSocket upgrade on a connection of its own (it never returns
	/// to the pool), its URI in origin form as the proxy expects.
	async fn upgrade_connection(
		&self,
		mut request: hyper::Request<Body>,
	) -> Result<hyper::Response<hyper::body::Incoming>, String> {
		let origin_form = request.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "/".into());
		*request.uri_mut() = origin_form.parse().map_err(|e: axum::http::uri::InvalidUri| e.to_string())?;
		let stream = tokio::net::TcpStream::connect(self.proxy).await.map_err(|e| e.to_string())?;
		let _ = stream.set_nodelay(true);
		let (mut sender, connection) =
			hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
		tokio::spawn(async move {
			if let Err(e) = connection.with_upgrades().await {
				tracing::debug!("JupyterHub connection: {e}");
			}
		});
		sender.send_request(request).await.map_err(|e| e.to_string())
	}
}

fn unavailable(text: String) -> Response {
	tracing::warn!("{text}");
	(StatusCode::BAD_GATEWAY, text).into_response()
}

/// HMAC-SHA256 of `message` under `key`, hex (what the hub's
/// authenticator recomputes with Python's `hmac`).
pub fn sign(key: &[u8], message: &str) -> String {
	// HMAC accepts keys of every length, so this never fails; an empty
	// signature would only be refused by the hub.
	let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) else { return String::new() };
	mac.update(message.as_bytes());
	hex::encode(mac.finalize().into_bytes())
}

fn path_with(first: &Path) -> String {
	let rest = std::env::var("PATH").unwrap_or_default();
	format!("{}:{rest}", first.display())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tickets_match_pythons_hmac() {
		// python3 -c "import hmac,hashlib;print(hmac.new(b'k3y',b'ann.1.ab',hashlib.sha256).hexdigest())"
		assert_eq!(sign(b"k3y", "ann.1.ab"), "0aeac759aca602c0e826a0ce67ab71a5d585094105216c9b292b2d8efaa7a2d5");
	}
}
