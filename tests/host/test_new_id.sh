#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The exporter binds other devices through new_id and driver_override
# (by hand, then with peermap bind / unbind, from nvme and back): an
# NVMe controller's CMB (QEMU nvme, cmb_size_mb=16, BAR2), added with
# vm-run's --qemu-args.
# The guest side is tests/vm/new-id.sh; its TAP is this test's output.
top=$(cd "$(dirname "$0")/../.." && pwd)
nvme="-drive file=null-co://,if=none,format=raw,id=pmnvm"
nvme="$nvme -device nvme,serial=pm0001,drive=pmnvm,cmb_size_mb=16,bus=pcie.0,addr=0x6"
exec "$top/scripts/vm-run" --topology flat --qemu-args "$nvme" \
	-- sh /usr/local/share/peermap/tests/new-id.sh 0000:00:06.0
