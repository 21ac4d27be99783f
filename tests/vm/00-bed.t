# SPDX-License-Identifier: GPL-2.0
# The test bed itself: devices where the topology says, modules that load
# and unload cleanly, and a peer-to-peer DMA (edu -> ivshmem BAR2) that
# arrives intact, by bus address or by IOVA as the topology says.
. "$(dirname "$0")/tap.sh"
. /etc/peermap/topology

# Bridge IDs above a device, from the root, or "-" for none.
ids_of() {	# PATH column of `peermap devices`
	case "$1" in
	root) echo "-" ;;
	*) echo "$1" | sed 's/[^[]*\[\([0-9a-f:]*\)\]/\1 /g; s/ $//' ;;
	esac
}
bdfs_of() {
	echo "$1" | sed 's/\[[0-9a-f:]*\]>\{0,1\}/ /g'
}

devs=$(peermap devices)
ok $? "peermap devices runs"
diag "topology $TOPOLOGY:"
echo "$devs" | sed 's/^/#   /'
exp=$(echo "$devs" | awk '$3 == "1af4:1110"')
imp=$(echo "$devs" | awk '$3 == "1234:11e8"')
is "$(echo "$exp" | grep -c .)" 1 "one ivshmem-plain exporter enumerated"
is "$(echo "$imp" | grep -c .)" 1 "one edu importer enumerated"
exp_bdf=$(echo "$exp" | awk '{print $2}')
imp_bdf=$(echo "$imp" | awk '{print $2}')
exp_path=$(echo "$exp" | awk '{print $NF}')
imp_path=$(echo "$imp" | awk '{print $NF}')
is "$(ids_of "$exp_path")" "$TOPO_EXPECT_EXPORTER_PATH" "exporter's bridges are the topology's"
is "$(ids_of "$imp_path")" "$TOPO_EXPECT_IMPORTER_PATH" "importer's bridges are the topology's"

# Deepest shared bridge: walk both bridge lists while they agree.
common=root
set -- $(bdfs_of "$imp_path")
for b in $(bdfs_of "$exp_path"); do
	[ "$exp_path" != root ] && [ "$imp_path" != root ] && [ "$b" = "${1:-}" ] || break
	common=$(cat /sys/bus/pci/devices/$b/vendor /sys/bus/pci/devices/$b/device |
		sed 's/0x//' | paste -sd:)
	shift
done
is "$common" "$TOPO_EXPECT_COMMON" "deepest bridge shared by exporter and importer"

if [ "$TOPO_EXPECT_P2P_ADDR" = iova ]; then want_grp=yes; else want_grp=no; fi
grp=no
[ -e /sys/bus/pci/devices/$imp_bdf/iommu_group ] && grp=yes
is "$grp" "$want_grp" "importer in an IOMMU group only when the topology translates"
if [ $grp = yes ]; then
	type=$(cat /sys/bus/pci/devices/$imp_bdf/iommu_group/type)
	case "$type" in DMA|DMA-FQ) r=0 ;; *) r=1 ;; esac
	ok $r "importer's IOMMU domain translates (type $type)"
fi

# Modules: all loaded by vm-run, unload in reverse order, load again.
mods=$(sed 's/\.ko$//' /lib/peermap/modules.list)
for m in $mods; do
	lsmod | grep -q "^$m " ; ok $? "module $m loaded at boot"
done
rev=$(echo "$mods" | sed '1!G;h;$!d')
for m in $rev; do
	run "rmmod $m" rmmod "$m"
done
is "$(lsmod | grep -c '^peermap')" 0 "no peermap module left loaded"

# Peer-to-peer DMA with the product modules out of the way.
run "insmod pm_bedtest" insmod /lib/peermap/test/pm_bedtest.ko
for len in 1 2048 4095; do
	echo $len > /sys/module/pm_bedtest/parameters/xfer_len
	res=$(cat /sys/kernel/debug/pm_bedtest/p2p)
	diag "$res"
	case "$res" in *result=ok*) r=0 ;; *) r=1 ;; esac
	ok $r "edu DMA of $len bytes through ivshmem BAR2 arrives intact"
	case "$res" in *addr=$TOPO_EXPECT_P2P_ADDR\ *) r=0 ;; *) r=1 ;; esac
	ok $r "peer address for $len bytes is a $TOPO_EXPECT_P2P_ADDR address"
done
run "rmmod pm_bedtest" rmmod pm_bedtest

run "modules load again, with the topology's parameters" pm-modules load
for m in $mods; do
	lsmod | grep -q "^$m " ; ok $? "module $m loaded again"
done
run "peermap debugfs answers" cat /sys/kernel/debug/peermap/version
# Unsigned out-of-tree modules taint the kernel and say so: not an error.
bad=$(dmesg | grep -E 'peermap|pm_bedtest' | grep -iE 'error|fail|warn' |
	grep -vE 'module verification failed|taints kernel')
is "$bad" "" "no error, failure or warning from the modules in dmesg"

done_testing
