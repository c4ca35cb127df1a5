"""irctest controller for palaver.

irctest (https://github.com/progval/irctest) is the IRC community's conformance suite. It
drives a server through a "controller" module named by `--controller`; this is palaver's.
It needs this directory on `PYTHONPATH` and the binary in `$PALAVER_BIN` (default: `palaver`
on `$PATH`); `run.sh` next to it does both and runs the selections CI runs.

palaver has accounts built in (SASL PLAIN, draft/account-registration, NickServ), so, like
Ergo's, this controller needs no services daemon: `registerUser` registers accounts through
palaver's own plain-text protocol, whose lines are long enough for any test's password.

A test that asks for TLS (`ssl=True`) gets palaver's IRC-over-TLS listener on its port, with
a self-signed certificate from `palaver gen-cert` (irctest's clients do not verify it).
"""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import List, Optional, Set, Tuple, Type

from irctest import patma
from irctest.basecontrollers import (
    BaseServerController,
    DirectoryBasedController,
    ProcessStopped,
)
from irctest.cases import BaseServerTestCase
from irctest.runner import NotImplementedByController
from irctest.specifications import Capabilities, OptionalBehaviors

# Every setting a test depends on, spelled out. irctest's fixtures use passwords as short as
# 3 bytes ("bar"), so the password minimum is lowered from its default of 8.
TEMPLATE_CONFIG = """\
[text]
history_on_join = 0

[irc]
ping_interval = "2m"
ping_timeout = "1m"
# What irctest expects every server to describe itself as (LINKS).
description = "test server"
history_on_join = 0
register_before_connect = {register_before_connect}

[store]
path = ":memory:"

[accounts]
nick_grace = "1m"
min_password_bytes = 1
require_email = {require_email}

[shutdown]
grace = "0s"

# irctest sends as fast as it can and counts on prompt answers (irctest's controllers turn
# other servers' flood control off as well).
[flood]
exempt_addresses = ["127.0.0.0/8", "::1"]

# irctest's tests OPER as "operuser" with password "operpassword" (as in its controllers for
# other servers).
[[oper]]
name = "operuser"
password_hash = "{oper_password_hash}"
"""

# How long palaver may take to print `ready`.
READY_TIMEOUT = 30.0
# How long a registration through the text protocol may take (argon2 hashing included).
REGISTER_TIMEOUT = 20.0


