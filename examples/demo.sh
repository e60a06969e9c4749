#!/bin/sh
# make demo: run the nightly report batch offline (its inputs come from
# examples/nightly/data through file://), on juggle's default backend, and
# say where the report, the archive and juggle's own report are.
set -u
JUGGLE=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
cd "$(dirname "$0")/nightly" || exit 1
here=$(pwd)

# The default backend is auto; a build without it falls back to serial.
backend=""
probe=$(mktemp -d)
: >"$probe/juggle.ini"
if ! "$JUGGLE" -C "$probe" -q >/dev/null 2>&1; then
	backend="-b serial"
	echo "note: this build has no default (auto) backend yet; running on the serial backend"
fi
rm -rf "$probe"

echo "== juggle demo: examples/nightly (offline, mirror = file://$here/data) =="
# shellcheck disable=SC2086
"$JUGGLE" $backend -s "mirror=file://$here/data"
status=$?
echo
if [ -f report/report.txt ]; then
	cat report/report.txt
	echo
fi
echo "report:         examples/nightly/report/report.html (and report.txt)"
archive=$(ls -t nightly-*.tar.gz 2>/dev/null | head -n 1)
if [ -n "$archive" ]; then
	echo "archive:        examples/nightly/$archive"
fi
[ -f report/timeline.html ] && echo "timeline:       examples/nightly/report/timeline.html"
echo "juggle report:  examples/nightly/.juggle/last-report.json   logs: examples/nightly/.juggle/logs/"
echo "run it again:   nothing but the fetches runs; edit examples/nightly/data/sales-us.csv and only what reads it does"
exit $status
