#!/usr/bin/env python3
"""One table of a comparison's results: a row per workload and server.

    python3 bench/tabulate.py DIR

DIR is bench/compare.sh's output directory: commands.txt names the runs (one
`palaver bench … --plot DIR/WORKLOAD-SERVER.svg` line each) and WORKLOAD-SERVER.json holds each
run's report (missing if the run failed). Prints a Markdown table; standard library only.
"""

import json
import re
import sys
from pathlib import Path

COLUMNS = [
    "workload",
    "server",
    "deliveries/s (offered)",
    "p50 ms",
    "p99 ms",
    "lost",
    "server µs CPU / delivery (/ client¹)",
    "server cores¹",
    "generator cores¹",
    "connect s (failed)",
    "server KiB RSS / client",
]


def number(value, digits=0):
    """A number for the table, or a dash when the report has none."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def row(workload, server, report):
    if report is None:
        return [workload, server, "run failed"] + [""] * (len(COLUMNS) - 3)
    latency = report.get("latency") or {}
    if report["mode"] == "idle":
        deliveries = "–"
    else:
        offered = report.get("offered_deliveries_per_s")
        achieved = number(report["achieved_deliveries_per_s"])
        deliveries = f"{achieved} ({number(offered)})" if offered is not None else achieved
    per_client = report.get("server_rss_per_client_bytes")
    connect = f"{report['connect_s']:.2f} ({report['failed_to_connect']})"
    idle = report["mode"] == "idle"
    lost = None if idle else report["lost"] + report["duplicates"]
    if idle:
        # Nothing happens while idle clients are held: the work was connecting them.
        cpu = number(report.get("server_cpu_us_per_connect"), 0) + " / client"
        server_cores = report.get("server_cpu_cores_connecting")
        generator_cores = report.get("generator_cpu_cores_connecting")
    else:
        cpu = number(report.get("server_cpu_us_per_delivery"), 2)
        server_cores = report.get("server_cpu_cores")
        generator_cores = report.get("generator_cpu_cores")
    return [
        workload,
        server,
        deliveries,
        number(latency.get("p50_ms"), 2),
        number(latency.get("p99_ms"), 2),
        number(lost),
        cpu,
        number(server_cores, 2),
        number(generator_cores, 2),
        connect,
        number(per_client / 1024 if per_client is not None else None, 1),
    ]


def read_report(path):
    """The JSON report at `path`, or None if the run left none (it failed, or is running)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    directory = Path(sys.argv[1])
    runs = re.findall(r"--plot \S*/([^/\s]+)\.svg", (directory / "commands.txt").read_text())
    rows = []
    for name in runs:
        workload, server = name.rsplit("-", 1)
        path = directory / f"{name}.json"
        report = read_report(path)
        rows.append(row(workload, server, report))
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "|".join("---" for _ in COLUMNS) + "|")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print("lost: expected deliveries that never arrived, plus duplicates. connect: seconds until")
    print("every client was registered and in its room, and how many never were. ¹ While")
    print("measuring; for the workloads without senders (w3, w4), while connecting, per client")
    print(f"connected. Raw reports: {directory}/*.json; plots: *.svg; commands: commands.txt.")


if __name__ == "__main__":
    main()
