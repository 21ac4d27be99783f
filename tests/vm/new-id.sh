# SPDX-License-Identifier: GPL-2.0
# Run by tests/host/test_new_id.sh in a guest with an NVMe controller whose
# controller memory buffer (CMB) is BAR2: peermap_bar takes any device with
# a large memory BAR through new_id, and its objects work like ivshmem's;
# then the same device through driver_override, as README.md tells a user;
# then through `peermap bind` and `peermap unbind`, from nvme and back.
# Argument: the NVMe's PCI name.
. "$(dirname "$0")/tap.sh"
bdf=$1
id=$(cat /sys/bus/pci/devices/$bdf/vendor /sys/bus/pci/devices/$bdf/device |
	sed 's/0x//' | paste -sd' ')

run "unbind $bdf from nvme" sh -c "echo $bdf > /sys/bus/pci/drivers/nvme/unbind"
run "new_id '$id' to peermap_bar" sh -c "echo '$id' > /sys/bus/pci/drivers/peermap_bar/new_id"
is "$(basename "$(readlink /sys/bus/pci/devices/$bdf/driver)")" peermap_bar "peermap_bar bound $bdf"
node=$(ls /sys/bus/pci/devices/$bdf/misc/ 2>/dev/null)
is "$node" peermap-bar1 "it is /dev/peermap-bar1"
out=$(peermap devices)
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q "^exporter  $bdf .* peermap_bar "
ok $? "peermap devices lists it as an exporter"
run "copy CMB object -> RAM" peermap copy --bar 1 --from dev --to ram --size 8K
run "copy RAM -> CMB object, unaligned" peermap copy --bar 1 --from ram --to dev --size 5000 --src-offset 7 --dst-offset 9
out=$(peermap segments --bar 1 --size 1M)
echo "$out" | sed 's/^/# /'
is "$(echo "$out" | grep -c ' peer ')" 1 "a 1 MiB CMB object is one peer segment"
run "unbind from peermap_bar" sh -c "echo $bdf > /sys/bus/pci/drivers/peermap_bar/unbind"
is "$(ls /dev/peermap-bar1 2>/dev/null)" "" "/dev/peermap-bar1 gone after unbind"

# driver_override: this one device, whatever its ID (new_id's is removed
# first, so that only the override can bind it).
d=/sys/bus/pci/devices/$bdf
run "remove_id '$id' from peermap_bar" sh -c "echo '$id' > /sys/bus/pci/drivers/peermap_bar/remove_id"
run "driver_override peermap_bar, drivers_probe" sh -c "echo peermap_bar > $d/driver_override && echo $bdf > /sys/bus/pci/drivers_probe"
is "$(basename "$(readlink $d/driver)")" peermap_bar "driver_override bound $bdf to peermap_bar"
run "copy RAM -> CMB object, bound by driver_override" peermap copy --bar 1 --from ram --to dev --size 8K
run "unbind, clear driver_override" sh -c "echo $bdf > $d/driver/unbind && echo > $d/driver_override"
is "$(cat $d/driver_override)" "(null)" "driver_override cleared"

# peermap bind / unbind: the same override, from the driver that holds
# the device (nvme) and back to it.
drv() { basename "$(readlink $d/driver)"; }
pm() {	# pm ARGS...: run peermap; $st its status, $out stdout and stderr
	out=$(peermap "$@" 2>&1)
	st=$?
	echo "$out" | sed 's/^/#   /'
}
run "nvme takes $bdf back (drivers_probe)" sh -c "echo $bdf > /sys/bus/pci/drivers_probe"
is "$(drv)" nvme "nvme holds $bdf"
pm bind $bdf
is "$st" 1 "peermap bind of a device nvme holds: refused, status 1"
echo "$out" | grep -q "peermap bind: nvme holds $bdf: its namespaces go away.*add --force to take it"
ok $? "says nvme holds it, what unbinding costs, and --force"
is "$(drv)" nvme "nvme still holds it"
pm bind --force "${bdf#0000:}"
is "$st" 0 "peermap bind --force ${bdf#0000:} (no domain): status 0"
is "$out" "$bdf is bound to peermap_bar (/dev/peermap-bar1), taken from nvme" \
	"says which driver, its node, and from which driver"
is "$(drv)" peermap_bar "peermap_bar holds $bdf"
is "$(cat $d/driver_override)" peermap_bar "through its driver_override"
peermap devices | grep -q "^exporter  $bdf .* peermap_bar "
ok $? "peermap devices lists it as an exporter"
run "copy RAM -> CMB object, bound by peermap bind" peermap copy --bar 1 --from ram --to dev --size 8K
pm bind $bdf
is "$st" 0 "peermap bind again: status 0"
is "$out" "$bdf is already bound to peermap_bar (/dev/peermap-bar1)" "says it is already bound"
pm unbind $bdf
is "$st" 0 "peermap unbind: status 0"
is "$out" "$bdf: unbound from peermap_bar, driver_override cleared; nvme has it now" \
	"says nvme has it again"
is "$(drv)" nvme "nvme holds $bdf again"
is "$(cat $d/driver_override)" "(null)" "driver_override cleared"
is "$(ls /dev/peermap-bar1 2>/dev/null)" "" "/dev/peermap-bar1 gone"
pm unbind $bdf
is "$st" 1 "peermap unbind of nvme's device: refused, status 1"
echo "$out" | grep -q "is bound to nvme, not to a peermap driver.*add --force"
ok $? "says it is nvme's, not peermap's, and --force"
done_testing
