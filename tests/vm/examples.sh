# SPDX-License-Identifier: GPL-2.0
# Run by tests/host/test_examples.sh in a `switch` guest: load the skeleton
# exporter and importer (examples/, copied to /lib/peermap/examples/ by
# vm-run), bind them as README.md tells a user to, through driver_override
# (the exporter to the ivshmem, the importer to the edu), run
# pm-examples_test on them (its TAP is this script's), and unload them
# (which fails if a peer piece still held the exporter).
set -u
fail() { echo "Bail out! $*"; exit 1; }

# bind BDF DRIVER: what README.md's "On your machine" says, word for word.
bind() {
	d=/sys/bus/pci/devices/$1
	echo "$2" > "$d/driver_override" || return 1
	if [ -e "$d/driver" ]; then echo "$1" > "$d/driver/unbind" || return 1; fi
	echo "$1" > /sys/bus/pci/drivers_probe || return 1
	[ "$(basename "$(readlink "$d/driver")")" = "$2" ]
}

# pci_of ID: the first PCI device with vendor:device ID.
pci_of() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(sed 's/0x//' "$d/vendor"):$(sed 's/0x//' "$d/device")" = "$1" ] &&
			basename "$d" && return
	done
}

exp=$(pci_of 1af4:1110)
imp=$(pci_of 1234:11e8)
[ -n "$exp" ] && [ -n "$imp" ] || fail "no ivshmem ($exp) or edu ($imp) in this guest"
insmod /lib/peermap/examples/skel_exporter.ko || fail "insmod skel_exporter"
insmod /lib/peermap/examples/skel_importer.ko || fail "insmod skel_importer"
bind "$exp" skel_exporter || fail "binding $exp to skel_exporter"
bind "$imp" skel_importer || fail "binding $imp to skel_importer"
dmesg | grep -E 'skel_(exporter|importer)' | sed 's/^/# /'

SKEL_EXP_BDF=$exp SKEL_IMP_BDF=$imp pm-examples_test
rc=$?

for d in "$exp" "$imp"; do
	echo "$d" > "/sys/bus/pci/devices/$d/driver/unbind" || fail "unbinding $d"
done
rmmod skel_importer || fail "rmmod skel_importer"
rmmod skel_exporter || fail "rmmod skel_exporter: a peer piece still holds it"
exit $rc
