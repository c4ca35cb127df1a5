#!/usr/bin/env bash
# Builds palaver's Debian package, target/debian/palaver_VERSION_ARCH.deb, with cargo-deb
# (installed with `cargo install cargo-deb --locked` if missing): the release binary, the
# systemd unit, the example configuration as /etc/palaver/palaver.toml, the documentation, and
# the man pages and shell completions, generated here by the binary itself.
#
#   dist/deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --quiet
cargo build --release --locked -p palaver
release=target/release
rm -rf "$release/man" "$release/completions"
"$release/palaver" man "$release/man"
mkdir -p "$release/completions"
"$release/palaver" completions bash > "$release/completions/palaver.bash"
"$release/palaver" completions zsh > "$release/completions/_palaver"
"$release/palaver" completions fish > "$release/completions/palaver.fish"
# Stripped: the release profile keeps line tables for profiling, which a package need not carry.
cargo deb -p palaver --no-build --strip --quiet
