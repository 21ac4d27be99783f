/* SPDX-License-Identifier: GPL-2.0 */
/* peermap CLI: one file per group of subcommands, dispatched by main.c. */
#ifndef PEERMAP_CLI_H
#define PEERMAP_CLI_H

int cmd_devices(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_segments(int argc, char **argv);

#endif
