#!/bin/bash
# Runs every test against each build directory given (normally a plain and
# an ASan+UBSan build): the layer check, cmocka unit tests, packaging and
# documentation checks, the bats end-to-end tests (as root, on this kernel)
# and a short run of each fuzzer; then the kernel matrix on the first build:
# the kernel-facing end-to-end tests on Debian's 6.1 and 6.12 kernels under
# qemu (tests/kernels/run-matrix.sh), when KERNEL_MATRIX=1: not yet by
# default, until a whole run of it from a clean clone is green.
# Counts every test case and ends with the line "N passed, N failed".
set -u
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-20}
passed=0
failed=0
failures=()
logdir=$(mktemp -d /tmp/picket-check.XXXXXX)

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Counts a TAP log; a run that failed without a "not ok" line (a crash, a
# sanitizer abort) counts as one more failure, and so does each test its
# plan ("1..N") announced that never reported (lost output is no pass).
tally_tap() {
	local name=$1 log=$2 rc=$3 ok bad plan
	ok=$(grep -cE '^ok ' "$log")
	bad=$(grep -cE '^not ok ' "$log")
	if [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ]; then
		bad=1
	fi
	plan=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log" | head -n 1)
	if [ -n "$plan" ] && [ $((ok + bad)) -lt "$plan" ]; then
		bad=$((plan - ok))
	fi
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -gt 0 ] && failures+=("$name (see $log)")
	printf '%-48s %3d passed, %d failed\n' "$name" "$ok" "$bad"
}

# tally_counts NAME PASSED FAILED LOG: counts already made elsewhere.
tally_counts() {
	local name=$1 ok=$2 bad=$3 log=$4
	passed=$((passed + ok))
	failed=$((failed + bad))
	[ "$bad" -gt 0 ] && failures+=("$name (see $log)")
	printf '%-48s %3d passed, %d failed\n' "$name" "$ok" "$bad"
}

tally_one() {
	local name=$1 rc=$2 log=$3
	if [ "$rc" -eq 0 ]; then
		passed=$((passed + 1))
		printf '%-48s ok\n' "$name"
	else
		failed=$((failed + 1))
		failures+=("$name (see $log)")
		printf '%-48s FAILED\n' "$name"
	fi
}

# The daemon's layers (tests/layers.py): each file includes its own folder
# and lower layers only, faults are raised and cleared in health/ only.
log="$logdir/layers.log"
python3 tests/layers.py >"$log" 2>&1
tally_one "layers" $? "$log"
log="$logdir/layers-self-test.log"
python3 tests/layers.py --self-test >"$log" 2>&1
tally_one "layers --self-test" $? "$log"

for build in "$@"; do
	tag=$(basename "$build")
	echo "== $build"
	for t in "$build"/tests/unit/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		log="$logdir/$tag-$(basename "$t").tap"
		CMOCKA_MESSAGE_OUTPUT=TAP "$t" >"$log" 2>&1
		tally_tap "$tag unit $(basename "$t")" "$log" $?
	done

	log="$logdir/$tag-packaging.log"
	meson test -C "$build" --suite packaging --print-errorlogs >"$log" 2>&1
	tally_one "$tag packaging" $? "$log"

	log="$logdir/$tag-docs.log"
	meson test -C "$build" --suite docs --print-errorlogs >"$log" 2>&1
	tally_one "$tag docs (docs/faults.md matches the catalogue)" $? "$log"

	log="$logdir/$tag-e2e.tap"
	PICKET_BUILD=$(realpath "$build") bats --tap tests/e2e >"$log" 2>&1
	tally_tap "$tag e2e" "$log" $?

	for f in "$build"/tests/fuzz/fuzz_*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		name=$(basename "$f")
		corpus=tests/fuzz/corpus/${name#fuzz_}
		work=$(mktemp -d "$logdir/$name.XXXXXX")
		log="$logdir/$tag-$name.log"
		# New inputs go to a scratch directory: the committed corpus stays small.
		"$f" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
			-artifact_prefix="$logdir/" "$work" "$corpus" >"$log" 2>&1
		tally_one "$tag fuzz $name (${FUZZ_SECONDS}s)" $? "$log"
	done
done

# The kernel matrix: one tally line per kernel, from the line
# "RELEASE: N passed, N failed" that run-matrix.sh prints for each; its
# report (the TAP, or why the guest did not finish) is RELEASE/report.
if [ "${KERNEL_MATRIX:-0}" != 0 ] && [ $# -gt 0 ]; then
	echo "== kernel matrix ($1)"
	kout=$logdir/kernels
	log=$logdir/kernels.log
	PICKET_BUILD=$(realpath "$1") tests/kernels/run-matrix.sh -o "$kout" >"$log" 2>&1
	rc=$?
	n=0
	while read -r rel ok bad; do
		n=$((n + 1))
		l=$kout/$rel/report
		[ -f "$l" ] || l=$log
		tally_counts "kernel $rel e2e" "$ok" "$bad" "$l"
	done < <(sed -nE 's/^([^ #][^ ]*): ([0-9]+) passed, ([0-9]+) failed$/\1 \2 \3/p' "$log")
	# No count line at all (a broken script): one failure.
	[ "$n" -gt 0 ] || tally_one "kernel matrix" "$rc" "$log"
fi

if [ "${#failures[@]}" -gt 0 ]; then
	echo "Failures:"
	for f in "${failures[@]}"; do
		echo "  $f"
	done
	for f in "${failures[@]}"; do
		l=${f##*(see }
		l=${l%)}
		echo "---- $l (last 60 lines)"
		tail -n 60 "$l"
	done
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
