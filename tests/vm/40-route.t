# SPDX-License-Identifier: GPL-2.0
# Routes: the path, distance and reason the core gives for this topology's
# exporter and importer (TOPO_EXPECT_ROUTE*), the topo report in its three
# forms, the route cache, and on some topologies (TOPO_TEST_*) the
# administrator's settings changed at run time.
. "$(dirname "$0")/tap.sh"
. /etc/peermap/topology
params=/sys/module/peermap/parameters

devs=$(peermap devices)
exp=$(echo "$devs" | awk '$1 == "exporter" && $3 == "1af4:1110" {print $2}')
imp=$(echo "$devs" | awk '$1 == "importer" {print $2}')
diag "exporter $exp, importer $imp"

route() {	# route: sets $out and $path
	out=$(peermap route "$exp" "$imp")
	path=$(echo "$out" | sed -n '1s/.*: \([a-z-]*\), distance .*/\1/p')
}
route
echo "$out" | sed 's/^/# /'
is "$path" "$TOPO_EXPECT_ROUTE" "route is $TOPO_EXPECT_ROUTE"
echo "$out" | grep -qF "$TOPO_EXPECT_ROUTE_REASON"
ok $? "reason says: $TOPO_EXPECT_ROUTE_REASON"
if [ -n "${TOPO_EXPECT_ROUTE_DISTANCE:-}" ]; then
	echo "$out" | grep -q "distance $TOPO_EXPECT_ROUTE_DISTANCE\b"
	ok $? "distance $TOPO_EXPECT_ROUTE_DISTANCE"
else
	skip "no TOPO_EXPECT_ROUTE_DISTANCE for this topology" "route distance"
fi
echo "$out" | grep -q '^  => '
ok $? "route explains itself step by step"

# The three report forms agree with the route.
json=$(peermap topo --json)
echo "$json" | grep -q "^{\"routes\":\[{\"provider\":\"$exp\",\"client\":\"$imp\",\"path\":\"$TOPO_EXPECT_ROUTE\",\"distance\":[0-9]*,"
ok $? "topo --json gives the pair with path $TOPO_EXPECT_ROUTE"
case $TOPO_EXPECT_ROUTE in
switch) cell=SWITCH ;; host-bridge) cell=HOSTBRIDGE ;; *) cell=NONE ;; esac
peermap topo | grep -q "^$exp  *$cell"
ok $? "topo matrix shows $cell"
dot=$(peermap topo --dot)
echo "$dot" | grep -q "^digraph peermap {" && echo "$dot" | grep -q "\"$imp\" -> \"$exp\" \[style=dashed"
ok $? "topo --dot draws the tree and the route"

# The cache: a second answer comes from it; a setting change drops it.
route
echo "$out" | grep -q '(cached)'
ok $? "second query answered from the cache"
grep -q "^$exp $imp $TOPO_EXPECT_ROUTE " /sys/kernel/debug/peermap/routes
ok $? "debugfs peermap/routes lists the pair"
cat $params/trust_host_bridge > /tmp/trust
cat /tmp/trust > $params/trust_host_bridge
route
echo "$out" | grep -q '(cached)'
is $? 1 "a setting change drops the cache"

copy_result() {	# copy_result WANT DESCRIPTION: WANT 0 ok, 1 refused
	peermap copy --size 8K --from dev --to ram >/tmp/copy.out 2>&1
	_s=$?
	[ $_s -eq 0 ] && _s=0 || _s=1
	is $_s "$1" "$2"
	[ "$_s" = "$1" ] || sed 's/^/#   /' /tmp/copy.out
}

if [ -n "${TOPO_TEST_ROUTE_COPY:-}" ]; then
	if [ "$TOPO_EXPECT_ROUTE" = none ]; then
		copy_result 1 "copy refused without a route"
		grep -q 'Remote I/O error' /tmp/copy.out
		ok $? "the refusal is EREMOTEIO"
		dmesg | grep -q "no peer route to $exp"
		ok $? "and the log says why"
	else
		copy_result 0 "copy works on the $TOPO_EXPECT_ROUTE route"
	fi
