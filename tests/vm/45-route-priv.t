# SPDX-License-Identifier: GPL-2.0
# /dev/peermap for a user without CAP_SYS_ADMIN: root's routes without the
# ACS control bits, and no growth of the route cache; the cache's bound
# (route_cache_max) for everyone: tests/guest/routepriv_test.c. The acs
# fixture's variant that does not fit the topology is skipped.
exec pm-routepriv_test
