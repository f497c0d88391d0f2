//! Who may be a member of a Delta network, and how to reach them.
//!
//! A data holder's worker registers three things under its account: a
//! display name for people, an endpoint (a libp2p multiaddr in text form)
//! where other workers reach it, and its libp2p peer id, against which
//! peers authenticate its Noise handshake. A malformed endpoint or peer id
//! would make a member unreachable or, worse, impersonable, so both are
//! checked before anything is stored.

use core::net::{Ipv4Addr, Ipv6Addr};

/// Longest display name accepted, in bytes of UTF-8.
pub const MAX_DISPLAY_NAME_LEN: u32 = 64;
/// Longest endpoint accepted, in bytes.
pub const MAX_ENDPOINT_LEN: u32 = 256;
/// Longest peer id accepted, in bytes (an identity multihash of an Ed25519
/// key is 38 bytes, a SHA-256 multihash 34).
pub const MAX_PEER_ID_LEN: u32 = 64;

/// Why a display name is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayNameError {
	/// The name is empty or only whitespace.
	Empty,
	/// The name is longer than [`MAX_DISPLAY_NAME_LEN`] bytes.
	TooLong,
	/// The name is not UTF-8 or contains control characters.
	Invalid,
}

/// Why an endpoint is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointError {
	/// The endpoint is longer than [`MAX_ENDPOINT_LEN`] bytes.
	TooLong,
	/// The endpoint is not a multiaddr of the accepted shape; see
	/// [`validate_endpoint`].
	Malformed(MalformedEndpoint),
}

/// The specific way a multiaddr is malformed, so a user can fix it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedEndpoint {
	/// Not ASCII text starting with `/`.
	NotMultiaddrText,
	/// A protocol name Delta does not know.
	UnknownProtocol,
	/// A protocol that needs a value (address, port, peer id) has none.
	MissingValue,
	/// An `/ip4/` or `/ip6/` value that is not an IP address.
	BadIpAddress,
	/// A `/dns*/` value that is not a host name.
	BadHostName,
	/// A `/tcp/` or `/udp/` value that is not a port number.
	BadPort,
	/// A `/p2p/` value that is not a valid base58 peer id.
	BadPeerId,
	/// The address does not start with a host (`ip4`, `ip6`, `dns*`)
	/// followed by a transport port (`tcp`, `udp`).
	NoHostAndPort,
}

/// Why a peer id is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerIdError {
	/// The peer id is longer than [`MAX_PEER_ID_LEN`] bytes.
	TooLong,
	/// The bytes are not a libp2p peer id (an identity multihash of a
	/// protobuf public key, or a SHA-256 multihash).
	Malformed,
}

/// Checks a display name: non-empty UTF-8 without control characters.
pub fn validate_display_name(name: &[u8]) -> Result<(), DisplayNameError> {
	if name.len() > MAX_DISPLAY_NAME_LEN as usize {
		return Err(DisplayNameError::TooLong);
	}
	let text = core::str::from_utf8(name).map_err(|_| DisplayNameError::Invalid)?;
	if text.chars().any(char::is_control) {
		return Err(DisplayNameError::Invalid);
	}
	if text.trim().is_empty() {
		return Err(DisplayNameError::Empty);
	}
	Ok(())
}

/// Checks that `endpoint` is a multiaddr in text form that a worker can dial.
///
/// Accepted shape: a host (`/ip4/<addr>`, `/ip6/<addr>`, `/dns/<name>`,
/// `/dns4/<name>`, `/dns6/<name>`), then a port (`/tcp/<n>` or `/udp/<n>`),
/// then any of `/quic-v1`, `/ws`, `/wss`, `/tls`, `/noise`, `/p2p/<peer id>`.
/// Example: `/ip4/127.0.0.1/tcp/4001`.
pub fn validate_endpoint(endpoint: &[u8]) -> Result<(), EndpointError> {
	use MalformedEndpoint as M;
	if endpoint.len() > MAX_ENDPOINT_LEN as usize {
		return Err(EndpointError::TooLong);
	}
	let malformed = |m: MalformedEndpoint| EndpointError::Malformed(m);
	let text = core::str::from_utf8(endpoint).map_err(|_| malformed(M::NotMultiaddrText))?;
	if !text.is_ascii() || !text.starts_with('/') || text.len() < 2 {
		return Err(malformed(M::NotMultiaddrText));
	}
	let mut parts = text[1..].split('/');
	let mut position = 0usize;
	while let Some(protocol) = parts.next() {
		let mut value = || parts.next().filter(|v| !v.is_empty()).ok_or(malformed(M::MissingValue));
		match (position, protocol) {
			(0, "ip4") => {
				value()?.parse::<Ipv4Addr>().map_err(|_| malformed(M::BadIpAddress))?;
			},
			(0, "ip6") => {
				value()?.parse::<Ipv6Addr>().map_err(|_| malformed(M::BadIpAddress))?;
			},
			(0, "dns" | "dns4" | "dns6") => {
				if !is_host_name(value()?) {
					return Err(malformed(M::BadHostName));
				}
			},
			(1, "tcp" | "udp") => {
				value()?.parse::<u16>().map_err(|_| malformed(M::BadPort))?;
			},
			(p, "quic-v1" | "ws" | "wss" | "tls" | "noise") if p >= 2 => {},
			(p, "p2p") if p >= 2 => {
				let id = crate::base58::decode(value()?).map_err(|_| malformed(M::BadPeerId))?;
				validate_peer_id(&id).map_err(|_| malformed(M::BadPeerId))?;
			},
			(
				_,
				"ip4" | "ip6" | "dns" | "dns4" | "dns6" | "tcp" | "udp" | "quic-v1" | "ws" | "wss" |
				"tls" | "noise" | "p2p",
			) => return Err(malformed(M::NoHostAndPort)),
			_ => return Err(malformed(M::UnknownProtocol)),
		}
		position += 1;
	}
	if position < 2 {
		return Err(malformed(M::NoHostAndPort));
	}
	Ok(())
}

