#!/bin/sh
# init.sh - the init of a kernel-matrix guest (tests/kernels/run-matrix.sh).
#
# Stage 1 is /init of the busybox initramfs: it loads the modules listed in
# /modules (in that order: virtio, 9p and overlay, the ones this kernel has
# as modules), mounts the host's root read-only over 9p (tag "host") with a
# tmpfs overlay on top, mounts the results share (tag "out") at
# /picket-matrix in it and switch_roots into it, running this same file
# from the repository (the host's copy, seen through the overlay) as
# stage 2.
#
# Stage 2 runs with the host's installed packages on the guest's kernel:
# it mounts what a booted Debian has (proc, sys, devtmpfs, tmpfs on /tmp,
# /run and /dev/shm, cgroup2, tracefs, bpffs, securityfs, selinuxfs when
# SELinux is on), brings up the loopback interface, makes this kernel's
# modules visible under /lib/modules, then runs the bats tests named in
# /picket-matrix/env and writes to /picket-matrix:
#   e2e.tap   the TAP output
#   rc        bats's exit status, the last thing written before power-off
#   dmesg.log the kernel's log after the run
# and powers off.  Anything that goes wrong before the tests ran powers off
# without rc: the host reports the guest as not finished.
#
# /picket-matrix/env (written by run-matrix.sh) sets RELEASE, KMODDIR (the
# extracted image's /lib/modules/RELEASE as the host sees it), REPO,
# PICKET_BUILD, E2E_TIMEOUT, SCAN_WAIT, BATS_ARGS (a shell-quoted word list),
# and TESTS (the bats files or directories, relative to REPO).

OUT=/picket-matrix

# say MESSAGE: to the console (the host's console.log), with the uptime.
say() {
	local up
	up=$(cut -d' ' -f1 /proc/uptime 2>/dev/null)
	echo "picket-matrix: [${up:-?}s] $*" >/dev/console 2>/dev/null || echo "picket-matrix: $*"
}

off() {
	sync
	# busybox's poweroff -f: reboot(2) at once, no init to ask.
	if [ -x /bin/busybox ]; then
		/bin/busybox poweroff -f
	fi
	echo o >/proc/sysrq-trigger
	sleep 10
	exit 1
}

stage1() {
	export PATH=/bin
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mount -t devtmpfs devtmpfs /dev
	while read -r m; do
		[ -n "$m" ] || continue
		insmod "/lib/modules/$m.ko" || { say "insmod $m failed"; off; }
	done </modules
	mkdir -p /mnt/lower /mnt/rw /newroot
	# cache=loose: the host's root does not change under a test run (the
	# results share is its own mount, uncached).
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro host /mnt/lower ||
		{ say "mount of the host's root over 9p failed"; off; }
	mount -t tmpfs -o mode=0755 rw /mnt/rw
	mkdir -p /mnt/rw/upper /mnt/rw/work
	mount -t overlay -o lowerdir=/mnt/lower,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay /newroot ||
		{ say "overlay mount failed"; off; }
	mkdir -p "/newroot$OUT"
	mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out "/newroot$OUT" ||
		{ say "mount of the results share failed"; off; }
	[ -r "/newroot$OUT/env" ] || { say "no $OUT/env"; off; }
	. "/newroot$OUT/env"
	[ -r "/newroot$REPO/tests/kernels/init.sh" ] || { say "no $REPO/tests/kernels/init.sh"; off; }
	umount /proc /sys
	mount --move /dev /newroot/dev
	exec switch_root /newroot /bin/sh "$REPO/tests/kernels/init.sh" stage2
}

stage2() {
	export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/root LANG=C.UTF-8 TERM=dumb
	. "$OUT/env"
	mount -t proc proc /proc
	mount -t sysfs sysfs /sys
	mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
	# What udev or systemd would add to a devtmpfs: bash's <(...) needs /dev/fd.
	[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
	[ -e /dev/stdin ] || ln -s /proc/self/fd/0 /dev/stdin
	[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
	[ -e /dev/stderr ] || ln -s /proc/self/fd/2 /dev/stderr
	mkdir -p /dev/pts /dev/shm
	mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts
	# A repository or build under /tmp or /run (a CI clone) would vanish
	# under their tmpfs: carried over by a bind mount, moved back after.
	kept=""
	for p in "$REPO" "$PICKET_BUILD"; do
		case $p in
		"$REPO"/*) ;; # comes with the repository
		/tmp/* | /run/*)
			mkdir -p "/mnt/keep$p" && mount --bind "$p" "/mnt/keep$p" && kept="$kept $p"
			;;
		esac
	done
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
	mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
	mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
	for p in $kept; do
		mkdir -p "$p" && mount --move "/mnt/keep$p" "$p" || say "cannot keep $p"
	done
	mkdir -p /run/lock
	mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
	mount -t securityfs securityfs /sys/kernel/security
	mount -t tracefs tracefs /sys/kernel/tracing
	mount -t debugfs debugfs /sys/kernel/debug
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf
	# SELinux (security=selinux selinux=1 on the command line): the policy
	# the host has installed (selinux-policy-default), loaded the way init
	# would; enforcing=1 or the config decides the mode.
	if grep -qw selinuxfs /proc/filesystems; then
		mount -t selinuxfs selinuxfs /sys/fs/selinux 2>/dev/null
		if [ -r /etc/selinux/config ] && command -v load_policy >/dev/null; then
			load_policy -i && say "SELinux policy loaded, enforce=$(cat /sys/fs/selinux/enforce)" ||
				say "load_policy -i failed"
		else
			say "SELinux is on but the host has no policy (selinux-policy-default) or no load_policy"
		fi
	fi
	ip link set lo up || say "cannot bring up lo"
	hostname picket-guest
	# This kernel's modules where modprobe looks for them.
	if [ -d "$KMODDIR" ]; then
		mkdir -p "/lib/modules/$RELEASE"
		mount --bind "$KMODDIR" "/lib/modules/$RELEASE"
	fi

	say "kernel $(uname -r), clocksource $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
	say "running: bats $BATS_ARGS $TESTS"
	cd "$REPO" || off
	set --
	for t in $TESTS; do
		set -- "$@" "$REPO/$t"
	done
	eval "set -- $BATS_ARGS \"\$@\""
	# In the background, then wait: this shell is PID 1 and reaps whatever
	# the tests leave orphaned while it waits.
	# PICKET_KERNEL_MATRIX tells the tests they run in such a guest (a root
	# on overlay over 9p, emulated CPUs).
	PICKET_KERNEL_MATRIX=$RELEASE PICKET_BUILD=$PICKET_BUILD E2E_TIMEOUT=$E2E_TIMEOUT SCAN_WAIT=$SCAN_WAIT \
		bats --tap --timing "$@" >"$OUT/e2e.tap" 2>&1 </dev/null &
	wait $!
	rc=$?
	dmesg >"$OUT/dmesg.log" 2>&1
	sync
	echo "$rc" >"$OUT/rc"
	say "bats exited $rc"
	off
}

case ${1-} in
stage2) stage2 ;;
*) stage1 ;;
esac
