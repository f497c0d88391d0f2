//! The peer network: libp2p request-response over TCP, authenticated and
//! encrypted by Noise, multiplexed by Yamux. A worker reaches a member at
//! the endpoint and peer id the ledger registered for it, and accepts a
//! message only from a peer id the ledger maps to a registered account,
//! which is then the message's sender; everything else is dropped.
//! Messages are the engine's data types in postcard, length-prefixed and
//! bounded in size, never code or pickles.
//! Both lookups go through one member directory ([`crate::directory`]).

use std::{
	collections::{HashMap, HashSet},
	io,
	sync::{Arc, Condvar, Mutex},
	time::Duration,
};

use delta_engine::{io::canonical, AccountId, EngineError, Message, TaskId};
use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use libp2p::{
	request_response::{self, ProtocolSupport},
	swarm::SwarmEvent,
	Multiaddr, PeerId, StreamProtocol, Swarm,
};
use tokio::sync::mpsc;

use crate::{directory::Directory, ledger::Backend};

/// The protocol name of Delta's messages: 2 since message commitments
/// are BLAKE3 (a version-1 peer's commitments would not match).
pub const PROTOCOL: &str = "/delta/engine/2";

/// Wakes the engine's threads when something arrives. Many threads wait
/// on one `Wake`: each keeps the generation it last saw, so a wake-up
/// reaches every waiter, not only the first to notice it.
#[derive(Default)]
pub struct Wake {
	generation: Mutex<u64>,
	cond: Condvar,
}

impl Wake {
	/// Something happened.
	pub fn notify(&self) {
		*self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner) += 1;
		self.cond.notify_all();
	}

	/// The generation now, to start waiting from.
	pub fn now(&self) -> u64 {
		*self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
	}

	/// Waits until something happens after generation `seen`, or `timeout`
	/// passes; `seen` becomes the generation at return.
	pub fn wait(&self, seen: &mut u64, timeout: Duration) {
		let guard = self.generation.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
		let (guard, _) = self
			.cond
			.wait_timeout_while(guard, timeout, |g| *g == *seen)
			.unwrap_or_else(std::sync::PoisonError::into_inner);
		*seen = *guard;
	}
}

/// Messages received, sorted by who handles them.
#[derive(Default)]
struct Inbox {
	member: Vec<(AccountId, Message)>,
	requesters: HashMap<TaskId, Vec<(AccountId, Message)>>,
	bound: HashSet<TaskId>,
}

impl Inbox {
	fn push(&mut self, from: AccountId, message: Message) {
		let task = match &message {
			Message::Announce(_) | Message::Delivery { .. } => {
				self.member.push((from, message));
				return;
			},
			Message::ShareKeys { task, .. }
			| Message::Masked { task, .. }
			| Message::Unmask { task, .. }
			| Message::Decline { task, .. } => *task,
		};
		if self.bound.contains(&task) {
			self.requesters.entry(task).or_default().push((from, message));
		}
	}
}

struct Outbound {
	peer: PeerId,
	addr: Multiaddr,
	bytes: Vec<u8>,
}

/// The worker's endpoint on the peer network.
pub struct PeerNet {
	me: AccountId,
	outbound: mpsc::UnboundedSender<Outbound>,
	inbox: Arc<Mutex<Inbox>>,
	directory: Directory,
	/// Notified whenever a message arrives or the ledger moves on.
	pub wake: Arc<Wake>,
	/// Notified when the ledger moves on (a round's phase changed), so the
	/// router can wake the member threads, which wait on their mailboxes.
	pub ledger_moved: Arc<Wake>,
}

/// Length-prefixed byte messages with a size limit.
#[derive(Clone)]
pub struct Codec {
	max: u64,
}

/// Most room a frame's prefix sets aside before its bytes arrive (larger
/// frames grow past it): a 1M-weight masked input in the 64-bit ring is
/// 8 MB.
const FRAME_RESERVE: usize = 64 << 20;

/// Bytes of a frame's buffer zeroed ahead of the bytes read into it.
const FRAME_WINDOW: usize = 256 << 10;

