/* `mpirun -np R jempp train ...`: the collective operations of jempp/dist.h over MPI
 * (MPI_COMM_WORLD), when this program is built with MPI (CMake found it: JEMPP_HAVE_MPI).
 * A program started by mpirun (or srun) finds the launcher's variables in its
 * environment; without them it runs as one process and never calls MPI. */
#include "dist_cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* The number of processes the launcher started, from its environment (0: no launcher). */
static int launched_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 0;
}

#ifdef JEMPP_HAVE_MPI
#include <mpi.h>

static jp_status mpi_fail(int rc, const char *what, jp_error *err)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return jp_fail(err, JP_ERR_IO, "MPI %s: %s", what, msg);
}

static MPI_Op mpi_op(jp_dist_op op) { return op == JP_DIST_MAX ? MPI_MAX : op == JP_DIST_MIN ? MPI_MIN : MPI_SUM; }

static jp_status allreduce(void *data, size_t n, MPI_Datatype type, jp_dist_op op, jp_error *err)
{
    if (n > INT_MAX) return jp_fail(err, JP_ERR_ARG, "MPI_Allreduce of %zu values (at most %d)", n, INT_MAX);
    int rc = MPI_Allreduce(MPI_IN_PLACE, data, (int)n, type, mpi_op(op), MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? JP_OK : mpi_fail(rc, "MPI_Allreduce", err);
}

static jp_status allreduce_f32(void *ctx, float *data, size_t n, jp_dist_op op, jp_error *err)
{
    (void)ctx;
    return allreduce(data, n, MPI_FLOAT, op, err);
}

static jp_status allreduce_f64(void *ctx, double *data, size_t n, jp_dist_op op, jp_error *err)
{
    (void)ctx;
    return allreduce(data, n, MPI_DOUBLE, op, err);
}

static jp_status bcast(void *ctx, void *data, size_t bytes, int root, jp_error *err)
{
    (void)ctx;
    if (bytes > INT_MAX) return jp_fail(err, JP_ERR_ARG, "MPI_Bcast of %zu bytes", bytes);
    int rc = MPI_Bcast(data, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? JP_OK : mpi_fail(rc, "MPI_Bcast", err);
}

static jp_status gather(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *err)
{
    (void)ctx;
    if (bytes > INT_MAX) return jp_fail(err, JP_ERR_ARG, "MPI_Gather of %zu bytes per rank", bytes);
    int rc = MPI_Gather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? JP_OK : mpi_fail(rc, "MPI_Gather", err);
}

static jp_status scatter(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *err)
{
    (void)ctx;
    if (bytes > INT_MAX) return jp_fail(err, JP_ERR_ARG, "MPI_Scatter of %zu bytes per rank", bytes);
    int rc = MPI_Scatter(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD);
    return rc == MPI_SUCCESS ? JP_OK : mpi_fail(rc, "MPI_Scatter", err);
}

static void abort_all(void *ctx, int code)
{
    (void)ctx;
    MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

jp_status jp_cli_dist_start(jp_dist *d, int *started, jp_error *err)
{
    *started = 0;
    if (launched_size() == 0) return JP_OK;
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) return jp_fail(err, JP_ERR_IO, "MPI_Init failed");
    /* errors come back as codes, to be reported with their context */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    *d = (jp_dist){0, 1, NULL, allreduce_f32, allreduce_f64, bcast, gather, scatter, abort_all, NULL, NULL};
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    *started = 1;
    return JP_OK;
}

void jp_cli_dist_end(int started)
{
    if (started) MPI_Finalize();
}

int jp_cli_dist_built(void) { return 1; }

#else /* built without MPI */

jp_status jp_cli_dist_start(jp_dist *d, int *started, jp_error *err)
{
    (void)d;
    *started = 0;
    int n = launched_size();
    if (n > 1)
        return jp_fail(err, JP_ERR_ARG, "started as one of %d processes (mpirun), but this jempp was built without "
                       "MPI: every process would train alone into the same folder. Install an MPI (Debian: "
                       "libopenmpi-dev openmpi-bin) and rebuild", n);
    return JP_OK;
}

void jp_cli_dist_end(int started) { (void)started; }

int jp_cli_dist_built(void) { return 0; }

#endif
