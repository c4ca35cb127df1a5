//! `palaver serve` under systemd (`Type=notify`): with `NOTIFY_SOCKET` set, the server sends
//! `READY=1` once it accepts clients, `RELOADING=1` and `READY=1` around a SIGHUP's reload,
//! and `STOPPING=1` when a SIGTERM begins shutdown; received here on a real datagram socket,
//! as systemd would, at a path and in the abstract namespace.

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

use common::{Options, TempDir, serve_with};

/// How long a test waits for anything before declaring the binary broken.
const PATIENCE: Duration = Duration::from_secs(20);

/// The next notification on `socket`.
fn notification(socket: &UnixDatagram) -> String {
    let mut buffer = [0; 1024];
    let length = socket
        .recv(&mut buffer)
        .expect("a notification within the patience");
    String::from_utf8(buffer[..length].to_vec()).expect("UTF-8")
}

/// Starts a server notifying `notify_socket` (read on `socket`) and follows it through a
/// reload and a shutdown.
fn follow_a_server_through_its_life(socket: &UnixDatagram, notify_socket: &str) {
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let server = serve_with(
        &[],
        Options {
            envs: &[("NOTIFY_SOCKET", notify_socket)],
            ..Options::default()
        },
    );
    assert_eq!(notification(socket), "READY=1\nSTATUS=serving");
    server.process.signal("HUP");
    assert_eq!(
        notification(socket),
        "RELOADING=1\nSTATUS=reloading the configuration"
    );
    assert_eq!(notification(socket), "READY=1\nSTATUS=serving");
    server.process.signal("TERM");
    assert_eq!(notification(socket), "STOPPING=1\nSTATUS=shutting down");
    let mut process = server.process;
    let (status, _) = process.wait_exit();
    assert!(status.success(), "{}", process.stderr_text());
}

#[test]
fn a_server_tells_systemd_at_a_socket_path_when_it_is_ready_reloading_and_stopping() {
    let directory = TempDir::new("notify");
    let path = directory.path.join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    follow_a_server_through_its_life(&socket, path.to_str().unwrap());
}

#[test]
fn a_notify_socket_in_the_abstract_namespace_is_reached_too() {
    let name = format!("palaver-notify-test-{}", std::process::id());
    let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&address).unwrap();
    follow_a_server_through_its_life(&socket, &format!("@{name}"));
}

/// `dist/palaver.service` as systemd itself reads it (`systemd-analyze verify`: every
/// directive known and well-formed, the binary there, the man page it names found), with
/// this build's binary and man pages in place of the installed ones. Skipped (saying so)
/// where systemd's tools are not installed.
#[test]
fn the_service_unit_is_one_systemd_accepts_without_a_warning() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: systemd-analyze is not installed");
        return;
    }
    let unit = include_str!("../../../dist/palaver.service");
    let directory = TempDir::new("unit");
    let binary = env!("CARGO_BIN_EXE_palaver");
    let unit_file = directory.path.join("palaver.service");
    std::fs::write(&unit_file, unit.replace("/usr/bin/palaver", binary)).unwrap();
    let pages = directory.path.join("man").join("man1");
    let made = std::process::Command::new(binary)
        .arg("man")
        .arg(&pages)
        .status()
        .unwrap();
    assert!(made.success());
    let verified = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_file)
        .env("MANPATH", directory.path.join("man"))
        .current_dir(&directory.path)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        verified.status.success() && said.trim().is_empty(),
        "{said}"
    );
}