class PalaverController(BaseServerController, DirectoryBasedController):
    software_name = "palaver"
    supported_sasl_mechanisms: Set[str] = {"PLAIN", "SCRAM-SHA-256"}
    supports_sts = False
    nickserv = "NickServ"

    # What `CAP LS 302` offers that irctest knows (docs/PROTOCOL.md, "Capabilities").
    capabilities = frozenset(
        (
            Capabilities.ACCOUNT_NOTIFY,
            Capabilities.ACCOUNT_TAG,
            Capabilities.AWAY_NOTIFY,
            Capabilities.BATCH,
            Capabilities.ECHO_MESSAGE,
            Capabilities.EXTENDED_JOIN,
            Capabilities.EXTENDED_MONITOR,
            Capabilities.LABELED_RESPONSE,
            Capabilities.MESSAGE_REDACTION,
            Capabilities.MESSAGE_TAGS,
            Capabilities.MULTILINE,
            Capabilities.MULTI_PREFIX,
            Capabilities.READ_MARKER,
            Capabilities.SERVER_TIME,
            Capabilities.SETNAME,
        )
    )

    # docs/PROTOCOL.md: ban and invite exceptions; JOIN #a,#b; KICK #a nick,nick; NAMES #a,#b;
    # PRIVMSG with up to four targets; SASL before or after registration, and again to change
    # accounts; LIST filters by member count.
    optional_behaviors = frozenset(
        (
            OptionalBehaviors.BAN_EXCEPTION_MODE,
            OptionalBehaviors.ELIST_U,
            OptionalBehaviors.INVITE_EXCEPTION_MODE,
            OptionalBehaviors.MULTI_JOIN,
            OptionalBehaviors.MULTI_KICK,
            OptionalBehaviors.MULTI_NAMES_COMMAND,
            OptionalBehaviors.MULTI_PRIVMSG,
            OptionalBehaviors.SASL_AFTER_REGISTRATION,
            OptionalBehaviors.SASL_REAUTHENTICATION,
        )
    )

    isupport = {
        "BOT": "B",
        "CASEMAPPING": "ascii",
        "ELIST": patma.ANYSTR,
        "INVEX": "I",
        "MONITOR": patma.ANYSTR,
        "PREFIX": "(ov)@+",
        "TARGMAX": patma.ANYSTR,
        "STATUSMSG": "@+",
        "UTF8ONLY": None,
        "WHOX": None,
    }

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        # The text listener `registerUser` talks to, from palaver's `listening text` line.
        self.text_address: Optional[Tuple[str, int]] = None

    def create_config(self) -> None:
        super().create_config()
        with self.open_file("palaver.toml"):
            pass

    def run(
        self,
        hostname: str,
        port: int,
        *,
        password: Optional[str],
        ssl: bool,
        run_services: bool,
        faketime: Optional[str],
        websocket_hostname: Optional[str] = None,
        websocket_port: Optional[int] = None,
    ) -> None:
        assert self.proc is None
        self.port = port
        self.hostname = hostname
        self.create_config()
        assert self.directory

        binary = os.environ.get("PALAVER_BIN") or shutil.which("palaver") or "palaver"
        config_path = self.directory / "palaver.toml"
        config_path.write_text(
            TEMPLATE_CONFIG.format(
                register_before_connect=str(
                    self.test_config.account_registration_before_connect
                ).lower(),
                require_email=str(
                    self.test_config.account_registration_requires_email
                ).lower(),
                oper_password_hash=_oper_password_hash(binary),
            )
        )
        if ssl:
            subprocess.run(
                [binary, "gen-cert", "--out-dir", str(self.directory), "--force"],
                stdout=subprocess.DEVNULL,
                check=True,
            )
            listen = [
                "--irc-tls-listen",
                f"{hostname}:{port}",
                "--tls-cert",
                str(self.directory / "cert.pem"),
                "--tls-key",
                str(self.directory / "key.pem"),
            ]
        else:
            listen = ["--irc-listen", f"{hostname}:{port}"]
        args = [
            binary,
            "serve",
            "--config",
            str(config_path),
            *listen,
            # A port irctest reserved, not port 0: a port the kernel picks for palaver could be
            # the one irctest just picked (and released) for the IRC listener, and palaver would
            # then fail to bind it.
            "--text-listen",
            "{}:{}".format(*self.get_hostname_and_port()),
            "--server-name",
            "My.Little.Server",
        ]
        if password is not None:
            args += ["--irc-password", password]
        if websocket_port is not None:
            # IRC over WebSocket, on the web listener's /irc.
            args += ["--web-listen", f"{websocket_hostname or hostname}:{websocket_port}"]
            # irctest checks that a line one client sent arrived at another by having the
            # second send a PING at once and collecting what comes before its PONG: a race
            # between two connections that TCP clients win by the length of the sender's own
            # path, and a WebSocket's path (HTTP upgrade, frames) is a little longer. As
            # irctest's controllers for other servers do, give the server a moment first.
            self.sync_sleep_time = 0.05
        else:
            self.sync_sleep_time = 0.0

        # palaver's log goes to a file, so a start-up failure can say why.
        self.stderr_path = self.directory / "palaver.log"
        with open(self.stderr_path, "wb") as stderr:
            self.proc = self.execute(
                args,
                proc_name="palaver",
                stdout=subprocess.PIPE,
                stderr=None if self.debug_mode else stderr,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Waits for palaver's `ready` line (printed once every listener accepts
        connections), remembering the text listener's address from the `listening` lines
        before it."""
        assert self.proc and self.proc.stdout
        stdout = self.proc.stdout
        ready = threading.Event()
        lines: List[str] = []

        def reader() -> None:
            for raw in stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                if not ready.is_set():
                    lines.append(line)
                    words = line.split()
                    if words[:2] == ["listening", "text"]:
                        host, _, port = words[2].rpartition(":")
                        self.text_address = (host.strip("[]"), int(port))
                    if line.strip() == "ready":
                        ready.set()
                if self.debug_mode:
                    try:
                        sys.stdout.write(f"{time.time():.3f} palaver {line}\n")
                    except ValueError:
                        pass

        threading.Thread(target=reader, name="palaver_stdout", daemon=True).start()
        deadline = time.time() + READY_TIMEOUT
        while not ready.wait(0.01):
            self.proc.poll()
            if self.proc.returncode is not None:
                raise ProcessStopped(
                    f"palaver exited with {self.proc.returncode} before `ready`: "
                    f"{lines} {self._log_tail()}"
                )
            if time.time() > deadline:
                raise Exception(
                    f"palaver did not print `ready` in time: {lines} {self._log_tail()}"
                )
        self.port_open = True

    def _log_tail(self) -> str:
        """The end of palaver's log, for an error message."""
        try:
            text = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return "log: " + " | ".join(text.strip().splitlines()[-5:])

    def wait_for_services(self) -> None:
        # Accounts are built in: nothing to wait for.
        pass

    def registerUser(
        self,
        case: BaseServerTestCase,
        username: str,
        password: Optional[str] = None,
    ) -> None:
        """Registers account `username` with `password` as a text-protocol user would:
        `/nick username`, `/register password`, `/quit`. The connection is closed (and its
        nick free again) when this returns."""
        if not case.run_services:
            raise ValueError(
                "Attempted to register a nick, but `run_services` it not True."
            )
        assert password
        assert self.text_address, "palaver printed no `listening text` line"
        with socket.create_connection(self.text_address, timeout=REGISTER_TIMEOUT) as conn:
            lines = _TextLines(conn)
            conn.sendall(f"/nick {username}\n".encode())
            lines.until(lambda line: f"is now known as {username}" in line, username)
            conn.sendall(f"/register {password}\n".encode())
            lines.until(
                lambda line: f"account {username} registered" in line, username
            )
            conn.sendall(b"/quit\n")
            # palaver removes the user before it closes the connection: once the stream
            # ends, the nick is free for the test's clients.
            lines.until_closed()


