//! The board's own state in SQLite: accounts, sessions, API tokens, which
//! task belongs to whom, and failed sign-ins. The worker keeps the tasks
//! themselves; the board keeps only who may see them. Secrets (session
//! cookies, API tokens, the set-up token) are stored as their SHA-256, so a
//! copy of this file lets nobody in.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

use crate::secret;

/// How long a session lasts from sign-in.
pub const SESSION_FOR: Duration = Duration::from_secs(12 * 3600);
/// Failed sign-ins for one name before it is locked.
pub const FREE_FAILURES: u32 = 5;
/// The first lock; each further failure doubles it, up to [`LOCK_AT_MOST`].
pub const FIRST_LOCK: Duration = Duration::from_secs(30);
/// The longest lock.
pub const LOCK_AT_MOST: Duration = Duration::from_secs(15 * 60);

/// What a store call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	#[error("the board's state: {0}")]
	Sql(#[from] rusqlite::Error),
	#[error("there is already an account named {0:?}")]
	NameTaken(String),
	#[error("no account named {0:?}")]
	NoSuchUser(String),
	#[error("the board is already set up: its administrator exists")]
	AlreadySetUp,
}

/// What a person may do on the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
	/// Approves accounts, sees every task, refreshes datasets.
	Admin,
	/// Sees and submits their own tasks.
	Member,
}

impl Role {
	fn as_str(self) -> &'static str {
		match self {
			Role::Admin => "admin",
			Role::Member => "member",
		}
	}

	fn parse(text: &str) -> Role {
		if text == "admin" {
			Role::Admin
		} else {
			Role::Member
		}
	}
}

/// Where an account stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountState {
	/// Signed up, not yet approved: cannot sign in.
	Pending,
	/// Approved.
	Active,
	/// Turned off by an administrator: its sessions and tokens stop working.
	Disabled,
}

impl AccountState {
	/// The word the pages show.
	pub fn as_str(self) -> &'static str {
		match self {
			AccountState::Pending => "pending",
			AccountState::Active => "active",
			AccountState::Disabled => "disabled",
		}
	}

	fn parse(text: &str) -> AccountState {
		match text {
			"active" => AccountState::Active,
			"disabled" => AccountState::Disabled,
			_ => AccountState::Pending,
		}
	}
}

/// One account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
	pub name: String,
	pub role: Role,
	pub state: AccountState,
	/// Milliseconds since the Unix epoch.
	pub created_ms: u64,
}

impl User {
	/// Whether this account may see every task.
	pub fn is_admin(&self) -> bool {
		self.role == Role::Admin
	}
}

/// A signed-in session, as the pages need it.
#[derive(Clone, Debug)]
pub struct Session {
	pub user: User,
	/// The value every form of this session must carry.
	pub csrf: String,
}

/// One API token, as its owner's page lists it (never the token itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
	pub id: i64,
	pub label: String,
	pub created_ms: u64,
	pub last_used_ms: Option<u64>,
}

/// Whether a sign-in may be tried now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
	Open,
	/// Locked for this much longer.
	Locked(Duration),
}

/// The board's store; one SQLite connection behind a lock (every call is
/// short; password hashing happens outside it).
pub struct Store {
	db: Mutex<Connection>,
}

