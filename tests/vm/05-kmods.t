# SPDX-License-Identifier: GPL-2.0
# The kernel's own upstream drivers load in the guest with modprobe, with
# their dependencies, and their devices appear: vgem (a DRM card),
# vfio-pci (its PCI driver and /dev/vfio/vfio), nvme (its PCI driver),
# udmabuf (/dev/udmabuf). Only Debian's generic kernels (trixie, latest)
# bring their module tree into the guest (scripts/guest-modules); on the
# others, and for a driver a kernel does not have, the checks skip and say
# why. What was loaded is unloaded at the end.
. "$(dirname "$0")/tap.sh"
rel=$(uname -r)
mods=/lib/modules/$rel
loaded=""

# where NAME: "module" if the guest has it as a module, "builtin" if it
# is built into the kernel, nothing if neither.
where() {
	_n=$(echo "$1" | tr - _)
	if sed 's|:.*||; s|.*/||; s|\.ko.*||' "$mods"/modules.dep | tr - _ |
		grep -qx "$_n"; then
		echo module
	elif sed 's|.*/||; s|\.ko.*||' "$mods"/modules.builtin | tr - _ |
		grep -qx "$_n" ||
		tr '\0' '\n' < "$mods"/modules.builtin.modinfo 2>/dev/null |
		grep -q "^$_n\."; then
		echo builtin
	fi
}

# load NAME TEST DESCRIPTION: modprobe NAME (a module), then TEST (a
# command) must pass; skips without a module tree or without NAME.
load() {
	if [ ! -f "$mods"/modules.dep ]; then
		skip "no module tree of $rel in the guest: only Debian's generic kernels (trixie, latest) bring theirs" "$3"
		return
	fi
	case "$(where "$1")" in
	module)
		if ! run "modprobe $1" modprobe "$1"; then
			skip "modprobe $1 failed" "$3"
			return
		fi
		loaded="$1${loaded:+ $loaded}" ;;
	builtin)
		diag "$1 is built into $rel" ;;
	*)
		skip "$rel has no $1 (neither a module in the guest nor built in)" "$3"
		return ;;
	esac
	sh -c "$2"
	ok $? "$3"
}

# vgem's card hangs off its platform device, named vgem.
load vgem 'ls /dev/dri/card* >/dev/null 2>&1 &&
	readlink -f /sys/class/drm/card*/device | grep -q "/vgem$"' \
	"vgem: its DRM card is in /dev/dri"
load vfio-pci '[ -d /sys/bus/pci/drivers/vfio-pci ] && [ -c /dev/vfio/vfio ]' \
	"vfio-pci: /sys/bus/pci/drivers/vfio-pci and /dev/vfio/vfio are there"
load nvme '[ -d /sys/bus/pci/drivers/nvme ]' \
	"nvme: /sys/bus/pci/drivers/nvme is there"
load udmabuf '[ -c /dev/udmabuf ]' "udmabuf: /dev/udmabuf is there"

# Leave the guest as it was for the scripts after this one.
if [ -n "$loaded" ]; then
	# shellcheck disable=SC2086 # module names are words
	run "modprobe -r $loaded" modprobe -r $loaded
	left=""
	for m in $loaded; do
		grep -q "^$(echo "$m" | tr - _) " /proc/modules && left="$left $m"
	done
	is "$left" "" "every module loaded here is unloaded again"
fi
done_testing
