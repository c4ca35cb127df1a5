//! Test support: an [`AppState`] with the [`Model`] the link keeps beside it, fed IRC lines as
//! the link would pass them on.

use std::ops::{Deref, DerefMut};

use palaver_proto::irc::Message;
use palaver_proto::time::Timestamp;

use super::state::AppState;
use crate::link::Incoming;
use crate::model::Model;

/// 01:02:03 UTC, the clock the tests pretend it is.
pub const NOW: Timestamp = Timestamp(3_723_000);

/// The state as `me` on `127.0.0.1:6667`, and the model beside it.
pub struct Fixture {
    pub model: Model,
    pub state: AppState,
}

impl Fixture {
    pub fn new() -> Self {
        Self {
            model: Model::new("me"),
            state: AppState::new("127.0.0.1:6667"),
        }
    }

    pub fn complete(&mut self) {
        self.state.complete(&self.model);
    }

    pub fn close_current(&mut self) -> Option<String> {
        self.state.close_current(&self.model)
    }

    /// The members of the current window's room.
    pub fn members(&self) -> Vec<String> {
        let name = &self.state.current().name;
        self.model
            .room(name)
            .map(|room| room.members.clone())
            .unwrap_or_default()
    }

    /// Whether the current window is a room we are in.
    pub fn joined(&self) -> bool {
        self.state.current().is_joined(&self.model)
    }
}

impl Deref for Fixture {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.state
    }
}

impl DerefMut for Fixture {
    fn deref_mut(&mut self) -> &mut AppState {
        &mut self.state
    }
}

/// Passes `line` through the model to the state, as the link does; returns what the link
/// passed on.
pub fn feed(fixture: &mut Fixture, line: &str) -> Incoming {
    let message = Message::parse(line).expect("valid IRC");
    let line = fixture.model.apply(&message, NOW);
    let incoming = Incoming {
        message,
        line,
        rejoin: false,
    };
    fixture.state.show(&fixture.model, &incoming, NOW);
    incoming
}
