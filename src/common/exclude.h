/* exclude.h - the policy's path and process exclusions, matched in user
 * space (what the kernel-side filters cannot express, and the fallback).
 *
 * A path exclusion is a prefix on whole components: "/srv/cache" excludes
 * "/srv/cache" and "/srv/cache/x", not "/srv/cache2".  A process exclusion is
 * an executable's absolute path, matched exactly. */
#pragma once

#include <stdbool.h>

struct policy;

bool exclude_path(const struct policy *p, const char *path);
bool exclude_process(const struct policy *p, const char *exe);
/* Whether path lies under prefix, on whole components ("/" holds all). */
bool path_under(const char *path, const char *prefix);
