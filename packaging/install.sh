#!/bin/sh
# install.sh - installs picket from a Meson build on this host, or removes it.
#
#   packaging/install.sh BUILDDIR              install (as root)
#   packaging/install.sh --uninstall [PREFIX]  remove (as root)
#
# Idempotent both ways: running it again changes nothing and exits 0.
# See the "Installing" section of packaging/README.md for every step and for
# the environment variables (PREFIX, PICKET_SYSCONFDIR, PICKET_LOCALSTATEDIR,
# PICKET_LINKDIR, PICKET_KEEP_USERS, PICKET_SELINUX).
set -eu
umask 022
export LC_ALL=C

SCAN_USER=picket-scan
SCAN_GROUP=picket-scan
ADMIN_GROUP=picket-admin
DEFAULT_PREFIX=/opt/picket
# Written into the prefix at install: marks the tree as a picket install
# (uninstall removes a prefix only when it holds this file or sbin/picketd)
# and records where the rest went, so that uninstall finds it with only the
# prefix given.
MANIFEST_REL=share/picket/install.manifest
# The policy as shipped for this prefix (install_prefix filled in); uninstall
# compares the host's policy with it.
SHIPPED_REL=share/picket/policy.conf

ME=${0##*/}
status=0
tmp=

say() { printf '%s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
warn() {
	printf '%s: warning: %s\n' "$ME" "$*" >&2
}
# A step that did not get done: reported at once, exit status 1 at the end.
failed() {
	printf '%s: error: %s\n' "$ME" "$*" >&2
	status=1
}
die() {
	printf '%s: error: %s\n' "$ME" "$*" >&2
	exit 1
}

usage() {
	cat <<EOF
Usage: $ME BUILDDIR
       $ME --uninstall [PREFIX]

Install picket from the Meson build BUILDDIR (meson install, then the users,
policy, directories, systemd unit, SELinux module and links the host needs),
or remove an install.  Run as root.  Both are idempotent.

The prefix is the build's (meson setup --prefix); PREFIX in the environment
overrides it: the build is then reconfigured for it and rebuilt.  Uninstall
takes the prefix as argument, else \$PREFIX, else $DEFAULT_PREFIX.

Environment:
  PREFIX                install prefix (see above)
  PICKET_SYSCONFDIR     default /etc: DIR/picket/policy.conf, DIR/systemd/system
  PICKET_LOCALSTATEDIR  default /var: DIR/lib/picket, DIR/log/picket
  PICKET_LINKDIR        default /usr/local: DIR/bin/picketctl, DIR/sbin/picketd
                        symbolic links; empty: no links
  PICKET_KEEP_USERS=1   uninstall keeps the $SCAN_USER user and the groups
  PICKET_SELINUX=no     neither install nor remove the SELinux module
EOF
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$tmp" ]; then
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

need_root() {
	[ "$(id -u)" -eq 0 ] || die "run as root (it creates users and writes under /etc and the prefix)"
}

# A path we are willing to use: absolute, no "." or ".." component, a plain
# character set (it is written into the policy and used in sed and find).
check_path() { # WHAT PATH
	case $2 in
	/*) ;;
	*) die "$1 must be an absolute path: '$2'" ;;
	esac
	case $2 in
	*/./* | */../* | */. | */.. | *//*) die "$1 must be a normalised path: '$2'" ;;
	esac
	if printf '%s' "$2" | LC_ALL=C grep -q '[^A-Za-z0-9._/+@:-]'; then
		die "$1 may contain only letters, digits and ._/+@:- : '$2'"
	fi
}

strip_slashes() { # PATH: without trailing slashes ("/" stays "/")
	p=$1
	while :; do
		case $p in
		?*/) p=${p%/} ;;
		*) break ;;
		esac
	done
	printf '%s' "$p"
}

# Directories that are never a prefix of their own: picket normalises and
# removes the whole prefix tree, so it must be dedicated to picket.
check_dedicated() { # PREFIX
	case $1 in
	/ | /usr | /usr/local | /usr/* | /opt | /etc | /etc/* | /var | /var/lib | /var/log | /var/tmp | \
		/tmp | /home | /root | /srv | /bin | /sbin | /lib | /lib32 | /lib64 | /libx32 | /boot | \
		/dev | /dev/* | /proc | /proc/* | /sys | /sys/* | /run | /mnt | /media)
		die "prefix $1 is not a directory of picket's own: choose one such as $DEFAULT_PREFIX"
		;;
	esac
}

# A directory option may be relative to the prefix; make it absolute.
under_prefix() { # PREFIX DIR
	case $2 in
	/*) printf '%s' "$2" ;;
	*) printf '%s/%s' "$1" "$2" ;;
	esac
}

python=
find_python() {
	if [ -x /usr/bin/python3 ]; then
		python=/usr/bin/python3
	elif command -v python3 >/dev/null 2>&1; then
		python=python3
	else
		die "python3 is needed to read the Meson build information (Meson itself runs on it)"
	fi
}

# Regenerates BUILDDIR's build files (and meson-info) if its configuration
# changed; builds nothing.
regenerate() { # BUILDDIR
	if ! ninja -C "$1" build.ninja >"$tmp/regen.log" 2>&1; then
		cat "$tmp/regen.log" >&2
		die "ninja -C $1 build.ninja (regenerating the build files) failed"
	fi
}

# Reads BUILDDIR/meson-info into the variables b_* (and b_outside, the
# destinations outside the prefix, one a line) and $tmp/targets (the build
# outputs that are installed, relative to BUILDDIR, one a line).
read_build() { # BUILDDIR
	"$python" - "$1" "$tmp/targets" >"$tmp/build.info" <<'EOF' || die "cannot read the Meson build information in $1/meson-info"
import json, os, sys
d = os.path.join(sys.argv[1], "meson-info")
def load(n):
    with open(os.path.join(d, n)) as f:
        return json.load(f)
opts = {o["name"]: o["value"] for o in load("intro-buildoptions.json")}
for k in ("prefix", "bindir", "sbindir", "libexecdir", "datadir", "sysconfdir"):
    print("%s=%s" % (k, opts[k]))
print("source=%s" % load("meson-info.json")["directories"]["source"])
print("version=%s" % load("intro-projectinfo.json").get("version", "unknown"))
prefix = opts["prefix"].rstrip("/") or "/"
for dst in sorted(load("intro-installed.json").values()):
    if not dst.startswith(prefix + "/"):
        print("outside=%s" % dst)
with open(sys.argv[2], "w") as f:
    for t in load("intro-targets.json"):
        if t.get("installed"):
            for out in t["filename"]:
                f.write(os.path.relpath(out, sys.argv[1]) + "\n")
EOF
	b_prefix='' b_bindir='' b_sbindir='' b_libexecdir='' b_datadir='' b_sysconfdir='' b_source='' b_version=''
	b_outside=''
	while IFS= read -r line; do
		case $line in
		prefix=*) b_prefix=${line#*=} ;;
		bindir=*) b_bindir=${line#*=} ;;
		sbindir=*) b_sbindir=${line#*=} ;;
		libexecdir=*) b_libexecdir=${line#*=} ;;
		datadir=*) b_datadir=${line#*=} ;;
		sysconfdir=*) b_sysconfdir=${line#*=} ;;
		source=*) b_source=${line#*=} ;;
		version=*) b_version=${line#*=} ;;
		outside=*) b_outside="$b_outside
    ${line#*=}" ;;
		esac
	done <"$tmp/build.info"
}

# The account fields of NAME in the passwd / group database (NSS).
pw_field() { getent passwd "$1" | cut -d: -f"$2"; }
gr_field() { getent group "$1" | cut -d: -f"$2"; }

nologin_shell() {
	for s in /usr/sbin/nologin /sbin/nologin; do
		if [ -x "$s" ]; then
			printf '%s' "$s"
			return
		fi
	done
	printf '/bin/false'
}

words() { printf '%s' "$1" | tr '\n' ' ' | sed 's/ *$//'; } # lines to one line

systemd_running() { [ -d /run/systemd/system ]; }

# "KEY=VALUE" lines of the manifest, read without executing anything.
manifest_get() { # FILE KEY
	sed -n "s|^$2=||p" "$1" | head -n 1
}

# The ExecStart path of a unit file.
unit_exec() { # FILE
	sed -n 's|^ExecStart=[-@:+!]*\([^ ]*\).*|\1|p' "$1" | head -n 1
}

# Copies SRC to DST (mode 0644, root) unless DST already has the same
# content; replaces atomically.  Returns 0 when it wrote, 1 when unchanged.
put_file() { # SRC DST
	if [ -f "$2" ] && [ ! -L "$2" ] && cmp -s "$1" "$2"; then
		chown 0:0 "$2"
		chmod 00644 "$2"
		return 1
	fi
	cp "$1" "$2.new.$$"
	chown 0:0 "$2.new.$$"
	chmod 00644 "$2.new.$$"
	mv -f "$2.new.$$" "$2"
	return 0
}

ensure_dir() { # DIR MODE: exists, root-owned, MODE (the dir only, not below)
	if [ ! -d "$1" ]; then
		mkdir -p "$1"
		note "created $1"
	fi
	chown 0:0 "$1"
	chmod "$2" "$1"
}

# ============================================================== install

do_install() {
	build=$1
	[ -f "$build/meson-info/intro-buildoptions.json" ] ||
		die "$build is not a Meson build directory (configure one with: make install, or meson setup $build --prefix=$DEFAULT_PREFIX ...)"
	if [ -n "${DESTDIR:-}" ]; then
		die "DESTDIR is set: $ME installs on this host; for a staged install use: meson install -C $build --destdir DIR"
	fi
	need_root
	command -v meson >/dev/null 2>&1 || die "meson is not installed"
	command -v ninja >/dev/null 2>&1 || die "ninja is not installed"
	find_python
	# Regenerated first if its configuration changed (meson configure by
	# hand): meson-info is only rewritten then.
	regenerate "$build"
	read_build "$build"

	# ---- the prefix
	target=$(strip_slashes "${PREFIX:-$b_prefix}")
	check_path "prefix" "$target"
	check_dedicated "$target"
	if [ -d "$target" ] && [ ! -f "$target/$MANIFEST_REL" ] &&
		[ -n "$(ls -A "$target")" ] && [ ! -f "$target/sbin/picketd" ]; then
		die "prefix $target exists, is not empty and holds no picket install: choose another prefix or empty it"
	fi
	if [ "$target" != "$b_prefix" ]; then
		say "Build $build is configured for prefix $b_prefix; reconfiguring it for PREFIX=$target"
		if ! meson configure "$build" -Dprefix="$target" -Dbindir="$b_bindir" -Dsbindir="$b_sbindir" \
			-Dlibexecdir="$b_libexecdir" -Ddatadir="$b_datadir" -Dsysconfdir="$b_sysconfdir" \
			>"$tmp/configure.log" 2>&1; then
			cat "$tmp/configure.log" >&2
			die "meson configure $build failed"
		fi
		regenerate "$build" # the unit and meson-info, for the new prefix
		read_build "$build"
		[ "$(strip_slashes "$b_prefix")" = "$target" ] || die "meson configure did not set the prefix to $target"
	fi
	P=$target
	bindir=$(under_prefix "$P" "$b_bindir")
	sbindir=$(under_prefix "$P" "$b_sbindir")
	libexecdir=$(under_prefix "$P" "$b_libexecdir")
	datadir=$(under_prefix "$P" "$b_datadir")
	for d in "$bindir" "$sbindir" "$libexecdir" "$datadir"; do
		case $d in
		"$P"/*) ;;
		*) die "build option directory $d is outside the prefix $P: everything picket installs must be under the prefix" ;;
		esac
	done
	if [ -n "$b_outside" ]; then
		die "the build installs files outside the prefix $P (picket keeps everything in its prefix; the installer writes /etc itself):$b_outside"
	fi

	SCD=$(strip_slashes "${PICKET_SYSCONFDIR:-/etc}")
	LSD=$(strip_slashes "${PICKET_LOCALSTATEDIR:-/var}")
	LINKDIR=$(strip_slashes "${PICKET_LINKDIR-/usr/local}")
	check_path PICKET_SYSCONFDIR "$SCD"
	check_path PICKET_LOCALSTATEDIR "$LSD"
	[ -z "$LINKDIR" ] || check_path PICKET_LINKDIR "$LINKDIR"
	policy_dir=$SCD/picket
	policy=$policy_dir/policy.conf
	unit_dir=$SCD/systemd/system
	unit=$unit_dir/picketd.service
	state_dir=$LSD/lib/picket
	log_dir=$LSD/log/picket

	say "Installing picket $b_version into $P"

	# ---- 1. files, then the tree: root-owned, directories 0755
	# What is installed, built (a no-op after make install's ninja).
	if ! xargs -r ninja -C "$build" <"$tmp/targets" >"$tmp/ninja.log" 2>&1; then
		cat "$tmp/ninja.log" >&2
		die "ninja -C $build failed"
	fi
	mkdir -p "$P"
	if ! meson install -C "$build" --quiet --no-rebuild >"$tmp/install.log" 2>&1; then
		cat "$tmp/install.log" >&2
		die "meson install -C $build failed"
	fi
	for f in "$sbindir/picketd" "$bindir/picketctl" "$libexecdir/picket-scand" \
		"$P/lib/systemd/system/picketd.service"; do
		[ -f "$f" ] || die "meson install did not install $f"
	done
	note "meson install -C $build: done"
	mkdir -p "$P/lib/btf" "$P/share/picket"

	# The policy as shipped for this prefix.
	src_policy=$b_source/etc/policy.conf
	[ -f "$src_policy" ] || die "no shipped policy $src_policy"
	sed -e "s|^\\([[:space:]]*install_prefix[[:space:]]*=[[:space:]]*\\)\"[^\"]*\"|\\1\"$P\"|" \
		-e "s|^\\(#[[:space:]]*btf_dir[[:space:]]*=[[:space:]]*\\)\"[^\"]*\"|\\1\"$P/lib/btf\"|" \
		"$src_policy" >"$tmp/policy.conf"
	if ! grep -q "^[[:space:]]*install_prefix[[:space:]]*=[[:space:]]*\"$P\"" "$tmp/policy.conf"; then
		# The shipped policy leaves it at the default: set it for this prefix.
		printf '\n# Set by the installer.\ninstall_prefix = "%s";\n' "$P" >>"$tmp/policy.conf"
	fi
	if ! "$bindir/picketctl" policy check "$tmp/policy.conf" >"$tmp/check.log" 2>&1; then
		cat "$tmp/check.log" >&2
		die "the shipped policy, with install_prefix = \"$P\", does not pass picketctl policy check"
	fi
	put_file "$tmp/policy.conf" "$P/$SHIPPED_REL" || :

	{
		echo "# picket install manifest, written by packaging/install.sh; read by --uninstall."
		echo "version=$b_version"
		echo "prefix=$P"
		echo "bindir=$bindir"
		echo "sbindir=$sbindir"
		echo "libexecdir=$libexecdir"
		echo "sysconfdir=$SCD"
		echo "localstatedir=$LSD"
		echo "linkdir=$LINKDIR"
	} >"$tmp/manifest"
	put_file "$tmp/manifest" "$P/$MANIFEST_REL" || :

	# Owner root:root everywhere; directories 0755; files 0644, except the
	# programs in bindir, sbindir and libexecdir: 0755.  The leading 0 also
	# clears setuid/setgid/sticky (GNU chmod keeps a directory's setgid bit
	# for a 4-digit mode).
	find "$P" -exec chown -h 0:0 {} +
	find "$P" -type d -exec chmod 00755 {} +
	find "$P" -type f -exec chmod 00644 {} +
	for d in "$bindir" "$sbindir" "$libexecdir"; do
		find "$d" -type f -exec chmod 00755 {} +
	done
	bad=$(find "$P" -type d \( ! -perm 0755 -o ! -user 0 -o ! -group 0 \) -print | head -n 5)
	[ -z "$bad" ] || die "could not make these directories root:root 0755: $bad"
	note "$P: every directory root:root 0755, files 0644, programs 0755"
	# The scan user reaches the prefix through its parents.
	d=$P
	while [ "$d" != / ] && [ -n "$d" ]; do
		d=${d%/*}
		[ -n "$d" ] || d=/
		perm=$(stat -c %A "$d")
		case $perm in
		?????????[xt]) ;;
		*) warn "$d is mode $perm: the scan user $SCAN_USER cannot reach $P (chmod o+x $d)" ;;
		esac
	done

	# ---- 2. groups and the scan user, whatever USERGROUPS_ENAB says:
	# the group first, then the user with --gid (no user group is made
	# implicitly, and none is expected).
	if getent group "$SCAN_GROUP" >/dev/null; then
		note "group $SCAN_GROUP exists"
	else
		groupadd --system "$SCAN_GROUP"
		note "created group $SCAN_GROUP (gid $(gr_field "$SCAN_GROUP" 3))"
	fi
	nologin=$(nologin_shell)
	if getent passwd "$SCAN_USER" >/dev/null; then
		uid=$(pw_field "$SCAN_USER" 3)
		[ "$uid" != 0 ] || die "user $SCAN_USER has uid 0: remove it (userdel $SCAN_USER) and run $ME again"
		gid=$(pw_field "$SCAN_USER" 4)
		want_gid=$(gr_field "$SCAN_GROUP" 3)
		if [ "$gid" != "$want_gid" ]; then
			usermod -g "$SCAN_GROUP" "$SCAN_USER" ||
				die "cannot set the primary group of $SCAN_USER to $SCAN_GROUP (usermod -g $SCAN_GROUP $SCAN_USER)"
			note "user $SCAN_USER: primary group was $gid, now $SCAN_GROUP ($want_gid)"
		fi
		shell=$(pw_field "$SCAN_USER" 7)
		case $shell in
		/usr/sbin/nologin | /sbin/nologin | /bin/false | /usr/bin/false) ;;
		*)
			usermod -s "$nologin" "$SCAN_USER" ||
				die "cannot set the shell of $SCAN_USER to $nologin (usermod -s $nologin $SCAN_USER)"
			note "user $SCAN_USER: shell was '$shell', now $nologin"
			;;
		esac
		note "user $SCAN_USER exists (uid $uid, group $SCAN_GROUP)"
	else
		useradd --system --gid "$SCAN_GROUP" --no-create-home --home-dir /nonexistent \
			--shell "$nologin" --comment "picket scan service" "$SCAN_USER"
		note "created user $SCAN_USER (uid $(pw_field "$SCAN_USER" 3), group $SCAN_GROUP, shell $nologin)"
	fi
	if [ "$(id -gn "$SCAN_USER")" != "$SCAN_GROUP" ]; then
		die "user $SCAN_USER does not have primary group $SCAN_GROUP after all (id -gn: $(id -gn "$SCAN_USER"))"
	fi
	if getent group "$ADMIN_GROUP" >/dev/null; then
		note "group $ADMIN_GROUP exists"
	else
		groupadd --system "$ADMIN_GROUP"
		note "created group $ADMIN_GROUP (gid $(gr_field "$ADMIN_GROUP" 3))"
	fi

	# ---- 3. the policy: never overwrite the host's
	ensure_dir "$policy_dir" 00755
	if [ ! -e "$policy" ]; then
		put_file "$P/$SHIPPED_REL" "$policy" || :
		note "installed the policy $policy"
		rm -f "$policy.dist"
	elif cmp -s "$P/$SHIPPED_REL" "$policy"; then
		note "policy $policy is the shipped one (unchanged)"
		rm -f "$policy.dist"
	else
		if put_file "$P/$SHIPPED_REL" "$policy.dist"; then
			note "policy $policy differs from the shipped one: kept; the shipped one is $policy.dist"
		else
			note "policy $policy differs from the shipped one: kept ($policy.dist is the shipped one)"
		fi
		have=$(sed -n 's|^[[:space:]]*install_prefix[[:space:]]*=[[:space:]]*"\([^"]*\)".*|\1|p' "$policy" | tail -n 1)
		if [ -n "$have" ] && [ "$have" != "$P" ]; then
			warn "$policy sets install_prefix = \"$have\", not \"$P\": picketd checks $have (fault 5)"
		fi
	fi

	# ---- 4. state and log directories (/run/picket: the unit makes it)
	ensure_dir "$state_dir" 00755
	ensure_dir "$log_dir" 00750
	note "$state_dir 0755, $log_dir 0750"

	# ---- 5. the systemd unit: systemd does not look in the prefix
	ensure_dir "$unit_dir" 00755
	if [ -f "$unit" ]; then
		old=$(unit_exec "$unit")
		case $old in
		"$P"/*) ;;
		*) say "  $unit ran $old: it now runs $sbindir/picketd" ;;
		esac
	fi
	unit_changed=
	if put_file "$P/lib/systemd/system/picketd.service" "$unit"; then
		unit_changed=1
		note "installed the unit $unit"
	else
		note "unit $unit is up to date"
	fi
	if ! systemd_running; then
		start_hint="$sbindir/picketd   (systemd is not running here, so no daemon-reload; where it runs: systemctl enable --now picketd)"
	elif [ "$unit_dir" = /etc/systemd/system ]; then
		if [ -n "$unit_changed" ]; then
			systemctl daemon-reload || failed "systemctl daemon-reload failed"
			note "systemctl daemon-reload"
		fi
		start_hint="systemctl enable --now picketd   (not enabled or started by $ME)"
	else
		start_hint="$sbindir/picketd   (systemd does not read units in $unit_dir)"
	fi

	# ---- 6. SELinux (FAULTS.md, 19)
	pp=$datadir/picket/selinux/picket_bpf.pp
	if [ "${PICKET_SELINUX:-auto}" = no ]; then
		selinux_line="not touched (PICKET_SELINUX=no)"
	elif command -v selinuxenabled >/dev/null 2>&1 && selinuxenabled; then
		if [ ! -f "$pp" ]; then
			failed "SELinux is enabled but $pp was not built (build needs checkpolicy and semodule-utils): picketd will raise fault 19"
			selinux_line="enabled; module NOT installed"
		elif semodule -i "$pp"; then
			selinux_line="module picket_bpf installed"
		else
			failed "semodule -i $pp failed: picketd will raise fault 19"
			selinux_line="enabled; module NOT installed"
		fi
	else
		selinux_line="not active: module picket_bpf not installed"
	fi
	note "SELinux: $selinux_line"

	# ---- 7. links
	links=
	if [ -n "$LINKDIR" ]; then
		for pair in "bin/picketctl:$bindir/picketctl" "sbin/picketd:$sbindir/picketd"; do
			link=$LINKDIR/${pair%%:*}
			to=${pair#*:}
			mkdir -p "${link%/*}"
			if [ -L "$link" ]; then
				cur=$(readlink "$link")
				if [ "$cur" != "$to" ]; then
					ln -sfn "$to" "$link"
					note "link $link -> $to (was -> $cur)"
				fi
			elif [ -e "$link" ]; then
				warn "$link exists and is not a symbolic link: left alone"
				continue
			else
				ln -s "$to" "$link"
				note "link $link -> $to"
			fi
			links="$links $link"
		done
	fi

	# ---- summary
	scan_uid=$(pw_field "$SCAN_USER" 3)
	running=$(pids_in_prefix "$P")
	cat <<EOF

picket $b_version is installed in $P
  picketd       $sbindir/picketd
  picketctl     $bindir/picketctl
  picket-scand  $libexecdir/picket-scand
  policy        $policy
  unit          $unit
  state, logs   $state_dir, $log_dir
  users         $SCAN_USER (uid $scan_uid, group $SCAN_GROUP), admin group $ADMIN_GROUP
  SELinux       $selinux_line
EOF
	if [ -n "$links" ]; then
		say "  links        $links"
	else
		say "  links         none: add $bindir and $sbindir to PATH"
	fi
	say "Start it:      $start_hint"
	if [ -n "$running" ]; then
		say "picketd is running from $P (pid $(words "$running")): restart it to use the new files"
	fi
	say "Let USER run picketctl:  usermod -aG $ADMIN_GROUP USER   (then log in again)"
	say "Remove it:     $0 --uninstall $P"
	if [ "$status" -ne 0 ]; then
		say "Installed, but with the errors above: $ME exits 1."
	fi
}

# ============================================================ uninstall

# The processes running a program from PREFIX (picketd, picket-scand,
# picketctl), by /proc/PID/exe.
pids_in_prefix() { # PREFIX
	for d in /proc/[0-9]*; do
		exe=$(readlink "$d/exe" 2>/dev/null) || continue
		case $exe in
		"$1"/*) printf '%s\n' "${d#/proc/}" ;;
		esac
	done
}

alive() { # PIDS...: those still running (not zombies)
	for p in "$@"; do
		if [ -e "/proc/$p" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$p/status" 2>/dev/null; then
			printf '%s\n' "$p"
		fi
	done
}

stop_processes() { # PREFIX
	pids=$(pids_in_prefix "$1")
	[ -n "$pids" ] || return 0
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || :
	removed=1
	n=0
	# picketd's unit allows 30 s (TimeoutStopSec).
	# shellcheck disable=SC2086 # a list of pids
	while [ -n "$(alive $pids)" ] && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	# shellcheck disable=SC2086
	left=$(alive $pids)
	if [ -n "$left" ]; then
		# shellcheck disable=SC2086
		kill -KILL $left 2>/dev/null || :
		note "stopped the picket processes $(words "$pids") (killed $(words "$left") after 30 s)"
	else
		note "stopped the picket processes $(words "$pids")"
	fi
}

do_uninstall() {
	need_root
	P=$(strip_slashes "${1:-${PREFIX:-$DEFAULT_PREFIX}}")
	check_path prefix "$P"
	check_dedicated "$P"
	manifest=$P/$MANIFEST_REL
	m() { # KEY ENVVALUE_SET ENVVALUE DEFAULT
		if [ "$2" = set ]; then
			printf '%s' "$3"
		elif [ -f "$manifest" ] && grep -q "^$1=" "$manifest"; then
			manifest_get "$manifest" "$1"
		else
			printf '%s' "$4"
		fi
	}
	SCD=$(strip_slashes "$(m sysconfdir "${PICKET_SYSCONFDIR:+set}" "${PICKET_SYSCONFDIR-}" /etc)")
	LSD=$(strip_slashes "$(m localstatedir "${PICKET_LOCALSTATEDIR:+set}" "${PICKET_LOCALSTATEDIR-}" /var)")
	LINKDIR=$(strip_slashes "$(m linkdir "${PICKET_LINKDIR+set}" "${PICKET_LINKDIR-}" /usr/local)")
	check_path sysconfdir "$SCD"
	check_path localstatedir "$LSD"
	[ -z "$LINKDIR" ] || check_path linkdir "$LINKDIR"
	policy_dir=$SCD/picket
	policy=$policy_dir/policy.conf
	unit_dir=$SCD/systemd/system
	unit=$unit_dir/picketd.service
	state_dir=$LSD/lib/picket
	log_dir=$LSD/log/picket
	removed=
	installed=
	if [ -f "$manifest" ] || [ -f "$P/sbin/picketd" ]; then
		installed=1
	fi

	say "Removing picket from $P"

	# ---- the daemon
	ours_unit=
	if [ -f "$unit" ]; then
		case $(unit_exec "$unit") in
		"$P"/*) ours_unit=1 ;;
		esac
	fi
	if [ -n "$ours_unit" ] && systemd_running && [ "$unit_dir" = /etc/systemd/system ]; then
		if systemctl is-active --quiet picketd.service; then
			systemctl stop picketd.service || failed "systemctl stop picketd failed"
			note "stopped picketd.service"
			removed=1
		fi
		if systemctl is-enabled --quiet picketd.service 2>/dev/null; then
			systemctl disable --quiet picketd.service || failed "systemctl disable picketd failed"
			note "disabled picketd.service"
			removed=1
		fi
	fi
	stop_processes "$P"

	# ---- the unit (only the one that runs this prefix's picketd)
	if [ -n "$ours_unit" ]; then
		for w in "$unit_dir"/*.wants/picketd.service; do
			if [ -L "$w" ]; then
				rm -f "$w"
				note "removed $w"
			fi
		done
		rm -f "$unit"
		note "removed $unit"
		removed=1
		if systemd_running && [ "$unit_dir" = /etc/systemd/system ]; then
			systemctl daemon-reload || failed "systemctl daemon-reload failed"
		fi
	elif [ -f "$unit" ]; then
		note "left $unit: it runs $(unit_exec "$unit"), not a program in $P"
	fi

	# ---- links into the prefix
	if [ -n "$LINKDIR" ]; then
		for link in "$LINKDIR/bin/picketctl" "$LINKDIR/sbin/picketd"; do
			[ -L "$link" ] || continue
			case $(readlink "$link") in
			"$P"/*)
				rm -f "$link"
				note "removed the link $link"
				removed=1
				;;
			*) note "left the link $link -> $(readlink "$link"): not into $P" ;;
			esac
		done
	fi

	# The rest is shared by whatever install there is: touched only when P
	# holds one (a wrong prefix must not take the policy, state and users of
	# the real install with it).
	if [ -z "$installed" ]; then
		for x in "$policy_dir" "$state_dir" "$log_dir"; do
			if [ -e "$x" ]; then
				note "left $x: no picket install in $P to remove it with"
			fi
		done
		if [ "$removed" = 1 ]; then
			say "picket removed from $P (unit and links only: no install in it)"
		else
			say "picket is not installed in $P: nothing to remove"
		fi
		return 0
	fi

	# ---- SELinux module
	if [ "${PICKET_SELINUX:-auto}" != no ] && command -v semodule >/dev/null 2>&1 &&
		semodule -l 2>/dev/null | grep -q '^picket_bpf\([[:space:]]\|$\)'; then
		if semodule -r picket_bpf; then
			note "removed the SELinux module picket_bpf"
			removed=1
		else
			failed "semodule -r picket_bpf failed"
		fi
	fi

	# ---- the policy, if it is still the shipped one
	if [ -f "$policy" ]; then
		if [ -f "$P/$SHIPPED_REL" ] && cmp -s "$P/$SHIPPED_REL" "$policy"; then
			rm -f "$policy"
			note "removed $policy (unchanged from the shipped one)"
			removed=1
		else
			note "kept $policy: it differs from the policy this install shipped (remove it yourself if it is no longer needed)"
		fi
	fi
	if [ -f "$policy.dist" ]; then
		rm -f "$policy.dist"
		note "removed $policy.dist"
		removed=1
	fi
	if [ -d "$policy_dir" ]; then
		if rmdir "$policy_dir" 2>/dev/null; then
			note "removed $policy_dir"
			removed=1
		else
			note "kept $policy_dir: it holds $(words "$(ls -A "$policy_dir")")"
		fi
	fi

	# ---- state and logs; a non-empty quarantine is kept
	if [ -d "$state_dir" ]; then
		q=$state_dir/quarantine
		if [ -d "$q" ] && [ -n "$(ls -A "$q")" ]; then
			others=$(find "$state_dir" -mindepth 1 -maxdepth 1 ! -name quarantine -print | head -n 1)
			if [ -n "$others" ]; then
				find "$state_dir" -mindepth 1 -maxdepth 1 ! -name quarantine -exec rm -rf {} +
				removed=1
			fi
			note "kept $q: it holds quarantined files (remove $state_dir yourself once they are dealt with)"
		else
			rm -rf "$state_dir"
			note "removed $state_dir"
			removed=1
		fi
	fi
	if [ -d "$log_dir" ]; then
		rm -rf "$log_dir"
		note "removed $log_dir"
		removed=1
	fi

	# ---- users and groups
	if [ "${PICKET_KEEP_USERS:-0}" = 1 ]; then
		if getent passwd "$SCAN_USER" >/dev/null || getent group "$ADMIN_GROUP" >/dev/null; then
			note "kept the user $SCAN_USER and the groups $SCAN_GROUP, $ADMIN_GROUP (PICKET_KEEP_USERS=1)"
		fi
	else
		if getent passwd "$SCAN_USER" >/dev/null; then
			if userdel "$SCAN_USER"; then
				if getent group "$SCAN_GROUP" >/dev/null; then
					note "removed the user $SCAN_USER"
				else
					note "removed the user $SCAN_USER (userdel also removed its group $SCAN_GROUP)"
				fi
				removed=1
			else
				failed "userdel $SCAN_USER failed"
			fi
		fi
		# userdel removes the user's group itself when USERGROUPS_ENAB is yes.
		for g in "$SCAN_GROUP" "$ADMIN_GROUP"; do
			if getent group "$g" >/dev/null; then
				if groupdel "$g"; then
					note "removed the group $g"
					removed=1
				else
					failed "groupdel $g failed"
				fi
			fi
		done
	fi

	# ---- the prefix tree, last: until then a failed run can be run again
	if [ -n "$installed" ]; then
		rm -rf "$P"
		note "removed $P"
		removed=1
	elif [ -d "$P" ]; then
		note "left $P: it holds no picket install"
	fi

	if [ -z "$removed" ]; then
		say "picket is not installed in $P: nothing to remove"
	elif [ "$status" -ne 0 ]; then
		say "picket removed from $P, but with the errors above: $ME exits 1"
	else
		say "picket removed from $P"
	fi
}

# ================================================================= main

case ${1:-} in
-h | --help)
	usage
	exit 0
	;;
--uninstall)
	[ $# -le 2 ] || {
		usage >&2
		exit 2
	}
	tmp=$(mktemp -d /tmp/picket-install.XXXXXX)
	do_uninstall "${2:-}"
	;;
'' | -*)
	usage >&2
	exit 2
	;;
*)
	[ $# -eq 1 ] || {
		usage >&2
		exit 2
	}
	tmp=$(mktemp -d /tmp/picket-install.XXXXXX)
	do_install "$1"
	;;
esac
exit "$status"
