/* The `jempp` program's data-parallel processes (dist_mpi.c). */
#ifndef JEMPP_CLI_DIST_CLI_H
#define JEMPP_CLI_DIST_CLI_H

#include "jempp/dist.h"

/* Started by a launcher (mpirun, srun: found in the environment) and built with MPI:
 * joins the job, fills d (rank, size, the operations) and sets *started. Otherwise one
 * process: *started 0 and d untouched; started as several processes by a launcher
 * without MPI built in is an error (each would train alone into the same folder). */
jp_status jp_cli_dist_start(jp_dist *d, int *started, jp_error *err);
/* Leaves the job (after the last collective operation). */
void jp_cli_dist_end(int started);
/* 1 when this program was built with MPI. */
int jp_cli_dist_built(void);

#endif
