# SPDX-License-Identifier: GPL-2.0
# Random, hostile use of every peermap device for a fixed budget
# (tests/guest/fuzz_test.c); with failslab on the debug kernel, a second
# pass where 10% of the fuzzer's slab allocations fail.
# PM_FUZZ_SEED (default fixed) and PM_FUZZ_SECONDS (default 10) come from
# the host (vm-run passes PM_* variables); a failure prints its seed.
. "$(dirname "$0")/tap.sh"
seed=${PM_FUZZ_SEED:-20261123}
secs=${PM_FUZZ_SECONDS:-10}

fuzz() {	# fuzz DESCRIPTION ARGS...
	_d=$1
	shift
	_o=$(pm-fuzz_test "$@" 2>&1)
	_s=$?
	echo "$_o" | grep -v '^1\.\.' | sed 's/^ok 1 - /# /; s/^not ok 1 - /# FAILED: /'
	ok $_s "$_d"
}

fuzz "fuzz for ${secs} s, seed $seed" --seed "$seed" --seconds "$secs"
if [ -d /sys/kernel/debug/failslab ]; then
	fuzz "fuzz with failslab 10% for ${secs} s, seed $((seed + 1))" \
		--seed $((seed + 1)) --seconds "$secs" --failslab 10
	echo 0 > /proc/self/make-it-fail
else
	skip "no failslab in this kernel (the debug kernel has it)" "fuzz with failslab 10%"
fi
# The devices still work after the storm.
run "a copy still works" peermap copy --size 4K
done_testing
