//! The coordinator's ledger: the task pallet's and identity pallet's rules
//! over an SQLite database.
//!
//! Every call runs in one SQLite transaction: it commits with its events,
//! or on a refusal rolls back so that nothing changed. Files use WAL with
//! `synchronous = FULL`, so a call that was answered survives a crash of
//! the process or the machine. Time is passed in by the caller (ms since
//! the Unix epoch in the server, any counter in tests), which keeps the
//! ledger deterministic.
//!
//! The rules are those of `delta_primitives` (round state machine, identity
//! checks), applied in the same order as the pallets apply them, so both
//! ledgers refuse the same call with the same name; the conformance suite
//! checks this.

use crate::{
	error::{CallError, MemberError},
	types::*,
};
use delta_primitives::{
	identity::{
		validate_display_name, validate_endpoint, validate_peer_id, DisplayNameError, EndpointError, PeerIdError,
	},
	round::{check_reveal, Action, MemberStatus, Phase, PhaseChange, RoundState, ShareKind},
	task::{check_join_keys, TaskError, TaskKind, TaskStatus},
};
use rand_core::{OsRng, RngCore};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS nonces (account BLOB PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS members (
	account BLOB PRIMARY KEY, display_name TEXT NOT NULL, endpoint TEXT NOT NULL,
	peer_id BLOB NOT NULL UNIQUE, registered_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (
	id INTEGER PRIMARY KEY, owner BLOB NOT NULL, package BLOB NOT NULL, kind TEXT NOT NULL,
	datasets TEXT NOT NULL, rounds INTEGER NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL,
	rounds_started INTEGER NOT NULL, created_at INTEGER NOT NULL, prune_at INTEGER);
CREATE INDEX IF NOT EXISTS tasks_prune_at ON tasks(prune_at) WHERE prune_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS rounds (
	task INTEGER NOT NULL, round INTEGER NOT NULL, state TEXT NOT NULL, deadline INTEGER NOT NULL,
	seed BLOB, result BLOB, PRIMARY KEY (task, round));
CREATE INDEX IF NOT EXISTS rounds_deadline ON rounds(deadline) WHERE deadline > 0;
CREATE TABLE IF NOT EXISTS round_members (
	task INTEGER NOT NULL, round INTEGER NOT NULL, account BLOB NOT NULL, joined INTEGER NOT NULL,
	status TEXT NOT NULL, channel_key BLOB NOT NULL, masking_key BLOB NOT NULL, shares BLOB, masked BLOB,
	PRIMARY KEY (task, round, account));
CREATE TABLE IF NOT EXISTS reveals (
	task INTEGER NOT NULL, round INTEGER NOT NULL, revealer BLOB NOT NULL, owner BLOB NOT NULL,
	kind TEXT NOT NULL, share BLOB NOT NULL, PRIMARY KEY (task, round, revealer, owner));
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS privacy_spent (
	holder BLOB NOT NULL, dataset TEXT NOT NULL, requester BLOB NOT NULL, spent INTEGER NOT NULL,
	PRIMARY KEY (holder, dataset, requester));
";

/// The coordinator's state and rules.
pub struct Ledger {
	conn: Connection,
	limits: Limits,
	instance: [u8; 32],
}

/// What a successful call or tick recorded.
pub type Recorded = Vec<StoredEvent>;

impl Ledger {
	/// Opens (or creates) the database at `path`.
	pub fn open(path: &Path, limits: Limits) -> Result<Self, rusqlite::Error> {
		let conn = Connection::open(path)?;
		conn.pragma_update(None, "journal_mode", "WAL")?;
		conn.pragma_update(None, "synchronous", "FULL")?;
		Self::init(conn, limits)
	}

	/// A ledger in memory, for tests and local debugging.
	pub fn in_memory(limits: Limits) -> Result<Self, rusqlite::Error> {
		Self::init(Connection::open_in_memory()?, limits)
	}

	fn init(conn: Connection, limits: Limits) -> Result<Self, rusqlite::Error> {
		conn.pragma_update(None, "foreign_keys", "ON")?;
		conn.execute_batch(SCHEMA)?;
		let stored: Option<Vec<u8>> =
			conn.query_row("SELECT value FROM meta WHERE key = 'instance'", [], |r| r.get(0)).optional()?;
		let instance = match stored.and_then(|v| <[u8; 32]>::try_from(v).ok()) {
			Some(id) => id,
			None => {
				let mut id = [0u8; 32];
				OsRng.fill_bytes(&mut id);
				conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('instance', ?1)", [&id[..]])?;
				id
			},
		};
		Ok(Self { conn, limits, instance })
	}

	/// This coordinator's identity: 32 random bytes drawn when its database
	/// was created. Signatures cover it, so a call signed for one
	/// coordinator cannot be replayed on another.
	pub fn instance(&self) -> [u8; 32] {
		self.instance
	}

	/// The limits this ledger enforces.
	pub fn limits(&self) -> Limits {
		self.limits
	}

	/// The nonce `who`'s next call must carry.
	pub fn next_nonce(&self, who: &AccountId) -> Result<u64, rusqlite::Error> {
		Ok(self
			.conn
			.query_row("SELECT next FROM nonces WHERE account = ?1", [&who.0[..]], |r| r.get::<_, i64>(0))
			.optional()?
			.unwrap_or(0) as u64)
	}

	/// Applies `call` by `who` at time `now`, first running any deadlines
	/// that fell due. With `nonce`, the call must carry the signer's next
	/// nonce, which it then uses up whether the rules accept it or not.
	///
	/// Returns the events the call recorded; on error nothing changed
	/// (except the nonce, for a refusal by the rules).
	pub fn apply(
		&mut self,
		who: &AccountId,
		nonce: Option<u64>,
		call: &Call,
		now: u64,
	) -> Result<(Recorded, Recorded), CallError> {
		let ticked = self.tick(now)?;
		let limits = self.limits;
		let tx = self.conn.transaction()?;
		if let Some(got) = nonce {
			let expected = tx
				.query_row("SELECT next FROM nonces WHERE account = ?1", [&who.0[..]], |r| r.get::<_, i64>(0))
				.optional()?
				.unwrap_or(0) as u64;
			if got != expected {
				return Err(CallError::BadNonce { expected, got });
			}
		}
		let mut events = Vec::new();
		let outcome = {
			let mut cx = Context { tx: &tx, now, limits, events: &mut events };
			// A savepoint so that a refused call rolls back its partial
			// writes while the nonce below still counts.
			cx.tx.execute_batch("SAVEPOINT call")?;
			let outcome = cx.dispatch(who, call);
			if outcome.is_err() {
				cx.tx.execute_batch("ROLLBACK TO call")?;
			}
			cx.tx.execute_batch("RELEASE call")?;
			outcome
		};
		match &outcome {
			// The database failed: drop the transaction, nonce included.
			Err(CallError::Storage(_)) => return outcome.map(|()| (ticked, Vec::new())),
			Err(_) => events.clear(),
			Ok(()) => {},
		}
		if let Some(n) = nonce {
			tx.execute(
				"INSERT INTO nonces (account, next) VALUES (?1, ?2)
				 ON CONFLICT(account) DO UPDATE SET next = excluded.next",
				params![&who.0[..], (n + 1) as i64],
			)?;
		}
		let recorded = record(&tx, now, events)?;
		tx.commit()?;
		outcome.map(|()| (ticked, recorded))
	}

	/// Runs every deadline and pruning due at `now`. Each round moves as
	/// the pallet would move it block by block: a phase that ends at its
	/// deadline `d` starts the next phase at `d`, not at `now`.
	pub fn tick(&mut self, now: u64) -> Result<Recorded, rusqlite::Error> {
		let limits = self.limits;
		let tx = self.conn.transaction()?;
		let mut events = Vec::new();
		{
			let mut cx = Context { tx: &tx, now, limits, events: &mut events };
			cx.run_deadlines()?;
			cx.prune()?;
		}
		let recorded = record(&tx, now, events)?;
		tx.commit()?;
		Ok(recorded)
	}

	/// When the next deadline or pruning falls, if any: the server sleeps
	/// until then.
	pub fn next_wakeup(&self) -> Result<Option<u64>, rusqlite::Error> {
		let deadline: Option<i64> =
			self.conn.query_row("SELECT MIN(deadline) FROM rounds WHERE deadline > 0", [], |r| r.get(0))?;
		let prune: Option<i64> =
			self.conn.query_row("SELECT MIN(prune_at) FROM tasks WHERE prune_at IS NOT NULL", [], |r| r.get(0))?;
		Ok(match (deadline, prune) {
			(Some(a), Some(b)) => Some(a.min(b) as u64),
			(a, b) => a.or(b).map(|v| v as u64),
		})
	}

	/// Millionths of ε `requester` has spent on `holder`'s `dataset` (the
	/// task pallet's `privacy_spent`).
	pub fn privacy_spent(
		&self,
		holder: &AccountId,
		dataset: &str,
		requester: &AccountId,
	) -> Result<u64, rusqlite::Error> {
		privacy_spent(&self.conn, holder, dataset, requester)
	}

	/// A task.
	pub fn task(&self, id: TaskId) -> Result<Option<TaskInfo>, rusqlite::Error> {
		load_task(&self.conn, id).map(|t| t.map(|(info, _)| info))
	}

	/// A round with its members, in order of joining.
	pub fn round(&self, task: TaskId, round: RoundNo) -> Result<Option<RoundInfo>, rusqlite::Error> {
		let Some(row) = load_round(&self.conn, task, round)? else {
			return Ok(None);
		};
		let mut stmt = self.conn.prepare_cached(
			"SELECT account, status, channel_key, masking_key, shares, masked FROM round_members
			 WHERE task = ?1 AND round = ?2 ORDER BY joined",
		)?;
		let members = stmt
			.query_map(params![task as i64, round], |r| {
				Ok(RoundMember {
					account: AccountId(blob32(r.get(0)?)),
					status: from_json(&r.get::<_, String>(1)?)?,
					channel_key: H256(blob32(r.get(2)?)),
					masking_key: H256(blob32(r.get(3)?)),
					shares: r.get::<_, Option<Vec<u8>>>(4)?.map(|b| H256(blob32(b))),
					masked: r.get::<_, Option<Vec<u8>>>(5)?.map(|b| H256(blob32(b))),
				})
			})?
			.collect::<Result<Vec<_>, _>>()?;
		Ok(Some(RoundInfo { state: row.state, seed: row.seed.map(H256), result: row.result.map(H256), members }))
	}

	/// A member's status in a round.
	pub fn member_status(
		&self,
		task: TaskId,
		round: RoundNo,
		who: &AccountId,
	) -> Result<Option<MemberStatus>, rusqlite::Error> {
		Ok(load_round_member(&self.conn, task, round, who)?.map(|m| m.status))
	}

	/// A revealed share: what `revealer` revealed of `owner`'s secrets.
	pub fn revealed(
		&self,
		task: TaskId,
		round: RoundNo,
		revealer: &AccountId,
		owner: &AccountId,
	) -> Result<Option<(ShareKind, Vec<u8>)>, rusqlite::Error> {
		self.conn
			.query_row(
				"SELECT kind, share FROM reveals WHERE task = ?1 AND round = ?2 AND revealer = ?3 AND owner = ?4",
				params![task as i64, round, &revealer.0[..], &owner.0[..]],
				|r| Ok((from_json(&r.get::<_, String>(0)?)?, r.get::<_, Vec<u8>>(1)?)),
			)
			.optional()
	}

	/// A network member's record.
	pub fn member(&self, who: &AccountId) -> Result<Option<MemberInfo>, rusqlite::Error> {
		self.conn
			.query_row(
				"SELECT account, display_name, endpoint, peer_id, registered_at, updated_at FROM members WHERE account = ?1",
				[&who.0[..]],
				member_row,
			)
			.optional()
	}

	/// Every network member, ordered by account.
	pub fn members(&self) -> Result<Vec<MemberInfo>, rusqlite::Error> {
		let mut stmt = self.conn.prepare_cached(
			"SELECT account, display_name, endpoint, peer_id, registered_at, updated_at FROM members ORDER BY account",
		)?;
		let rows = stmt.query_map([], member_row)?;
		rows.collect()
	}

	/// The member whose worker has this libp2p peer id.
	pub fn account_by_peer_id(&self, peer_id: &[u8]) -> Result<Option<AccountId>, rusqlite::Error> {
		self.conn
			.query_row("SELECT account FROM members WHERE peer_id = ?1", [peer_id], |r| {
				Ok(AccountId(blob32(r.get(0)?)))
			})
			.optional()
	}

	/// Position of the newest event (0 before the first).
	pub fn last_event_seq(&self) -> Result<u64, rusqlite::Error> {
		self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get::<_, i64>(0)).map(|v| v as u64)
	}

	/// Up to `limit` events from position `from` on.
	pub fn events_since(&self, from: u64, limit: u32) -> Result<Vec<StoredEvent>, rusqlite::Error> {
		let mut stmt =
			self.conn.prepare_cached("SELECT seq, at, body FROM events WHERE seq >= ?1 ORDER BY seq LIMIT ?2")?;
		let rows = stmt.query_map(params![from as i64, limit], |r| {
			let body: String = r.get(2)?;
			let event = serde_json::from_str(&body)
				.map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e)))?;
			Ok(StoredEvent { seq: r.get::<_, i64>(0)? as u64, at: r.get::<_, i64>(1)? as u64, event })
		})?;
		rows.collect()
	}
}