async fn read_frame<T: futures::AsyncRead + Unpin + Send>(io: &mut T, max: u64) -> io::Result<Vec<u8>> {
	let mut len = [0u8; 4];
	io.read_exact(&mut len).await?;
	let len = u64::from(u32::from_be_bytes(len));
	if len > max {
		return Err(io::Error::new(
			io::ErrorKind::InvalidData,
			format!("message of {len} bytes exceeds the limit of {max}"),
		));
	}
	// Zeroed (so readable into) a window at a time as the bytes arrive, in
	// room set aside from the prefix: a peer that announces the limit and
	// sends nothing costs address space, not memory, and a model-sized
	// frame is read in place, without the copies and fresh pages of a
	// buffer doubling as it fills (a requester reads ten 8 MB masked
	// inputs a round at 1M weights).
	let len = usize::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "message too large"))?;
	let mut buf = Vec::with_capacity(len.min(FRAME_RESERVE));
	let mut filled = 0;
	while filled < len {
		if filled == buf.len() {
			buf.resize(filled + (len - filled).min(FRAME_WINDOW), 0);
		}
		let n = io.read(&mut buf[filled..]).await?;
		if n == 0 {
			return Err(io::Error::new(
				io::ErrorKind::UnexpectedEof,
				format!("message of {len} bytes ended after {filled}"),
			));
		}
		filled += n;
	}
	Ok(buf)
}

async fn write_frame<T: futures::AsyncWrite + Unpin + Send>(io: &mut T, bytes: &[u8]) -> io::Result<()> {
	let len =
		u32::try_from(bytes.len()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too large"))?;
	io.write_all(&len.to_be_bytes()).await?;
	io.write_all(bytes).await?;
	io.close().await
}

#[async_trait::async_trait]
impl request_response::Codec for Codec {
	type Protocol = StreamProtocol;
	type Request = Vec<u8>;
	type Response = Vec<u8>;

	async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
	where
		T: futures::AsyncRead + Unpin + Send,
	{
		read_frame(io, self.max).await
	}

	async fn read_response<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
	where
		T: futures::AsyncRead + Unpin + Send,
	{
		read_frame(io, 1024).await
	}

	async fn write_request<T>(&mut self, _: &StreamProtocol, io: &mut T, req: Vec<u8>) -> io::Result<()>
	where
		T: futures::AsyncWrite + Unpin + Send,
	{
		write_frame(io, &req).await
	}

	async fn write_response<T>(&mut self, _: &StreamProtocol, io: &mut T, res: Vec<u8>) -> io::Result<()>
	where
		T: futures::AsyncWrite + Unpin + Send,
	{
		write_frame(io, &res).await
	}
}

type Behaviour = request_response::Behaviour<Codec>;

impl PeerNet {
	/// Starts the swarm listening on `listen`; returns the endpoint and
	/// the address actually bound.
	pub async fn start(
		key: libp2p::identity::Keypair,
		listen: Multiaddr,
		max_message_bytes: u64,
		ledger: Arc<dyn Backend>,
	) -> anyhow::Result<(Arc<Self>, Multiaddr)> {
		let codec = Codec { max: max_message_bytes };
		let behaviour = Behaviour::with_codec(
			codec,
			[(StreamProtocol::new(PROTOCOL), ProtocolSupport::Full)],
			request_response::Config::default().with_request_timeout(Duration::from_secs(120)),
		);
		let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
			.with_tokio()
			.with_tcp(
				libp2p::tcp::Config::default().nodelay(true),
				libp2p::noise::Config::new,
				libp2p::yamux::Config::default,
			)?
			.with_behaviour(|_| behaviour)?
			.with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
			.build();
		swarm.listen_on(listen)?;
		let bound = loop {
			if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
				break address;
			}
		};
		let (outbound, rx) = mpsc::unbounded_channel();
		let net = Arc::new(Self {
			me: ledger.account(),
			outbound,
			inbox: Arc::new(Mutex::new(Inbox::default())),
			directory: Directory::new(ledger),
			wake: Arc::new(Wake::default()),
			ledger_moved: Arc::new(Wake::default()),
		});
		tokio::spawn(drive(swarm, rx, Arc::clone(&net)));
		Ok((net, bound))
	}

	/// The ledger's state may have moved on: every task thread looks now.
	pub fn ledger_changed(&self) {
		self.ledger_moved.notify();
		self.wake.notify();
	}

	fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
		self.inbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
	}

	/// Every message for this holder's member role received since the
	/// last call (announcements and share deliveries), with senders.
	pub fn take_member_messages(&self) -> Vec<(AccountId, Message)> {
		std::mem::take(&mut self.inbox().member)
	}

	fn deliver(&self, from: AccountId, bytes: &[u8]) {
		match Message::decode(bytes) {
			Ok(message) => {
				self.inbox().push(from, message);
				self.wake.notify();
			},
			Err(e) => tracing::warn!("dropped a malformed message from {from}: {e}"),
		}
	}

	/// Sends `message` to a registered member (or to this worker itself).
	pub fn send(&self, to: AccountId, message: Message) -> Result<(), EngineError> {
		if to == self.me {
			self.inbox().push(to, message);
			self.wake.notify();
			return Ok(());
		}
		let (peer, addr) = self.directory.address(&to)?;
		let bytes = canonical(&message)?;
		self.outbound
			.send(Outbound { peer, addr, bytes })
			.map_err(|_| EngineError::Ledger { call: "send", reason: "the peer network stopped".into() })
	}
}

