# SPDX-License-Identifier: GPL-2.0
# Objects as dma-bufs (tests/guest/dmabuf_test.c): what an RDMA-like
# importer (pm_dmabuf_imp.ko: dynamic with move_notify, or pinned) and a
# PRIME-like one (static, not peer2peer) get from the edu device, and
# what evict, restore, policy and pins do to them.
exec pm-dmabuf_test
