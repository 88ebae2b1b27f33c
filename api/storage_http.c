/* storage_http.c: routes of this resource (see API.md). */
#include "router.h"

const struct route storage_http_routes[] = {
	{NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
