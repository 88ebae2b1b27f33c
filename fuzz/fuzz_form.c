/* fuzz_form.c: the form-urlencoded body parser (bracketed keys) on any bytes. */
#include <jansson.h>
#include <stdint.h>

#include "form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *obj = form_parse((const char *)data, size);

	if (!json_is_object(obj))
		__builtin_trap();
	json_decref(obj);
	return 0;
}
