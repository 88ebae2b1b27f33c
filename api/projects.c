/* projects.c: routes of this resource (see API.md). */
#include "router.h"

const struct route projects_routes[] = {
	{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
