#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make install` and `make uninstall` as a packager and a library user see
# them: a staged install (DESTDIR, PREFIX=/usr) puts exactly the expected
# files there; the shared library has its soname link and exports exactly
# lib/peermap.h's functions; every one has its man page; the man pages
# format without a warning; a program built with nothing but
# `pkg-config --cflags --libs peermap` links the shared library and starts,
# the static library links too; `make uninstall` takes it all away.
# Needs a C compiler and pkg-config (scripts/deps). TAP on stdout.
#
#   tests/install/test_install.sh
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)

if ! command -v pkg-config >/dev/null; then
	echo "1..0 # SKIP no pkg-config (scripts/deps installs it)"
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dest=$work/dest
version=$(sed -n 's/^#define PEERMAP_VERSION "\(.*\)"$/\1/p' \
	"$top/include/uapi/peermap/version.h")
IFS=. read -r major minor patch <<<"$version"
so=libpeermap.so.$major.$minor.${patch:-0}
lib=$dest/usr/lib

# The staged install is what pkg-config sees; nothing of the system's.
export PKG_CONFIG_LIBDIR=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
unset PKG_CONFIG_PATH

# TAP: run DESCRIPTION COMMAND..., skip, done_testing.
. "$top/tests/vm/tap.sh"

# make in the work tree, without what an outer make (make check) passes.
tree_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top" "$@"
}

