#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Take an exporter device away under live mappings (tests/guest/
# inval_test.c, device_removed_with_live_mappings):
#   remove-dev.sh unbind BDF      unbind it from peermap_bar (sysfs)
#   remove-dev.sh unplug ID BDF   hot-unplug QEMU device ID (device_del
#                                 through vm-run's monitor), wait until gone
case "$1" in
unbind)
	echo "$2" > /sys/bus/pci/drivers/peermap_bar/unbind ;;
unplug)
	echo "@@PEERMAP-MONITOR:device_del $2@@" > /dev/ttyS1
	# pciehp powers the slot off after its 5 s attention-button delay.
	i=0
	while [ -e "/sys/bus/pci/devices/$3" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ ! -e "/sys/bus/pci/devices/$3" ] ;;
*)
	echo "usage: remove-dev.sh unbind BDF | unplug ID BDF" >&2
	exit 2 ;;
esac