fn is_host_name(name: &str) -> bool {
	let name = name.strip_suffix('.').unwrap_or(name);
	!name.is_empty() &&
		name.len() <= 253 &&
		name.split('.').all(|label| {
			!label.is_empty() &&
				label.len() <= 63 &&
				!label.starts_with('-') &&
				!label.ends_with('-') &&
				label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
		})
}

/// Reads an unsigned LEB128 varint of at most 9 bytes, as multiformats do.
fn read_varint(bytes: &[u8]) -> Option<(u64, &[u8])> {
	let mut value = 0u64;
	for (i, byte) in bytes.iter().enumerate().take(9) {
		value |= u64::from(byte & 0x7f) << (7 * i);
		if byte & 0x80 == 0 {
			// Minimal encoding only: a trailing zero byte is not canonical.
			if i > 0 && *byte == 0 {
				return None;
			}
			return Some((value, &bytes[i + 1..]));
		}
	}
	None
}

const MULTIHASH_IDENTITY: u64 = 0x00;
const MULTIHASH_SHA2_256: u64 = 0x12;
/// libp2p inlines public keys of at most this many bytes (identity multihash).
const MAX_INLINE_KEY_LEN: u64 = 42;

/// Checks that `peer_id` is the binary form of a libp2p peer id.
///
/// A libp2p peer id is a multihash of the peer's protobuf-encoded public key:
/// the identity multihash (the key itself) for small keys such as Ed25519
/// and Secp256k1, SHA-256 for larger ones.
pub fn validate_peer_id(peer_id: &[u8]) -> Result<(), PeerIdError> {
	if peer_id.len() > MAX_PEER_ID_LEN as usize {
		return Err(PeerIdError::TooLong);
	}
	let (code, rest) = read_varint(peer_id).ok_or(PeerIdError::Malformed)?;
	let (len, digest) = read_varint(rest).ok_or(PeerIdError::Malformed)?;
	if digest.len() as u64 != len {
		return Err(PeerIdError::Malformed);
	}
	match code {
		MULTIHASH_SHA2_256 if len == 32 => Ok(()),
		MULTIHASH_IDENTITY if len <= MAX_INLINE_KEY_LEN => validate_inline_public_key(digest),
		_ => Err(PeerIdError::Malformed),
	}
}

