/* jsonutil.h - json-c ownership helpers and the JSON forms shared by programs. */
#pragma once

#include <json-c/json.h>

static inline void json_object_putp(struct json_object **o)
{
	if (*o)
		json_object_put(*o);
}
static inline void json_tokener_freep(struct json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}
#define _cleanup_json_ __attribute__((cleanup(json_object_putp)))