fn record(tx: &Transaction<'_>, now: u64, events: Vec<Event>) -> Result<Recorded, rusqlite::Error> {
	let mut out = Vec::with_capacity(events.len());
	for event in events {
		let body = serde_json::to_string(&event).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
		tx.execute("INSERT INTO events (at, body) VALUES (?1, ?2)", params![now as i64, body])?;
		out.push(StoredEvent { seq: tx.last_insert_rowid() as u64, at: now, event });
	}
	Ok(out)
}

fn member_row(r: &rusqlite::Row<'_>) -> Result<MemberInfo, rusqlite::Error> {
	Ok(MemberInfo {
		account: AccountId(blob32(r.get(0)?)),
		display_name: r.get(1)?,
		endpoint: r.get(2)?,
		peer_id: Bytes(r.get(3)?),
		registered_at: r.get::<_, i64>(4)? as u64,
		updated_at: r.get::<_, i64>(5)? as u64,
	})
}

/// A 32-byte column; the schema only ever stores 32 bytes in these.
fn blob32(v: Vec<u8>) -> [u8; 32] {
	let mut out = [0u8; 32];
	let n = v.len().min(32);
	out[..n].copy_from_slice(&v[..n]);
	out
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, rusqlite::Error> {
	serde_json::to_string(v).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, rusqlite::Error> {
	serde_json::from_str(text)
		.map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

struct RoundRow {
	state: RoundState,
	seed: Option<[u8; 32]>,
	result: Option<[u8; 32]>,
}

fn load_task(c: &Connection, id: TaskId) -> Result<Option<(TaskInfo, Option<u64>)>, rusqlite::Error> {
	let row = c
		.query_row(
			"SELECT owner, package, kind, datasets, rounds, params, status, rounds_started, created_at, prune_at
			 FROM tasks WHERE id = ?1",
			[id as i64],
			|r| {
				Ok((
					r.get::<_, Vec<u8>>(0)?,
					r.get::<_, Vec<u8>>(1)?,
					r.get::<_, String>(2)?,
					r.get::<_, String>(3)?,
					r.get::<_, u32>(4)?,
					r.get::<_, String>(5)?,
					r.get::<_, String>(6)?,
					r.get::<_, u32>(7)?,
					r.get::<_, i64>(8)?,
					r.get::<_, Option<i64>>(9)?,
				))
			},
		)
		.optional()?;
	let Some((owner, package, kind, datasets, rounds, params, status, rounds_started, created_at, prune_at)) = row
	else {
		return Ok(None);
	};
	Ok(Some((
		TaskInfo {
			id,
			owner: AccountId(blob32(owner)),
			package: H256(blob32(package)),
			kind: from_json::<TaskKind>(&kind)?,
			datasets: from_json(&datasets)?,
			rounds,
			params: from_json(&params)?,
			status: from_json::<TaskStatus>(&status)?,
			rounds_started,
			created_at: created_at as u64,
		},
		prune_at.map(|p| p as u64),
	)))
}

fn load_round(c: &Connection, task: TaskId, round: RoundNo) -> Result<Option<RoundRow>, rusqlite::Error> {
	let row = c
		.query_row(
			"SELECT state, seed, result FROM rounds WHERE task = ?1 AND round = ?2",
			params![task as i64, round],
			|r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<Vec<u8>>>(1)?, r.get::<_, Option<Vec<u8>>>(2)?)),
		)
		.optional()?;
	let Some((state, seed, result)) = row else {
		return Ok(None);
	};
	Ok(Some(RoundRow { state: from_json(&state)?, seed: seed.map(blob32), result: result.map(blob32) }))
}

fn load_round_member(
	c: &Connection,
	task: TaskId,
	round: RoundNo,
	who: &AccountId,
) -> Result<Option<RoundMember>, rusqlite::Error> {
	c.query_row(
		"SELECT status, channel_key, masking_key, shares, masked FROM round_members
		 WHERE task = ?1 AND round = ?2 AND account = ?3",
		params![task as i64, round, &who.0[..]],
		|r| {
			Ok((
				r.get::<_, String>(0)?,
				r.get(1)?,
				r.get(2)?,
				r.get::<_, Option<Vec<u8>>>(3)?,
				r.get::<_, Option<Vec<u8>>>(4)?,
			))
		},
	)
	.optional()?
	.map(|(status, channel, masking, shares, masked)| {
		Ok(RoundMember {
			account: *who,
			status: from_json(&status)?,
			channel_key: H256(blob32(channel)),
			masking_key: H256(blob32(masking)),
			shares: shares.map(|b| H256(blob32(b))),
			masked: masked.map(|b| H256(blob32(b))),
		})
	})
	.transpose()
}

/// Millionths of ε `requester` has spent on `holder`'s `dataset`.
fn privacy_spent(
	c: &Connection,
	holder: &AccountId,
	dataset: &str,
	requester: &AccountId,
) -> Result<u64, rusqlite::Error> {
	let spent: Option<i64> = c
		.query_row(
			"SELECT spent FROM privacy_spent WHERE holder = ?1 AND dataset = ?2 AND requester = ?3",
			params![&holder.0[..], dataset, &requester.0[..]],
			|r| r.get(0),
		)
		.optional()?;
	Ok(spent.map_or(0, |s| s.max(0) as u64))
}

/// One call or tick in progress inside a transaction.
struct Context<'a, 't> {
	tx: &'a Transaction<'t>,
	now: u64,
	limits: Limits,
	events: &'a mut Vec<Event>,
}

impl Context<'_, '_> {
	fn dispatch(&mut self, who: &AccountId, call: &Call) -> Result<(), CallError> {
		match call {
			Call::Register { display_name, endpoint, peer_id } => {
				self.register(who, display_name, endpoint, &peer_id.0)
			},
			Call::UpdateMember { display_name, endpoint, peer_id } => self.update_member(
				who,
				display_name.as_deref(),
				endpoint.as_deref(),
				peer_id.as_ref().map(|p| &p.0[..]),
			),
			Call::Leave => self.leave(who),
			Call::CreateTask { package, kind, datasets, rounds, params } => {
				self.create_task(who, package, *kind, datasets, *rounds, *params)
			},
			Call::StartRound { task } => self.start_round(who, *task),
			Call::Join { task, round, channel_key, masking_key } => {
				self.join(who, *task, *round, channel_key, masking_key)
			},
			Call::CommitShares { task, round, commitment } => {
				self.act(*task, *round, who, Action::CommitShares, |m| {
					m.map(|mut m| {
						m.shares = Some(*commitment);
						m
					})
				})?;
				self.events.push(Event::SharesCommitted {
					task: *task,
					round: *round,
					who: *who,
					commitment: *commitment,
				});
				Ok(())
			},
			Call::CommitMasked { task, round, commitment } => {
				self.act(*task, *round, who, Action::CommitMasked, |m| {
					m.map(|mut m| {
						m.masked = Some(*commitment);
						m
					})
				})?;
				self.events.push(Event::MaskedCommitted {
					task: *task,
					round: *round,
					who: *who,
					commitment: *commitment,
				});
				Ok(())
			},
			Call::Reveal { task, round, shares } => self.reveal(who, *task, *round, shares),
			Call::FinishRound { task, round, result } => self.finish_round(who, *task, *round, result),
			Call::FinishTask { task } => self.end_task(who, *task, TaskStatus::Finished),
			Call::CancelTask { task } => self.end_task(who, *task, TaskStatus::Cancelled),
			Call::ChargePrivacy { task, dataset, epsilon } => self.charge_privacy(who, *task, dataset, *epsilon),
		}
	}

	/// The task pallet's `charge_privacy`: the caller's charge against the
	/// task's owner on one of the task's datasets, kept past pruning.
	fn charge_privacy(
		&mut self,
		holder: &AccountId,
		task: TaskId,
		dataset: &str,
		epsilon: u64,
	) -> Result<(), CallError> {
		let (info, _) = load_task(self.tx, task)?.ok_or(TaskError::UnknownTask)?;
		if info.status != TaskStatus::Active {
			return Err(TaskError::TaskNotActive.into());
		}
		let declared = info.datasets.iter().any(|d| d == dataset);
		delta_primitives::task::check_privacy_charge(epsilon, declared)?;
		let requester = info.owner;
		let before = privacy_spent(self.tx, holder, dataset, &requester)?;
		let total = before.saturating_add(epsilon);
		self.tx.execute(
			"INSERT INTO privacy_spent (holder, dataset, requester, spent) VALUES (?1, ?2, ?3, ?4)
			 ON CONFLICT (holder, dataset, requester) DO UPDATE SET spent = excluded.spent",
			params![&holder.0[..], dataset, &requester.0[..], total.min(i64::MAX as u64) as i64],
		)?;
		self.events.push(Event::PrivacyCharged {
			task,
			holder: *holder,
			requester,
			dataset: dataset.to_string(),
			epsilon,
			total,
		});
		Ok(())
	}

	// --- member registry (identity pallet rules) ---------------------------

	fn is_member(&self, who: &AccountId) -> Result<bool, rusqlite::Error> {
		self.tx
			.query_row("SELECT 1 FROM members WHERE account = ?1", [&who.0[..]], |_| Ok(()))
			.optional()
			.map(|r| r.is_some())
	}

	fn peer_id_owner(&self, peer_id: &[u8]) -> Result<Option<Vec<u8>>, rusqlite::Error> {
		self.tx.query_row("SELECT account FROM members WHERE peer_id = ?1", [peer_id], |r| r.get(0)).optional()
	}

	fn register(&mut self, who: &AccountId, name: &str, endpoint: &str, peer_id: &[u8]) -> Result<(), CallError> {
		if self.is_member(who)? {
			return Err(MemberError::AlreadyRegistered.into());
		}
		check_name(name)?;
		check_endpoint(endpoint)?;
		check_peer_id(peer_id)?;
		if self.peer_id_owner(peer_id)?.is_some() {
			return Err(MemberError::PeerIdInUse.into());
		}
		let count: i64 = self.tx.query_row("SELECT COUNT(*) FROM members", [], |r| r.get(0))?;
		if count as u64 >= u64::from(self.limits.max_members) {
			return Err(MemberError::TooManyMembers.into());
		}
		self.tx.execute(
			"INSERT INTO members (account, display_name, endpoint, peer_id, registered_at, updated_at)
			 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
			params![&who.0[..], name, endpoint, peer_id, self.now as i64],
		)?;
		self.events.push(Event::Registered { who: *who, peer_id: Bytes(peer_id.to_vec()) });
		Ok(())
	}

	fn update_member(
		&mut self,
		who: &AccountId,
		name: Option<&str>,
		endpoint: Option<&str>,
		peer_id: Option<&[u8]>,
	) -> Result<(), CallError> {
		if name.is_none() && endpoint.is_none() && peer_id.is_none() {
			return Err(MemberError::NothingToUpdate.into());
		}
		if !self.is_member(who)? {
			return Err(MemberError::NotRegistered.into());
		}
		if let Some(name) = name {
			check_name(name)?;
			self.tx.execute("UPDATE members SET display_name = ?2 WHERE account = ?1", params![&who.0[..], name])?;
		}
		if let Some(endpoint) = endpoint {
			check_endpoint(endpoint)?;
			self.tx.execute("UPDATE members SET endpoint = ?2 WHERE account = ?1", params![&who.0[..], endpoint])?;
		}
		if let Some(peer_id) = peer_id {
			check_peer_id(peer_id)?;
			if self.peer_id_owner(peer_id)?.is_some_and(|owner| owner != who.0) {
				return Err(MemberError::PeerIdInUse.into());
			}
			self.tx.execute("UPDATE members SET peer_id = ?2 WHERE account = ?1", params![&who.0[..], peer_id])?;
		}
		self.tx
			.execute("UPDATE members SET updated_at = ?2 WHERE account = ?1", params![&who.0[..], self.now as i64])?;
		let peer_id: Vec<u8> =
			self.tx.query_row("SELECT peer_id FROM members WHERE account = ?1", [&who.0[..]], |r| r.get(0))?;
		self.events.push(Event::Updated { who: *who, peer_id: Bytes(peer_id) });
		Ok(())
	}

	fn leave(&mut self, who: &AccountId) -> Result<(), CallError> {
		if self.tx.execute("DELETE FROM members WHERE account = ?1", [&who.0[..]])? == 0 {
			return Err(MemberError::NotRegistered.into());
		}
		self.events.push(Event::Left { who: *who });
		Ok(())
	}

	// --- tasks and rounds (task pallet rules, in the pallet's order) --------

	fn create_task(
		&mut self,
		owner: &AccountId,
		package: &H256,
		kind: TaskKind,
		datasets: &[String],
		rounds: u32,
		params: delta_primitives::round::RoundParams,
	) -> Result<(), CallError> {
		params.validate().map_err(TaskError::from)?;
		if rounds < 1 || rounds > self.limits.max_rounds {
			return Err(TaskError::BadRoundCount.into());
		}
		if datasets.len() > self.limits.max_datasets as usize {
			return Err(TaskError::TooManyDatasets.into());
		}
		for name in datasets {
			if name.is_empty() || name.len() > self.limits.max_dataset_name_len as usize {
				return Err(TaskError::BadDatasetName.into());
			}
		}
		let id: i64 = self.tx.query_row("SELECT COALESCE(MAX(id) + 1, 0) FROM tasks", [], |r| r.get(0))?;
		self.tx.execute(
			"INSERT INTO tasks (id, owner, package, kind, datasets, rounds, params, status, rounds_started, created_at)
			 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, ?9)",
			params![
				id,
				&owner.0[..],
				&package.0[..],
				to_json(&kind)?,
				to_json(&datasets)?,
				rounds,
				to_json(&params)?,
				to_json(&TaskStatus::Active)?,
				self.now as i64
			],
		)?;
		self.events.push(Event::TaskCreated { task: id as u64, owner: *owner, package: *package });
		Ok(())
	}

	fn start_round(&mut self, who: &AccountId, task: TaskId) -> Result<(), CallError> {
		let (info, _) = load_task(self.tx, task)?.ok_or(TaskError::UnknownTask)?;
		if info.owner != *who {
			return Err(TaskError::NotOwner.into());
		}
		if info.status != TaskStatus::Active {
			return Err(TaskError::TaskNotActive.into());
		}
		if info.rounds_started >= info.rounds {
			return Err(TaskError::NoRoundsLeft.into());
		}
		if let Some(previous) = info.rounds_started.checked_sub(1) {
			if load_round(self.tx, task, previous)?.is_some_and(|r| !r.state.is_over()) {
				return Err(TaskError::RoundInProgress.into());
			}
		}
		let round = info.rounds_started;
		let state = RoundState::start(info.params, self.now).map_err(TaskError::from)?;
		self.save_round(task, round, &RoundRow { state, seed: None, result: None }, true)?;
		self.tx.execute("UPDATE tasks SET rounds_started = ?2 WHERE id = ?1", params![task as i64, round + 1])?;
		self.events.push(Event::RoundStarted { task, round, deadline: state.deadline });
		Ok(())
	}

	fn join(
		&mut self,
		who: &AccountId,
		task: TaskId,
		round: RoundNo,
		channel_key: &H256,
		masking_key: &H256,
	) -> Result<(), CallError> {
		if !self.is_member(who)? {
			return Err(TaskError::NotRegistered.into());
		}
		check_join_keys(&channel_key.0, &masking_key.0)?;
		self.act(task, round, who, Action::Join, |record| match record {
			None => Some(RoundMember {
				account: *who,
				status: MemberStatus::Joined,
				channel_key: *channel_key,
				masking_key: *masking_key,
				shares: None,
				masked: None,
			}),
			Some(_) => None,
		})?;
		self.events.push(Event::Joined { task, round, who: *who });
		Ok(())
	}

	fn reveal(
		&mut self,
		who: &AccountId,
		task: TaskId,
		round: RoundNo,
		shares: &[RevealedShare],
	) -> Result<(), CallError> {
		if shares.len() > self.limits.max_reveals_per_call as usize {
			return Err(TaskError::RevealTooLarge.into());
		}
		for (i, s) in shares.iter().enumerate() {
			if shares[..i].iter().any(|other| other.owner == s.owner) {
				return Err(TaskError::DuplicateReveal.into());
			}
			let status =
				load_round_member(self.tx, task, round, &s.owner)?.ok_or(TaskError::RevealForUnknownMember)?.status;
			check_reveal(status, s.kind).map_err(TaskError::from)?;
			if s.share.0.len() > self.limits.max_share_len as usize {
				return Err(TaskError::RevealTooLarge.into());
			}
		}
		self.act(task, round, who, Action::Reveal, |record| record)?;
		for s in shares {
			self.tx.execute(
				"INSERT OR REPLACE INTO reveals (task, round, revealer, owner, kind, share) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				params![task as i64, round, &who.0[..], &s.owner.0[..], to_json(&s.kind)?, &s.share.0[..]],
			)?;
		}
		self.events.push(Event::Revealed { task, round, who: *who, shares: shares.len() as u32 });
		Ok(())
	}

	fn finish_round(&mut self, who: &AccountId, task: TaskId, round: RoundNo, result: &H256) -> Result<(), CallError> {
		let (info, _) = load_task(self.tx, task)?.ok_or(TaskError::UnknownTask)?;
		if info.owner != *who {
			return Err(TaskError::NotOwner.into());
		}
		let mut row = load_round(self.tx, task, round)?.ok_or(TaskError::UnknownRound)?;
		if row.state.phase != Phase::Done || row.result.is_some() {
			return Err(TaskError::WrongPhase.into());
		}
		row.result = Some(result.0);
		self.save_round(task, round, &row, false)?;
		self.events.push(Event::RoundFinished { task, round, result: *result });
		Ok(())
	}

	fn end_task(&mut self, who: &AccountId, task: TaskId, status: TaskStatus) -> Result<(), CallError> {
		let (info, _) = load_task(self.tx, task)?.ok_or(TaskError::UnknownTask)?;
		if info.owner != *who {
			return Err(TaskError::NotOwner.into());
		}
		if info.status != TaskStatus::Active {
			return Err(TaskError::TaskNotActive.into());
		}
		if let Some(current) = info.rounds_started.checked_sub(1) {
			if let Some(mut row) = load_round(self.tx, task, current)? {
				if status == TaskStatus::Cancelled {
					if let Ok(change) = row.state.cancel() {
						self.save_round(task, current, &row, false)?;
						self.events.push(Event::PhaseChanged {
							task,
							round: current,
							phase: change.phase,
							deadline: 0,
						});
					}
				} else if !row.state.is_over() {
					return Err(TaskError::RoundInProgress.into());
				}
			}
		}
		let prune_at = self.now.saturating_add(self.limits.retention_ms);
		self.tx.execute(
			"UPDATE tasks SET status = ?2, prune_at = ?3 WHERE id = ?1",
			params![task as i64, to_json(&status)?, prune_at as i64],
		)?;
		self.events.push(match status {
			TaskStatus::Cancelled => Event::TaskCancelled { task },
			_ => Event::TaskFinished { task },
		});
		Ok(())
	}

	/// A member's action in a round, checked by the shared state machine;
	/// `update` builds the member's new record (None: already joined).
	fn act(
		&mut self,
		task: TaskId,
		round: RoundNo,
		who: &AccountId,
		action: Action,
		update: impl FnOnce(Option<RoundMember>) -> Option<RoundMember>,
	) -> Result<(), CallError> {
		let (info, _) = load_task(self.tx, task)?.ok_or(TaskError::UnknownTask)?;
		if info.status != TaskStatus::Active {
			return Err(TaskError::TaskNotActive.into());
		}
		let mut row = load_round(self.tx, task, round)?.ok_or(TaskError::UnknownRound)?;
		let record = load_round_member(self.tx, task, round, who)?;
		let is_new = record.is_none();
		let (status, change) =
			row.state.apply(action, record.as_ref().map(|r| r.status), self.now).map_err(TaskError::from)?;
		let mut record = update(record).ok_or(TaskError::AlreadyJoined)?;
		record.status = status;
		if is_new {
			let joined: i64 = self.tx.query_row(
				"SELECT COUNT(*) FROM round_members WHERE task = ?1 AND round = ?2",
				params![task as i64, round],
				|r| r.get(0),
			)?;
			self.tx.execute(
				"INSERT INTO round_members (task, round, account, joined, status, channel_key, masking_key)
				 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
				params![
					task as i64,
					round,
					&who.0[..],
					joined,
					to_json(&record.status)?,
					&record.channel_key.0[..],
					&record.masking_key.0[..]
				],
			)?;
		} else {
			self.tx.execute(
				"UPDATE round_members SET status = ?4, shares = ?5, masked = ?6
				 WHERE task = ?1 AND round = ?2 AND account = ?3",
				params![
					task as i64,
					round,
					&who.0[..],
					to_json(&record.status)?,
					record.shares.map(|h| h.0.to_vec()),
					record.masked.map(|h| h.0.to_vec())
				],
			)?;
		}
		if let Some(change) = change {
			self.on_phase_change(task, round, &mut row, change);
		}
		self.save_round(task, round, &row, false)?;
		Ok(())
	}

	fn on_phase_change(&mut self, task: TaskId, round: RoundNo, row: &mut RoundRow, change: PhaseChange) {
		if change.phase == Phase::ShareKeys && row.seed.is_none() {
			// The coordinator is trusted to run the rules; its seed comes
			// from the operating system's CSPRNG, drawn only now that the
			// member set is fixed, so no member or requester chooses it.
			let mut seed = [0u8; 32];
			OsRng.fill_bytes(&mut seed);
			row.seed = Some(seed);
			self.events.push(Event::SeedFixed { task, round, seed: H256(seed) });
		}
		self.events.push(Event::PhaseChanged { task, round, phase: change.phase, deadline: change.deadline });
	}

	fn save_round(&self, task: TaskId, round: RoundNo, row: &RoundRow, insert: bool) -> Result<(), rusqlite::Error> {
		let deadline = if row.state.is_over() { 0 } else { row.state.deadline as i64 };
		let sql = if insert {
			"INSERT INTO rounds (task, round, state, deadline, seed, result) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
		} else {
			"UPDATE rounds SET state = ?3, deadline = ?4, seed = ?5, result = ?6 WHERE task = ?1 AND round = ?2"
		};
		self.tx.execute(
			sql,
			params![
				task as i64,
				round,
				to_json(&row.state)?,
				deadline,
				row.seed.map(|s| s.to_vec()),
				row.result.map(|s| s.to_vec())
			],
		)?;
		Ok(())
	}

	// --- time ---------------------------------------------------------------

	fn run_deadlines(&mut self) -> Result<(), rusqlite::Error> {
		loop {
			let due: Vec<(i64, u32)> = {
				let mut stmt = self.tx.prepare_cached(
					"SELECT task, round FROM rounds WHERE deadline > 0 AND deadline <= ?1 ORDER BY deadline, task, round",
				)?;
				let rows = stmt.query_map([self.now as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
				rows.collect::<Result<_, _>>()?
			};
			if due.is_empty() {
				return Ok(());
			}
			for (task, round) in due {
				let task = task as u64;
				let Some(mut row) = load_round(self.tx, task, round)? else {
					continue;
				};
				// The phase ends at its own deadline, as on chain.
				let at = row.state.deadline;
				if let Some(change) = row.state.tick(at) {
					self.on_phase_change(task, round, &mut row, change);
				}
				self.save_round(task, round, &row, false)?;
			}
		}
	}

	fn prune(&mut self) -> Result<(), rusqlite::Error> {
		let due: Vec<i64> = {
			let mut stmt = self.tx.prepare_cached(
				"SELECT id FROM tasks WHERE prune_at IS NOT NULL AND prune_at <= ?1 ORDER BY prune_at, id",
			)?;
			let rows = stmt.query_map([self.now as i64], |r| r.get(0))?;
			rows.collect::<Result<_, _>>()?
		};
		for task in due {
			self.tx.execute("DELETE FROM reveals WHERE task = ?1", [task])?;
			self.tx.execute("DELETE FROM round_members WHERE task = ?1", [task])?;
			self.tx.execute("DELETE FROM rounds WHERE task = ?1", [task])?;
			self.tx.execute("UPDATE tasks SET prune_at = NULL WHERE id = ?1", [task])?;
			self.events.push(Event::TaskPruned { task: task as u64 });
		}
		Ok(())
	}
}

fn check_name(name: &str) -> Result<(), MemberError> {
	validate_display_name(name.as_bytes()).map_err(|e| match e {
		DisplayNameError::Empty => MemberError::DisplayNameEmpty,
		DisplayNameError::TooLong => MemberError::DisplayNameTooLong,
		DisplayNameError::Invalid => MemberError::DisplayNameInvalid,
	})
}

fn check_endpoint(endpoint: &str) -> Result<(), MemberError> {
	validate_endpoint(endpoint.as_bytes()).map_err(|e| match e {
		EndpointError::TooLong => MemberError::EndpointTooLong,
		EndpointError::Malformed(_) => MemberError::MalformedEndpoint,
	})
}

fn check_peer_id(peer_id: &[u8]) -> Result<(), MemberError> {
	validate_peer_id(peer_id).map_err(|e| match e {
		PeerIdError::TooLong => MemberError::PeerIdTooLong,
		PeerIdError::Malformed => MemberError::MalformedPeerId,
	})
}
