/* Writers of the density benchmark's report files. */
#ifndef EMBER_DENSITY_REPORT_H
#define EMBER_DENSITY_REPORT_H

#include "run.h"

/* The goals for Ember with the small guest. Recorded next to the results, never
 * asserted: a benchmark measures, tests check. */
#define DENSITY_GOAL_VMS         2000   /* concurrent idle VMs */
#define DENSITY_GOAL_KIB_PER_VM  1024   /* host memory per idle VM */
#define DENSITY_GOAL_RATE        300    /* launches per second */
#define DENSITY_GOAL_TTR_MS      3.0    /* single-launch time to ready, median */

/* markdown.c: summary.md. */
int density_write_markdown(const struct density_run *run, struct error *e);

#endif
