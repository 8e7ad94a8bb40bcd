#!/bin/sh
# check-faultdoc.sh FAULTDOC SOURCE_ROOT
#
# Fails when SOURCE_ROOT/docs/faults.md is not exactly what the generator
# FAULTDOC (build/tests/docs/faultdoc) prints from the fault catalogue, and
# shows the difference and the command that regenerates the file.
set -eu

if [ "$#" -ne 2 ]; then
	echo "usage: $0 FAULTDOC SOURCE_ROOT" >&2
	exit 2
fi
faultdoc=$1
doc=$2/docs/faults.md

tmp=$(mktemp "${TMPDIR:-/tmp}/faultdoc.XXXXXX")
trap 'rm -f "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

if ! "$faultdoc" >"$tmp"; then
	echo "FAIL: $faultdoc exited with an error (see above)" >&2
	exit 1
fi

if [ ! -f "$doc" ]; then
	echo "FAIL: $doc is missing; generate it from the repository root with:" >&2
	echo "    build/tests/docs/faultdoc > docs/faults.md" >&2
	exit 1
fi

if ! diff -u "$doc" "$tmp" >&2; then
	echo "" >&2
	echo "FAIL: docs/faults.md is out of date with src/common/fault_catalog.c" >&2
	echo "(the diff above turns the committed file into the generated one)." >&2
	echo "Regenerate it from the repository root with:" >&2
	echo "    build/tests/docs/faultdoc > docs/faults.md" >&2
	exit 1
fi
echo "ok: docs/faults.md matches the fault catalogue"
