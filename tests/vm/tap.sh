# SPDX-License-Identifier: GPL-2.0
# TAP helpers for in-guest test scripts (busybox sh) and the host's shell
# tests (tests/install, tests/packages). Source it, call the checks, end
# with `done_testing`. Numbering is per script; the in-guest runner
# (pm-vmtests) renumbers for the whole guest.
_tap_n=0
_tap_failed=0

# ok STATUS DESCRIPTION: STATUS is a command's exit status (0 = pass).
ok() {
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_failed=$((_tap_failed + 1))
	fi
}

# skip REASON DESCRIPTION: a check this topology or kernel cannot make.
skip() {
	_tap_n=$((_tap_n + 1))
	echo "ok $_tap_n - $2 # SKIP $1"
}

# is GOT WANT DESCRIPTION
is() {
	[ "$1" = "$2" ]
	ok $? "$3"
	[ "$1" = "$2" ] || echo "#   got '$1', want '$2'"
}

# run DESCRIPTION COMMAND...: passes when COMMAND exits 0; its output is
# kept as TAP comments when it fails.
run() {
	_d=$1
	shift
	_o=$("$@" 2>&1)
	_s=$?
	ok $_s "$_d"
	[ $_s -eq 0 ] || echo "$_o" | sed 's/^/#   /'
	return $_s
}

diag() {
	echo "# $*"
}

done_testing() {
	echo "1..$_tap_n"
	[ $_tap_failed -eq 0 ]
	exit
}
