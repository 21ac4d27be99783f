#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# scripts/vm-run keeps its promises: the guest command's status comes back,
# a bad option fails with usage, a kernel crash and a timeout fail the run
# with a console excerpt. TAP on stdout.
top=$(cd "$(dirname "$0")/../.." && pwd)
vm=$top/scripts/vm-run
n=0 failed=0
ok() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

out=$("$vm" -- sh -c 'echo hello-from-guest; exit 7' 2>/dev/null); st=$?
[ $st -eq 7 ]; ok $? "guest exit status 7 comes back (got $st)"
[ "$out" = hello-from-guest ]; ok $? "guest output printed, marker removed"

"$vm" --no-such-option -- true >/dev/null 2>"$top/build/vmrun.err"; st=$?
[ $st -eq 2 ] && grep -q '^usage: scripts/vm-run' "$top/build/vmrun.err"
ok $? "unknown option prints usage and exits 2 (got $st)"
"$vm" --topology no-such-topology -- true >/dev/null 2>&1; st=$?
[ $st -eq 2 ]; ok $? "unknown topology exits 2 (got $st)"
"$vm" --smp zero -- true >/dev/null 2>&1; st=$?
[ $st -eq 2 ]; ok $? "bad --smp exits 2 (got $st)"

# sysrq-c: a NULL dereference in the kernel, i.e. an oops and a panic.
"$vm" -- sh -c 'echo 1 > /proc/sys/kernel/sysrq; echo c > /proc/sysrq-trigger; exit 0' \
	>/dev/null 2>"$top/build/vmrun.err"; st=$?
[ $st -ne 0 ] && grep -q 'kernel report in the console log' "$top/build/vmrun.err" &&
	grep -q 'sysrq' "$top/build/vmrun.err"
ok $? "kernel crash fails the run with a console excerpt (status $st)"

"$vm" --timeout 20 -- sleep 600 >/dev/null 2>"$top/build/vmrun.err"; st=$?
[ $st -ne 0 ] && grep -q 'timeout after 20s' "$top/build/vmrun.err"
ok $? "timeout fails the run and says so (status $st)"

echo "1..$n"
[ $failed -eq 0 ]
