#!/usr/bin/env bats
# packaging/install.sh: install and uninstall on this host, as root.
#
# The test configures its own build with the Makefile's install options
# (cached in /tmp, keyed by the repository path: PICKET_BUILD is not used) and
# installs it with a temporary PREFIX, PICKET_SYSCONFDIR, PICKET_LOCALSTATEDIR
# and PICKET_LINKDIR, so /opt/picket, /etc/picket, /var/lib/picket and the
# links of a real install are not touched.  The accounts are the host's:
# picket-scan and picket-admin are created and removed for real, except that
# what existed before the test exists after it (PICKET_KEEP_USERS=1 then),
# and the SELinux module is left alone if it was loaded before.  The
# USERGROUPS_ENAB test runs in a private mount namespace with an overlay on
# /etc: the host's /etc/login.defs and accounts are never edited.
#
# The tests run in order and build on each other: install, check, reinstall,
# uninstall.

load helpers

export INSTALL=$REPO/packaging/install.sh

# ------------------------------------------------------------------ the file

# The cached install build: set up from scratch when missing or broken.
# install.sh builds what it installs (not the unit tests).
_install_build() {
	if [ -f "$IB/build.ninja" ] && ninja -C "$IB" build.ninja >"$IB.log" 2>&1; then
		return 0
	fi
	rm -rf "$IB"
	meson setup "$IB" "$REPO" --prefix=/opt/picket --sbindir=sbin --bindir=bin --libexecdir=libexec \
		--datadir=share --sysconfdir=/etc --buildtype=release >"$IB.log" 2>&1
}

setup_file() {
	local key
	key=$(printf '%s' "$REPO" | cksum | cut -d' ' -f1)
	export IB=/tmp/picket-install-build.$key
	exec 9>"$IB.lock"
	flock -w 600 9
	if ! _install_build; then
		exec 9>&-
		cat "$IB.log" >&2
		fail "meson setup of the install build $IB failed (log above)"
		return 1
	fi
	exec 9>&-

	export TR DT
	TR=$(mktemp -d /tmp/picket-inst.XXXXXX)
	DT=$(mktemp -d /tmp/picket-inst-daemon.XXXXXX)
	chmod 0755 "$TR" "$DT"
	export PREFIX=$TR/opt/picket
	export PICKET_SYSCONFDIR=$TR/etc
	export PICKET_LOCALSTATEDIR=$TR/var
	export PICKET_LINKDIR=$TR/usr/local

	# What existed before: left as it was.
	export HAD_USER=0 HAD_GROUP=0 HAD_ADMIN=0 HAD_MODULE=0
	getent passwd picket-scan >/dev/null && HAD_USER=1
	getent group picket-scan >/dev/null && HAD_GROUP=1
	getent group picket-admin >/dev/null && HAD_ADMIN=1
	if [ "$HAD_USER$HAD_GROUP$HAD_ADMIN" != 000 ]; then
		export PICKET_KEEP_USERS=1
	fi
	export USER_BEFORE
	USER_BEFORE=$(getent passwd picket-scan | cut -d: -f1,3) || :
	if command -v semodule >/dev/null && semodule -l 2>/dev/null | grep -q '^picket_bpf\b'; then
		HAD_MODULE=1
		export PICKET_SELINUX=no
	fi
}

