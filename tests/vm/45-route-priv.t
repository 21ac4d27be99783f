# SPDX-License-Identifier: GPL-2.0
# /dev/peermap for a user without CAP_SYS_ADMIN: root's routes without the
# ACS control bits, and no growth of the route cache; the cache's bound
# (route_cache_max) for everyone: tests/guest/routepriv_test.c.
. /etc/peermap/topology
case ${TOPO_EXPECT_ROUTE_REASON:-} in
*"ACS redirect at "*) export PM_EXPECT_ACS=1 ;;
esac
exec pm-routepriv_test
