#!/bin/sh
# verify-unit.sh SYSTEMD_ANALYZE UNIT [NAME]
#
# Runs `systemd-analyze verify` on UNIT, copied under the unit name NAME
# (default: the basename of UNIT) into a private directory, and fails on any
# error and on any warning about the unit itself: systemd-analyze exits 0 for
# unknown keys and unparsable values, which it only prints.  Warnings about
# other units of the host are shown but do not fail the test.
# Works without systemd as PID 1 (it loads the unit in a test manager).
set -eu

sa=$1
unit=$2
name=${3:-$(basename "$unit")}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cp "$unit" "$tmp/$name"

# Errors in the host's other units must not fail this test (systemd >= 250).
opts=--man=no
if "$sa" --help 2>/dev/null | grep -q -- '--recursive-errors'; then
	opts="$opts --recursive-errors=no"
fi

rc=0
out=$(cd "$tmp" && SYSTEMD_LOG_COLOR=0 "$sa" verify $opts "$tmp/$name" 2>&1) || rc=$?
[ -z "$out" ] || printf '%s\n' "$out"
if [ "$rc" -ne 0 ]; then
	echo "verify-unit: systemd-analyze verify failed (exit $rc)" >&2
	exit 1
fi
if printf '%s\n' "$out" | grep -q -F -e "$tmp/$name" -e "$name:"; then
	echo "verify-unit: systemd-analyze reported problems in $name" >&2
	exit 1
fi
echo "verify-unit: $name OK"
