/* files.c: routes of this resource (see API.md). */
#include "router.h"

const struct route files_routes[] = {
	{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
