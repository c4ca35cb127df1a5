//! The Lua scripts that register, renew and remove a node, each atomic (`scripts/`, embedded;
//! sent by SHA-1 with `EVALSHA`, as the store's are).

use redis::Script;

pub(super) struct NodeScripts {
    pub(super) start: Script,
    pub(super) renew: Script,
    pub(super) stop: Script,
}

impl NodeScripts {
    pub(super) fn new() -> Self {
        Self {
            start: Script::new(include_str!("scripts/node_start.lua")),
            renew: Script::new(include_str!("scripts/renew.lua")),
            stop: Script::new(include_str!("scripts/node_stop.lua")),
        }
    }
}