async fn drive(mut swarm: Swarm<Behaviour>, mut outbound: mpsc::UnboundedReceiver<Outbound>, net: Arc<PeerNet>) {
	loop {
		tokio::select! {
			next = outbound.recv() => {
				let Some(o) = next else { return };
				swarm.add_peer_address(o.peer, o.addr);
				swarm.behaviour_mut().send_request(&o.peer, o.bytes);
			},
			event = swarm.select_next_some() => match event {
				SwarmEvent::Behaviour(request_response::Event::Message {
					peer,
					message: request_response::Message::Request { request, channel, .. },
				}) => {
					let _ = swarm.behaviour_mut().send_response(channel, Vec::new());
					// Named from the member directory: a known peer inline (in
					// the order its messages came); otherwise a read of the
					// ledger, when one is due, happens off the swarm's task.
					if let Some(account) = net.directory.known_account(&peer) {
						net.deliver(account, &request);
					} else {
						let net = Arc::clone(&net);
						tokio::task::spawn_blocking(move || match net.directory.account(&peer) {
							Ok(Some(account)) => net.deliver(account, &request),
							Ok(None) => tracing::warn!("dropped a message from {peer}: not a registered member"),
							Err(e) => tracing::warn!("dropped a message from {peer}: {e}"),
						});
					}
				},
				SwarmEvent::Behaviour(request_response::Event::OutboundFailure { peer, error, .. }) => {
					tracing::warn!("a message to {peer} was not delivered: {error}");
				},
				SwarmEvent::Behaviour(request_response::Event::InboundFailure { peer, error, .. }) => {
					tracing::warn!("refused a message from {peer}: {error}");
				},
				_ => {},
			},
		}
	}
}

/// The member role's endpoint: announcements and share deliveries.
pub struct MemberEndpoint(pub Arc<PeerNet>);

impl delta_engine::Transport for MemberEndpoint {
	fn send(&mut self, to: AccountId, message: Message) -> Result<(), EngineError> {
		self.0.send(to, message)
	}

	fn recv(&mut self) -> Vec<(AccountId, Message)> {
		self.0.take_member_messages()
	}
}

/// One requested task's endpoint: the members' replies for that task.
pub struct RequesterEndpoint {
	net: Arc<PeerNet>,
	task: Option<TaskId>,
}

impl RequesterEndpoint {
	/// An endpoint that binds itself to its ledger task with the task's
	/// first announcement.
	pub fn new(net: Arc<PeerNet>) -> Self {
		Self { net, task: None }
	}
}

impl Drop for RequesterEndpoint {
	/// The task is over (its driver is gone): drop its queue.
	fn drop(&mut self) {
		if let Some(task) = self.task {
			let mut inbox = self.net.inbox();
			inbox.bound.remove(&task);
			inbox.requesters.remove(&task);
		}
	}
}

