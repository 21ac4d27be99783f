// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/peermap: the core's own device. Anyone may open it read-only and
 * ask how one PCI device reaches another (PEERMAP_IOC_ROUTE), as lspci
 * shows the tree to anyone. As sysfs config space beyond the header, the
 * ACS control bits are for CAP_SYS_ADMIN only; so is adding to the route
 * cache. debugfs peermap/routes lists the cached answers; writing to it
 * drops them (after changing ACS by hand, say).
 *
 * Anyone may also make a dma-buf they hold a window of their own address
 * space (PEERMAP_IOC_DMABUF_MAP, window.c), as they may mmap it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/user_namespace.h>

#include "internal.h"

/* A PCI device by name, NUL-terminated within @len: a reference. */
static struct pci_dev *ctl_find_pci(const char *name, size_t len)
{
	struct pci_dev *pdev;
	u32 key;

	if (!memchr(name, '\0', len) || peermap_parse_pci_name(name, &key))
		return ERR_PTR(-EINVAL);
	pdev = pci_get_domain_bus_and_slot(key >> 16, (key >> 8) & 0xff,
					   key & 0xff);
	return pdev ?: ERR_PTR(-ENODEV);
}

/*
 * Who opened the file, as for sysfs config space: a user without
 * CAP_SYS_ADMIN gets the answer without the ACS control bits, and does not
 * add it to the cache.
 */
static long ctl_route(struct file *file, void __user *arg)
{
	bool priv = file_ns_capable(file, &init_user_ns, CAP_SYS_ADMIN);
	struct peermap_route_query *q;
	struct pci_dev *p = NULL, *c = NULL;
	struct pm_rt_result *res;
	bool cached;
	long ret;

	q = kmalloc(sizeof(*q), GFP_KERNEL);
	res = kmalloc(sizeof(*res), GFP_KERNEL);
	if (!q || !res) {
		ret = -ENOMEM;
		goto out;
	}
	if (copy_from_user(q, arg, sizeof(*q))) {
		ret = -EFAULT;
		goto out;
	}
	if (q->reserved) {
		ret = -EINVAL;
		goto out;
	}
	p = ctl_find_pci(q->provider, sizeof(q->provider));
	c = ctl_find_pci(q->client, sizeof(q->client));
	ret = IS_ERR(p) ? PTR_ERR(p) : IS_ERR(c) ? PTR_ERR(c) : 0;
	if (ret)
		goto out;
	ret = peermap_route_explain(p, c, res, &cached, priv);
	if (ret)
		goto out;
	if (!priv)
		pm_rt_hide_acs(res);	/* built for this answer, not shared */
	strscpy(q->provider, pci_name(p), sizeof(q->provider));
	strscpy(q->client, pci_name(c), sizeof(q->client));
	q->path = res->verdict.path;
	q->distance = res->verdict.distance;
	q->flags = (res->verdict.iova ? PEERMAP_ROUTE_IOVA : 0) |
		   (cached ? PEERMAP_ROUTE_CACHED : 0);
	strscpy(q->reason, res->reason, sizeof(q->reason));
	strscpy(q->steps, res->steps, sizeof(q->steps));
	if (copy_to_user(arg, q, sizeof(*q)))
		ret = -EFAULT;
out:
	if (!IS_ERR_OR_NULL(c))
		pci_dev_put(c);
	if (!IS_ERR_OR_NULL(p))
		pci_dev_put(p);
	kfree(res);
	kfree(q);
	return ret;
}

static long ctl_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	switch (cmd) {
	case PEERMAP_IOC_ROUTE:
		return ctl_route(file, (void __user *)arg);
	case PEERMAP_IOC_DMABUF_MAP:
		return peermap_window_map((void __user *)arg);
	case PEERMAP_IOC_DMABUF_INFO:
		return peermap_window_info((void __user *)arg);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations ctl_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ctl_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice ctl_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "peermap",
	.fops = &ctl_fops,
	.mode = 0444,
};

static int routes_show(struct seq_file *m, void *unused)
{
	return peermap_route_show(m);
}

static int routes_open(struct inode *inode, struct file *file)
{
	return single_open(file, routes_show, NULL);
}

static ssize_t routes_write(struct file *file, const char __user *buf,
			    size_t len, loff_t *ppos)
{
	peermap_route_flush();
	peermap_routes_changed();
	return len;
}

static const struct file_operations routes_fops = {
	.owner = THIS_MODULE,
	.open = routes_open,
	.read = seq_read,
	.write = routes_write,
	.llseek = seq_lseek,
	.release = single_release,
};

int peermap_ctl_init(struct dentry *debugfs)
{
	debugfs_create_file("routes", 0644, debugfs, NULL, &routes_fops);
	return misc_register(&ctl_misc);
}

void peermap_ctl_exit(void)
{
	misc_deregister(&ctl_misc);
}
