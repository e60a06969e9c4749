/* json.c - reading the report tree (json.h). */
#include "engine/report/json.h"

const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

double jnum(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

bool jhas(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return v && !json_is_null(v);
}