impl delta_engine::Transport for RequesterEndpoint {
	fn send(&mut self, to: AccountId, message: Message) -> Result<(), EngineError> {
		// The driver's first messages (announcements) leave right after the
		// task is created: bind as soon as its id is visible in them.
		if let Message::Announce(a) = &message {
			if self.task.replace(a.task) != Some(a.task) {
				self.net.inbox().bound.insert(a.task);
			}
		}
		self.net.send(to, message)
	}

	fn recv(&mut self) -> Vec<(AccountId, Message)> {
		match self.task {
			Some(task) => self.net.inbox().requesters.remove(&task).unwrap_or_default(),
			None => Vec::new(),
		}
	}
}

/// The messages for one task's member side, as the worker's router hands
/// them over: the task's own thread waits on it and its driver drains it.
#[derive(Default)]
pub struct Mailbox {
	queue: Mutex<MailboxState>,
	cond: Condvar,
}

#[derive(Default)]
struct MailboxState {
	messages: Vec<(AccountId, Message)>,
	closed: bool,
	/// Woken without a message (the ledger moved on).
	nudged: bool,
}

impl Mailbox {
	fn state(&self) -> std::sync::MutexGuard<'_, MailboxState> {
		self.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
	}

	/// Hands a message to the task's thread.
	pub fn push(&self, from: AccountId, message: Message) {
		self.state().messages.push((from, message));
		self.cond.notify_all();
	}

	/// Everything handed over since the last call.
	pub fn drain(&self) -> Vec<(AccountId, Message)> {
		std::mem::take(&mut self.state().messages)
	}

	/// Wakes the task's thread without a message: the ledger moved on, and
	/// the thread looks at once rather than at its next poll.
	pub fn nudge(&self) {
		self.state().nudged = true;
		self.cond.notify_all();
	}

	/// Waits until a message is waiting, the mailbox is closed or nudged,
	/// or `timeout` passes.
	pub fn wait(&self, timeout: Duration) {
		let guard = self.state();
		let (mut guard, _) = self
			.cond
			.wait_timeout_while(guard, timeout, |s| s.messages.is_empty() && !s.closed && !s.nudged)
			.unwrap_or_else(std::sync::PoisonError::into_inner);
		guard.nudged = false;
	}

	/// No more messages will come: the task's thread ends once its rounds
	/// are over.
	pub fn close(&self) {
		self.state().closed = true;
		self.cond.notify_all();
	}

	/// Whether [`Mailbox::close`] was called.
	pub fn is_closed(&self) -> bool {
		self.state().closed
	}
}

/// One task's member endpoint: receives what the router put in its
/// mailbox, sends through the worker's peer network.
pub struct MemberTaskEndpoint {
	/// The worker's peer network.
	pub net: Arc<PeerNet>,
	/// The task's mailbox.
	pub mailbox: Arc<Mailbox>,
}

impl delta_engine::Transport for MemberTaskEndpoint {
	fn send(&mut self, to: AccountId, message: Message) -> Result<(), EngineError> {
		self.net.send(to, message)
	}

	fn recv(&mut self) -> Vec<(AccountId, Message)> {
		self.mailbox.drain()
	}
}

#[cfg(test)]
mod tests {
	use std::time::Instant;

	use super::*;

