# SPDX-License-Identifier: GPL-2.0
# Sourced by scripts/vm-run and the Makefile helpers: resolve a kernel name
# (stock | stock61 | debug | trixie | latest | PATH to a bzImage) into
#   PM_VMLINUZ  the image QEMU boots
#   PM_KDIR     the kernel build tree modules are built against
#   PM_KREL     its release string (uname -r in the guest)
#   PM_KROOT    the build root to build in (trixie, latest), else empty:
#               PM_KDIR is then /usr/src/linux-headers-$PM_KREL in it
#   PM_KMODS    the kernel's own module tree with modules.dep (trixie,
#               latest), else empty
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
	PM_KROOT='' PM_KMODS=''
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
	trixie|latest)
		# Debian 13's generic kernels, built in a trixie root
		# (scripts/kernel-root makes it and fetches the kernel once).
		local out
		out=$("$(dirname "${BASH_SOURCE[0]}")/kernel-root" "$name") || return 1
		PM_KREL=${out%%$'\n'*}
		PM_KROOT=${out#*$'\n'}
		PM_KDIR=$PM_KROOT/usr/src/linux-headers-$PM_KREL
		PM_KMODS=$PM_KROOT/usr/lib/modules/$PM_KREL
		# 7.x ships it in the module tree, 6.12 in /boot.
		PM_VMLINUZ=$PM_KMODS/vmlinuz
		[ -e "$PM_VMLINUZ" ] || PM_VMLINUZ=$PM_KROOT/boot/vmlinuz-$PM_KREL
		;;
	*)
		if [ ! -f "$name" ]; then
			echo "kernel '$name': not stock, stock61, debug, trixie, latest, or a file" >&2
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
