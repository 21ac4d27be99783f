# SPDX-License-Identifier: GPL-2.0
# Mixed ranges, invalidation, revocation and fallback
# (tests/guest/inval_test.c), the tracepoints, then the exporter's device
# taken away under live mappings: the removal fixture's variants one at a
# time, unbind (bound again by its teardown) then hot-unplug, which
# skips where the topology has no hot-pluggable exporter
# (TOPO_TEST_UNPLUG_ID). Runs last: the device may not come back.
. "$(dirname "$0")/tap.sh"
. /etc/peermap/topology
# Where the removal tests find remove-dev.sh.
PM_TESTS_DIR=$(cd "$(dirname "$0")" && pwd)
export PM_TESTS_DIR

# A second exporter device for ranges that mix exporters: the topology's
# NVMe controller memory buffer, through new_id.
cmb_desc="NVMe CMB${TOPO_TEST_CMB:+ $TOPO_TEST_CMB} is a second exporter, /dev/peermap-bar1"
if [ -n "${TOPO_TEST_CMB:-}" ]; then
	id=$(cat /sys/bus/pci/devices/$TOPO_TEST_CMB/vendor \
		/sys/bus/pci/devices/$TOPO_TEST_CMB/device | sed 's/0x//' | paste -sd' ')
	[ -e /sys/bus/pci/devices/$TOPO_TEST_CMB/driver ] &&
		echo "$TOPO_TEST_CMB" > /sys/bus/pci/devices/$TOPO_TEST_CMB/driver/unbind
	echo "$id" > /sys/bus/pci/drivers/peermap_bar/new_id
	is "$(ls /sys/bus/pci/devices/$TOPO_TEST_CMB/misc/ 2>/dev/null)" peermap-bar1 \
		"$cmb_desc"
else
	skip "no NVMe CMB in this topology (TOPO_TEST_CMB): ranges mix objects of bar0" \
		"$cmb_desc"
fi

# The tracepoints record what happens during the tests.
tr=/sys/kernel/tracing
[ -d $tr/events ] || mount -t tracefs nodev $tr
echo > $tr/trace
echo 1 > $tr/events/peermap/enable

# pm_bench.ko's busy importers: a revoke lets them drain together.
insmod /lib/peermap/test/pm_bench.ko 2>/dev/null
pm-inval_test -F removal
st=$?
# 1: a test failed (it said so); anything else: the program died.
[ $st -le 1 ]
ok $? "pm-inval_test ran to its end (status $st)"

dmesg | grep -q "denied by the exporter's policy"
ok $? "a denied client's refusal is in the log with its reason"
dmesg | grep -q "is read-only for peers"
ok $? "a read-only object's refusal is in the log with its reason"

# Invalidations and fallback are visible in the trace.
run "copy with the source evicted" peermap copy --from dev --to ram --size 8K --evict
echo 0 > $tr/events/peermap/enable
grep -q "peermap_fallback: .*system memory instead of device memory" $tr/trace
ok $? "tracepoint peermap_fallback fired"
for why in revoke unmap protect change; do
	grep -q "peermap_invalidate: .*why=$why" $tr/trace
	ok $? "tracepoint peermap_invalidate fired with why=$why"
done
grep -m 2 "why=revoke" $tr/trace | sed 's/^ */# /'
grep -m 1 peermap_fallback $tr/trace | sed 's/^ */# /'

if [ -n "${TOPO_TEST_CMB:-}" ]; then
	echo "$TOPO_TEST_CMB" > /sys/bus/pci/drivers/peermap_bar/unbind
	ok $? "second exporter unbound"
else
	skip "no NVMe CMB in this topology (TOPO_TEST_CMB)" "second exporter unbound"
fi

# The device goes with live mappings: unbind; the test's teardown binds
# it again (bound here if it did not, so that the rest still runs).
bdf=$(basename "$(readlink /sys/class/misc/peermap-bar0/device)")
pm-inval_test -r removal.unbind.device_removed_with_live_mappings
ok $? "exporter unbound under live mappings: revoked, zapped, gone"
drv=$(readlink "/sys/bus/pci/devices/$bdf/driver")
is "${drv##*/}" peermap_bar "exporter bound again"
[ -e "/sys/bus/pci/devices/$bdf/driver" ] ||
	echo "$bdf" > /sys/bus/pci/drivers/peermap_bar/bind
run "a copy works after the exporter came back" peermap copy --from dev --to dev --size 8K

# Hot-unplug through QEMU's monitor, where the slot allows it (the test
# skips itself elsewhere).
pm-inval_test -r removal.unplug.device_removed_with_live_mappings
st=$?
if [ -n "${TOPO_TEST_UNPLUG_ID:-}" ]; then
	ok $st "exporter hot-unplugged (device_del) under live mappings"
	is "$(ls /dev/peermap-bar0 2>/dev/null)" "" "its device node is gone"
	run "the importer still works" peermap copy --from ram --to ram --size 4K
else
	why="no hot-pluggable exporter in this topology (TOPO_TEST_UNPLUG_ID)"
	skip "$why" "exporter hot-unplugged (device_del) under live mappings"
	skip "$why" "its device node is gone"
	skip "$why" "the importer still works"
fi
done_testing
