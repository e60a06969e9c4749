#!/bin/sh
# make demo: run the main example offline and say where its outputs are.
set -eu
JUGGLE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")"
echo "== juggle demo: examples/cpu-bound.ini (the seed's CPU-bound case) =="
"$JUGGLE" -f cpu-bound.ini -b serial -B --report out/report.json
echo
echo "outputs: examples/out/   report: examples/out/report.json   log: examples/.juggle/logs/"
