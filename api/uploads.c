/* uploads.c: routes of this resource (see API.md). */
#include "router.h"

const struct route uploads_routes[] = {
	{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
