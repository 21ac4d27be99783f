// SPDX-License-Identifier: GPL-2.0
/* pin_user_pages_remote() without the vmas argument (6.5) */
#include <linux/mm.h>

static long __maybe_unused pm_probe(struct mm_struct *mm, struct page **pages)
{
	return pin_user_pages_remote(mm, 0, 1, FOLL_LONGTERM, pages, NULL);
}
