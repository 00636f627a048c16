/* Virtio-fs tags across kinds (devices/fs_tag.h). */
#include "devices/fs_tag.h"
#include "devices/shared_dir.h"
#include "devices/vhost_user_dev.h"

const char *device_fs_tag(const struct device_kind *kind, const void *cfg)
{
	if (kind == &shared_dir_kind)
		return ((const struct shared_dir_config *)cfg)->tag;
	if (kind == &vhost_user_kind)
		return vhost_user_fs_tag(cfg);
	return NULL;
}