teardown_file() {
	local d exe
	# Every step even when one fails (errexit would stop at the first).
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case $exe in
		"$TR"/*) kill -KILL "${d#/proc/}" 2>/dev/null || : ;;
		esac
	done
	if [ "$HAD_USER" = 0 ] && getent passwd picket-scan >/dev/null; then
		userdel picket-scan || :
	fi
	if [ "$HAD_GROUP" = 0 ] && getent group picket-scan >/dev/null; then
		groupdel picket-scan || :
	fi
	if [ "$HAD_ADMIN" = 0 ] && getent group picket-admin >/dev/null; then
		groupdel picket-admin || :
	fi
	if [ "$HAD_MODULE" = 0 ] && command -v semodule >/dev/null &&
		semodule -l 2>/dev/null | grep -q '^picket_bpf\b'; then
		semodule -r picket_bpf || :
	fi
	rm -rf "$TR" "$DT" || :
}

setup() {
	# helpers.bash's start_picketd, stop_picketd and ctl, on the installed
	# programs and policy, with this test's state, run and log directories.
	PICKETD=$PREFIX/sbin/picketd
	PICKETCTL=$PREFIX/bin/picketctl
	POLICY=$PICKET_SYSCONFDIR/picket/policy.conf
	STATE=$DT/state
	RUN=$DT/run
	LOG=$DT/log
	DLOG=$DT/picketd.log
	: >"$DLOG"
	PICKETD_PID=
}

teardown() {
	if [ -n "$PICKETD_PID" ]; then
		stop_picketd || echo "picketd exited with status $?"
	fi
	if [ -z "${BATS_TEST_COMPLETED:-}" ] && [ -s "$DLOG" ]; then
		echo "---- picketd log"
		cat "$DLOG"
	fi
	rm -rf "$STATE" "$RUN" "$LOG"
}

# ------------------------------------------------------------------- helpers

# Everything the install can change, except inode numbers and directory
# times (meson install replaces each file by a copy with the same content,
# mode and mtime).
snapshot() {
	find "$TR" -printf '%p %y %m %u:%g %l\n' | sort
	find "$TR" -type f -printf '%p %T@\n' | sort
	find "$TR" -type f -exec md5sum {} + | sort
	getent passwd picket-scan || :
	getent group picket-scan picket-admin || :
}

# Everything of picket under the temporary root, the root itself excepted.
picket_paths() {
	find "$TR" -mindepth 1 -name '*picket*' | sort
}

# ----------------------------------------------------------------- the tests

@test "install refuses: not root, a prefix that is not picket's own, /usr/local" {
	run -1 setpriv --reuid=65534 --regid=65534 --clear-groups "$INSTALL" "$IB"
	assert_contains "$output" "run as root"

	mkdir -p "$TR/other"
	echo data >"$TR/other/file"
	PREFIX=$TR/other run -1 "$INSTALL" "$IB"
	assert_contains "$output" "prefix $TR/other exists, is not empty and holds no picket install"
	assert_eq "$(cat "$TR/other/file")" data
	rm -rf "$TR/other"

	PREFIX=/usr/local run -1 "$INSTALL" "$IB"
	assert_contains "$output" "prefix /usr/local is not a directory of picket's own"
	run -2 "$INSTALL"
	assert_contains "$output" "Usage:"
	[ ! -e "$PREFIX" ]
}

@test "install: meson install into the prefix; every directory root:root 0755, programs 0755, files 0644" {
	run -0 "$INSTALL" "$IB"
	printf '%s\n' "$output" >"$TR/install.out"
	assert_contains "$output" " is installed in $PREFIX"

	assert_eq "$(find "$PREFIX" -type d ! -perm 0755)" "" "directories not 0755"
	assert_eq "$(find "$PREFIX" \( ! -user 0 -o ! -group 0 \))" "" "paths not root:root"
	assert_eq "$(find "$PREFIX" -type f -perm 0755 | sort)" \
		"$PREFIX/bin/picketctl
$PREFIX/libexec/picket-scand
$PREFIX/sbin/picketd" "programs 0755"
	assert_eq "$(find "$PREFIX" -type f ! -perm 0755 ! -perm 0644)" "" "files neither 0644 nor 0755"
	[ -d "$PREFIX/lib/btf" ]
	[ -f "$PREFIX/lib/systemd/system/picketd.service" ]
	"$PREFIX/bin/picketctl" --version
}

@test "install: user picket-scan, primary group picket-scan, no login shell; group picket-admin" {
	assert_eq "$(id -gn picket-scan)" picket-scan "primary group of picket-scan"
	assert_match "$(getent passwd picket-scan | cut -d: -f7)" '^(/usr/sbin/nologin|/sbin/nologin|/bin/false)$'
	[ "$(id -u picket-scan)" -ne 0 ]
	getent group picket-admin
	if [ "$HAD_USER" = 0 ]; then
		# Created by the installer: a system account without a home.
		assert_eq "$(getent passwd picket-scan | cut -d: -f6)" /nonexistent
		[ ! -e /nonexistent ]
		uid_min=$(awk '$1 == "UID_MIN" { print $2 }' /etc/login.defs)
		[ "$(id -u picket-scan)" -lt "${uid_min:-1000}" ]
	fi
}

@test "install: policy, state and log directories, systemd unit, links, SELinux" {
	policy=$PICKET_SYSCONFDIR/picket/policy.conf
	assert_eq "$(stat -c '%a %U:%G' "$policy" "$PICKET_SYSCONFDIR/picket")" "644 root:root
755 root:root"
	# The shipped policy, with this prefix.
	assert_eq "$(grep '^install_prefix' "$policy")" "install_prefix = \"$PREFIX\";"
	assert_eq "$(diff "$REPO/etc/policy.conf" "$policy" | grep '^[<>]' | grep -cv 'install_prefix\|btf_dir')" 0
	cmp "$policy" "$PREFIX/share/picket/policy.conf"
	run -0 "$PREFIX/bin/picketctl" policy check "$policy"
	[ ! -e "$policy.dist" ]

	assert_eq "$(stat -c '%a %U:%G' "$PICKET_LOCALSTATEDIR/lib/picket" "$PICKET_LOCALSTATEDIR/log/picket")" \
		"755 root:root
750 root:root"

	unit=$PICKET_SYSCONFDIR/systemd/system/picketd.service
	cmp "$unit" "$PREFIX/lib/systemd/system/picketd.service"
	assert_eq "$(grep '^ExecStart=' "$unit")" "ExecStart=$PREFIX/sbin/picketd"
	assert_eq "$(stat -c %a "$unit")" 644

	assert_eq "$(readlink "$PICKET_LINKDIR/bin/picketctl")" "$PREFIX/bin/picketctl"
	assert_eq "$(readlink "$PICKET_LINKDIR/sbin/picketd")" "$PREFIX/sbin/picketd"

	output=$(cat "$TR/install.out") # of the first install
	if [ "$HAD_MODULE" = 1 ]; then
		assert_contains "$output" "SELinux: not touched (PICKET_SELINUX=no)"
	elif command -v selinuxenabled >/dev/null && selinuxenabled; then
		assert_contains "$output" "SELinux: module picket_bpf installed"
		semodule -l | grep -q '^picket_bpf\b'
	else
		assert_contains "$output" "SELinux: not active: module picket_bpf not installed"
	fi
	if [ ! -d /run/systemd/system ]; then
		assert_contains "$output" "systemd is not running here"
	fi
}

@test "installed picketd on the installed policy: no fault 5; a changed directory raises it; reinstalling clears it" {
	start_picketd --real-host
	assert_eq "$(fault_state 5)" cleared "fault 5 on a fresh install"
	assert_eq "$(ctl --json policy show | jpy 'd["policy"]["install_prefix"]')" "$PREFIX"

	chmod 0700 "$PREFIX/share"
	chown 1:1 "$PREFIX/lib/btf"
	wait_for fault_active 5
	run -0 "$INSTALL" "$IB"
	wait_for fault_cleared 5
	assert_eq "$(find "$PREFIX" -type d \( ! -perm 0755 -o ! -user 0 \))" ""
	stop_picketd || fail "picketd exited with status $?"
}

@test "install again: exit 0 and nothing changes" {
	before=$(snapshot)
	sleep 1 # a rewritten file would show a new mtime
	run -0 "$INSTALL" "$IB"
	assert_contains "$output" "policy $PICKET_SYSCONFDIR/picket/policy.conf is the shipped one (unchanged)"
	assert_contains "$output" "is up to date"
	assert_not_contains "$output" "created"
	assert_eq "$(snapshot)" "$before" "the install after a second run"
}

@test "install over a changed policy keeps it and puts the shipped one in policy.conf.dist" {
	policy=$PICKET_SYSCONFDIR/picket/policy.conf
	echo '# changed here' >>"$policy"
	changed=$(cat "$policy")
	run -0 "$INSTALL" "$IB"
	assert_contains "$output" "differs from the shipped one: kept; the shipped one is $policy.dist"
	assert_eq "$(cat "$policy")" "$changed"
	cmp "$policy.dist" "$PREFIX/share/picket/policy.conf"
	run -0 "$INSTALL" "$IB"
	assert_contains "$output" "differs from the shipped one: kept ($policy.dist is the shipped one)"

	# Back to the shipped one: the .dist copy has no reason to stay.
	cp "$policy.dist" "$policy"
	run -0 "$INSTALL" "$IB"
	[ ! -e "$policy.dist" ]
}

@test "uninstall stops the picketd running from the prefix and removes everything the install made" {
	start_picketd --real-host
	pid=$PICKETD_PID
	run -0 "$INSTALL" --uninstall "$PREFIX"
	assert_contains "$output" "stopped the picket processes $pid"
	assert_contains "$output" "picket removed from $PREFIX"
	wait_for proc_gone "$pid"
	# (In a || list: helpers' kill of the already reaped pid must not trip errexit.)
	stop_picketd || fail "picketd exited with status $? after the SIGTERM of uninstall"

	assert_eq "$(picket_paths)" "" "what is left of picket in $TR"
	[ ! -e "$PREFIX" ]
	if [ "${PICKET_KEEP_USERS:-0}" = 1 ]; then
		assert_contains "$output" "kept the user picket-scan"
		if [ "$HAD_USER" = 1 ]; then
			assert_eq "$(getent passwd picket-scan | cut -d: -f1,3)" "$USER_BEFORE"
		fi
	else
		run -2 getent passwd picket-scan
		run -2 getent group picket-scan
		run -2 getent group picket-admin
	fi
}

@test "uninstall again: nothing is installed, exit 0" {
	run -0 "$INSTALL" --uninstall "$PREFIX"
	assert_contains "$output" "picket is not installed in $PREFIX: nothing to remove"
	assert_eq "$(picket_paths)" ""
}

@test "uninstall keeps a changed policy and a non-empty quarantine, and says so" {
	run -0 "$INSTALL" "$IB"
	policy=$PICKET_SYSCONFDIR/picket/policy.conf
	q=$PICKET_LOCALSTATEDIR/lib/picket/quarantine
	echo '# changed here' >>"$policy"
	mkdir -p "$q"
	echo quarantined >"$q/0001"
	: >"$PICKET_LOCALSTATEDIR/lib/picket/faults.json"

	run -0 "$INSTALL" --uninstall "$PREFIX"
	assert_contains "$output" "kept $policy: it differs from the policy this install shipped"
	assert_contains "$output" "kept $q: it holds quarantined files"
	assert_eq "$(picket_paths)" "$PICKET_SYSCONFDIR/picket
$PICKET_LOCALSTATEDIR/lib/picket"
	assert_eq "$(ls -A "$PICKET_SYSCONFDIR/picket")" policy.conf
	assert_eq "$(ls -A "$PICKET_LOCALSTATEDIR/lib/picket")" quarantine
	assert_eq "$(cat "$q/0001")" quarantined

	run -0 "$INSTALL" --uninstall "$PREFIX"
	assert_contains "$output" "nothing to remove"
	rm -rf "$PICKET_SYSCONFDIR/picket" "$PICKET_LOCALSTATEDIR/lib/picket"
}

@test "SELinux enabled (selinuxenabled and semodule stubbed): the module is installed and removed" {
	[ "${PICKET_SELINUX:-auto}" != no ] || skip "picket_bpf was loaded before the test: left alone"
	[ -f "$IB/packaging/picket_bpf.pp" ] || skip "picket_bpf.pp is not built (checkpolicy, semodule-utils)"
	stub=$TR/stub
	mkdir -p "$stub"
	printf '#!/bin/sh\nexit 0\n' >"$stub/selinuxenabled"
	cat >"$stub/semodule" <<EOF
#!/bin/sh
echo "semodule \$*" >>"$stub/calls"
case \$1 in
-l) [ ! -e "$stub/loaded" ] || echo picket_bpf ;;
-i) : >"$stub/loaded" ;;
-r) rm -f "$stub/loaded" ;;
esac
EOF
	chmod 0755 "$stub/selinuxenabled" "$stub/semodule"

	PATH=$stub:$PATH run -0 "$INSTALL" "$IB"
	assert_contains "$output" "SELinux: module picket_bpf installed"
	assert_eq "$(cat "$stub/calls")" "semodule -i $PREFIX/share/picket/selinux/picket_bpf.pp"
	: >"$stub/calls"
	PATH=$stub:$PATH run -0 "$INSTALL" --uninstall "$PREFIX"
	assert_contains "$output" "removed the SELinux module picket_bpf"
	assert_eq "$(cat "$stub/calls")" "semodule -l
semodule -r picket_bpf"
	rm -rf "$stub"
}

# Runs in a private mount namespace with a writable overlay on /etc: sets
# USERGROUPS_ENAB to $1, starts from no picket accounts (and, with $2 = fix,
# a picket-scan user with group users and a login shell), shows what a plain
# `useradd --system` does with that setting, installs, shows the accounts,
# uninstalls, shows them again.
write_ns_script() {
	cat >"$TR/ns.sh" <<'EOF'
set -eu
enab=$1 mode=${2:-}
ovl=$(mktemp -d "$TR/ovl.XXXXXX")
mount -t tmpfs tmpfs "$ovl"
mkdir "$ovl/up" "$ovl/work"
mount -t overlay overlay -o "lowerdir=/etc,upperdir=$ovl/up,workdir=$ovl/work" /etc
if grep -q '^[[:space:]]*USERGROUPS_ENAB' /etc/login.defs; then
	sed -i "s/^[[:space:]]*USERGROUPS_ENAB.*/USERGROUPS_ENAB $enab/" /etc/login.defs
else
	echo "USERGROUPS_ENAB $enab" >>/etc/login.defs
fi
# No picket accounts in this private /etc: the host's are renamed, not
# deleted, so that their ids stay taken (a host process may run as the
# host's picket-scan, and userdel refuses a uid in use).
sed -i 's/^picket-\(scan\|admin\):/picket-host-\1:/' /etc/passwd /etc/shadow /etc/group /etc/gshadow
useradd --system --no-create-home picket-probe
echo "probe_group=$(id -gn picket-probe)"
userdel picket-probe
groupdel picket-probe 2>/dev/null || :
if [ "$mode" = fix ]; then
	useradd --system --no-create-home --gid users --shell /bin/bash picket-scan
fi
unset PICKET_KEEP_USERS
export PICKET_SELINUX=no
# The same prefix (the build stays configured for it), the rest apart.
export PICKET_SYSCONFDIR=$ovl/etc PICKET_LOCALSTATEDIR=$ovl/var PICKET_LINKDIR=$ovl/usr/local
rc=0
"$INSTALL" "$IB" >"$ovl/install.log" 2>&1 || rc=$?
echo "install=$rc"
sed 's/^/install: /' "$ovl/install.log"
echo "group=$(id -gn picket-scan)"
echo "shell=$(getent passwd picket-scan | cut -d: -f7)"
echo "admin=$(getent group picket-admin | cut -d: -f1)"
rc=0
"$INSTALL" --uninstall "$PREFIX" >"$ovl/uninstall.log" 2>&1 || rc=$?
echo "uninstall=$rc"
sed 's/^/uninstall: /' "$ovl/uninstall.log"
echo "after=$(getent passwd picket-scan)$(getent group picket-scan)$(getent group picket-admin)"
echo "left=$(find "$ovl/etc" "$ovl/var" "$ovl/usr" "$PREFIX" -name '*picket*' 2>/dev/null | tr '\n' ' ')"
EOF
}

