/* Firecracker's Logger and Metrics objects (PUT /logger, PUT /metrics, "logger" and "metrics" in
 * a config file): checked, applied to the process logger and the metrics writer, and remembered
 * for GET /vm/config. */
#ifndef EMBER_FC_LOGGING_H
#define EMBER_FC_LOGGING_H

#include <json-c/json.h>

#include "../error.h"
#include "fc_resources.h"
#include "metrics.h"

int fc_apply_logger(struct fc_resources *r, struct json_object *body, struct error *e);
/* instance_id is emitted in every line when the body asks for it (emit_id). */
int fc_apply_metrics(struct fc_resources *r, struct metrics *m, const char *instance_id,
		     struct json_object *body, struct error *e);

#endif
