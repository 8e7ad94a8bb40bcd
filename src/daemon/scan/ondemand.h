/* ondemand.h - `picketctl scan PATH...`: walks the paths, opens every
 * regular file as root, hands the descriptors to the scan service, and
 * streams progress and a summary back to the client.
 *
 * The walk is incremental: at most ONDEMAND_WINDOW files of one session wait
 * in the scan queue at a time, and the next batch is walked as verdicts come
 * back, so a scan of / neither floods the queue nor stalls the event loop. */
#pragma once

#include <fts.h>
#include <stdint.h>
#include <time.h>

#include "core/control.h"
#include "proto.h"
#include "supervisor.h"

#define ONDEMAND_WINDOW 64
#define ONDEMAND_MAX_REPORTED 1000 /* detections and errors listed in the summary */

struct picketd;

struct ondemand {
	struct scan_owner owner; /* first: the supervisor hands it back */
	struct picketd *d;
	struct control_client *client;
	FTS *fts;
	bool progress;
	bool walking;
	unsigned pending; /* submitted, verdict not yet back */
	uint64_t files, bytes, infected, errors, skipped;
	struct timespec started, last_progress;
	struct json_object *detections; /* [{path, signature}] */
	struct json_object *failures;   /* [{path, error}] */
	struct ondemand *next;
};

/* Starts a session for a CMD_SCAN request; replies come through the client. */
int ondemand_start(struct picketd *d, const struct proto_request *req,
		   struct control_client *client);
/* The client went away: drop its session and its queued jobs. */
void ondemand_client_gone(struct picketd *d, struct control_client *client);
void ondemand_done(struct picketd *d);
