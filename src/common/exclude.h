/* exclude.h - the policy's path and process exclusions, matched in user
 * space (what the kernel-side filters cannot express, and the fallback).
 *
 * A path exclusion is a prefix on whole components: "/srv/cache" excludes
 * "/srv/cache" and "/srv/cache/x", not "/srv/cache2".  Both sides are
 * compared normalised ("//proc", "/./proc" and "/x/../proc" are "/proc");
 * a relative path is under nothing.  The caller hands in a path the host
 * sees, never one another mount namespace shapes.  A process exclusion is
 * an executable's absolute path, matched exactly. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct policy;

bool exclude_path(const struct policy *p, const char *path);
bool exclude_process(const struct policy *p, const char *exe);
/* Whether path lies under prefix, on whole components ("/" holds all). */
bool path_under(const char *path, const char *prefix);
/* path without empty and "." components, ".." taken back lexically (never
 * above "/"), no trailing slash: 0, or -EINVAL (not absolute) or
 * -ENAMETOOLONG (len too small). */
int path_normalize(const char *path, char *out, size_t len);
