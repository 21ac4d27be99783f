#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make packages` as a Debian 13 user meets it: the four packages are
# made with the expected fields and files; in a clean trixie system with
# dkms and the headers of Debian 13's 6.12 and the newest 7.x kernel
# (scripts/kernel-root dkms, cached; each run starts from it afresh, on an
# overlay), apt installs them, DKMS builds and installs the modules for
# both kernels without a compiler warning, modprobe resolves them, a
# program built with `pkg-config --cflags --libs peermap` links and
# starts, peermap(8) runs, purging peermap-dkms takes the modules away
# again, and the modules DKMS built load on those two Debian kernels in
# test guests (switch topology) and pass the peer-to-peer suite (10-p2p)
# there. TAP on stdout. Needs root (chroot, mounts).
#
#   tests/packages/test_packages.sh
# Not `CMD | grep -q`: with pipefail, grep leaving early kills CMD with
# SIGPIPE and fails the pipeline (seen: a clean run's ldd). Here-strings.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
export LC_ALL=C

if [ "$(id -u)" != 0 ]; then
	echo "1..0 # SKIP needs root (a chroot with mounts)"
	exit 0
fi
# Everything below in a mount namespace of its own: the overlay ends with it.
if [ -z "${PM_PACKAGES_NS:-}" ]; then
	PM_PACKAGES_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

# TAP: run DESCRIPTION COMMAND..., skip, done_testing.
. "$top/tests/vm/tap.sh"
bail() {
	echo "Bail out! $*"
	exit 1
}

work=$(mktemp -d /var/tmp/pm-packages.XXXXXX)
trap 'umount -R "$work/root" 2>/dev/null; rm -rf "$work"' EXIT
version=$(sed -n 's/^#define PEERMAP_VERSION "\(.*\)"$/\1/p' \
	"$top/include/uapi/peermap/version.h")
debver=$version-1
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

