/* folders.c: routes of this resource (see API.md). */
#include "router.h"

const struct route folders_routes[] = {
	{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
