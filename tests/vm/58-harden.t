# SPDX-License-Identifier: GPL-2.0
# Promises under pressure (tests/guest/harden_test.c): many revokers of one
# object at once while copies run, bounce buffers, small DMA segment
# limits, the OOM reaper, an administrator's route change, unprivileged
# users (every fixture but removal); then the removal fixture: the storm
# with an unbind in it, and an unbind while a user registers. Its teardown
# binds the drivers again; here that is checked, and made up for if not.
. "$(dirname "$0")/tap.sh"

bar_bdf=$(basename "$(readlink /sys/class/misc/peermap-bar0/device)")
edu_bdf=$(basename "$(readlink /sys/class/misc/peermap-edu0/device)")
dmesg -c > /dev/null

pm-harden_test -F removal
st=$?
[ $st -le 1 ]
ok $? "pm-harden_test -F removal ran to its end (status $st)"
dmesg | grep -q "RLIMIT_MEMLOCK"
ok $? "a pin over RLIMIT_MEMLOCK is refused with a log line naming it"

pm-harden_test -f removal
st=$?
[ $st -le 1 ]
ok $? "pm-harden_test -f removal ran to its end (status $st)"
for d in "peermap_bar $bar_bdf" "peermap_edu $edu_bdf"; do
	set -- $d
	[ -e /sys/bus/pci/drivers/$1/$2 ]
	bound=$?
	[ $bound -eq 0 ] || echo "$2" > /sys/bus/pci/drivers/$1/bind
	ok $bound "$1 bound to $2 again by the removal fixture's teardown"
done
ls /dev/peermap-* | sed 's/^/# /'
run "a copy works after both drivers came back" peermap copy --from dev --to ram --size 8K
done_testing
