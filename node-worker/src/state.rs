//! The worker's state in SQLite: every task submitted to it, its log and,
//! once finished, its result; and the task packages the holder approved
//! (whose code it runs as a member, `crate::consent`). Writes are
//! synchronous (WAL, `synchronous = FULL`), so a finished result survives a
//! crash the moment it is reported.

use std::{
	path::Path,
	sync::{Mutex, MutexGuard},
};

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

/// Where a submitted task stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Submission {
	/// The worker's id for it.
	pub id: String,
	/// `running`, `done` or `failed`.
	pub state: String,
	/// The task's id on the ledger, once created.
	pub ledger_task: Option<u64>,
	/// The round in progress, or the last one.
	pub round: u32,
	/// Most rounds the task may take.
	pub rounds: u32,
	/// Why it failed.
	pub error: Option<String>,
	/// When it was submitted (ms since the epoch).
	pub created_ms: u64,
	/// When it ended.
	pub finished_ms: Option<u64>,
}

/// One log line of a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LogLine {
	/// Position from 0, without gaps.
	pub seq: u64,
	/// When it was written (ms since the epoch).
	pub ms: u64,
	/// The text.
	pub line: String,
}

/// The state database.
pub struct State {
	db: Mutex<Connection>,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
	std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl State {
	/// Opens (creating if needed) the database at `path`.
	pub fn open(path: &Path) -> rusqlite::Result<Self> {
		let db = Connection::open(path)?;
		db.pragma_update(None, "journal_mode", "WAL")?;
		db.pragma_update(None, "synchronous", "FULL")?;
		db.execute_batch(
			"CREATE TABLE IF NOT EXISTS submissions(
				id TEXT PRIMARY KEY,
				state TEXT NOT NULL,
				ledger_task INTEGER,
				round INTEGER NOT NULL DEFAULT 0,
				rounds INTEGER NOT NULL,
				error TEXT,
				result BLOB,
				created_ms INTEGER NOT NULL,
				finished_ms INTEGER
			);
			CREATE TABLE IF NOT EXISTS logs(
				id TEXT NOT NULL,
				seq INTEGER NOT NULL,
				ms INTEGER NOT NULL,
				line TEXT NOT NULL,
				PRIMARY KEY(id, seq)
			);
			CREATE TABLE IF NOT EXISTS events(
				id TEXT NOT NULL,
				seq INTEGER NOT NULL,
				ms INTEGER NOT NULL,
				event TEXT NOT NULL,
				PRIMARY KEY(id, seq)
			);
			CREATE TABLE IF NOT EXISTS resumable(
				id TEXT PRIMARY KEY,
				package BLOB NOT NULL,
				plan TEXT NOT NULL
			);
			CREATE TABLE IF NOT EXISTS approvals(
				package TEXT PRIMARY KEY,
				approved_ms INTEGER NOT NULL,
				note TEXT NOT NULL
			);",
		)?;
		Ok(Self { db: Mutex::new(db) })
	}

