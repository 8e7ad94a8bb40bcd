#!/bin/bash
# run-matrix.sh - the kernel-facing end-to-end tests on Debian's own kernels
# under qemu (DESIGN.md, "Other kernels (measured)").
#
#   tests/kernels/run-matrix.sh [-o OUTDIR] [SERIES...]
#
# SERIES is 6.1 (linux-image-6.1.0-N-amd64) or 6.12
# (linux-image-6.12.N+deb12-amd64); default: both.  For each, the newest
# image of the series that apt offers is downloaded (apt-get download) and
# extracted (dpkg-deb -x) into $KERNEL_CACHE once; a busybox initramfs
# (busybox-static) with the kernel's virtio, 9p and overlay modules and
# tests/kernels/init.sh as /init is built next to it.  The guest
# (qemu-system-x86_64 -accel tcg: nested KVM hangs) mounts this machine's
# root read-only over 9p with a tmpfs overlay on top, so the host's packages
# and build run on the guest's kernel, runs the bats files of
# $KERNEL_TESTS with PICKET_BUILD and powers off.
#
# Output, per kernel: the TAP, then the line
#   RELEASE: N passed, N failed
# (a guest that did not finish, or whose bats failed without a "not ok"
# line, counts one more failure).  Exit status 0 only when every kernel ran
# and every test passed.  OUTDIR (default: a new /tmp/picket-kernels.XXXXXX)
# gets RELEASE/{report,e2e.tap,console.log,dmesg.log,rc}: report is what
# was printed for the kernel.
#
# Environment (defaults in brackets):
#   PICKET_BUILD        the build to test [build]
#   KERNEL_CACHE        downloaded kernels and initramfs [/var/cache/picket-kernels]
#   KERNEL_TESTS        bats files, relative to the repository [see below]
#   KERNEL_BATS_ARGS    more bats arguments, e.g. "--filter 'fault 9'" []
#   KERNEL_E2E_TIMEOUT  E2E_TIMEOUT in the guest [30]
#   KERNEL_SCAN_WAIT    SCAN_WAIT in the guest [60]
#   KERNEL_TIMEOUT      seconds a guest may run before it is killed [2700]
#   KERNEL_SMP, KERNEL_MEM   vCPUs and memory of each guest [2, 3G]
#   KERNEL_PARALLEL     1: the guests run at the same time, 0: one by one [1]
#   KERNEL_CPU, KERNEL_ACCEL qemu's -cpu and -accel [max,la57=off, tcg,thread=multi]
#   KERNEL_APPEND       more kernel command line, e.g. "security=selinux selinux=1" []
set -u
cd "$(dirname "$0")/../.."
REPO=$(pwd)

PICKET_BUILD=$(realpath "${PICKET_BUILD:-build}")
KERNEL_CACHE=${KERNEL_CACHE:-/var/cache/picket-kernels}
# The tests that touch the kernel: the file monitor (fanotify marks, on-access
# scans, on-execute audit and block, fault 8), the network monitor (flows,
# blocklist, exclusions in the kernel, fault 9), the process monitor and
# faults 8, 9, 11, 16, 22 (monitors.bats), fault 18 (overload.bats), the scan
# service's start, sandbox and scans (scan.bats), faults 11 and 16 against
# prepared views (btf.bats, kernel.bats) and the shipped policy on the real
# kernel (realhost.bats).
# The scan service's own tests last: while picket-scand crashes on a kernel
# (6.1 under TCG: SIGSYS), its scans of 44 files crash-loop for longer than
# the guest's time, and the tests before them still report.
KERNEL_TESTS=${KERNEL_TESTS:-"tests/e2e/kernel.bats tests/e2e/btf.bats tests/e2e/realhost.bats
tests/e2e/monitors.bats tests/e2e/netmon.bats tests/e2e/overload.bats tests/e2e/fsmon.bats
tests/e2e/scan.bats"}
KERNEL_BATS_ARGS=${KERNEL_BATS_ARGS:-}
KERNEL_E2E_TIMEOUT=${KERNEL_E2E_TIMEOUT:-30}
KERNEL_SCAN_WAIT=${KERNEL_SCAN_WAIT:-60}
KERNEL_TIMEOUT=${KERNEL_TIMEOUT:-2700}
KERNEL_SMP=${KERNEL_SMP:-2}
KERNEL_MEM=${KERNEL_MEM:-3G}
KERNEL_APPEND=${KERNEL_APPEND:-}
KERNEL_ACCEL=${KERNEL_ACCEL:-tcg,thread=multi}
KERNEL_PARALLEL=${KERNEL_PARALLEL:-1}
# max, less 5-level paging: a 6.12 guest with LA57 once died in its first
# second under TCG (a bad kmalloc freelist pointer at 0xff28...).
KERNEL_CPU=${KERNEL_CPU:-max,la57=off}
# Loaded by the initramfs in this order, each after what it depends on;
# those built into a kernel are left out.
MODULES="virtio virtio_ring virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci
netfs fscache 9pnet 9pnet_virtio 9p overlay"
BUSYBOX_APPLETS="sh mount umount mkdir insmod switch_root poweroff sleep cat echo sync"

OUT=
while [ $# -gt 0 ]; do
	case $1 in
	-o | --out)
		OUT=$2
		shift 2
		;;
	-h | --help)
		sed -n '2,/^set -u/p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "run-matrix: unknown option $1" >&2
		exit 2
		;;
	*) break ;;
	esac
