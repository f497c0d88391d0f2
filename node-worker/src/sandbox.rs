//! The operating-system side of the task sandbox, applied to the Python
//! process between `fork` and `exec`:
//!
//! - a new network namespace (no interfaces but a downed loopback), so
//!   task code cannot reach any host; as a non-root user a user namespace
//!   is created with it;
//! - Landlock: reading and executing only the Python installation, reading
//!   the task's package and its one cleaned dataset, reading and writing a
//!   scratch folder; where the kernel supports it, TCP bind/connect and
//!   signals to processes outside the sandbox are refused as well;
//! - resource limits: address space, CPU time, file size, open files, no
//!   core dumps. (Not `PR_SET_PDEATHSIG`: it fires when the spawning
//!   *thread* ends, and the API spawns from short-lived blocking threads.
//!   A runner ends on its own when the worker dies: its stdin closes.)
//!
//! The runner (`delta._runner`) adds a second layer in Python (audit hooks
//! with clear messages) and the static check refuses most attempts before
//! any code runs. If neither a network namespace nor Landlock's network
//! rules can be had, the worker refuses to run tasks rather than run them
//! open.

use std::{
	ffi::CString,
	io,
	os::{fd::RawFd, unix::process::CommandExt},
	path::{Path, PathBuf},
	process::Command,
};

// Landlock ABI (linux/landlock.h).
const SYS_LANDLOCK_CREATE_RULESET: libc::c_long = 444;
const SYS_LANDLOCK_ADD_RULE: libc::c_long = 445;
const SYS_LANDLOCK_RESTRICT_SELF: libc::c_long = 446;
const LANDLOCK_CREATE_RULESET_VERSION: u32 = 1;
const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;

const FS_EXECUTE: u64 = 1 << 0;
const FS_WRITE_FILE: u64 = 1 << 1;
const FS_READ_FILE: u64 = 1 << 2;
const FS_READ_DIR: u64 = 1 << 3;
const FS_REMOVE_DIR: u64 = 1 << 4;
const FS_REMOVE_FILE: u64 = 1 << 5;
const FS_MAKE_CHAR: u64 = 1 << 6;
const FS_MAKE_DIR: u64 = 1 << 7;
const FS_MAKE_REG: u64 = 1 << 8;
const FS_MAKE_SOCK: u64 = 1 << 9;
const FS_MAKE_FIFO: u64 = 1 << 10;
const FS_MAKE_BLOCK: u64 = 1 << 11;
const FS_MAKE_SYM: u64 = 1 << 12;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

/// Rights that make sense on a single file.
const FILE_RIGHTS: u64 = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV;
const READ_ONLY: u64 = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR;

#[repr(C)]
struct RulesetAttr {
	handled_access_fs: u64,
	handled_access_net: u64,
	scoped: u64,
}

#[repr(C, packed)]
struct PathBeneathAttr {
	allowed_access: u64,
	parent_fd: i32,
}

/// Which Landlock ABI the kernel offers (0: none).
pub fn landlock_abi() -> i64 {
	// SAFETY: the documented version query takes no pointer.
	let r = unsafe {
		libc::syscall(
			SYS_LANDLOCK_CREATE_RULESET,
			std::ptr::null::<RulesetAttr>(),
			0usize,
			LANDLOCK_CREATE_RULESET_VERSION,
		)
	};
	if r < 0 {
		0
	} else {
		r
	}
}

fn handled_fs(abi: i64) -> u64 {
	let mut rights = FS_EXECUTE
		| FS_WRITE_FILE
		| FS_READ_FILE
		| FS_READ_DIR
		| FS_REMOVE_DIR
		| FS_REMOVE_FILE
		| FS_MAKE_CHAR
		| FS_MAKE_DIR
		| FS_MAKE_REG
		| FS_MAKE_SOCK
		| FS_MAKE_FIFO
		| FS_MAKE_BLOCK
		| FS_MAKE_SYM;
	if abi >= 2 {
		rights |= FS_REFER;
	}
	if abi >= 3 {
		rights |= FS_TRUNCATE;
	}
	if abi >= 5 {
		rights |= FS_IOCTL_DEV;
	}
	rights
}

