# SPDX-License-Identifier: GPL-2.0
# HMM device-private memory mapped peer to peer (tests/guest/devmem_test.c):
# one anonymous VMA mixing RAM and pages peermap_bar migrated into its BAR,
# copied by edu; CPU touch, eviction, fork and exit; refused, foreign and
# pinned pages migrated back; a race. Then the tracepoint that says so.
. "$(dirname "$0")/tap.sh"

tr=/sys/kernel/tracing
[ -d $tr/events ] || mount -t tracefs nodev $tr
echo > $tr/trace
echo 1 > $tr/events/peermap/peermap_devmem_migrate/enable
pm-devmem_test
st=$?
echo 0 > $tr/events/peermap/peermap_devmem_migrate/enable
[ $st -le 1 ]
ok $? "pm-devmem_test ran to its end (status $st)"

# The exporter said so when it lent its BAR; a kernel without
# CONFIG_DEVICE_PRIVATE refuses (the tests skipped).
if ! dmesg | grep -q "lent as device-private pages"; then
	for why in refused foreign pinned read-only; do
		skip "this kernel has no CONFIG_DEVICE_PRIVATE" "tracepoint peermap_devmem_migrate fired with why=$why"
	done
else
	for why in refused foreign pinned read-only; do
		grep -q "peermap_devmem_migrate: .*why=$why" $tr/trace
		ok $? "tracepoint peermap_devmem_migrate fired with why=$why"
	done
	grep -m 2 "peermap_devmem_migrate" $tr/trace | sed 's/^ */# /'
fi
dmesg | grep -m 1 "lent as device-private pages" | sed 's/^/# /'
done_testing
