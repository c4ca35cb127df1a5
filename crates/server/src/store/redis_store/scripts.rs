//! The Lua scripts through which the store writes, so that each change is atomic (Redis runs a
//! script with nothing else in between), takes one round trip, and is checked against the
//! fence of a cluster node's lease in the same step (`fence.rs`). They live in
//! `scripts/`, embedded in the binary; `redis::Script` sends each by its SHA-1 (`EVALSHA`) and
//! loads it the first time Redis does not know it.

use redis::Script;

/// The fence (`fence.rs`), first in every script: each of them writes. The cluster's own
/// scripts that write start with it too.
pub(crate) const FENCE: &str = include_str!("scripts/fence.lua");

/// Storing a message, shared by the appends and by a cluster node's room messages
/// (`cluster/scripts/room_say.lua`).
pub(crate) const STORE_MESSAGE: &str = include_str!("scripts/store_message.lua");

/// Deleting a message, shared by every script that deletes messages.
const FORGET: &str = include_str!("scripts/forget.lua");

/// Every script, loaded once per store.
pub(super) struct Scripts {
    pub(super) append: Script,
    pub(super) delete_message: Script,
    pub(super) end_lifetime: Script,
    pub(super) prune_target: Script,
    pub(super) prune_floors: Script,
    pub(super) create_account: Script,
    pub(super) set_password: Script,
    pub(super) add_scram: Script,
    pub(super) set_account_lock: Script,
    pub(super) add_certificate: Script,
    pub(super) remove_certificate: Script,
    pub(super) set_read_marker: Script,
    pub(super) save_room: Script,
    pub(super) register_room: Script,
    pub(super) save_server_ban: Script,
    pub(super) delete_server_ban: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let writing = |body: &str| Script::new(&format!("{FENCE}\n{body}"));
        let deleting = |body: &str| Script::new(&format!("{FENCE}\n{FORGET}\n{body}"));
        Self {
            append: Script::new(&format!(
                "{FENCE}\n{STORE_MESSAGE}\n{}",
                include_str!("scripts/append.lua")
            )),
            delete_message: deleting(include_str!("scripts/delete_message.lua")),
            end_lifetime: deleting(include_str!("scripts/end_lifetime.lua")),
            prune_target: deleting(include_str!("scripts/prune_target.lua")),
            prune_floors: writing(include_str!("scripts/prune_floors.lua")),
            create_account: writing(include_str!("scripts/create_account.lua")),
            set_password: writing(include_str!("scripts/set_password.lua")),
            add_scram: writing(include_str!("scripts/add_scram.lua")),
            set_account_lock: writing(include_str!("scripts/set_account_lock.lua")),
            add_certificate: writing(include_str!("scripts/add_certificate.lua")),
            remove_certificate: writing(include_str!("scripts/remove_certificate.lua")),
            set_read_marker: writing(include_str!("scripts/set_read_marker.lua")),
            save_room: writing(include_str!("scripts/save_room.lua")),
            register_room: writing(include_str!("scripts/register_room.lua")),
            save_server_ban: writing(include_str!("scripts/save_server_ban.lua")),
            delete_server_ban: writing(include_str!("scripts/delete_server_ban.lua")),
        }
    }
}
