#!/usr/bin/env bash
# Installs the package `dist/deb.sh` built (dpkg -i, as root), checks what it put where, starts
# the installed server with the installed configuration and has it serve the web client, then
# removes the package (the edited configuration stays) and purges it (nothing stays).
#
#   dist/test-deb.sh
set -euo pipefail
cd "$(dirname "$0")/.."

fail() {
    echo "test-deb: $*" >&2
    exit 1
}

deb=$(ls -t target/debian/palaver_*.deb | head -n1)
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge palaver >/dev/null 2>&1 || true' EXIT

/usr/bin/palaver --version
for file in /lib/systemd/system/palaver.service /etc/palaver/palaver.toml \
    /usr/share/man/man1/palaver.1 /usr/share/man/man1/palaver-serve.1 \
    /usr/share/bash-completion/completions/palaver /usr/share/zsh/vendor-completions/_palaver \
    /usr/share/fish/vendor_completions.d/palaver.fish /usr/share/doc/palaver/copyright \
    /usr/share/doc/palaver/contrib/grafana/palaver.json \
    /usr/share/doc/palaver/contrib/prometheus/palaver-alerts.yml; do
    [ -e "$file" ] || [ -e "$file.gz" ] || fail "$file is missing"
done
dpkg-query -W -f='${Conffiles}' palaver | grep -q ' /etc/palaver/palaver.toml ' ||
    fail "/etc/palaver/palaver.toml is not a conffile"
if command -v systemd-analyze >/dev/null && command -v man >/dev/null; then
    said=$(cd /tmp && systemd-analyze verify /lib/systemd/system/palaver.service 2>&1) ||
        fail "systemd-analyze verify: $said"
    [ -z "$said" ] || fail "systemd-analyze verify: $said"
fi

# The installed server with the installed configuration, on free loopback ports.
work=$(mktemp -d)
exec 3< <(exec env PALAVER_DB="$work/palaver.db" /usr/bin/palaver serve \
    --config /etc/palaver/palaver.toml --text-listen 127.0.0.1:0 --irc-listen 127.0.0.1:0 \
    --web-listen 127.0.0.1:0 2>"$work/stderr")
server=$!
web=
line=
while read -r -t 30 line <&3; do
    case $line in
        "listening web "*) web=${line#listening web } ;;
        ready) break ;;
    esac
done
[ "$line" = ready ] || fail "the installed server did not become ready: $(cat "$work/stderr")"
exec 4<>"/dev/tcp/${web%:*}/${web##*:}"
printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$web" >&4
status=$(head -n1 <&4)
exec 4<&-
[[ $status == *" 200 "* ]] || fail "GET / answered: $status"
kill -TERM "$server"
while read -r -t 30 line <&3; do :; done
exec 3<&-
rm -rf "$work"

# Removing keeps the configuration; purging takes it too.
echo "# edited" >> /etc/palaver/palaver.toml
dpkg -r palaver >/dev/null
[ ! -e /usr/bin/palaver ] || fail "dpkg -r left /usr/bin/palaver"
[ -e /etc/palaver/palaver.toml ] || fail "dpkg -r removed the configuration"
dpkg --purge palaver >/dev/null
[ ! -e /etc/palaver/palaver.toml ] || fail "dpkg --purge left the configuration"
echo "test-deb: $deb installs, serves, removes and purges"
