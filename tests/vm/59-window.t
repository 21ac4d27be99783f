# SPDX-License-Identifier: GPL-2.0
# dma-buf import (tests/guest/window_test.c): udmabuf, a dma-heap buffer
# and peermap's own export as windows in mixed ranges copied by edu; CPU
# access; revoke under a registration; lifetime; a race.
exec pm-window_test