else
	skip "copies on the route run where TOPO_TEST_ROUTE_COPY is set" "copy on the route"
fi

# Trusting one more host bridge at run time opens the route.
if [ -n "${TOPO_TEST_TRUST_MORE:-}" ]; then
	run "trust $TOPO_TEST_TRUST_MORE too" sh -c "echo $(cat /tmp/trust),$TOPO_TEST_TRUST_MORE > $params/trust_host_bridge"
	route
	is "$path" host-bridge "route is host-bridge once both host bridges are trusted"
	echo "$out" | grep -qF "$TOPO_EXPECT_TRUSTED_REASON"
	ok $? "reason says: $TOPO_EXPECT_TRUSTED_REASON"
	copy_result 0 "copy across host bridges works"
else
	skip "a second host bridge only where TOPO_TEST_TRUST_MORE names it" "trusting a second host bridge opens the route"
fi

# allow: opens an untrusted host bridge for one pair.
if [ -n "${TOPO_TEST_ALLOW:-}" ]; then
	echo "" > $params/trust_host_bridge
	route
	is "$path" none "no trusted host bridge: none"
	copy_result 1 "copy refused"
	run "allow the pair" sh -c "echo allow:$exp,$imp > $params/overrides"
	route
	is "$path" host-bridge "allow override: host-bridge"
	echo "$out" | grep -q "allowed by administrator override"
	ok $? "reason names the override"
	copy_result 0 "copy works when allowed"
	echo "" > $params/overrides
	cat /tmp/trust > $params/trust_host_bridge
else
	skip "allow runs on one topology (TOPO_TEST_ALLOW)" "allow: overrides"
fi

# deny and host-bridge overrides, and bad settings.
if [ -n "${TOPO_TEST_OVERRIDES:-}" ]; then
	run "deny the pair (client, provider order)" sh -c "echo deny:$imp,$exp > $params/overrides"
	grep -q "deny:$imp,$exp" $params/overrides
	ok $? "overrides reads back"
	route
	is "$path" none "denied pair: none"
	echo "$out" | grep -q "denied by administrator override"
	ok $? "reason names the override"
	copy_result 1 "copy of a denied pair refused"
	echo "" > $params/overrides
	route
	is "$path" "$TOPO_EXPECT_ROUTE" "override cleared: route back"

	run "force the pair through the host bridge" sh -c "echo host-bridge:$exp,$imp > $params/overrides"
	route
	is "$path" none "forced through an untrusted host bridge: none"
	run "trust q35's host bridge" sh -c "echo 8086:29c0 > $params/trust_host_bridge"
	route
	is "$path" host-bridge "forced through a trusted host bridge: host-bridge"
	copy_result 0 "copy works through the host bridge"
	echo "" > $params/overrides
	cat /tmp/trust > $params/trust_host_bridge

	for bad in "allow:$exp" "frob:$exp,$imp" "deny:zz:00.0,$imp" "deny:$exp,0000:03:20.0"; do
		echo "$bad" > $params/overrides 2>/dev/null
		is $? 1 "overrides '$bad' refused"
	done
	echo "8086" > $params/trust_host_bridge 2>/dev/null
	is $? 1 "trust_host_bridge '8086' refused"
	dmesg | grep -q "overrides: bad entry"
	ok $? "a refused setting says why in the log"

	# PCI hotplug drops the cache: remove the importer and find it again.
	route
	echo 1 > /sys/bus/pci/devices/$imp/remove
	echo 1 > /sys/bus/pci/rescan
	sleep 1
	route
	is "$path" "$TOPO_EXPECT_ROUTE" "route the same after remove and rescan"
	echo "$out" | grep -q '(cached)'
	is $? 1 "device add/remove dropped the cache"
	copy_result 0 "copy works after the importer came back"
else
	skip "overrides run where TOPO_TEST_OVERRIDES is set (switch, smp2)" \
		"deny and host-bridge overrides, bad settings, hotplug drops the cache"
fi

run "unknown device refused" sh -c "! peermap route 0000:7f:1f.7 $imp 2>/tmp/r.err && grep -q 'no such PCI device' /tmp/r.err"
done_testing