/// What a task process may see and use.
#[derive(Clone, Debug)]
pub struct Profile {
	/// Folders readable (and executable): the Python installation.
	pub read_dirs: Vec<PathBuf>,
	/// Single files readable: the package, the dataset.
	pub read_files: Vec<PathBuf>,
	/// The scratch folder, readable and writable.
	pub scratch: PathBuf,
	/// Address-space limit in bytes (the soft limit).
	pub memory_bytes: u64,
	/// The hard address-space limit in bytes, to which the runner raises
	/// its soft limit for a learning package (at least `memory_bytes`).
	pub memory_max_bytes: u64,
	/// CPU-time limit in seconds.
	pub cpu_seconds: u64,
}

/// Why the sandbox cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
	/// The kernel offers no way to cut the network.
	#[error("no network isolation available (neither network namespaces nor Landlock network rules); refusing to run task code")]
	NoNetworkIsolation,
	/// A Landlock call failed.
	#[error("landlock: {0}")]
	Landlock(io::Error),
}

/// A prepared ruleset: its file descriptor is created before `fork`, so
/// the child only has to apply it.
struct Ruleset {
	fd: RawFd,
}

impl Drop for Ruleset {
	fn drop(&mut self) {
		// SAFETY: the fd is owned by this value.
		unsafe {
			libc::close(self.fd);
		}
	}
}

