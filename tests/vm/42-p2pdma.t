# SPDX-License-Identifier: GPL-2.0
# peermap's routes against Linux's own P2PDMA: for every ordered pair of
# PCI functions that are not bridges, peermap's verdict (`peermap route`)
# and upstream's pci_p2pdma_distance() (tests/kmod/pm_p2pcheck.ko, built
# only for kernels with CONFIG_PCI_P2PDMA). They agree when both refuse,
# or both route with the same distance. A disagreement passes only when
# peermap's reason names one of the expected classes below, which Linux
# has no notion of; any other fails and is printed. Where the topology
# trusts a host bridge, the pairs are compared again without that trust,
# and must then agree but for the other classes. Skips on kernels without
# CONFIG_PCI_P2PDMA.
#
# Expected classes (PM_P2PDMA_EXPECTED, default "trust override"):
#   trust     peermap routes through a host bridge that the administrator
#             trusts (trust_host_bridge; q35's 8086:29c0 in the bed), which
#             is not on Linux's allow list: upstream refuses the pair.
#   override  an administrator's per-pair override (allow, deny,
#             host-bridge) decided peermap's answer.
. "$(dirname "$0")/tap.sh"
classes=${PM_P2PDMA_EXPECTED-trust override}
ko=/lib/peermap/test/pm_p2pcheck.ko
list=/sys/kernel/debug/pm_p2pcheck/distances
what="peermap's routes agree with pci_p2pdma_distance() but for expected classes"

if ! grep -q ' pci_p2pdma_distance_many$' /proc/kallsyms; then
	skip "kernel without CONFIG_PCI_P2PDMA" "$what"
	done_testing
fi
[ -f $ko ]
ok $? "pm_p2pcheck.ko built for this P2PDMA kernel"
run "load pm_p2pcheck" insmod $ko || done_testing
cat $list > /tmp/p2pdma.pairs
npairs=$(wc -l < /tmp/p2pdma.pairs)
[ "$npairs" -ge 2 ]
ok $? "upstream answers for $npairs pairs"

# class PATH DISTANCE REASON: the expected class this disagreement is
# (peermap's PATH and REASON, upstream's DISTANCE), or nothing.
class() {
	for _c in $expected; do
		case "$_c:$1:$2:$3" in
		trust:host-bridge:-*:*"trusted by the administrator"*|\
		override:*:*:*"administrator override"*)
			echo "$_c"
			return ;;
		esac
	done
}

# compare CLASSES: every pair, peermap against upstream; one line each,
# a total, and one test point. Disagreements pass only in CLASSES.
compare() {
	expected=$1
	agree=0 known=0 bad=0
	while read -r p c d; do
		out=$(peermap route "$p" "$c" 2>&1)
		head=$(echo "$out" | sed -n 1p)
		path=$(echo "$head" | sed -n 's/.*: \([a-z-]*\), distance .*/\1/p')
		dist=$(echo "$head" | sed -n 's/.*, distance \([0-9]*\).*/\1/p')
		reason=$(echo "$out" | sed -n 's/^reason: //p')
		if [ -z "$path" ]; then
			verdict="DISAGREE (no answer from peermap: $head)"
		elif [ "$path" = none ] && [ "$d" -lt 0 ]; then
			verdict=agree
		elif [ "$path" != none ] && [ "$d" -ge 0 ] && [ "$dist" = "$d" ]; then
			verdict=agree
		else
			k=$(class "$path" "$d" "$reason")
			if [ -n "$k" ]; then
				verdict="expected ($k)"
			else
				verdict="DISAGREE"
			fi
		fi
		case $verdict in
		agree) agree=$((agree + 1)) ;;
		expected*) known=$((known + 1)) ;;
		*) bad=$((bad + 1)) ;;
		esac
		diag "$p -> $c: peermap $path ${dist:--}, upstream $d: $verdict"
		case $verdict in
		DISAGREE*) diag "  peermap's reason: $reason" ;;
		esac
	done < /tmp/p2pdma.pairs
	diag "$npairs pairs: $agree agree, $known expected disagreements, $bad not expected"
	[ $((agree + known + bad)) -eq "$npairs" ] && [ $bad -eq 0 ]
	ok $? "$what (expected: ${expected:-none})"
}

compare "$classes"

# The administrator's trust is the one thing Linux has no notion of: the
# same pairs without it must agree but for the other classes, distances
# included where both route.
trust=/sys/module/peermap/parameters/trust_host_bridge
saved=$(cat $trust)
if [ -n "$saved" ]; then
	echo "" > $trust
	diag "again without trust_host_bridge=$saved"
	compare "$(echo " $classes " | sed 's/ trust / /g; s/^ *//; s/ *$//')"
	echo "$saved" > $trust
	is "$(cat $trust)" "$saved" "trust_host_bridge restored"
else
	skip "no host bridge trusted on this topology" "the pairs agree without trust_host_bridge"
	skip "no host bridge trusted on this topology" "trust_host_bridge restored"
fi
run "unload pm_p2pcheck" rmmod pm_p2pcheck
done_testing
