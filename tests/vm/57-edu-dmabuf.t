# SPDX-License-Identifier: GPL-2.0
# The edu importer with a dma-buf side (tests/guest/edu_dmabuf_test.c):
# copies into and out of an exported object through its dma-buf with real
# DMA, an evict or restore during a copy, the exporter's policy denying
# the engine, a registration of the buffer serving copies.
exec pm-edu_dmabuf_test
