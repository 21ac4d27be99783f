# SPDX-License-Identifier: GPL-2.0
# Segments, object lifetime and every bad input of the exporter's and
# importer's ABI: tests/guest/p2p_test.c, one test per behaviour; the
# peer_address tests in the variant of the topology's address kind.
exec pm-p2p_test
