// SPDX-License-Identifier: GPL-2.0
/*
 * The probe that must always compile. When it does not, the probe step
 * itself is broken (compiler, kernel build tree, these flags), and
 * scripts/conftest fails instead of calling every feature absent.
 */
#include <linux/mm.h>

static unsigned long __maybe_unused pm_probe(struct vm_area_struct *vma)
{
	return vma->vm_end - vma->vm_start;
}
