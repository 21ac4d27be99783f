# SPDX-License-Identifier: GPL-2.0
# Segments, object lifetime and every bad input of the exporter's and
# importer's ABI: tests/guest/p2p_test.c, one test per behaviour.
. /etc/peermap/topology
PM_EXPECT_ADDR=$TOPO_EXPECT_P2P_ADDR exec pm-p2p_test
