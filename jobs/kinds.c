/* kinds.c: the table of every job kind, and its one lookup. */
#include "kinds.h"

#include <pthread.h>
#include <string.h>

#include "project_initialize.h"
#include "resource_delete.h"
#include "upload_complete.h"

const struct job_kind *const kinds_all[] = {
    &project_initialize_kind,
    &upload_complete_kind,
    &resource_delete_kind,
};
const int kinds_count = (int)ARRAY_LEN(kinds_all);

static const char *kinds_name_list[ARRAY_LEN(kinds_all) + 1];
static pthread_once_t kinds_name_once = PTHREAD_ONCE_INIT;

const struct job_kind *
kinds_find(const char *name)
{
	for (int i = 0; name != NULL && i < kinds_count; i++)
		if (strcmp(kinds_all[i]->name, name) == 0)
			return kinds_all[i];
	return NULL;
}

/* Fills kinds_name_list (once). */
static void
kinds_fill_names(void)
{
	for (int i = 0; i < kinds_count; i++)
		kinds_name_list[i] = kinds_all[i]->name;
}

const char *const *
kinds_names(void)
{
	pthread_once(&kinds_name_once, kinds_fill_names);
	return kinds_name_list;
}

const struct job_kind *
kinds_parse(const char *body, size_t len, struct job *j, char **err)
{
	const struct job_kind *k;

	if (job_parse(body, len, j, err) < 0)
		return NULL;
	if ((k = kinds_find(j->kind)) == NULL) {
		util_set_err(err, "job message: unknown kind \"%s\"", j->kind);
		memset(j, 0, sizeof(*j));
	}
	return k;
}