# --- the packages -----------------------------------------------------------
mapfile -t debs < <("$top/scripts/make-packages" "$work/debs")
[ ${#debs[@]} -eq 4 ] || bail "make-packages made ${#debs[@]} packages, not 4"

deb() { printf '%s\n' "${debs[@]}" | grep "/$1_"; }

# fields PKG ARCH DEPENDS-PATTERN
fields() {
	local f
	f=$(deb "$1") || { echo "no $1 package"; return 1; }
	[ "$(dpkg-deb -f "$f" Package)" = "$1" ] &&
		[ "$(dpkg-deb -f "$f" Version)" = "$debver" ] &&
		[ "$(dpkg-deb -f "$f" Architecture)" = "$2" ] &&
		grep -Eq "$3" <<<"$(dpkg-deb -f "$f" Depends)" ||
		{ dpkg-deb -f "$f"; return 1; }
}
run "libpeermap0 $debver: amd64, depends on libc6" fields libpeermap0 amd64 '^libc6 \(>= '
run "libpeermap-dev: needs exactly its libpeermap0" fields libpeermap-dev amd64 "^libpeermap0 \\(= $debver\\)$"
run "peermap-tools: amd64, depends on libc6" fields peermap-tools amd64 '^libc6 \(>= '
run "peermap-dkms: all, depends on dkms" fields peermap-dkms all '^dkms '

# has PKG PATH...: the package holds these files (and links).
has() {
	local f p list bad=0
	f=$(deb "$1") || return 1
	shift
	list=$(dpkg-deb -c "$f" | awk '{ print $6 }' | sed 's|^\./|/|')
	for p in "$@"; do
		grep -qxF "$p" <<<"$list" || { echo "missing $p"; bad=1; }
	done
	return $bad
}
run "libpeermap0 holds the library and its soname link" has libpeermap0 \
	"/usr/lib/$ma/libpeermap.so.${version%%.*}" "/usr/lib/$ma/libpeermap.so.$version.0"
run "libpeermap-dev holds headers, .so, .a, peermap.pc, man page" has libpeermap-dev \
	/usr/include/peermap/peermap.h /usr/include/peermap/peermap/version.h \
	"/usr/lib/$ma/libpeermap.so" "/usr/lib/$ma/libpeermap.a" \
	"/usr/lib/$ma/pkgconfig/peermap.pc" /usr/share/man/man3/libpeermap.3.gz
run "peermap-tools holds peermap and peermap(8)" has peermap-tools \
	/usr/bin/peermap /usr/share/man/man8/peermap.8.gz
run "peermap-dkms holds dkms.conf, the sources and the probes" has peermap-dkms \
	"/usr/src/peermap-$version/dkms.conf" "/usr/src/peermap-$version/kernel/Makefile" \
	"/usr/src/peermap-$version/kernel/core/main.c" "/usr/src/peermap-$version/scripts/conftest" \
	"/usr/src/peermap-$version/include/uapi/peermap/peermap.h"

# --- installed in a clean trixie system ---------------------------------
clean=$("$top/scripts/kernel-root" dkms) || bail "no clean trixie system (scripts/kernel-root dkms)"
mapfile -t rels < <(cd "$clean/lib/modules" && for r in *; do
	[ -e "$r/build/Makefile" ] && echo "$r"; done)
[ ${#rels[@]} -ge 2 ] || bail "the clean system has headers for ${rels[*]:-no kernel}, not two kernels"
mkdir -p "$work/upper" "$work/ovl" "$work/root"
mount -t overlay -o "lowerdir=$clean,upperdir=$work/upper,workdir=$work/ovl" \
	overlay "$work/root" || bail "no overlay mount"
mkdir -p "$work/root/tmp/debs"
cp "${debs[@]}" "$work/root/tmp/debs/"
inroot() {
	"$top/scripts/kernel-root" run "$work/root" -- "$@"
}

install_debs() {
	inroot sh -c 'DEBIAN_FRONTEND=noninteractive apt-get -y \
		install /tmp/debs/*.deb' > "$work/install.log" 2>&1 ||
		{ cat "$work/install.log"; return 1; }
}
run "apt installs the four packages" install_debs
sed 's/^/# /' "$work/install.log" | grep -E '^# (Building|Installing|Signing|Error|Warning|[^ ]*dkms)' | head -n 20

# built REL: DKMS built and installed peermap for REL, its make.log has no
# compiler warning, and the modules are this version for REL.
built() {
	local rel=$1 m f log
	grep -q ': installed' <<<"$(inroot dkms status -m peermap -v "$version" -k "$rel")" ||
		{ inroot dkms status; return 1; }
	log=$(ls "$work/root/var/lib/dkms/peermap/$version/$rel/"*/log/make.log 2>/dev/null)
	[ -f "$log" ] || { echo "no make.log for $rel"; return 1; }
	if grep -n 'warning:' "$log"; then
		return 1
	fi
	for m in peermap peermap_bar peermap_edu; do
		f=$(inroot modinfo -k "$rel" -F filename "$m") || return 1
		case "$f" in */updates/dkms/*) ;; *) echo "$m is $f"; return 1 ;; esac
		[ "$(inroot modinfo -k "$rel" -F version "$m")" = "$version" ] ||
			{ echo "$m: version is not $version"; return 1; }
		grep -q "^$rel " <<<"$(inroot modinfo -k "$rel" -F vermagic "$m")" ||
			{ echo "$m: vermagic is not $rel"; return 1; }
	done
}
# loadable REL: modprobe finds the exporter and its dependency, the core.
loadable() {
	local out
	out=$(inroot modprobe -S "$1" --show-depends peermap_bar) || return 1
	grep -q 'updates/dkms/peermap\.ko' <<<"$out" &&
		grep -q 'updates/dkms/peermap_bar\.ko' <<<"$out" || { echo "$out"; return 1; }
}
for rel in "${rels[@]}"; do
	run "DKMS built peermap $version for $rel, no warning, modinfo agrees" built "$rel"
	run "modprobe -S $rel resolves peermap_bar and the core it needs" loadable "$rel"
	# Kept for the guests below.
	mkdir -p "$work/mods/$rel"
	cp "$work/root/lib/modules/$rel/updates/dkms/"* "$work/mods/$rel/" 2>/dev/null
done

prog() {
	local out
	inroot sh -c 'cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags peermap) \
		"$0" $(pkg-config --libs peermap) -o /tmp/prog' "$top/tests/install/prog.c" ||
		return 1
	out=$(inroot env PEERMAP_DEV_DIR=/nonexistent /tmp/prog) || { echo "$out"; return 1; }
	[ "$out" = "peermap $version, devices in /nonexistent
pm_bar_open: No such file or directory" ] || { echo "$out"; return 1; }
	grep -q "libpeermap.so.${version%%.*} => /lib/$ma/\|libpeermap.so.${version%%.*} => /usr/lib/$ma/" \
		<<<"$(inroot ldd /tmp/prog)" ||
		{ inroot ldd /tmp/prog; return 1; }
}
run "a program built with pkg-config --cflags --libs peermap links the packaged library and starts" prog

tools() {
	grep -q "^peermap $version" <<<"$(inroot peermap --version)" || { inroot peermap --version; return 1; }
}
run "peermap --version runs and says $version" tools

purge() {
	inroot sh -c 'DEBIAN_FRONTEND=noninteractive apt-get -y purge peermap-dkms' \
		> "$work/purge.log" 2>&1 || { cat "$work/purge.log"; return 1; }
	! grep -q peermap <<<"$(inroot dkms status)" || { inroot dkms status; return 1; }
	! ls "$work/root"/lib/modules/*/updates/dkms/peermap* 2>/dev/null ||
		{ echo "modules left behind"; return 1; }
	[ ! -e "$work/root/usr/src/peermap-$version" ] || { echo "sources left behind"; return 1; }
}
run "purging peermap-dkms removes the modules from every kernel" purge

# guest NAME REL: the modules DKMS built for REL load in a guest of Debian's
# kernel NAME (the same release) and pass the peer-to-peer suite there.
guest() {
	local out
	out=$("$top/scripts/vm-run" --kernel "$1" --topology switch --modules "$work/mods/$2" \
		--qemu-args "-icount shift=0,sleep=off" --timeout 900 -- pm-vmtests 10-p2p 2>&1) ||
		{ echo "$out" | tail -n 30; return 1; }
	grep -q '^ok ' <<<"$out" && ! grep -q '^not ok' <<<"$out" || { echo "$out" | tail -n 30; return 1; }
}
for name in trixie latest; do
	rel=$("$top/scripts/kernel-root" "$name" | head -n 1)
	if grep -qxF "$rel" <<<"$(printf '%s\n' "${rels[@]}")"; then
		run "the DKMS-built modules load on Debian's $rel ($name) in a guest and pass 10-p2p" \
			guest "$name" "$rel"
	else
		skip "the clean system has no $rel" "DKMS-built modules in a $name guest"
	fi
done

done_testing
