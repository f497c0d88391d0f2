//! The runtime API through which clients list members without knowing the
//! storage layout: `api.call.deltaIdentityApi.members()` in polkadot.js,
//! a runtime API call in subxt.

use crate::MemberInfo;
use alloc::vec::Vec;
use codec::Codec;

sp_api::decl_runtime_apis! {
	/// Read access to the member registry.
	pub trait DeltaIdentityApi<AccountId, BlockNumber>
	where
		AccountId: Codec,
		BlockNumber: Codec,
	{
		/// Every member with its record.
		fn members() -> Vec<(AccountId, MemberInfo<BlockNumber>)>;
		/// One member's record, if the account is a member.
		fn member(who: AccountId) -> Option<MemberInfo<BlockNumber>>;
		/// The member whose worker authenticates with this binary peer id.
		fn account_by_peer_id(peer_id: Vec<u8>) -> Option<AccountId>;
	}
}