fn build_ruleset(profile: &Profile, abi: i64) -> Result<Ruleset, SandboxError> {
	let fs = handled_fs(abi);
	let attr = RulesetAttr {
		handled_access_fs: fs,
		handled_access_net: if abi >= 4 { NET_BIND_TCP | NET_CONNECT_TCP } else { 0 },
		scoped: if abi >= 6 { SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL } else { 0 },
	};
	let size = if abi >= 6 {
		24
	} else if abi >= 4 {
		16
	} else {
		8
	};
	// SAFETY: attr outlives the call; size matches the fields the kernel reads.
	let fd = unsafe { libc::syscall(SYS_LANDLOCK_CREATE_RULESET, &attr as *const RulesetAttr, size as usize, 0u32) };
	if fd < 0 {
		return Err(SandboxError::Landlock(io::Error::last_os_error()));
	}
	let ruleset = Ruleset { fd: fd as RawFd };
	let add = |path: &Path, rights: u64| -> Result<(), SandboxError> {
		let Ok(c) = CString::new(path.as_os_str().as_encoded_bytes()) else { return Ok(()) };
		// SAFETY: c is a valid NUL-terminated path.
		let pfd = unsafe { libc::open(c.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
		if pfd < 0 {
			// A path that does not exist grants nothing.
			return Ok(());
		}
		let is_dir = std::fs::metadata(path).map(|m| m.is_dir()).unwrap_or(false);
		let allowed = if is_dir { rights & fs } else { rights & fs & FILE_RIGHTS };
		let rule = PathBeneathAttr { allowed_access: allowed, parent_fd: pfd };
		// SAFETY: rule outlives the call; fds are valid.
		let r = unsafe {
			libc::syscall(
				SYS_LANDLOCK_ADD_RULE,
				ruleset.fd,
				LANDLOCK_RULE_PATH_BENEATH,
				&rule as *const PathBeneathAttr,
				0u32,
			)
		};
		// SAFETY: pfd is ours.
		unsafe { libc::close(pfd) };
		if r < 0 {
			return Err(SandboxError::Landlock(io::Error::last_os_error()));
		}
		Ok(())
	};
	for dir in &profile.read_dirs {
		add(dir, READ_ONLY)?;
	}
	for file in &profile.read_files {
		add(file, FS_READ_FILE)?;
	}
	add(Path::new("/dev/null"), FS_READ_FILE | FS_WRITE_FILE)?;
	add(Path::new("/dev/urandom"), FS_READ_FILE)?;
	add(&profile.scratch, fs)?;
	Ok(ruleset)
}

/// Keeps a prepared Landlock ruleset open until the child has been
/// spawned (the child applies it between fork and exec).
pub struct Confinement(#[allow(dead_code)] Option<Ruleset>);

/// Cuts the calling (forked, single-threaded) process off the network:
/// a new network namespace, with a user namespace if not privileged.
/// Only system calls, so it is safe between fork and exec.
fn unshare_network() -> bool {
	// SAFETY: unshare takes flags only.
	unsafe { libc::unshare(libc::CLONE_NEWNET) == 0 || libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) == 0 }
}

/// Applies `profile` to `command`: the child isolates itself after `fork`
/// and before `exec`. The returned value must live until the child has
/// been spawned.
pub fn confine(command: &mut Command, profile: &Profile) -> Result<Confinement, SandboxError> {
	let abi = landlock_abi();
	let ruleset = if abi > 0 { Some(build_ruleset(profile, abi)?) } else { None };
	let ruleset_fd = ruleset.as_ref().map(|r| r.fd);
	let landlock_net = abi >= 4;
	let memory = profile.memory_bytes;
	let memory_max = profile.memory_max_bytes.max(memory);
	let cpu = profile.cpu_seconds;
	// SAFETY: the closure only makes async-signal-safe system calls (no
	// allocation, no locks), as required between fork and exec.
	unsafe {
		command.pre_exec(move || {
			if libc::setsid() < 0 {
				return Err(io::Error::last_os_error());
			}
			if !unshare_network() && !landlock_net {
				return Err(io::Error::from_raw_os_error(libc::EPERM));
			}
			let limit = |resource, value: u64| {
				let l = libc::rlimit { rlim_cur: value, rlim_max: value };
				libc::setrlimit(resource, &l)
			};
			let address_space = libc::rlimit { rlim_cur: memory, rlim_max: memory_max };
			libc::setrlimit(libc::RLIMIT_AS, &address_space);
			limit(libc::RLIMIT_CPU, cpu);
			limit(libc::RLIMIT_CORE, 0);
			limit(libc::RLIMIT_NOFILE, 512);
			limit(libc::RLIMIT_FSIZE, 4 << 30);
			if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
				return Err(io::Error::last_os_error());
			}
			if let Some(fd) = ruleset_fd {
				if libc::syscall(SYS_LANDLOCK_RESTRICT_SELF, fd, 0u32) != 0 {
					return Err(io::Error::last_os_error());
				}
			}
			Ok(())
		});
	}
	Ok(Confinement(ruleset))
}

/// Checks once, at start-up, that task code can be cut off from the
/// network here.
pub fn check_available() -> Result<(), SandboxError> {
	if landlock_abi() >= 4 {
		return Ok(());
	}
	let mut probe = Command::new("/bin/true");
	probe.env_clear();
	// SAFETY: only unshare, async-signal-safe.
	unsafe {
		probe.pre_exec(|| if unshare_network() { Ok(()) } else { Err(io::Error::last_os_error()) });
	}
	if probe.status().map(|s| s.success()).unwrap_or(false) {
		Ok(())
	} else {
		Err(SandboxError::NoNetworkIsolation)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn profile(scratch: &Path) -> Profile {
		Profile {
			read_dirs: vec!["/usr".into(), "/lib".into(), "/lib64".into(), "/bin".into(), "/etc".into()],
			read_files: vec![],
			scratch: scratch.to_path_buf(),
			memory_bytes: 1 << 30,
			memory_max_bytes: 1 << 30,
			cpu_seconds: 10,
		}
	}

	fn sh(script: &str, p: &Profile) -> (bool, String) {
		let mut c = Command::new("/bin/sh");
		c.arg("-c").arg(script).current_dir(&p.scratch);
		let _guard = confine(&mut c, p).unwrap();
		let out = c.output().unwrap();
		(out.status.success(), String::from_utf8_lossy(&out.stderr).to_string())
	}

	#[test]
	fn the_sandbox_cuts_the_network_and_foreign_files() {
		check_available().unwrap();
		let scratch = tempfile::tempdir().unwrap();
		let secret_dir = tempfile::tempdir().unwrap();
		std::fs::write(secret_dir.path().join("secret"), "x").unwrap();
		let p = profile(scratch.path());
		// Writing the scratch folder works.
		assert!(sh("echo hi > out && cat out", &p).0);
		// Another folder is invisible.
		let (ok, _) = sh(&format!("cat {}/secret", secret_dir.path().display()), &p);
		assert!(!ok, "read a file outside the sandbox");
		// No network: a listener on this host's loopback is unreachable from
		// inside, though reachable from outside.
		let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
		let port = listener.local_addr().unwrap().port();
		let connect =
			format!("python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5)\"");
		let outside = Command::new("/bin/sh").arg("-c").arg(&connect).status().unwrap();
		assert!(outside.success(), "the check itself must be able to connect");
		let (ok, err) = sh(&connect, &p);
		assert!(!ok, "connected from inside the sandbox");
		assert!(err.contains("Error"), "{err}");
	}
}