/// Checks the protobuf `PublicKey { KeyType Type = 1; bytes Data = 2; }`
/// that an identity multihash carries.
fn validate_inline_public_key(key: &[u8]) -> Result<(), PeerIdError> {
	const ED25519: u8 = 1;
	const SECP256K1: u8 = 2;
	match key {
		[0x08, key_type, 0x12, len, data @ ..] if usize::from(*len) == data.len() => {
			match (*key_type, data.len()) {
				(ED25519, 32) | (SECP256K1, 33) => Ok(()),
				_ => Err(PeerIdError::Malformed),
			}
		},
		_ => Err(PeerIdError::Malformed),
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use alloc::vec::Vec;
	use proptest::prelude::*;

	/// The binary peer id libp2p derives from an Ed25519 public key. Any 32
	/// bytes form a well-shaped id, which is all a ledger can check.
	fn ed25519_peer_id(key: [u8; 32]) -> Vec<u8> {
		let mut id = vec![0x00, 0x24, 0x08, 0x01, 0x12, 0x20];
		id.extend_from_slice(&key);
		id
	}

	#[test]
	fn accepts_real_peer_ids() {
		// A peer id printed by rust-libp2p for an Ed25519 key.
		let text = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";
		let bytes = crate::base58::decode(text).unwrap();
		assert_eq!(validate_peer_id(&bytes), Ok(()));
		assert_eq!(bytes.len(), 38);
		assert_eq!(validate_peer_id(&ed25519_peer_id([7; 32])), Ok(()));
		// A SHA-256 multihash id (RSA keys), e.g. the classic `Qm...` form.
		let qm = crate::base58::decode("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N").unwrap();
		assert_eq!(validate_peer_id(&qm), Ok(()));
	}

	#[test]
	fn rejects_malformed_peer_ids() {
		assert_eq!(validate_peer_id(&[]), Err(PeerIdError::Malformed));
		assert_eq!(validate_peer_id(b"alice"), Err(PeerIdError::Malformed));
		// Length prefix disagrees with the content.
		let mut short = ed25519_peer_id([1; 32]);
		short.pop();
		assert_eq!(validate_peer_id(&short), Err(PeerIdError::Malformed));
		// Unknown key type inside the identity multihash.
		let mut bad_type = ed25519_peer_id([1; 32]);
		bad_type[3] = 9;
		assert_eq!(validate_peer_id(&bad_type), Err(PeerIdError::Malformed));
		// SHA-256 multihash with a wrong digest length.
		let mut sha = vec![0x12, 0x10];
		sha.extend_from_slice(&[0; 16]);
		assert_eq!(validate_peer_id(&sha), Err(PeerIdError::Malformed));
		// Unknown multihash code.
		let mut other = vec![0x13, 0x20];
		other.extend_from_slice(&[0; 32]);
		assert_eq!(validate_peer_id(&other), Err(PeerIdError::Malformed));
		assert_eq!(validate_peer_id(&[0u8; 65]), Err(PeerIdError::TooLong));
	}

	#[test]
	fn accepts_dialable_endpoints() {
		for ok in [
			"/ip4/127.0.0.1/tcp/4001",
			"/ip6/::1/tcp/30333",
			"/dns4/holder-1.example.org/tcp/443/wss",
			"/dns/worker/udp/9000/quic-v1",
			"/ip4/10.0.0.2/tcp/4001/p2p/12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA",
		] {
			assert_eq!(validate_endpoint(ok.as_bytes()), Ok(()), "{ok}");
		}
	}

	#[test]
	fn names_the_fault_in_malformed_endpoints() {
		use MalformedEndpoint as M;
		let cases: &[(&str, MalformedEndpoint)] = &[
			("", M::NotMultiaddrText),
			("127.0.0.1:4001", M::NotMultiaddrText),
			("/", M::NotMultiaddrText),
			("/ip4/300.0.0.1/tcp/1", M::BadIpAddress),
			("/ip6/not-an-ip/tcp/1", M::BadIpAddress),
			("/ip4/1.2.3.4/tcp/70000", M::BadPort),
			("/ip4/1.2.3.4/tcp/", M::MissingValue),
			("/ip4/1.2.3.4/tcp", M::MissingValue),
			("/dns4/-bad-.org/tcp/1", M::BadHostName),
			("/ip4/1.2.3.4", M::NoHostAndPort),
			("/tcp/1/ip4/1.2.3.4", M::NoHostAndPort),
			("/ip4/1.2.3.4/tcp/1/ip4/1.2.3.4", M::NoHostAndPort),
			("/ip4/1.2.3.4/tcp/1/p2p/0OIl", M::BadPeerId),
			("/ip4/1.2.3.4/tcp/1/p2p/2NEpo7TZRRrLZSi2U", M::BadPeerId),
			("/unix/tmp/sock", M::UnknownProtocol),
			("/ip4/1.2.3.4/sctp/1", M::UnknownProtocol),
		];
		for (text, fault) in cases {
			assert_eq!(
				validate_endpoint(text.as_bytes()),
				Err(EndpointError::Malformed(*fault)),
				"{text}"
			);
		}
		assert_eq!(validate_endpoint(&[b'/'; 257]), Err(EndpointError::TooLong));
		assert_eq!(
			validate_endpoint(&[b'/', 0xff, 0xfe]),
			Err(EndpointError::Malformed(M::NotMultiaddrText))
		);
	}

	#[test]
	fn display_names() {
		assert_eq!(validate_display_name("Charité Hospital".as_bytes()), Ok(()));
		assert_eq!(validate_display_name(b""), Err(DisplayNameError::Empty));
		assert_eq!(validate_display_name(b"   "), Err(DisplayNameError::Empty));
		assert_eq!(validate_display_name(b"bad\nname"), Err(DisplayNameError::Invalid));
		assert_eq!(validate_display_name(&[0xc3]), Err(DisplayNameError::Invalid));
		assert_eq!(validate_display_name(&[b'a'; 65]), Err(DisplayNameError::TooLong));
		assert_eq!(validate_display_name(&[b'a'; 64]), Ok(()));
	}

	proptest! {
		#[test]
		fn endpoint_validation_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
			let _ = validate_endpoint(&bytes);
		}

		#[test]
		fn peer_id_validation_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
			let _ = validate_peer_id(&bytes);
		}

		#[test]
		fn any_ed25519_key_makes_a_valid_peer_id(key in any::<[u8; 32]>()) {
			let id = ed25519_peer_id(key);
			prop_assert_eq!(validate_peer_id(&id), Ok(()));
			let text = alloc::format!("/ip4/127.0.0.1/tcp/1/p2p/{}", crate::base58::encode(&id));
			prop_assert_eq!(validate_endpoint(text.as_bytes()), Ok(()));
		}

		#[test]
		fn ports_in_range_are_accepted(port in any::<u16>()) {
			let text = alloc::format!("/ip4/127.0.0.1/tcp/{port}");
			prop_assert_eq!(validate_endpoint(text.as_bytes()), Ok(()));
		}
	}
}
