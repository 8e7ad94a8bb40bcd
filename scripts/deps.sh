#!/bin/sh
# Installs the Debian packages picket needs to build and test, when missing.
# Debian 12 (bookworm) as root; a no-op when everything is there.
# qemu-system-x86, busybox-static and xz-utils are the kernel matrix's
# (tests/kernels/run-matrix.sh: qemu guests, their initramfs, .ko.xz);
# selinux-policy-default, policycoreutils and setools are the reference
# policy that tests/e2e/selinux_module.bats links picket_bpf into (installing
# them does not turn SELinux on).
set -eu

PKGS="meson ninja-build pkg-config gcc clang llvm libclang-rt-14-dev
libjson-c-dev libconfig-dev libsystemd-dev libbpf-dev bpftool
libcmocka-dev bats checkpolicy semodule-utils systemd
libclamav-dev clamav clamav-testfiles libseccomp-dev libcap-dev libssl-dev uthash-dev
libcap2-bin util-linux passwd procps python3 jq faketime
libmount-dev fuse3 libfuse3-dev
qemu-system-x86 busybox-static xz-utils
selinux-policy-default policycoreutils setools"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run as root to install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
