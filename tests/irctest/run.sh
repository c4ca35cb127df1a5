#!/usr/bin/env bash
# Runs irctest, the IRC conformance suite, against a release build of palaver.
#
#   tests/irctest/run.sh IRCTEST_DIR [PYTEST_ARGS...]
#
# IRCTEST_DIR is a checkout of https://github.com/progval/irctest; it is only read (pytest's
# cache, temporary files and Python's bytecode go elsewhere). Runs the two selections irctest
# uses for servers with built-in accounts, prints irctest's summary line of each, and exits
# non-zero if any test failed or errored in either. Extra arguments go to pytest (e.g.
# `-k testKick` or `irctest/server_tests/kick.py`).
#
# Environment: PALAVER_BIN, a binary to test instead of building one; IRCTEST_KEEP, a
# directory to keep each selection's full log and JUnit XML in.
set -uo pipefail

if [ $# -lt 1 ] || [ ! -f "$1/conftest.py" ]; then
    echo "usage: $0 IRCTEST_DIR [PYTEST_ARGS...]  (IRCTEST_DIR: an irctest checkout)" >&2
    exit 2
fi
irctest_dir=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

if [ -z "${PALAVER_BIN:-}" ]; then
    cargo build --release --quiet --manifest-path "$repo/Cargo.toml" -p palaver || exit 1
    PALAVER_BIN="$repo/target/release/palaver"
fi
export PALAVER_BIN

work=$(mktemp -d "${TMPDIR:-/tmp}/palaver-irctest.XXXXXX")
trap 'rm -rf "$work"' EXIT
# The controller is imported from here; nothing is written into the irctest checkout.
export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

# Tests whose premise palaver does not share, each with the reason (see tests/irctest/README.md):
deselected=(
    # Expects services to be a separate server linked to the IRC server ("My.Little.Services"
    # in LINKS); palaver's accounts are built in, as Ergo's are, so there is no such server.
    "irctest/server_tests/links.py::ServicesLinksTestCase::testLinksWithServices"
    # Connects a second client with the nick the first one holds, logged in to the same
    # account (a bouncer-style "multiclient"); in palaver a nick is one connection.
    "irctest/server_tests/read_marker.py::ReadMarkerServiceTestCase::testReadMarkerPropagatedToOtherSessions"
)
deselect_args=()
for test in "${deselected[@]}"; do
    deselect_args+=(--deselect "$test")
done

selections=(
    "not services and not implementation-specific and not deprecated and not strict"
    "services and not implementation-specific and not deprecated and not strict"
)
names=(no-services services)
failed=0
summaries=()
for index in "${!selections[@]}"; do
    name=${names[$index]}
    log="$work/$name.log"
    echo "irctest ($name): -m \"${selections[$index]}\"" >&2
    (cd "$irctest_dir" && python3 -m pytest -p no:cacheprovider \
        --basetemp="$work/$name-tmp" \
        --controller palaver_controller \
        -m "${selections[$index]}" \
        --junitxml="$work/$name.xml" -rfE "${deselect_args[@]}" "$@") >"$log" 2>&1
    status=$?
    # pytest: 0 all passed, 1 some failed, 5 none selected; anything else is an error.
    if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
        failed=1
        grep -E '^(FAILED|ERROR) ' "$log" >&2
    fi
    summary=$(grep -E '^=+ .* in [0-9.]+s' "$log" | tail -n 1)
    summaries+=("$name: ${summary:-no summary (pytest exited with $status); log follows}")
    if [ -z "$summary" ]; then
        tail -n 50 "$log" >&2
    fi
    if [ -n "${IRCTEST_KEEP:-}" ]; then
        mkdir -p "$IRCTEST_KEEP"
        cp "$log" "$work/$name.xml" "$IRCTEST_KEEP/" 2>/dev/null
    fi
done
printf '%s\n' "${summaries[@]}"
exit "$failed"
