//! A connection to Redis that survives Redis restarting (or failing over to a replica). The
//! connection ([`RedisConnection`]) replaces a dead one, but only after a request has failed on
//! it: so every request that fails because the connection dropped (or reached a primary that
//! has become a replica) is sent once more, on the new one. A request
//! that Redis carried out before the connection died is then carried out twice: the stores'
//! writes are written so that this changes nothing (an append finds its message stored, and
//! says so; deleting, setting a marker or saving a room again is the same), except that a
//! registration retried so would report the name as taken.

use redis::aio::ConnectionLike;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind, Value};

use super::RedisConnection;

/// A [`RedisConnection`] whose requests are retried once when the connection dropped.
#[derive(Clone)]
pub(crate) struct Link(pub(crate) RedisConnection);

/// Whether `error` says the connection is gone, or reached a server that is no longer the
/// primary (`READONLY`: it did nothing), rather than that Redis refused the request.
pub(super) fn dropped(error: &RedisError) -> bool {
    error.is_connection_dropped()
        || error.is_io_error()
        || error.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

impl ConnectionLike for Link {
    fn req_packed_command<'a>(&'a mut self, command: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match self.0.req_packed_command(command).await {
                Err(error) if dropped(&error) => self.0.req_packed_command(command).await,
                answer => answer,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match self.0.req_packed_commands(pipeline, offset, count).await {
                Err(error) if dropped(&error) => {
                    self.0.req_packed_commands(pipeline, offset, count).await
                }
                answer => answer,
            }
        })
    }

    fn get_db(&self) -> i64 {
        self.0.get_db()
    }
}