_OPER_PASSWORD_HASHES = {}


def _oper_password_hash(binary: str) -> str:
    """The argon2id hash of irctest's operator password, made once per binary by
    `palaver hash-password` (which reads the password from standard input)."""
    if binary not in _OPER_PASSWORD_HASHES:
        result = subprocess.run(
            [binary, "hash-password"],
            input=b"operpassword\n",
            stdout=subprocess.PIPE,
            check=True,
        )
        _OPER_PASSWORD_HASHES[binary] = result.stdout.decode().strip()
    return _OPER_PASSWORD_HASHES[binary]


class _TextLines:
    """Reads a text-protocol connection line by line, failing on the first `!` line (an
    error) so that a refused registration says why."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.pending = b""

    def _next(self) -> Optional[str]:
        while b"\n" not in self.pending:
            data = self.conn.recv(4096)
            if not data:
                return None
            self.pending += data
        line, _, self.pending = self.pending.partition(b"\n")
        return line.decode(errors="replace")

    def until(self, wanted, username: str) -> None:  # type: ignore[no-untyped-def]
        seen = []
        while True:
            line = self._next()
            if line is None:
                raise AssertionError(
                    f"palaver closed the connection registering {username!r}: {seen}"
                )
            seen.append(line)
            if line.startswith("!"):
                raise AssertionError(
                    f"palaver refused to register {username!r}: {line}"
                )
            if wanted(line):
                return

    def until_closed(self) -> None:
        while self._next() is not None:
            pass


def get_irctest_controller_class() -> Type[PalaverController]:
    return PalaverController
