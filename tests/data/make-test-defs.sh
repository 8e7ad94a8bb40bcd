#!/bin/sh
# make-test-defs.sh OUTDIR - builds the test virus definitions the unit and
# end-to-end tests use, with sigtool (package clamav) and the ClamAV test
# files (package clamav-testfiles).  Nothing here is committed as a binary:
# every file is generated at run time.
#
#   OUTDIR/picket.cud      version 1, 2 signatures: Picket.Test.ClamExe (MD5 of
#                          clam.exe, .hdb) and Picket.Test.EICAR (.ndb)
#   OUTDIR/v2/picket.cud   version 2, 3 signatures (adds the SHA-256 of clam.exe)
#   OUTDIR/bad/            broken variants, each named for what is wrong:
#     truncated-header.cud  the first 300 bytes of picket.cud
#     wrong-md5.cud         header MD5 changed, body intact
#     garbage-body.cud      valid header, garbage body, MD5 recomputed: passes
#                           the integrity checks, fails to load
#     empty.cud             0 bytes
#     huge-sigs.cud         sigs field 4294967295
#     bad-sigline.cud       a malformed .ndb line, the .info and the MD5 redone so
#                           the container is consistent: only loading fails
#   OUTDIR/eicar.com       the EICAR test string (68 bytes)
set -eu

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
clam=/usr/share/clamav-testfiles/clam.exe
for tool in sigtool md5sum sha256sum tar gzip awk; do
	command -v "$tool" >/dev/null 2>&1 || { echo "$0: $tool not found" >&2; exit 1; }
done
[ -r "$clam" ] || { echo "$0: $clam missing (package clamav-testfiles)" >&2; exit 1; }

mkdir -p "$out/v2" "$out/bad"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/make-test-defs.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

clam_md5=$(md5sum "$clam" | cut -d' ' -f1)
clam_sha256=$(sha256sum "$clam" | cut -d' ' -f1)
clam_size=$(wc -c <"$clam" | tr -d ' ')
# hex of "EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
eicar_hex=45494341522d5354414e444152442d414e544956495255532d544553542d46494c45

# build NAME VERSION DIR: sigtool packs DIR/NAME.{hdb,hsb,ndb} into DIR/NAME.cud.
build() {
	(
		cd "$3"
		mkdir -p empty
		echo "Picket test signatures" >COPYING
		echo picket | sigtool --unsigned --build="$1.cud" --cvd-version="$2" \
			--datadir=./empty --no-cdiff >build.log 2>&1 ||
			{ cat build.log >&2; exit 1; }
	)
}

# header FILE: the header text without its padding.
header() { head -c 512 "$1" | sed 's/ *$//'; }

# repack HEADERTEXT BODYFILE OUT: header padded to 512 bytes with spaces, then the body.
repack() {
	[ ${#1} -le 512 ] || { echo "$0: header too long" >&2; exit 1; }
	printf '%-512s' "$1" >"$3"
	cat "$2" >>"$3"
}

# set_field HEADERTEXT N VALUE: the header with ':'-field N (1 = magic) replaced.
set_field() { printf '%s\n' "$1" | awk -F: -v OFS=: -v n="$2" -v v="$3" '{ $n = v; print }'; }

# --- version 1 and 2
mkdir -p "$work/v1" "$work/v2"
printf '%s:%s:Picket.Test.ClamExe\n' "$clam_md5" "$clam_size" >"$work/v1/picket.hdb"
printf 'Picket.Test.EICAR:0:*:%s\n' "$eicar_hex" >"$work/v1/picket.ndb"
cp "$work/v1/picket.hdb" "$work/v1/picket.ndb" "$work/v2/"
printf '%s:%s:Picket.Test.ClamExe.SHA256\n' "$clam_sha256" "$clam_size" >"$work/v2/picket.hsb"
build picket 1 "$work/v1"
build picket 2 "$work/v2"
cp "$work/v1/picket.cud" "$out/picket.cud"
cp "$work/v2/picket.cud" "$out/v2/picket.cud"
# old/picket.cud: the v1 signatures as built 30 days ago (fault 20).
mkdir -p "$work/old" "$out/old"
cp "$work/v1/picket.hdb" "$work/v1/picket.ndb" "$work/old/"
FAKETIME=-30d LD_PRELOAD=$(ls /usr/lib/*/faketime/libfaketime.so.1 | head -n 1) \
	build picket 1 "$work/old"
cp "$work/old/picket.cud" "$out/old/picket.cud"

good=$out/picket.cud
hdr=$(header "$good")
tail -c +513 "$good" >"$work/body"

# --- broken variants
head -c 300 "$good" >"$out/bad/truncated-header.cud"
: >"$out/bad/empty.cud"

md5=$(printf '%s\n' "$hdr" | cut -d: -f6)
if [ "$md5" = 00000000000000000000000000000000 ]; then other=11111111111111111111111111111111; else other=00000000000000000000000000000000; fi
repack "$(set_field "$hdr" 6 "$other")" "$work/body" "$out/bad/wrong-md5.cud"

repack "$(set_field "$hdr" 4 4294967295)" "$work/body" "$out/bad/huge-sigs.cud"

i=0
: >"$work/garbage"
while [ $i -lt 64 ]; do
	echo "this is not a gzip-compressed tar archive, line $i" >>"$work/garbage"
	i=$((i + 1))
done
gmd5=$(md5sum "$work/garbage" | cut -d' ' -f1)
repack "$(set_field "$hdr" 6 "$gmd5")" "$work/garbage" "$out/bad/garbage-body.cud"

# bad-sigline: sigtool test-loads what it packs, so it refuses a malformed
# line.  Build a good container, then swap the .ndb for a malformed one and
# redo what the container records about it (.info size and SHA-256, header MD5).
mkdir -p "$work/bs" "$work/bs/tar"
cp "$work/v1/picket.hdb" "$work/bs/bad-sigline.hdb"
printf 'Picket.Test.Bad:0:*:41424344\n' >"$work/bs/bad-sigline.ndb"
build bad-sigline 1 "$work/bs"
tail -c +513 "$work/bs/bad-sigline.cud" | (cd "$work/bs/tar" && tar -xzf -)
chmod 0644 "$work"/bs/tar/* # sigtool stores mode 0: unreadable once extracted by non-root
bad_line='Picket.Test.Bad:0:*:4142zz((44'
printf '%s\n' "$bad_line" >"$work/bs/tar/bad-sigline.ndb"
nsize=$(wc -c <"$work/bs/tar/bad-sigline.ndb" | tr -d ' ')
nsha=$(sha256sum "$work/bs/tar/bad-sigline.ndb" | cut -d' ' -f1)
awk -F: -v OFS=: -v s="$nsize" -v h="$nsha" \
	'$1 == "bad-sigline.ndb" { $2 = s; $3 = h } { print }' \
	"$work/bs/tar/bad-sigline.info" >"$work/bs/info.new"
mv "$work/bs/info.new" "$work/bs/tar/bad-sigline.info"
(cd "$work/bs/tar" && tar --format=ustar --owner=0 --group=0 --numeric-owner --mtime=@0 \
	-cf - COPYING bad-sigline.info bad-sigline.hdb bad-sigline.ndb) | gzip -9n >"$work/bs/body"
bhdr=$(header "$work/bs/bad-sigline.cud")
bmd5=$(md5sum "$work/bs/body" | cut -d' ' -f1)
repack "$(set_field "$bhdr" 6 "$bmd5")" "$work/bs/body" "$out/bad/bad-sigline.cud"

# --- EICAR, split so that this script itself is not the test file
printf '%s%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR' '-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' >"$out/eicar.com"