fn now_ms() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The stored form of a secret.
pub fn digest(secret: &str) -> String {
	hex::encode(Sha256::digest(secret.as_bytes()))
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
	name TEXT PRIMARY KEY,
	password TEXT NOT NULL,
	role TEXT NOT NULL,
	state TEXT NOT NULL,
	created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
	digest TEXT PRIMARY KEY,
	user TEXT NOT NULL REFERENCES users(name),
	csrf TEXT NOT NULL,
	expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tokens (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	digest TEXT NOT NULL UNIQUE,
	user TEXT NOT NULL REFERENCES users(name),
	label TEXT NOT NULL,
	created_ms INTEGER NOT NULL,
	last_used_ms INTEGER
);
CREATE TABLE IF NOT EXISTS tasks (
	id TEXT PRIMARY KEY,
	user TEXT NOT NULL REFERENCES users(name),
	submitted_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tasks_by_user ON tasks(user);
CREATE TABLE IF NOT EXISTS failures (
	name TEXT PRIMARY KEY,
	count INTEGER NOT NULL,
	locked_until_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS setup (
	digest TEXT NOT NULL
);
";

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
	Ok(User {
		name: row.get(0)?,
		role: Role::parse(&row.get::<_, String>(1)?),
		state: AccountState::parse(&row.get::<_, String>(2)?),
		created_ms: row.get::<_, i64>(3)? as u64,
	})
}

impl Store {
	/// Opens (or creates) the store at `path`.
	pub fn open(path: &Path) -> Result<Store, StoreError> {
		let db = Connection::open(path)?;
		db.pragma_update(None, "journal_mode", "WAL")?;
		db.pragma_update(None, "foreign_keys", true)?;
		db.busy_timeout(Duration::from_secs(5))?;
		db.execute_batch(SCHEMA)?;
		Ok(Store { db: Mutex::new(db) })
	}

	fn db(&self) -> MutexGuard<'_, Connection> {
		self.db.lock().unwrap_or_else(PoisonError::into_inner)
	}

	/// Whether an administrator exists (else the board waits for set-up).
	pub fn has_admin(&self) -> Result<bool, StoreError> {
		let n: i64 = self.db().query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |r| r.get(0))?;
		Ok(n > 0)
	}

	/// A fresh one-time set-up token (replacing any earlier one), while no
	/// administrator exists.
	pub fn new_setup_token(&self) -> Result<String, StoreError> {
		if self.has_admin()? {
			return Err(StoreError::AlreadySetUp);
		}
		let token = secret::random_hex(32);
		let db = self.db();
		db.execute("DELETE FROM setup", [])?;
		db.execute("INSERT INTO setup (digest) VALUES (?1)", [digest(&token)])?;
		Ok(token)
	}

	/// Creates the first administrator if `token` is the set-up token; the
	/// token stops working. `Ok(false)`: not the token.
	pub fn set_up(&self, token: &str, name: &str, password_hash: &str) -> Result<bool, StoreError> {
		let mut db = self.db();
		let tx = db.transaction()?;
		let admins: i64 = tx.query_row("SELECT COUNT(*) FROM users WHERE role = 'admin'", [], |r| r.get(0))?;
		if admins > 0 {
			return Err(StoreError::AlreadySetUp);
		}
		let stored: Option<String> = tx.query_row("SELECT digest FROM setup", [], |r| r.get(0)).optional()?;
		let Some(stored) = stored else { return Ok(false) };
		if !secret::same(stored.as_bytes(), digest(token).as_bytes()) {
			return Ok(false);
		}
		insert_user(&tx, name, password_hash, Role::Admin, AccountState::Active)?;
		tx.execute("DELETE FROM setup", [])?;
		tx.commit()?;
		Ok(true)
	}

	/// A new account waiting for approval.
	pub fn sign_up(&self, name: &str, password_hash: &str) -> Result<(), StoreError> {
		let db = self.db();
		insert_user(&db, name, password_hash, Role::Member, AccountState::Pending)
	}

	/// The account and its password hash.
	pub fn credentials(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
		Ok(self
			.db()
			.query_row("SELECT name, role, state, created_ms, password FROM users WHERE name = ?1", [name], |r| {
				Ok((user_row(r)?, r.get(4)?))
			})
			.optional()?)
	}

	/// The account.
	pub fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
		Ok(self
			.db()
			.query_row("SELECT name, role, state, created_ms FROM users WHERE name = ?1", [name], user_row)
			.optional()?)
	}

	/// Every account, oldest first.
	pub fn users(&self) -> Result<Vec<User>, StoreError> {
		let db = self.db();
		let mut q = db.prepare("SELECT name, role, state, created_ms FROM users ORDER BY created_ms, name")?;
		let rows = q.query_map([], user_row)?.collect::<Result<Vec<_>, _>>()?;
		Ok(rows)
	}

	/// Changes an account's state; disabling ends its sessions.
	pub fn set_state(&self, name: &str, state: AccountState) -> Result<(), StoreError> {
		let db = self.db();
		let n = db.execute("UPDATE users SET state = ?2 WHERE name = ?1", params![name, state.as_str()])?;
		if n == 0 {
			return Err(StoreError::NoSuchUser(name.to_owned()));
		}
		if state != AccountState::Active {
			db.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
		}
		Ok(())
	}

	/// Changes an account's role.
	pub fn set_role(&self, name: &str, role: Role) -> Result<(), StoreError> {
		let n = self.db().execute("UPDATE users SET role = ?2 WHERE name = ?1", params![name, role.as_str()])?;
		if n == 0 {
			return Err(StoreError::NoSuchUser(name.to_owned()));
		}
		Ok(())
	}

	/// Whether sign-in for `name` is locked now.
	pub fn throttle(&self, name: &str) -> Result<Throttle, StoreError> {
		let until: Option<i64> = self
			.db()
			.query_row("SELECT locked_until_ms FROM failures WHERE name = ?1", [name], |r| r.get(0))
			.optional()?;
		let now = now_ms();
		Ok(match until {
			Some(u) if (u as u64) > now => Throttle::Locked(Duration::from_millis(u as u64 - now)),
			_ => Throttle::Open,
		})
	}

	/// Counts a failed sign-in for `name` (whether or not it exists) and
	/// locks it from the [`FREE_FAILURES`]th on.
	pub fn failed_sign_in(&self, name: &str) -> Result<(), StoreError> {
		let db = self.db();
		let count: i64 =
			db.query_row("SELECT count FROM failures WHERE name = ?1", [name], |r| r.get(0)).optional()?.unwrap_or(0)
				+ 1;
		let lock = lock_after(count as u32);
		let until = if lock.is_zero() { 0 } else { now_ms() + lock.as_millis() as u64 };
		db.execute(
			"INSERT INTO failures (name, count, locked_until_ms) VALUES (?1, ?2, ?3)
			 ON CONFLICT(name) DO UPDATE SET count = ?2, locked_until_ms = ?3",
			params![name, count, until as i64],
		)?;
		Ok(())
	}

	/// Forgets the failures of `name` (a sign-in succeeded).
	pub fn signed_in(&self, name: &str) -> Result<(), StoreError> {
		self.db().execute("DELETE FROM failures WHERE name = ?1", [name])?;
		Ok(())
	}

	/// A new session for `name`; the cookie value is returned once.
	pub fn new_session(&self, name: &str) -> Result<String, StoreError> {
		let cookie = secret::random_hex(32);
		let csrf = secret::random_hex(16);
		let db = self.db();
		let now = now_ms();
		db.execute("DELETE FROM sessions WHERE expires_ms <= ?1", [now as i64])?;
		db.execute(
			"INSERT INTO sessions (digest, user, csrf, expires_ms) VALUES (?1, ?2, ?3, ?4)",
			params![digest(&cookie), name, csrf, (now + SESSION_FOR.as_millis() as u64) as i64],
		)?;
		Ok(cookie)
	}

	/// The session a cookie belongs to, if it is live and its account active.
	pub fn session(&self, cookie: &str) -> Result<Option<Session>, StoreError> {
		let found = self
			.db()
			.query_row(
				"SELECT u.name, u.role, u.state, u.created_ms, s.csrf FROM sessions s JOIN users u ON u.name = s.user
				 WHERE s.digest = ?1 AND s.expires_ms > ?2",
				params![digest(cookie), now_ms() as i64],
				|r| Ok(Session { user: user_row(r)?, csrf: r.get(4)? }),
			)
			.optional()?;
		Ok(found.filter(|s| s.user.state == AccountState::Active))
	}

	/// Ends a session.
	pub fn end_session(&self, cookie: &str) -> Result<(), StoreError> {
		self.db().execute("DELETE FROM sessions WHERE digest = ?1", [digest(cookie)])?;
		Ok(())
	}

	/// A new API token for `name`; the token is returned once.
	pub fn new_token(&self, name: &str, label: &str) -> Result<String, StoreError> {
		let token = format!("dbt_{}", secret::random_hex(32));
		self.db().execute(
			"INSERT INTO tokens (digest, user, label, created_ms) VALUES (?1, ?2, ?3, ?4)",
			params![digest(&token), name, label, now_ms() as i64],
		)?;
		Ok(token)
	}

	/// A new API token for `name` labelled `label`, revoking the account's
	/// earlier tokens of that label (one live notebook token per person).
	pub fn replace_token(&self, name: &str, label: &str) -> Result<String, StoreError> {
		self.db().execute("DELETE FROM tokens WHERE user = ?1 AND label = ?2", params![name, label])?;
		self.new_token(name, label)
	}

	/// The active account an API token belongs to (and notes its use).
	pub fn token_user(&self, token: &str) -> Result<Option<User>, StoreError> {
		let db = self.db();
		let d = digest(token);
		let found = db
			.query_row(
				"SELECT u.name, u.role, u.state, u.created_ms FROM tokens t JOIN users u ON u.name = t.user
				 WHERE t.digest = ?1",
				[&d],
				user_row,
			)
			.optional()?;
		let Some(user) = found.filter(|u| u.state == AccountState::Active) else { return Ok(None) };
		db.execute("UPDATE tokens SET last_used_ms = ?2 WHERE digest = ?1", params![d, now_ms() as i64])?;
		Ok(Some(user))
	}

	/// The tokens of `name`, newest first.
	pub fn tokens(&self, name: &str) -> Result<Vec<TokenInfo>, StoreError> {
		let db = self.db();
		let mut q = db.prepare(
			"SELECT id, label, created_ms, last_used_ms FROM tokens WHERE user = ?1 ORDER BY created_ms DESC, id DESC",
		)?;
		let rows = q
			.query_map([name], |r| {
				Ok(TokenInfo {
					id: r.get(0)?,
					label: r.get(1)?,
					created_ms: r.get::<_, i64>(2)? as u64,
					last_used_ms: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
				})
			})?
			.collect::<Result<Vec<_>, _>>()?;
		Ok(rows)
	}

	/// Revokes one of `name`'s tokens; `false`: it has no such token.
	pub fn revoke_token(&self, name: &str, id: i64) -> Result<bool, StoreError> {
		Ok(self.db().execute("DELETE FROM tokens WHERE id = ?1 AND user = ?2", params![id, name])? > 0)
	}

	/// Notes that `id` was submitted by `name`.
	pub fn record_task(&self, name: &str, id: &str) -> Result<(), StoreError> {
		self.db().execute(
			"INSERT OR IGNORE INTO tasks (id, user, submitted_ms) VALUES (?1, ?2, ?3)",
			params![id, name, now_ms() as i64],
		)?;
		Ok(())
	}

	/// Who submitted `id` through the board, if anybody did.
	pub fn task_owner(&self, id: &str) -> Result<Option<String>, StoreError> {
		Ok(self.db().query_row("SELECT user FROM tasks WHERE id = ?1", [id], |r| r.get(0)).optional()?)
	}

	/// Whether `user` may see task `id`: an administrator sees every task,
	/// anybody else only those they submitted through the board.
	pub fn may_see(&self, user: &User, id: &str) -> Result<bool, StoreError> {
		if user.is_admin() {
			return Ok(true);
		}
		Ok(self.task_owner(id)?.as_deref() == Some(user.name.as_str()))
	}

	/// The ids `name` submitted.
	pub fn tasks_of(&self, name: &str) -> Result<std::collections::HashSet<String>, StoreError> {
		let db = self.db();
		let mut q = db.prepare("SELECT id FROM tasks WHERE user = ?1")?;
		let ids = q.query_map([name], |r| r.get(0))?.collect::<Result<_, _>>()?;
		Ok(ids)
	}
}

