# SPDX-License-Identifier: GPL-2.0
# A BAR that VFIO exports as a dma-buf: what upstream's importers get from
# it, and peermap's window of it copied into by edu and revoked by VFIO
# (tests/guest/vfio_dmabuf_test.c). Only on the vfio topology (it names
# the device to give to vfio-pci); elsewhere one SKIP.
. "$(dirname "$0")/tap.sh"
if ! grep -q '^TOPO_TEST_VFIO_DEV=' /etc/peermap/topology 2>/dev/null; then
	skip "not the vfio topology (scripts/topologies/vfio)" "VFIO dma-buf window"
	done_testing
	exit 0
fi
exec pm-vfio_dmabuf_test