installed() {
	(cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\./|/|' | sort)
}

exported() {
	nm -D --defined-only "$lib/$so" | awk '$2 == "T" { print $3 }' | sort
}

expected() {
	printf '%s\n' /usr/bin/peermap \
		/usr/include/peermap/peermap.h \
		/usr/include/peermap/peermap/peermap.h \
		/usr/include/peermap/peermap/version.h \
		/usr/lib/libpeermap.a /usr/lib/libpeermap.so \
		"/usr/lib/libpeermap.so.$major" "/usr/lib/$so" \
		/usr/lib/pkgconfig/peermap.pc \
		/usr/share/man/man3/libpeermap.3 /usr/share/man/man8/peermap.8
	exported | sed 's|.*|/usr/share/man/man3/&.3|'
}

same_files() {
	diff -u <(expected | sort) <(installed)
}

links() {
	local l
	for l in "libpeermap.so.$major" libpeermap.so; do
		if [ ! -L "$lib/$l" ] || [ "$(readlink "$lib/$l")" != "$so" ]; then
			echo "$lib/$l: not a link to $so"
			return 1
		fi
	done
	[ -f "$lib/$so" ] && [ ! -L "$lib/$so" ]
}

soname() {
	local s
	s=$(readelf -d "$lib/$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	[ "$s" = "libpeermap.so.$major" ] || { echo "soname '$s'"; return 1; }
}

# The exported symbols are the functions declared in the installed header.
public_api() {
	local hdr
	hdr=$(sed -n 's/^[a-z].*[ *]\(pm_[a-z_]*\)(.*/\1/p' \
		"$dest/usr/include/peermap/peermap.h" | sort)
	[ -n "$hdr" ] || { echo "no function found in peermap.h"; return 1; }
	diff -u <(echo "$hdr") <(exported)
}

man_per_function() {
	local f bad=0
	for f in $(exported); do
		grep -q "^\.BI\? \"\?[a-z ]*[ *]$f(" "$dest/usr/share/man/man3/libpeermap.3" ||
			{ echo "$f: not in libpeermap(3)'s SYNOPSIS"; bad=1; }
		grep -qx '\.so man3/libpeermap\.3' "$dest/usr/share/man/man3/$f.3" 2>/dev/null ||
			{ echo "$f.3: not a link to libpeermap.3"; bad=1; }
	done
	return $bad
}

man_clean() {
	local page out bad=0
	if ! command -v groff >/dev/null; then
		echo "no groff (scripts/deps installs groff-base)"
		return 1
	fi
	for page in man8/peermap.8 man3/libpeermap.3; do
		out=$(groff -man -ww -z "$dest/usr/share/man/$page" 2>&1)
		[ -z "$out" ] || { echo "$page: $out"; bad=1; }
	done
	return $bad
}

pc_file() {
	local v f
	v=$(pkg-config --modversion peermap) || return 1
	[ "$v" = "$version" ] || { echo "version '$v', want '$version'"; return 1; }
	f=$(pkg-config --cflags --libs peermap | xargs)
	[ "$f" = "-I$dest/usr/include/peermap -L$lib -lpeermap" ] ||
		{ echo "flags: $f"; return 1; }
}

CC=${CC:-cc}
cflags() {
	# shellcheck disable=SC2046
	echo -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags peermap)
}

# The installed header on its own, strict C.
header_alone() {
	echo '#include <peermap.h>' > "$work/alone.c"
	# shellcheck disable=SC2046
	$CC -std=c99 -pedantic -Wall -Wextra -Werror \
		$(pkg-config --cflags peermap) -c "$work/alone.c" -o "$work/alone.o"
}


link_shared() {
	# shellcheck disable=SC2046
	$CC $(cflags) "$top/tests/install/prog.c" $(pkg-config --libs peermap) -o "$work/prog" &&
		grep -q "NEEDED.*\[libpeermap\.so\.$major\]" <<<"$(readelf -d "$work/prog")"
}

runs_shared() {
	local out
	out=$(LD_LIBRARY_PATH=$lib ldd "$work/prog" | grep libpeermap)
	[[ "$out" == *"=> $lib/libpeermap.so.$major "* ]] ||
		{ echo "ldd: $out"; return 1; }
	out=$(LD_LIBRARY_PATH=$lib PEERMAP_DEV_DIR=$work/nodev "$work/prog") ||
		{ echo "$out"; return 1; }
	[ "$out" = "peermap $version, devices in $work/nodev
pm_bar_open: No such file or directory" ] || { echo "$out"; return 1; }
}

link_static() {
	# shellcheck disable=SC2046
	$CC $(cflags) "$top/tests/install/prog.c" -Wl,-Bstatic $(pkg-config --libs peermap) \
		-Wl,-Bdynamic -o "$work/prog-static" || return 1
	! grep -q 'NEEDED.*libpeermap' <<<"$(readelf -d "$work/prog-static")" ||
		{ echo "libpeermap.so is needed"; return 1; }
	PEERMAP_DEV_DIR=$work/nodev "$work/prog-static"
}

# libpeermap(3)'s EXAMPLES, as printed, builds against the install.
man_example() {
	sed -n '/^\.SH EXAMPLES/,/^\.fi/p' "$dest/usr/share/man/man3/libpeermap.3" |
		sed '/^\./d; s/\\-/-/g; s/\\e/\\/g' > "$work/example.c"
	# shellcheck disable=SC2046
	$CC $(cflags) "$work/example.c" $(pkg-config --libs peermap) -o "$work/example"
}

cli_runs() {
	local out
	mkdir -p "$work/sys"
	out=$(PEERMAP_SYSFS=$work/sys "$dest/usr/bin/peermap" --version 2>&1)
	[ "$out" = "peermap $version" ] || { echo "$out"; return 1; }
}

nothing_left() {
	local left
	left=$(installed)
	[ -z "$left" ] || { echo "left: $left"; return 1; }
	[ ! -e "$dest/usr/include/peermap" ] || { echo "usr/include/peermap left"; return 1; }
}

run "make install DESTDIR PREFIX=/usr" tree_make install DESTDIR="$dest" PREFIX=/usr
run "installs exactly the expected files" same_files
run "libpeermap.so.$major and libpeermap.so link to $so" links
run "the shared library's soname is libpeermap.so.$major" soname
run "it exports exactly the functions of peermap.h" public_api
run "each exported function is in libpeermap(3), with a man page link" man_per_function
run "peermap(8) and libpeermap(3) format without warnings" man_clean
run "peermap.pc: version $version, flags into the install" pc_file
run "the installed peermap.h compiles alone (C99, -pedantic)" header_alone
run "a program built with pkg-config links libpeermap.so.$major" link_shared
run "it starts with the installed libpeermap.so.$major and exits 0" runs_shared
run "the same program links libpeermap.a and starts" link_static
run "libpeermap(3)'s example builds against the install" man_example
run "the installed peermap --version says $version" cli_runs
run "make uninstall DESTDIR PREFIX=/usr" tree_make uninstall DESTDIR="$dest" PREFIX=/usr
run "uninstall leaves no file behind" nothing_left
done_testing
