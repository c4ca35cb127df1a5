#!/usr/bin/env python3
"""A real, independent IRC client for palaver's end-to-end tests.

Drives jaraco's `irc` library (`irc.client`, its reactor API) through one short
conversation:

1. connect to --host/--port (over TLS, verifying the server against --tls-ca, if given) and
   register as --nick (NICK/USER, done by the library);
2. on the welcome (001), JOIN --channel;
3. once the server echoes our own JOIN, say --say (if given) in the channel;
4. wait until --expect-from says --expect-text in the channel (if given);
5. QUIT, wait for the server to close the connection, exit 0.

Every public message received is printed on stdout as `PUBMSG <nick> <text>` (flushed at
once), so a driving test can follow the conversation line by line. Everything else
(the raw traffic, both ways, and the reason for a failure) goes to stderr.

Exit status: 0 on success; 1 on a timeout (--timeout bounds the whole run), an early
disconnect, an ERROR or error numeric (4xx/5xx) from the server, or a line the library
cannot handle; 2 on bad arguments.
"""

import argparse
import logging
import ssl
import sys
import time

import irc.client
import irc.connection

PROG = "irc_client"

# Error numerics that do not mean the conversation failed.
BENIGN_ERRORS = {"422"}  # ERR_NOMOTD: the server has no message of the day


def log(message):
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="irc_client.py",
        description="Join an IRC channel, say something, wait for an expected reply.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="server host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, required=True, help="server IRC port")
    parser.add_argument(
        "--tls-ca",
        metavar="FILE",
        help="connect over TLS, trusting the certificate authority (or certificate) in FILE",
    )
    parser.add_argument("--nick", required=True, help="nickname to register")
    parser.add_argument("--user", help="USER name (default: the nick)")
    parser.add_argument("--realname", default="palaver e2e client", help="USER real name")
    parser.add_argument("--channel", required=True, help="channel to join, e.g. #e2e")
    parser.add_argument("--say", help="text to say in the channel once joined")
    parser.add_argument("--expect-from", metavar="NICK", help="wait for a message from NICK")
    parser.add_argument("--expect-text", metavar="TEXT", help="... whose text is exactly TEXT")
    parser.add_argument(
        "--timeout",
        type=float,
        default=20.0,
        help="seconds the whole run may take before failing (default 20)",
    )
    args = parser.parse_args(argv)
    if (args.expect_from is None) != (args.expect_text is None):
        parser.error("--expect-from and --expect-text go together")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


def same_name(a, b):
    """IRC names compare case-insensitively (ASCII folding is enough for these tests)."""
    return a.lower() == b.lower()


class Conversation:
    def __init__(self, args):
        self.args = args
        self.phase = "connecting"
        self.said = args.say is None
        self.heard = args.expect_from is None
        self.quitting = False
        self.closed = False
        self.last_line = None
        self.failure = None

    # -- event handlers --------------------------------------------------------------------

    def on_raw(self, connection, event):
        line = event.arguments[0]
        self.last_line = line
        log(f"<<< {line}")
        # An error numeric means the server refused something we did: fail loudly rather
        # than wait for the timeout. 422 (ERR_NOMOTD) is the one that is part of a normal
        # registration.
        command = raw_command(line)
        if command.isdigit() and 400 <= int(command) < 600 and command not in BENIGN_ERRORS:
            self.fail(f"server replied with error numeric {command}: {line!r}")

    def on_welcome(self, connection, event):
        self.phase = f"joining {self.args.channel}"
        connection.join(self.args.channel)

    def on_join(self, connection, event):
        if event.source.nick != connection.get_nickname():
            return
        if not same_name(event.target, self.args.channel):
            return
        self.phase = f"in {self.args.channel}"
        if self.args.say is not None and not self.said:
            connection.privmsg(self.args.channel, self.args.say)
            self.said = True
        self.maybe_finish(connection)

    def on_pubmsg(self, connection, event):
        nick = event.source.nick
        text = event.arguments[0]
        print(f"PUBMSG {nick} {text}", flush=True)
        if (
            not self.heard
            and same_name(event.target, self.args.channel)
            and same_name(nick, self.args.expect_from)
            and text == self.args.expect_text
        ):
            self.heard = True
            self.maybe_finish(connection)

    def on_error(self, connection, event):
        if not self.quitting:
            self.fail(f"server sent ERROR while {self.phase}: {event.target!r}")

    def on_disconnect(self, connection, event):
        self.closed = True
        if not self.quitting:
            self.fail(f"server closed the connection while {self.phase}")

    # -- progress ----------------------------------------------------------------------------

    def maybe_finish(self, connection):
        if self.said and self.heard and not self.quitting:
            self.quitting = True
            self.phase = "waiting for the server to close after QUIT"
            connection.quit("bye")

    def fail(self, message):
        if self.failure is None:
            self.failure = message

    @property
    def done(self):
        return self.quitting and self.closed


