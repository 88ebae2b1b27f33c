/* test_kinds.c: the table of job kinds, its one lookup, and what each kind declares. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kinds.h"
#include "project_initialize.h"
#include "resource_delete.h"
#include "upload_complete.h"

#define ID  "0b0e5f0c-8c1a-4b59-9d7e-4f1e2a3b4c5d"
#define RES "a1b2c3d4-e5f6-4789-abcd-ef0123456789"

/* Every kind is found by its name, and nothing else is. */
static void
test_find(void **state)
{
	(void)state;
	assert_ptr_equal(kinds_find("project.initialize"), &project_initialize_kind);
	assert_ptr_equal(kinds_find("upload.complete"), &upload_complete_kind);
	assert_ptr_equal(kinds_find("resource.delete"), &resource_delete_kind);
	assert_null(kinds_find("upload"));
	assert_null(kinds_find("upload.nope"));
	assert_null(kinds_find(""));
	assert_null(kinds_find(NULL));
	assert_int_equal(kinds_count, 3);
}

/* kinds_names lists the table's names in its order, NULL-terminated. */
static void
test_names(void **state)
{
	const char *const *names = kinds_names();

	(void)state;
	for (int i = 0; i < kinds_count; i++)
		assert_string_equal(names[i], kinds_all[i]->name);
	assert_null(names[kinds_count]);
}

/* Each kind runs one way (run, or check and commit), can give up, and has a name that is a
 * queue name; only upload.complete batches; resource.delete has nothing to reconcile. */
static void
test_descriptors(void **state)
{
	(void)state;
	for (int i = 0; i < kinds_count; i++) {
		const struct job_kind *k = kinds_all[i];

		print_message("kind %s\n", k->name);
		assert_true((k->run != NULL) != kind_batchable(k));
		assert_true(!kind_batchable(k) || (k->commit != NULL && k->clear != NULL));
		assert_in_range(k->give_up_unit, 0, SQL_UNIT_COUNT - 1);
		/* db_exec runs a unit with as many parameters as it takes: these are given 2 and 1.
		 */
		assert_int_equal(sql_units[k->give_up_unit].nparams, 2);
		if (k->pending_unit != SQL_UNIT_COUNT)
			assert_int_equal(sql_units[k->pending_unit].nparams, 1);
		assert_ptr_equal(kinds_find(k->name), k);
	}
	assert_true(kind_batchable(&upload_complete_kind));
	assert_false(kind_batchable(&project_initialize_kind));
	assert_false(kind_batchable(&resource_delete_kind));
	assert_int_equal(resource_delete_kind.pending_unit, SQL_UNIT_COUNT);
	assert_in_range(project_initialize_kind.pending_unit, 0, SQL_UNIT_COUNT - 1);
	assert_in_range(upload_complete_kind.pending_unit, 0, SQL_UNIT_COUNT - 1);
}

/* kinds_parse accepts a message of a known kind and refuses an unknown one (dead-lettered
 * by the worker, skipped by `settle dead-letters requeue`). */
static void
test_parse(void **state)
{
	static const char good[] =
	    "{\"id\":\"" ID "\",\"kind\":\"resource.delete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}";
	static const char unknown[] =
	    "{\"id\":\"" ID "\",\"kind\":\"upload.nope\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}";
	struct job j;
	char *err = NULL;

	(void)state;
	assert_ptr_equal(kinds_parse(good, strlen(good), &j, &err), &resource_delete_kind);
	assert_string_equal(j.kind, "resource.delete");
	assert_null(kinds_parse(unknown, strlen(unknown), &j, &err));
	assert_non_null(err);
	assert_non_null(strstr(err, "unknown kind \"upload.nope\""));
	assert_string_equal(j.id, "");
	free(err);
	err = NULL;
	assert_null(kinds_parse("{", 1, &j, &err));
	assert_non_null(err);
	free(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_descriptors),
	    cmocka_unit_test(test_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
