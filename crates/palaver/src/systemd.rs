//! Telling systemd how the server is doing (`Type=notify` units, `sd_notify(3)`): `READY=1`
//! once every listener accepts, `RELOADING=1` then `READY=1` around a SIGHUP's reload, and
//! `STOPPING=1` when shutdown begins. systemd names its socket in `NOTIFY_SOCKET`; without
//! it (not started by systemd) nothing is sent. A message that cannot be sent is logged and
//! the server goes on: it serves the same either way.

use std::io;
use std::os::unix::net::UnixDatagram;

/// The environment variable systemd sets for a `Type=notify` service.
const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// The server accepts clients.
pub fn ready() {
    notify("READY=1\nSTATUS=serving");
}

/// A SIGHUP's reload begins; [`ready`] follows once it is done.
pub fn reloading() {
    notify("RELOADING=1\nSTATUS=reloading the configuration");
}

/// Shutdown begins.
pub fn stopping() {
    notify("STOPPING=1\nSTATUS=shutting down");
}

fn notify(state: &str) {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    if let Err(error) = send(&socket, state) {
        tracing::warn!(%error, "cannot notify systemd");
    }
}

/// Sends `state` as one datagram to `socket`: a path, or with a leading `@` a name in the
/// abstract namespace.
fn send(socket: &std::ffi::OsStr, state: &str) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::SocketAddr;

    let name = socket.as_bytes();
    let address = match name.strip_prefix(b"@") {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name)?,
        None => SocketAddr::from_pathname(std::path::Path::new(socket))?,
    };
    UnixDatagram::unbound()?.send_to_addr(state.as_bytes(), &address)?;
    Ok(())
}
