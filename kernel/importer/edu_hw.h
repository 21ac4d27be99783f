/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's edu device (hw/misc/edu.c), 1234:11e8: the registers of its DMA
 * engine and one polled transfer. Shared by the importer and the test
 * bed's check module.
 *
 * BAR0: 0x80 source, 0x88 destination, 0x90 count, 0x98 command (bit 0
 * run, bit 1 edu->RAM), 64-bit registers written with 8-byte accesses. The
 * engine's buffer sits at device address 0x40000. QEMU 7.2 aborts the whole
 * VM for a count of 0 or a transfer reaching 0x41000: every transfer is
 * 1..EDU_XFER_MAX bytes at the buffer's start.
 */
#ifndef _PEERMAP_EDU_HW_H
#define _PEERMAP_EDU_HW_H

#include <linux/bits.h>
#include <linux/delay.h>
#include <linux/io.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/jiffies.h>

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8

#define EDU_REG_ID		0x00
#define EDU_REG_SRC		0x80
#define EDU_REG_DST		0x88
#define EDU_REG_CNT		0x90
#define EDU_REG_CMD		0x98
#define EDU_CMD_RUN		BIT(0)
#define EDU_CMD_TO_RAM		BIT(1)
#define EDU_BUF			0x40000
#define EDU_XFER_MAX		4095

/*
 * Run one transfer and poll it to completion (about 100 ms in QEMU),
 * uninterruptibly: the DMA is in flight until the engine says it is done.
 * Returns 0, -EINVAL for a length QEMU would die of, or -ETIMEDOUT.
 */
static inline int edu_hw_xfer(void __iomem *regs, u64 src, u64 dst, u32 len,
			      bool to_ram, unsigned int timeout_ms)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(timeout_ms);

	if (!len || len > EDU_XFER_MAX)
		return -EINVAL;
	writeq(src, regs + EDU_REG_SRC);
	writeq(dst, regs + EDU_REG_DST);
	writeq(len, regs + EDU_REG_CNT);
	writeq(EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0), regs + EDU_REG_CMD);
	while (readq(regs + EDU_REG_CMD) & EDU_CMD_RUN) {
		if (time_after(jiffies, timeout))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

#endif /* _PEERMAP_EDU_HW_H */