	#[test]
	fn frames_are_bounded_by_the_limit_and_by_the_bytes_that_arrive() {
		let frame = |len: u32, body: &[u8]| [len.to_be_bytes().as_slice(), body].concat();
		let read =
			|bytes: Vec<u8>, max| futures::executor::block_on(read_frame(&mut futures::io::Cursor::new(bytes), max));
		assert_eq!(read(frame(3, b"abc"), 8).unwrap(), b"abc");
		assert_eq!(read(frame(9, b"abc"), 8).unwrap_err().kind(), io::ErrorKind::InvalidData);
		// A prefix that promises 4 GiB and sends three bytes is an error,
		// read into room of which only a window was zeroed.
		assert_eq!(read(frame(u32::MAX, b"abc"), u64::MAX).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
		// Longer than the zeroed window, whole and in pieces of 7 bytes:
		// the same bytes, and the frame's bytes only.
		let body: Vec<u8> = (0..FRAME_WINDOW as u32 * 2 + 1001).map(|i| (i % 251) as u8).collect();
		let mut two = frame(body.len() as u32, &body);
		two.extend_from_slice(&frame(2, b"ok"));
		assert_eq!(read(two.clone(), u64::MAX).unwrap(), body);
		let mut trickle = Trickle(futures::io::Cursor::new(two));
		assert_eq!(futures::executor::block_on(read_frame(&mut trickle, u64::MAX)).unwrap(), body);
		assert_eq!(futures::executor::block_on(read_frame(&mut trickle, u64::MAX)).unwrap(), b"ok");
		let cut = frame(body.len() as u32, &body[..FRAME_WINDOW + 5]);
		let e = read(cut, u64::MAX).unwrap_err();
		assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
		assert!(e.to_string().contains(&format!("ended after {}", FRAME_WINDOW + 5)), "{e}");
	}

	/// A reader that hands over at most 7 bytes a call, as a network may.
	struct Trickle(futures::io::Cursor<Vec<u8>>);

	impl futures::AsyncRead for Trickle {
		fn poll_read(
			mut self: std::pin::Pin<&mut Self>,
			cx: &mut std::task::Context<'_>,
			buf: &mut [u8],
		) -> std::task::Poll<io::Result<usize>> {
			let n = buf.len().min(7);
			std::pin::Pin::new(&mut self.0).poll_read(cx, &mut buf[..n])
		}
	}

	#[test]
	fn one_notification_wakes_every_waiting_thread() {
		let wake = Arc::new(Wake::default());
		let (tx, rx) = std::sync::mpsc::channel();
		let waiters: Vec<_> = (0..3)
			.map(|_| {
				let (wake, tx) = (Arc::clone(&wake), tx.clone());
				let mut seen = wake.now();
				std::thread::spawn(move || {
					wake.wait(&mut seen, Duration::from_secs(30));
					tx.send(seen).unwrap();
				})
			})
			.collect();
		std::thread::sleep(Duration::from_millis(50));
		wake.notify();
		for _ in 0..3 {
			assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
		}
		waiters.into_iter().for_each(|t| t.join().unwrap());
	}

	#[test]
	fn a_mailbox_hands_over_in_order_and_closing_wakes_its_thread() {
		let mailbox = Arc::new(Mailbox::default());
		let from = AccountId([1; 32]);
		mailbox.push(from, Message::Decline { task: 1, round: 0, reason: "a".into() });
		mailbox.push(from, Message::Decline { task: 1, round: 0, reason: "b".into() });
		let got: Vec<String> = mailbox
			.drain()
			.into_iter()
			.map(|(_, m)| match m {
				Message::Decline { reason, .. } => reason,
				_ => String::new(),
			})
			.collect();
		assert_eq!(got, ["a", "b"]);
		assert!(mailbox.drain().is_empty());
		assert!(waited_until(&mailbox, Mailbox::close) < Duration::from_secs(30));
		assert!(mailbox.is_closed());
	}

	/// How long a thread waiting (up to 30 s) on `mailbox` waited, woken
	/// by `wake` 50 ms into its wait.
	fn waited_until(mailbox: &Arc<Mailbox>, wake: fn(&Mailbox)) -> Duration {
		let waiter = {
			let mailbox = Arc::clone(mailbox);
			std::thread::spawn(move || {
				let started = Instant::now();
				mailbox.wait(Duration::from_secs(30));
				started.elapsed()
			})
		};
		std::thread::sleep(Duration::from_millis(50));
		wake(mailbox);
		waiter.join().unwrap()
	}

	#[test]
	fn a_nudge_wakes_the_task_thread_once_and_is_not_lost_before_it_waits() {
		let mailbox = Arc::new(Mailbox::default());
		// Nudged before anyone waits: the next wait returns at once.
		mailbox.nudge();
		let started = Instant::now();
		mailbox.wait(Duration::from_secs(30));
		assert!(started.elapsed() < Duration::from_secs(30));
		// Used up: the wait after it runs to its timeout.
		let started = Instant::now();
		mailbox.wait(Duration::from_millis(20));
		assert!(started.elapsed() >= Duration::from_millis(20));
		assert!(waited_until(&mailbox, Mailbox::nudge) < Duration::from_secs(30));
		assert!(mailbox.drain().is_empty() && !mailbox.is_closed(), "a nudge carries no message");
	}
}