done
SERIES=${*:-6.1 6.12}
[ -n "$OUT" ] || OUT=$(mktemp -d /tmp/picket-kernels.XXXXXX)
mkdir -p "$OUT" "$KERNEL_CACHE" || exit 2
OUT=$(realpath "$OUT")

note() {
	echo "run-matrix: $*" >&2
}

# The package name pattern of a series.
series_regex() {
	case $1 in
	6.1) echo '^linux-image-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) echo '^linux-image-6\.12\.[0-9]+\+deb12-amd64$' ;;
	*) return 1 ;;
	esac
}

# newest_package SERIES: the newest image of SERIES that apt can download.
newest_package() {
	local re=$1 p
	for p in $(apt-cache pkgnames linux-image-6. 2>/dev/null | grep -E "$re" | sort -rV); do
		if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

APT_UPDATED=
# kernel_release SERIES: prints the release of the series' newest image,
# downloading and extracting it into $KERNEL_CACHE/RELEASE when not there.
# Offline, falls back to the newest of the series already in the cache.
kernel_release() {
	local re pkg rel tmp cached
	re=$(series_regex "$1") || {
		note "unknown series $1 (6.1 or 6.12)"
		return 1
	}
	pkg=$(newest_package "$re")
	if [ -z "$pkg" ] && [ -z "$APT_UPDATED" ] && [ "$(id -u)" -eq 0 ]; then
		APT_UPDATED=1
		apt-get update -qq >&2
		pkg=$(newest_package "$re")
	fi
	if [ -z "$pkg" ]; then
		cached=$(ls "$KERNEL_CACHE" 2>/dev/null | sed 's/^/linux-image-/' | grep -E "$re" | sort -V | tail -n 1)
		[ -n "$cached" ] || {
			note "apt offers no package matching $re and none is cached"
			return 1
		}
		note "apt offers no package matching $re: using the cached ${cached#linux-image-}"
		pkg=$cached
	fi
	rel=${pkg#linux-image-}
	# Older images of the series have had their day (400 MB each).
	for cached in $(ls "$KERNEL_CACHE" 2>/dev/null | sed 's/^/linux-image-/' | grep -E "$re"); do
		[ "$cached" = "$pkg" ] || rm -rf "${KERNEL_CACHE:?}/${cached#linux-image-}"
	done
	if [ ! -r "$KERNEL_CACHE/$rel/boot/vmlinuz-$rel" ]; then
		note "downloading $pkg"
		tmp=$(mktemp -d "$KERNEL_CACHE/.dl.XXXXXX") || return 1
		# apt downloads as _apt when it can write there.
		chown _apt "$tmp" 2>/dev/null
		if ! (cd "$tmp" && apt-get download -q "$pkg" >&2) ||
			! dpkg-deb -x "$tmp"/*.deb "$tmp/root"; then
			note "cannot download or extract $pkg"
			rm -rf "$tmp"
			return 1
		fi
		rm -rf "${KERNEL_CACHE:?}/$rel"
		mv "$tmp/root" "$KERNEL_CACHE/$rel" && rm -rf "$tmp"
	fi
	echo "$rel"
}

# module_file MODDIR NAME: the path of module NAME under MODDIR, or nothing
# (built in, or not there).  modules.order names each module's .ko; the file
# may be compressed (the package leaves modules.dep to its postinst).
module_file() {
	local f a
	f=$(grep -E "(^|/)$2\.ko$" "$1/modules.order" | head -n 1)
	[ -n "$f" ] || return 0
	for a in "" .xz .zst .gz; do
		[ -f "$1/$f$a" ] && echo "$1/$f$a" && return 0
	done
}

module_cat() {
	case $1 in
	*.xz) xz -dc "$1" ;;
	*.zst) zstd -dcq "$1" ;;
	*.gz) gzip -dc "$1" ;;
	*) cat "$1" ;;
	esac
}

# add_module MODDIR DIR NAME: copies module NAME, decompressed, into
# DIR/lib/modules after what it depends on (its modinfo "depends="), and
# appends it to DIR/modules, the load order.  Built-in modules are skipped.
add_module() {
	local mdir=$1 d=$2 m=$3 f deps dep
	grep -qx "$m" "$d/modules" && return 0
	f=$(module_file "$mdir" "$m")
	if [ -z "$f" ]; then
		grep -qE "(^|/)$m\.ko$" "$mdir/modules.builtin" && return 0
		# 6.12 has fscache inside netfs (CONFIG_FSCACHE=y, no module of its
		# own): a module that is really missing shows as a failed mount.
		note "$(basename "$mdir") has no module $m, nor built in: left out"
		return 0
	fi
	module_cat "$f" >"$d/lib/modules/$m.ko" || return 1
	deps=$(tr '\0' '\n' <"$d/lib/modules/$m.ko" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' ')
	for dep in $deps; do
		add_module "$mdir" "$d" "$dep" || return 1
	done
	echo "$m" >>"$d/modules"
}

# make_initramfs RELEASE: $KERNEL_CACHE/RELEASE/picket-initrd.gz, busybox,
# the modules of $MODULES that the kernel has as modules (decompressed; in
# that order, but each after what it depends on: 6.1's virtio needs
# virtio_ring), /modules (their load order) and init.sh as /init.
make_initramfs() {
	local rel=$1 kdir=$KERNEL_CACHE/$1 d m a st
	d=$(mktemp -d /tmp/picket-initrd.XXXXXX) || return 1
	mkdir -p "$d/bin" "$d/lib/modules" "$d/proc" "$d/sys" "$d/dev" "$d/mnt"
	cp /bin/busybox "$d/bin/busybox" || return 1
	for a in $BUSYBOX_APPLETS; do
		ln -s busybox "$d/bin/$a"
	done
	: >"$d/modules"
	for m in $MODULES; do
		add_module "$kdir/lib/modules/$rel" "$d" "$m" || {
			note "$rel: cannot put module $m into the initramfs"
			rm -rf "$d"
			return 1
		}
	done
	install -m 0755 tests/kernels/init.sh "$d/init"
	(cd "$d" && find . | busybox cpio -o -H newc 2>/dev/null) | gzip -1 >"$kdir/picket-initrd.gz.$$" &&
		mv "$kdir/picket-initrd.gz.$$" "$kdir/picket-initrd.gz"
	st=$?
	rm -rf "$d"
	return $st
}

# boot_guest RELEASE DIR: one boot of the guest, its console in DIR; the
# CPU time qemu used is added to DIR/cpu-time.  Returns qemu's status (124 or
# 137: killed by the timeout).
boot_guest() {
	local rel=$1 kdir=$KERNEL_CACHE/$1 o=$2
	# qemu's CPU time too: the wall time depends on what else the machine runs.
	TIMEFORMAT='%U %S'
	{ time timeout -k 10 "$KERNEL_TIMEOUT" qemu-system-x86_64 -accel "$KERNEL_ACCEL" -cpu "$KERNEL_CPU" \
		-smp "$KERNEL_SMP" -m "$KERNEL_MEM" -nodefaults -display none -no-reboot \
		-kernel "$kdir/boot/vmlinuz-$rel" -initrd "$kdir/picket-initrd.gz" \
		-append "console=ttyS0 panic=-1 loglevel=4 $KERNEL_APPEND" \
		-serial "file:$o/console.log" -d cpu_reset -D "$o/qemu-cpu.log" \
		-virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap \
		-virtfs "local,path=$o,mount_tag=out,security_model=none,multidevs=remap" \
		>"$o/qemu.log" 2>&1 ; } 2>>"$o/cpu-time"
}

# run_guest RELEASE: boots it on the tests; prints the TAP and the count line.
run_guest() {
	local rel=$1 kdir=$KERNEL_CACHE/$1 o=$OUT/$1 ok bad rc start secs st
	rm -rf "$o"
	mkdir -p "$o"
	{
		printf 'RELEASE=%q\n' "$rel"
		printf 'KMODDIR=%q\n' "$kdir/lib/modules/$rel"
		printf 'REPO=%q\n' "$REPO"
		printf 'PICKET_BUILD=%q\n' "$PICKET_BUILD"
		printf 'E2E_TIMEOUT=%q\n' "$KERNEL_E2E_TIMEOUT"
		printf 'SCAN_WAIT=%q\n' "$KERNEL_SCAN_WAIT"
		printf 'BATS_ARGS=%q\n' "$KERNEL_BATS_ARGS"
		printf 'TESTS=%q\n' "$(echo $KERNEL_TESTS)"
	} >"$o/env"
	start=$(date +%s)
	boot_guest "$rel" "$o"
	st=$?
	# A guest that died before its tests started (an emulation fault while
	# booting) gets one more boot.
	if [ ! -e "$o/e2e.tap" ] && [ $(($(date +%s) - start)) -lt 300 ]; then
		mv "$o/console.log" "$o/console-first-boot.log" 2>/dev/null
		echo "# $rel: the guest stopped before its tests (qemu status $st), booted again" >"$o/retried"
		boot_guest "$rel" "$o"
		st=$?
	fi
	secs=$(($(date +%s) - start))
	ok=$(grep -cE '^ok ' "$o/e2e.tap" 2>/dev/null)
	bad=$(grep -cE '^not ok ' "$o/e2e.tap" 2>/dev/null)
	ok=${ok:-0} bad=${bad:-0}
	# What is printed for this kernel is also its report file.
	{
		[ -f "$o/retried" ] && cat "$o/retried"
		[ -f "$o/e2e.tap" ] && cat "$o/e2e.tap"
		if [ -f "$o/rc" ]; then
			rc=$(cat "$o/rc")
			[ "$rc" = 0 ] || [ "$bad" -gt 0 ] || {
				echo "# $rel: bats exited $rc without a failed test"
				bad=$((bad + 1))
			}
		else
			if [ "$st" -eq 124 ] || [ "$st" -eq 137 ]; then
				echo "# $rel: the guest did not finish within ${KERNEL_TIMEOUT}s: killed"
			else
				echo "# $rel: the guest stopped (qemu status $st) before the tests finished"
			fi
			echo "# last lines of $o/console.log:"
			tail -n 30 "$o/console.log" 2>/dev/null | sed 's/^/#   /'
			# qemu says who killed it ("terminating on signal 15 from pid
			# ..."); a triple fault ends it (-no-reboot) with status 0 and
			# no word on the console: the CPU state is in qemu-cpu.log.
			[ -s "$o/qemu.log" ] && tail -n 3 "$o/qemu.log" | sed 's/^/# qemu: /'
			echo "# the guest's CPU resets, with their registers: $o/qemu-cpu.log"
			bad=$((bad + 1))
		fi
		echo "# $rel: ${secs}s in the guest, qemu used $(awk '{ s += $1 + $2 } END { printf "%d", s }' "$o/cpu-time")s of CPU ($o)"
		echo "$rel: $ok passed, $bad failed"
	} >"$o/report"
	cat "$o/report"
	[ "$bad" -eq 0 ]
}

for tool in qemu-system-x86_64 busybox apt-get dpkg-deb timeout; do
	command -v "$tool" >/dev/null || {
		note "$tool is missing (scripts/deps.sh installs qemu-system-x86 and busybox-static)"
		exit 2
	}
done
[ -x "$PICKET_BUILD/src/daemon/picketd" ] || {
	note "no picketd in $PICKET_BUILD (set PICKET_BUILD)"
	exit 2
}

# Images first (downloads, one at a time), then the guests: at once with
# KERNEL_PARALLEL=1 (each runs one test at a time, mostly on one core), else
# one after the other.  Their reports are printed in the order of SERIES.
status=0
rels=()
for s in $SERIES; do
	rel=$(kernel_release "$s") && make_initramfs "$rel" || {
		echo "linux-$s: 0 passed, 1 failed"
		status=1
		continue
	}
	rels+=("$rel")
done
pids=()
for rel in "${rels[@]}"; do
	if [ "$KERNEL_PARALLEL" = 1 ]; then
		mkdir -p "$OUT/$rel"
		run_guest "$rel" >/dev/null &
		pids+=($!)
	else
		run_guest "$rel" || status=1
	fi
done
for i in "${!pids[@]}"; do
	wait "${pids[$i]}" || status=1
	cat "$OUT/${rels[$i]}/report" 2>/dev/null || {
		echo "${rels[$i]}: 0 passed, 1 failed"
		status=1
	}
done
exit "$status"