	fn db(&self) -> MutexGuard<'_, Connection> {
		// A panic while holding the lock leaves SQLite consistent (each
		// statement is atomic), so the poisoned guard is still usable.
		self.db.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
	}

	/// Records a new running submission.
	pub fn insert(&self, id: &str, rounds: u32) -> rusqlite::Result<()> {
		self.db().execute(
			"INSERT INTO submissions(id, state, rounds, created_ms) VALUES (?1, 'running', ?2, ?3)",
			params![id, rounds, now_ms()],
		)?;
		Ok(())
	}

	/// Records the ledger's task id and the current round.
	pub fn progress(&self, id: &str, ledger_task: Option<u64>, round: u32) -> rusqlite::Result<()> {
		self.db().execute(
			"UPDATE submissions SET ledger_task = ?2, round = ?3 WHERE id = ?1",
			params![id, ledger_task, round],
		)?;
		Ok(())
	}

	/// Records the result; the submission is done (and no longer
	/// resumable).
	pub fn finish(&self, id: &str, result: &[u8]) -> rusqlite::Result<()> {
		let mut db = self.db();
		let tx = db.transaction()?;
		tx.execute(
			"UPDATE submissions SET state = 'done', result = ?2, finished_ms = ?3 WHERE id = ?1 AND state = 'running'",
			params![id, result, now_ms()],
		)?;
		tx.execute("DELETE FROM resumable WHERE id = ?1", params![id])?;
		tx.commit()
	}

	/// Records why the submission failed (it is no longer resumable).
	pub fn fail(&self, id: &str, error: &str) -> rusqlite::Result<()> {
		let mut db = self.db();
		let tx = db.transaction()?;
		tx.execute(
			"UPDATE submissions SET state = 'failed', error = ?2, finished_ms = ?3 WHERE id = ?1 AND state = 'running'",
			params![id, error, now_ms()],
		)?;
		tx.execute("DELETE FROM resumable WHERE id = ?1", params![id])?;
		tx.commit()
	}

	/// Keeps a resumable submission's package and plan (JSON) while it
	/// runs, for a restarted worker to take it over.
	pub fn save_plan(&self, id: &str, package: &[u8], plan: &str) -> rusqlite::Result<()> {
		self.db().execute(
			"INSERT OR REPLACE INTO resumable(id, package, plan) VALUES (?1, ?2, ?3)",
			params![id, package, plan],
		)?;
		Ok(())
	}

	/// A running submission's saved package and plan, if it is resumable.
	pub fn saved_plan(&self, id: &str) -> rusqlite::Result<Option<(Vec<u8>, String)>> {
		self.db()
			.query_row("SELECT package, plan FROM resumable WHERE id = ?1", params![id], |r| Ok((r.get(0)?, r.get(1)?)))
			.optional()
	}

	/// Appends a log line.
	pub fn log(&self, id: &str, line: &str) -> rusqlite::Result<()> {
		let db = self.db();
		let next: u64 =
			db.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM logs WHERE id = ?1", params![id], |r| r.get(0))?;
		db.execute("INSERT INTO logs(id, seq, ms, line) VALUES (?1, ?2, ?3, ?4)", params![id, next, now_ms(), line])?;
		Ok(())
	}

	/// Records what happened in a task: the typed event, and its line in
	/// the task's log.
	pub fn event(&self, id: &str, event: &delta_engine::TaskEvent) -> rusqlite::Result<()> {
		let json = serde_json::to_string(event).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
		{
			let db = self.db();
			let next: u64 =
				db.query_row("SELECT COALESCE(MAX(seq) + 1, 0) FROM events WHERE id = ?1", params![id], |r| r.get(0))?;
			db.execute(
				"INSERT INTO events(id, seq, ms, event) VALUES (?1, ?2, ?3, ?4)",
				params![id, next, now_ms(), json],
			)?;
		}
		self.log(id, &event.to_string())
	}

	/// Events from `from` on (at most 1 000), each as its JSON object with
	/// `seq` and `ms` added.
	pub fn events(&self, id: &str, from: u64) -> rusqlite::Result<Vec<serde_json::Value>> {
		let db = self.db();
		let mut stmt =
			db.prepare("SELECT seq, ms, event FROM events WHERE id = ?1 AND seq >= ?2 ORDER BY seq LIMIT 1000")?;
		let rows = stmt.query_map(params![id, from], |r| {
			let (seq, ms, text): (u64, u64, String) = (r.get(0)?, r.get(1)?, r.get(2)?);
			let mut event: serde_json::Value = serde_json::from_str(&text)
				.map_err(|e| rusqlite::Error::FromSqlConversionFailure(2, rusqlite::types::Type::Text, Box::new(e)))?;
			if let Some(map) = event.as_object_mut() {
				map.insert("seq".into(), seq.into());
				map.insert("ms".into(), ms.into());
			}
			Ok(event)
		})?;
		rows.collect()
	}

	/// Log lines from `from` on (at most 1 000).
	pub fn logs(&self, id: &str, from: u64) -> rusqlite::Result<Vec<LogLine>> {
		let db = self.db();
		let mut stmt =
			db.prepare("SELECT seq, ms, line FROM logs WHERE id = ?1 AND seq >= ?2 ORDER BY seq LIMIT 1000")?;
		let rows =
			stmt.query_map(params![id, from], |r| Ok(LogLine { seq: r.get(0)?, ms: r.get(1)?, line: r.get(2)? }))?;
		rows.collect()
	}

	/// One submission.
	pub fn get(&self, id: &str) -> rusqlite::Result<Option<Submission>> {
		self.db()
			.query_row(
				"SELECT id, state, ledger_task, round, rounds, error, created_ms, finished_ms FROM submissions WHERE id = ?1",
				params![id],
				row,
			)
			.optional()
	}

	/// Every submission, newest first.
	pub fn list(&self) -> rusqlite::Result<Vec<Submission>> {
		let db = self.db();
		let mut stmt = db.prepare(
			"SELECT id, state, ledger_task, round, rounds, error, created_ms, finished_ms FROM submissions ORDER BY created_ms DESC, id",
		)?;
		let rows = stmt.query_map([], row)?;
		rows.collect()
	}

	/// The result of a done submission.
	pub fn result(&self, id: &str) -> rusqlite::Result<Option<Vec<u8>>> {
		self.db()
			.query_row("SELECT result FROM submissions WHERE id = ?1 AND state = 'done'", params![id], |r| r.get(0))
			.optional()
	}

	/// Approves the package whose commitment is `package` (64 lower-case
	/// hex digits); approving it again replaces the note.
	pub fn approve(&self, package: &str, note: &str) -> rusqlite::Result<()> {
		self.db().execute(
			"INSERT INTO approvals(package, approved_ms, note) VALUES (?1, ?2, ?3)
			 ON CONFLICT(package) DO UPDATE SET note = excluded.note",
			params![package, now_ms(), note],
		)?;
		Ok(())
	}

	/// Withdraws an approval; whether there was one.
	pub fn revoke(&self, package: &str) -> rusqlite::Result<bool> {
		Ok(self.db().execute("DELETE FROM approvals WHERE package = ?1", params![package])? > 0)
	}

	/// Whether the package is approved.
	pub fn approved(&self, package: &str) -> rusqlite::Result<bool> {
		self.db()
			.query_row("SELECT 1 FROM approvals WHERE package = ?1", params![package], |_| Ok(()))
			.optional()
			.map(|r| r.is_some())
	}

	/// Every approval: package, when (ms since the epoch), note; oldest first.
	pub fn approvals(&self) -> rusqlite::Result<Vec<(String, u64, String)>> {
		let db = self.db();
		let mut stmt = db.prepare("SELECT package, approved_ms, note FROM approvals ORDER BY approved_ms, package")?;
		let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
		rows.collect()
	}

	/// Submissions that were running when the worker stopped.
	pub fn interrupted(&self) -> rusqlite::Result<Vec<Submission>> {
		Ok(self.list()?.into_iter().filter(|s| s.state == "running").collect())
	}
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Submission> {
	Ok(Submission {
		id: r.get(0)?,
		state: r.get(1)?,
		ledger_task: r.get(2)?,
		round: r.get(3)?,
		rounds: r.get(4)?,
		error: r.get(5)?,
		created_ms: r.get(6)?,
		finished_ms: r.get(7)?,
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn approvals_survive_reopening_and_can_be_revoked() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("state.sqlite");
		let a = "ab".repeat(32);
		{
			let s = State::open(&path).unwrap();
			assert!(!s.approved(&a).unwrap());
			s.approve(&a, "reviewed by the data office").unwrap();
			s.approve(&a, "reviewed again").unwrap();
		}
		let s = State::open(&path).unwrap();
		assert!(s.approved(&a).unwrap());
		let listed = s.approvals().unwrap();
		assert_eq!(listed.len(), 1);
		assert_eq!((listed[0].0.as_str(), listed[0].2.as_str()), (a.as_str(), "reviewed again"));
		assert!(s.revoke(&a).unwrap());
		assert!(!s.revoke(&a).unwrap(), "nothing left to revoke");
		assert!(!s.approved(&a).unwrap());
	}

	#[test]
	fn results_and_logs_survive_reopening() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("state.sqlite");
		{
			let s = State::open(&path).unwrap();
			s.insert("a", 3).unwrap();
			s.insert("b", 1).unwrap();
			s.progress("a", Some(7), 2).unwrap();
			s.log("a", "round 0 started").unwrap();
			s.log("a", "done").unwrap();
			s.finish("a", b"{\"x\":1}").unwrap();
			// A finished submission cannot be failed afterwards.
			s.fail("a", "late").unwrap();
		}
		let s = State::open(&path).unwrap();
		let a = s.get("a").unwrap().unwrap();
		assert_eq!((a.state.as_str(), a.ledger_task, a.round, a.error), ("done", Some(7), 2, None));
		assert_eq!(s.result("a").unwrap().unwrap(), b"{\"x\":1}");
		assert_eq!(s.logs("a", 1).unwrap().iter().map(|l| l.line.as_str()).collect::<Vec<_>>(), ["done"]);
		assert_eq!(s.interrupted().unwrap().iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["b"]);
		assert_eq!(s.result("b").unwrap(), None);
		assert_eq!(s.get("zz").unwrap(), None);
	}

	#[test]
	fn a_resumable_plan_is_kept_while_its_submission_runs_and_dropped_when_it_ends() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("state.sqlite");
		let s = State::open(&path).unwrap();
		for id in ["a", "b", "c"] {
			s.insert(id, 5).unwrap();
			s.save_plan(id, b"package", "{\"plan\":1}").unwrap();
		}
		s.finish("a", b"{}").unwrap();
		s.fail("b", "refused").unwrap();
		drop(s);
		// What a restarted worker finds: only the running one's plan.
		let s = State::open(&path).unwrap();
		assert_eq!(s.saved_plan("a").unwrap(), None);
		assert_eq!(s.saved_plan("b").unwrap(), None);
		assert_eq!(s.saved_plan("c").unwrap(), Some((b"package".to_vec(), "{\"plan\":1}".to_string())));
		assert_eq!(s.interrupted().unwrap().iter().map(|s| s.id.as_str()).collect::<Vec<_>>(), ["c"]);
	}

	#[test]
	fn events_are_kept_typed_and_logged_as_lines() {
		let dir = tempfile::tempdir().unwrap();
		let s = State::open(&dir.path().join("state.sqlite")).unwrap();
		s.insert("a", 1).unwrap();
		let member = delta_engine::AccountId([3; 32]);
		s.event("a", &delta_engine::TaskEvent::RoundStarted { round: 0, ring_bits: 64, elements: 1 }).unwrap();
		s.event("a", &delta_engine::TaskEvent::Dropped { round: 0, member }).unwrap();
		let events = s.events("a", 0).unwrap();
		assert_eq!(events.len(), 2);
		assert_eq!(events[1]["event"], "dropped");
		assert_eq!(events[1]["member"], member.to_ss58());
		assert_eq!(events[1]["seq"], 1);
		assert_eq!(s.events("a", 1).unwrap().len(), 1);
		let lines: Vec<String> = s.logs("a", 0).unwrap().into_iter().map(|l| l.line).collect();
		assert_eq!(lines[0], "round 0 started: 1 element summed in the 64-bit ring");
		assert!(lines[1].ends_with("dropped: no masked input by the end of the Compute phase"), "{lines:?}");
	}
}
