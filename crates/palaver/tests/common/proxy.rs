//! A TCP proxy in front of a test Redis (on its Unix socket) that can cut the link the way a
//! network partition does: silently. Once cut, nothing passes either way and nothing is
//! closed — the connections through it, and any made while it is cut, stay open and unanswered,
//! so the node behind it learns of the partition only from its own timeouts, as it would
//! from a dead switch. Redis's side of each connection is closed at the cut (Redis sees its
//! clients go, as it would once its TCP keepalive gave up). Healing closes the held
//! connections (the node reconnects) and lets new ones through.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A running proxy; it stops accepting when dropped (connections through it end with it).
pub struct Proxy {
    address: SocketAddr,
    shared: Arc<Shared>,
}

struct Shared {
    /// Redis's Unix socket.
    target: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    cut: bool,
    /// The connections passing now: the node's side and Redis's.
    passing: Vec<(TcpStream, UnixStream)>,
    /// The node's side of connections cut off, or made while cut: open, and silent.
    held: Vec<TcpStream>,
    stopped: bool,
}

impl Proxy {
    /// Starts a proxy on a free loopback port forwarding to the Unix socket `target`.
    pub fn start(target: PathBuf) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("the proxy's address");
        let shared = Arc::new(Shared {
            target,
            state: Mutex::new(State::default()),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if accepting.state.lock().unwrap().stopped {
                    return;
                }
                accepting.take(client);
            }
        });
        Self { address, shared }
    }

    /// The `redis://` URL a node reaches Redis through this proxy with.
    pub fn url(&self) -> String {
        format!("redis://{}", self.address)
    }

    /// Cuts the link: from now on nothing passes, and nothing is closed on the node's side.
    pub fn cut(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.cut = true;
        let passing = std::mem::take(&mut state.passing);
        for (client, server) in passing {
            let _ = server.shutdown(Shutdown::Both);
            state.held.push(client);
        }
    }

    /// Heals the link: the connections held while it was cut are closed, new ones pass.
    pub fn heal(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.cut = false;
        for client in state.held.drain(..) {
            let _ = client.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let mut state = self.shared.state.lock().unwrap();
        state.stopped = true;
        for (client, server) in state.passing.drain(..) {
            let _ = client.shutdown(Shutdown::Both);
            let _ = server.shutdown(Shutdown::Both);
        }
        for client in state.held.drain(..) {
            let _ = client.shutdown(Shutdown::Both);
        }
        // Wake the accepting thread so that it sees it is stopped.
        let _ = TcpStream::connect(self.address);
    }
}

impl Shared {
    /// Passes a new connection on to Redis, or holds it if the link is cut.
    fn take(self: &Arc<Self>, client: TcpStream) {
        let mut state = self.state.lock().unwrap();
        if state.cut {
            state.held.push(client);
            return;
        }
        let Ok(server) = UnixStream::connect(&self.target) else {
            // Redis is down: the node sees its connection closed, as it would.
            return;
        };
        let (Ok(client_reader), Ok(server_reader)) = (client.try_clone(), server.try_clone())
        else {
            return;
        };
        let (Ok(client_writer), Ok(server_writer)) = (client.try_clone(), server.try_clone())
        else {
            return;
        };
        std::thread::spawn(move || {
            copy(client_reader, server_writer, |server| {
                let _ = server.shutdown(Shutdown::Write);
            });
        });
        let shared = self.clone();
        std::thread::spawn(move || {
            copy(server_reader, client_writer, |client| {
                // Redis closed the connection: pass that on, unless the link was cut (then
                // the node must hear nothing).
                if !shared.state.lock().unwrap().cut {
                    let _ = client.shutdown(Shutdown::Write);
                }
            });
        });
        state.passing.push((client, server));
    }
}

/// Copies from `from` to `to` until either end fails or `from` ends, then calls `ended`.
fn copy<W: Write>(mut from: impl Read, mut to: W, ended: impl FnOnce(&mut W)) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => {
                if to.write_all(&buffer[..read]).is_err() {
                    return;
                }
            }
        }
    }
    ended(&mut to);
}
