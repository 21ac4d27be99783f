# SPDX-License-Identifier: GPL-2.0
# Sourced by scripts/vm-run and the Makefile helpers: resolve a kernel name
# (stock | stock61 | debug | PATH to a bzImage) into
#   PM_VMLINUZ  the image QEMU boots
#   PM_KDIR     the kernel build tree modules are built against
#   PM_KREL     its release string (uname -r in the guest)
# pm_kernel_resolve NAME returns non-zero with a message when it can't.

: "${PEERMAP_CACHE:=${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/peermap}"

pm_newest_release() {	# glob under /lib/modules, newest first
	local d
	for d in /lib/modules/$1; do
		[ -e "$d/build/Makefile" ] && [ -e "/boot/vmlinuz-${d##*/}" ] &&
			echo "${d##*/}"
	done | sort -V | tail -n 1
}

pm_kernel_resolve() {
	local name=$1 rel
	case "$name" in
	stock|stock61)
		if [ "$name" = stock ]; then
			rel=$(pm_newest_release '6.12.*+deb12-cloud-amd64')
		else
			rel=$(pm_newest_release '6.1.0-*-cloud-amd64')
		fi
		if [ -z "$rel" ]; then
			echo "no installed '$name' kernel with headers: run scripts/deps" >&2
			return 1
		fi
		PM_KREL=$rel
		PM_VMLINUZ=/boot/vmlinuz-$rel
		PM_KDIR=/lib/modules/$rel/build
		;;
	debug)
		local d=$PEERMAP_CACHE/debug-kernel/current
		if [ ! -e "$d/bzImage" ]; then
			echo "the debug kernel is not built yet (expected $d/bzImage); it comes with the debug-kernel work (make debug-kernel)" >&2
			return 1
		fi
		PM_VMLINUZ=$d/bzImage
		PM_KDIR=$d/build
		PM_KREL=$(cat "$PM_KDIR/include/config/kernel.release")
		;;
	*)
		if [ ! -f "$name" ]; then
			echo "kernel '$name': not stock, stock61, debug, or a file" >&2
			return 1
		fi
		PM_VMLINUZ=$(readlink -f "$name")
		# A bzImage inside a kernel build tree: use that tree.
		PM_KDIR=${PEERMAP_KDIR:-$(dirname "$PM_VMLINUZ")/../../..}
		if [ ! -e "$PM_KDIR/include/config/kernel.release" ]; then
			echo "kernel '$name': set PEERMAP_KDIR to its build tree" >&2
			return 1
		fi
		PM_KDIR=$(readlink -f "$PM_KDIR")
		PM_KREL=$(cat "$PM_KDIR/include/config/kernel.release")
		;;
	esac
}