fn insert_user(
	db: &Connection,
	name: &str,
	password_hash: &str,
	role: Role,
	state: AccountState,
) -> Result<(), StoreError> {
	let result = db.execute(
		"INSERT INTO users (name, password, role, state, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
		params![name, password_hash, role.as_str(), state.as_str(), now_ms() as i64],
	);
	match result {
		Ok(_) => Ok(()),
		Err(rusqlite::Error::SqliteFailure(e, _)) if e.code == rusqlite::ErrorCode::ConstraintViolation => {
			Err(StoreError::NameTaken(name.to_owned()))
		},
		Err(e) => Err(e.into()),
	}
}

/// How long a name is locked after its `failures`th failed sign-in in a row.
pub fn lock_after(failures: u32) -> Duration {
	if failures < FREE_FAILURES {
		return Duration::ZERO;
	}
	let doublings = (failures - FREE_FAILURES).min(16);
	(FIRST_LOCK * 2u32.pow(doublings)).min(LOCK_AT_MOST)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn store() -> (tempfile::TempDir, Store) {
		let dir = tempfile::tempdir().unwrap();
		let s = Store::open(&dir.path().join("board.sqlite")).unwrap();
		(dir, s)
	}

	#[test]
	fn set_up_needs_the_token_once_and_then_never_again() {
		let (_d, s) = store();
		assert!(!s.has_admin().unwrap());
		let token = s.new_setup_token().unwrap();
		assert!(!s.set_up("wrong", "ada", "h").unwrap());
		assert!(!s.has_admin().unwrap());
		assert!(s.set_up(&token, "ada", "h").unwrap());
		let ada = s.user("ada").unwrap().unwrap();
		assert_eq!((ada.role, ada.state), (Role::Admin, AccountState::Active));
		assert!(matches!(s.set_up(&token, "eve", "h"), Err(StoreError::AlreadySetUp)));
		assert!(matches!(s.new_setup_token(), Err(StoreError::AlreadySetUp)));
		assert!(s.user("eve").unwrap().is_none());
	}

	#[test]
	fn a_new_account_waits_for_approval_and_a_name_is_taken_once() {
		let (_d, s) = store();
		s.sign_up("bob", "h").unwrap();
		assert_eq!(s.user("bob").unwrap().unwrap().state, AccountState::Pending);
		assert!(matches!(s.sign_up("bob", "other"), Err(StoreError::NameTaken(n)) if n == "bob"));
		let cookie = s.new_session("bob").unwrap();
		assert!(s.session(&cookie).unwrap().is_none(), "a pending account has no live session");
		s.set_state("bob", AccountState::Active).unwrap();
		let cookie = s.new_session("bob").unwrap();
		assert_eq!(s.session(&cookie).unwrap().unwrap().user.name, "bob");
		assert!(matches!(s.set_state("nobody", AccountState::Active), Err(StoreError::NoSuchUser(_))));
	}

	#[test]
	fn disabling_an_account_ends_its_sessions_and_stops_its_tokens() {
		let (_d, s) = store();
		s.sign_up("bob", "h").unwrap();
		s.set_state("bob", AccountState::Active).unwrap();
		let cookie = s.new_session("bob").unwrap();
		let token = s.new_token("bob", "laptop").unwrap();
		assert_eq!(s.token_user(&token).unwrap().unwrap().name, "bob");
		s.set_state("bob", AccountState::Disabled).unwrap();
		assert!(s.session(&cookie).unwrap().is_none());
		assert!(s.token_user(&token).unwrap().is_none());
		s.set_state("bob", AccountState::Active).unwrap();
		assert!(s.session(&cookie).unwrap().is_none(), "a session ended by disabling stays ended");
		assert!(s.token_user(&token).unwrap().is_some(), "tokens work again once re-enabled");
	}

	#[test]
	fn tokens_are_stored_hashed_listed_without_the_secret_and_revoked_by_their_owner_only() {
		let (dir, s) = store();
		for n in ["bob", "eve"] {
			s.sign_up(n, "h").unwrap();
			s.set_state(n, AccountState::Active).unwrap();
		}
		let token = s.new_token("bob", "laptop").unwrap();
		assert!(token.starts_with("dbt_") && token.len() == 68);
		let raw = std::fs::read(dir.path().join("board.sqlite")).unwrap();
		let wal = std::fs::read(dir.path().join("board.sqlite-wal")).unwrap_or_default();
		for bytes in [raw, wal] {
			assert!(!bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the token is on disk");
		}
		let listed = s.tokens("bob").unwrap();
		assert_eq!(listed.len(), 1);
		assert_eq!(listed[0].label, "laptop");
		assert_eq!(listed[0].last_used_ms, None);
		s.token_user(&token).unwrap();
		assert!(s.tokens("bob").unwrap()[0].last_used_ms.is_some());
		assert!(!s.revoke_token("eve", listed[0].id).unwrap(), "eve cannot revoke bob's token");
		assert!(s.token_user(&token).unwrap().is_some());
		assert!(s.revoke_token("bob", listed[0].id).unwrap());
		assert!(s.token_user(&token).unwrap().is_none());
		assert!(s.token_user("dbt_made_up").unwrap().is_none());
	}

	#[test]
	fn a_member_sees_only_their_own_tasks_and_an_admin_sees_all() {
		let (_d, s) = store();
		let token = s.new_setup_token().unwrap();
		s.set_up(&token, "ada", "h").unwrap();
		for n in ["bob", "eve"] {
			s.sign_up(n, "h").unwrap();
			s.set_state(n, AccountState::Active).unwrap();
		}
		s.record_task("bob", "t1").unwrap();
		s.record_task("eve", "t1").unwrap(); // a second claim of one id changes nothing
		let (bob, eve, ada) =
			(s.user("bob").unwrap().unwrap(), s.user("eve").unwrap().unwrap(), s.user("ada").unwrap().unwrap());
		assert!(s.may_see(&bob, "t1").unwrap());
		assert!(!s.may_see(&eve, "t1").unwrap());
		assert!(!s.may_see(&bob, "t2").unwrap());
		assert!(s.may_see(&ada, "t1").unwrap() && s.may_see(&ada, "t2").unwrap());
		assert_eq!(s.tasks_of("bob").unwrap().into_iter().collect::<Vec<_>>(), vec!["t1".to_owned()]);
		assert!(s.tasks_of("eve").unwrap().is_empty());
	}

	#[test]
	fn failed_sign_ins_lock_a_name_from_the_fifth_on_and_success_forgets_them() {
		assert_eq!(lock_after(4), Duration::ZERO);
		assert_eq!(lock_after(5), Duration::from_secs(30));
		assert_eq!(lock_after(6), Duration::from_secs(60));
		assert_eq!(lock_after(9), Duration::from_secs(480));
		assert_eq!(lock_after(10), LOCK_AT_MOST);
		assert_eq!(lock_after(u32::MAX), LOCK_AT_MOST);
		let (_d, s) = store();
		for _ in 0..4 {
			s.failed_sign_in("bob").unwrap();
			assert_eq!(s.throttle("bob").unwrap(), Throttle::Open);
		}
		s.failed_sign_in("bob").unwrap();
		match s.throttle("bob").unwrap() {
			Throttle::Locked(left) => assert!(left > Duration::from_secs(25) && left <= FIRST_LOCK, "{left:?}"),
			Throttle::Open => panic!("five failures must lock the name"),
		}
		assert_eq!(s.throttle("eve").unwrap(), Throttle::Open, "another name is not locked");
		s.signed_in("bob").unwrap();
		assert_eq!(s.throttle("bob").unwrap(), Throttle::Open);
	}
}
