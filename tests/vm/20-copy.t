# SPDX-License-Identifier: GPL-2.0
# Peer-to-peer copies through user mappings, driven by `peermap copy`,
# which fills the source, copies with the edu DMA engine through peermap's
# segments, and checks the destination byte for byte and the bytes around
# it. Device <-> RAM, device <-> device, offsets, sizes from 1 byte up.
. "$(dirname "$0")/tap.sh"
. /etc/peermap/topology

copy() {	# copy DESCRIPTION ARGS...
	_d=$1
	shift
	run "$_d" peermap copy "$@"
	diag "$_o"
}

copy "device -> RAM, 64 KiB" --from dev --to ram --size 64K
copy "RAM -> device, 64 KiB" --from ram --to dev --size 64K
copy "device -> device, 64 KiB" --from dev --to dev --size 64K
copy "RAM -> RAM, 16 KiB" --from ram --to ram --size 16K

# Sub-ranges: inside an object, unaligned at both ends.
copy "sub-range of an object to RAM" --from dev --to ram --src-offset 4099 --size 10000
copy "RAM into a sub-range of an object" --from ram --to dev --dst-offset 12289 --size 7000
copy "sub-range to sub-range, device -> device" --from dev --to dev --src-offset 1 --dst-offset 4095 --size 8193

for size in 1 2 3 4095 4096 4097 65537; do
	copy "device -> device, $size bytes, unaligned" --from dev --to dev --src-offset 5 --dst-offset 3 --size $size
done
copy "device -> RAM, 1 byte at the last byte of a page" --from dev --to ram --src-offset 4095 --dst-offset 4095 --size 1

# Large copies cost about 0.1 s of engine time per 4 KiB chunk and side:
# the big ones run on one topology only (TOPO_TEST_BIG_COPY).
if [ -n "${TOPO_TEST_BIG_COPY:-}" ]; then
	copy "device -> device, $TOPO_TEST_BIG_COPY" --from dev --to dev --size "$TOPO_TEST_BIG_COPY"
	copy "RAM -> device, 512 KiB + 3, unaligned" --from ram --to dev --src-offset 1 --size 524291
else
	skip "big copies run on one topology (TOPO_TEST_BIG_COPY)" "big copies device -> device, RAM -> device"
fi

# `peermap segments`: a contiguous object is one segment on the route.
out=$(peermap segments --where dev --size 1M)
ok $? "peermap segments on a 1 MiB object"
echo "$out" | sed 's/^/# /'
is "$(echo "$out" | grep -c ' peer ')" 1 "a 1 MiB object is one peer segment"
echo "$out" | grep -q " peer $TOPO_EXPECT_P2P_ADDR "
ok $? "the segment is a $TOPO_EXPECT_P2P_ADDR address"

# The exporter module stays while an object is held; goes when released.
peermap alloc 64K --hold 3 >/tmp/hold.out &
holder=$!
sleep 1
rmmod peermap_bar 2>/dev/null
is $? 1 "rmmod peermap_bar refused while a process holds an object"
wait $holder
ok $? "holder process ended cleanly"
run "rmmod peermap_edu, then peermap_bar once released" sh -c 'rmmod peermap_edu && rmmod peermap_bar'
run "peermap_bar and peermap_edu load again" sh -c 'rmmod peermap && pm-modules load'
run "and copy again" peermap copy --size 4K

done_testing