can_overlay_etc() {
	[ ! -S /var/run/nscd/socket ] || return 1 # nscd would answer from the host's /etc
	unshare -m sh -c 'd=$(mktemp -d) && mount -t tmpfs tmpfs "$d" && mkdir "$d/u" "$d/w" &&
		mount -t overlay overlay -o "lowerdir=/etc,upperdir=$d/u,workdir=$d/w" /etc' 2>/dev/null
}

# ns_line KEY: the value of KEY= in $output
ns_line() {
	sed -n "s/^$1=//p" <<<"$output"
}

@test "USERGROUPS_ENAB no and yes (private /etc): picket-scan gets group picket-scan; uninstall removes the accounts" {
	can_overlay_etc || skip "no private mount namespace with an overlay on /etc here"
	write_ns_script
	for enab in no yes; do
		run -0 unshare -m --propagation private bash "$TR/ns.sh" "$enab"
		# The setting is in force: plain useradd makes a user group only with yes.
		if [ "$enab" = yes ]; then
			assert_eq "$(ns_line probe_group)" picket-probe "useradd's group with USERGROUPS_ENAB yes"
		else
			[ "$(ns_line probe_group)" != picket-probe ] ||
				fail "USERGROUPS_ENAB no: useradd still made a user group"
		fi
		assert_eq "$(ns_line install)" 0 "install with USERGROUPS_ENAB $enab"
		assert_contains "$output" "install:   created group picket-scan"
		assert_contains "$output" "install:   created user picket-scan"
		assert_eq "$(ns_line group)" picket-scan "primary group with USERGROUPS_ENAB $enab"
		assert_match "$(ns_line shell)" 'nologin$'
		assert_eq "$(ns_line admin)" picket-admin
		assert_eq "$(ns_line uninstall)" 0 "uninstall with USERGROUPS_ENAB $enab"
		assert_eq "$(ns_line after)" "" "accounts after uninstall with USERGROUPS_ENAB $enab"
		assert_eq "$(ns_line left)" "" "files after uninstall with USERGROUPS_ENAB $enab"
	done
	assert_eq "$(picket_paths | grep -v "$TR/ovl")" ""
}

@test "an existing picket-scan with another primary group and a login shell is fixed (private /etc)" {
	can_overlay_etc || skip "no private mount namespace with an overlay on /etc here"
	write_ns_script
	run -0 unshare -m --propagation private bash "$TR/ns.sh" no fix
	assert_eq "$(ns_line install)" 0
	assert_contains "$output" "install:   user picket-scan: primary group was 100, now picket-scan"
	assert_contains "$output" "install:   user picket-scan: shell was '/bin/bash', now /usr/sbin/nologin"
	assert_eq "$(ns_line group)" picket-scan
	assert_eq "$(ns_line after)" ""
}