def raw_command(line):
    """The command (or numeric) of a raw IRC line, skipping tags and prefix."""
    words = [word for word in line.split(" ") if word]
    if words and words[0].startswith("@"):
        words.pop(0)
    if words and words[0].startswith(":"):
        words.pop(0)
    return words[0] if words else ""


class _TrafficFilter(logging.Filter):
    """Passes only the library's record of what it sends."""

    def filter(self, record):
        return record.getMessage().startswith("TO SERVER: ")


class _StripPrefix(logging.Formatter):
    def format(self, record):
        return f"{PROG}: >>> {record.getMessage().removeprefix('TO SERVER: ')}"


def main(argv):
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_TrafficFilter())
    handler.setFormatter(_StripPrefix())
    library_log = logging.getLogger("irc.client")
    library_log.setLevel(logging.DEBUG)
    library_log.addHandler(handler)
    library_log.propagate = False

    conversation = Conversation(args)
    reactor = irc.client.Reactor()
    reactor.add_global_handler("all_raw_messages", conversation.on_raw, -10)
    reactor.add_global_handler("welcome", conversation.on_welcome)
    reactor.add_global_handler("join", conversation.on_join)
    reactor.add_global_handler("pubmsg", conversation.on_pubmsg)
    reactor.add_global_handler("error", conversation.on_error)
    reactor.add_global_handler("disconnect", conversation.on_disconnect)

    def with_timeout(sock):
        # Bounds connect() and any blocking send; reads happen only after select().
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        return sock

    wrapper = with_timeout
    if args.tls_ca:
        # Python's own TLS, verifying the server's certificate and its name (an IP address
        # in the certificate's subject alternative names, for 127.0.0.1).
        context = ssl.create_default_context(cafile=args.tls_ca)

        def wrapper(sock):
            return context.wrap_socket(with_timeout(sock), server_hostname=args.host)

    try:
        reactor.server().connect(
            args.host,
            args.port,
            args.nick,
            username=args.user or args.nick,
            ircname=args.realname,
            connect_factory=irc.connection.Factory(wrapper=wrapper),
        )
    except irc.client.ServerConnectionError as error:
        log(f"cannot connect to {args.host}:{args.port}: {error}")
        return 1
    conversation.phase = "registering"

    try:
        while not conversation.done and conversation.failure is None:
            left = deadline - time.monotonic()
            if left <= 0:
                conversation.fail(
                    f"timed out after {args.timeout:g} s while {conversation.phase}"
                    + describe_wait(conversation)
                )
                break
            reactor.process_once(timeout=min(left, 0.5))
    except Exception as error:  # the library choked on something the server sent
        log(f"the irc library raised {type(error).__name__}: {error}")
        log(f"last line from the server: {conversation.last_line!r}")
        return 1
    finally:
        try:
            reactor.disconnect_all()
        except (OSError, irc.client.IRCError):
            pass

    if conversation.failure is not None:
        log(f"FAILED: {conversation.failure}")
        return 1
    log("done")
    return 0


def describe_wait(conversation):
    args = conversation.args
    if conversation.quitting:
        return ""
    if not conversation.said:
        return f" (never saw our own JOIN of {args.channel}, so never said {args.say!r})"
    if not conversation.heard:
        return f" (no message {args.expect_text!r} from {args.expect_from} in {args.channel})"
    return ""


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
