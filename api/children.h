/* children.h: listings of what lies in a project or folder, routed from projects.c and
 * folders.c. */
#ifndef SETTLE_CHILDREN_H
#define SETTLE_CHILDREN_H

#include "http.h"

/* GET /projects/{id}/children[?name_contains=]: live folders and files, paged. */
void children_project(struct req *r);
/* GET /folders/{id}/children[?name_contains=]: same for a folder. */
void children_folder(struct req *r);
/* GET /projects/{id}/files: every live file with size, hashes and a download URL, paged;
 * 404 resource_not_consistent while any of their uploads is not consistent. */
void children_project_files(struct req *r);

#endif
