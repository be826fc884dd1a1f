/* NCCL collectives on a GPU's memory for the ranks of a host-memory jp_dist (MPI), or for
 * one process (cuda_backend.h: jp_cuda_nccl_open). The communicator is bootstrapped
 * through the host collectives: rank 0's ncclUniqueId broadcast to every rank. The
 * device operations are queued on the GPU context's stream, in order with the model's
 * work; the host operations are the host dist's. libnccl is loaded when a run asks for
 * it (dlopen), as cuBLAS is: linked, it would be mapped at every start of `jempp`. */
#include <dlfcn.h>
#include <nccl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_context.h"

typedef struct {
    void *lib;
    ncclResult_t (*get_version)(int *);
    ncclResult_t (*get_unique_id)(ncclUniqueId *);
    ncclResult_t (*init_rank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    ncclResult_t (*broadcast)(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t, cudaStream_t);
    ncclResult_t (*destroy)(ncclComm_t);
    ncclResult_t (*abort)(ncclComm_t);
    const char *(*error_string)(ncclResult_t);
} nccl_fns;

typedef struct {
    jp_dist host; /* the host-memory collectives: the launcher's, or one process's */
    nccl_fns f;
    ncclComm_t comm;
    jp_cuda *cuda;
} nccl_ctx;

/* ---- one process: the host collectives of a single rank ---------------------- */

static jp_status one_allreduce_f32(void *, float *, size_t, jp_dist_op, jp_error *) { return JP_OK; }
static jp_status one_allreduce_f64(void *, double *, size_t, jp_dist_op, jp_error *) { return JP_OK; }
static jp_status one_bcast(void *, void *, size_t, int, jp_error *) { return JP_OK; }
static jp_status one_copy(void *, const void *send, size_t bytes, void *recv, int, jp_error *)
{
    memmove(recv, send, bytes);
    return JP_OK;
}
static void one_abort(void *, int code) { exit(code); }

/* ---- the table ------------------------------------------------------------------ */

static jp_status nccl_fail(const nccl_ctx *c, ncclResult_t r, const char *what, jp_error *err)
{
    return jp_fail(err, JP_ERR_BACKEND, "NCCL %s (rank %d of %d): %s", what, c->host.rank, c->host.size,
                   c->f.error_string ? c->f.error_string(r) : "error");
}

static ncclRedOp_t nccl_op(jp_dist_op op) { return op == JP_DIST_MAX ? ncclMax : op == JP_DIST_MIN ? ncclMin : ncclSum; }

static jp_status dev_allreduce_f32(void *ctx, float *data, size_t n, jp_dist_op op, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    ncclResult_t r = c->f.all_reduce(data, data, n, ncclFloat32, nccl_op(op), c->comm, c->cuda->stream);
    return r == ncclSuccess ? JP_OK : nccl_fail(c, r, "ncclAllReduce", err);
}

static jp_status dev_bcast(void *ctx, void *data, size_t bytes, int root, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    ncclResult_t r = c->f.broadcast(data, data, bytes, ncclUint8, root, c->comm, c->cuda->stream);
    return r == ncclSuccess ? JP_OK : nccl_fail(c, r, "ncclBroadcast", err);
}

static jp_status host_allreduce_f32(void *ctx, float *data, size_t n, jp_dist_op op, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->host.allreduce_f32(c->host.ctx, data, n, op, err);
}

static jp_status host_allreduce_f64(void *ctx, double *data, size_t n, jp_dist_op op, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->host.allreduce_f64(c->host.ctx, data, n, op, err);
}

static jp_status host_bcast(void *ctx, void *data, size_t bytes, int root, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->host.bcast(c->host.ctx, data, bytes, root, err);
}

static jp_status host_gather(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->host.gather(c->host.ctx, send, bytes, recv, root, err);
}

static jp_status host_scatter(void *ctx, const void *send, size_t bytes, void *recv, int root, jp_error *err)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    return c->host.scatter(c->host.ctx, send, bytes, recv, root, err);
}

/* The communicator is abandoned (the other ranks may be gone), then the host's abort. */
static void abort_all(void *ctx, int code)
{
    nccl_ctx *c = (nccl_ctx *)ctx;
    if (c->comm) c->f.abort(c->comm);
    c->host.abort(c->host.ctx, code);
}

/* libnccl of NCCL major version 2 (the nccl.h this was compiled with) */
static jp_status load_nccl(nccl_fns *f, jp_error *err)
{
    char name[64];
    snprintf(name, sizeof name, "libnccl.so.%d", NCCL_MAJOR);
    f->lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!f->lib)
        return jp_fail(err, JP_ERR_BACKEND, "NCCL cannot be loaded (%s): install NCCL %d (or add its folder to "
                       "LD_LIBRARY_PATH), or use --comm mpi", dlerror(), NCCL_MAJOR);
    f->get_version = (ncclResult_t(*)(int *))dlsym(f->lib, "ncclGetVersion");
    f->get_unique_id = (ncclResult_t(*)(ncclUniqueId *))dlsym(f->lib, "ncclGetUniqueId");
    f->init_rank = (ncclResult_t(*)(ncclComm_t *, int, ncclUniqueId, int))dlsym(f->lib, "ncclCommInitRank");
    f->all_reduce = (ncclResult_t(*)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t,
                                     cudaStream_t))dlsym(f->lib, "ncclAllReduce");
    f->broadcast = (ncclResult_t(*)(const void *, void *, size_t, ncclDataType_t, int, ncclComm_t,
                                    cudaStream_t))dlsym(f->lib, "ncclBroadcast");
    f->destroy = (ncclResult_t(*)(ncclComm_t))dlsym(f->lib, "ncclCommDestroy");
    f->abort = (ncclResult_t(*)(ncclComm_t))dlsym(f->lib, "ncclCommAbort");
    f->error_string = (const char *(*)(ncclResult_t))dlsym(f->lib, "ncclGetErrorString");
    if (!f->get_version || !f->get_unique_id || !f->init_rank || !f->all_reduce || !f->broadcast || !f->destroy ||
        !f->abort || !f->error_string)
        return jp_fail(err, JP_ERR_BACKEND, "%s lacks one of ncclGetVersion, ncclGetUniqueId, ncclCommInitRank, "
                       "ncclAllReduce, ncclBroadcast, ncclCommDestroy, ncclCommAbort, ncclGetErrorString", name);
    return JP_OK;
}

extern "C" jp_status jp_cuda_nccl_open(jp_dist *out, const jp_dist *host, const jp_device *dev, char *describe,
                                       size_t len, jp_error *err)
{
    if (!dev || !dev->ops || !dev->state || strncmp(dev->ops->name, "cuda", 4) != 0)
        return jp_fail(err, JP_ERR_ARG, "NCCL collectives need the model on a GPU (--device cuda)");
    nccl_ctx *c = (nccl_ctx *)calloc(1, sizeof *c);
    if (!c) return jp_fail(err, JP_ERR_NOMEM, "NCCL context");
    if (host) c->host = *host;
    else c->host = (jp_dist){0, 1, NULL, one_allreduce_f32, one_allreduce_f64, one_bcast, one_copy, one_copy,
                             one_abort, NULL, NULL};
    c->cuda = (jp_cuda *)dev->state;
    ncclUniqueId id;
    memset(&id, 0, sizeof id);
    jp_status st = load_nccl(&c->f, err);
    ncclResult_t r = ncclSuccess;
    /* every rank takes part in the broadcast, also one whose NCCL failed to load: the
     * others would wait */
    if (!st && c->host.rank == 0 && (r = c->f.get_unique_id(&id)) != ncclSuccess)
        st = nccl_fail(c, r, "ncclGetUniqueId", err);
    jp_error e;
    if (c->host.size > 1 && c->host.bcast(c->host.ctx, &id, sizeof id, 0, &e) && !st)
        st = jp_fail(err, e.code, "the NCCL id's broadcast: %s", e.msg);
    /* all ranks go on to the communicator (which waits for every rank), or none */
    double failed = st != JP_OK;
    if (c->host.size > 1 && c->host.allreduce_f64(c->host.ctx, &failed, 1, JP_DIST_MAX, &e) && !st)
        st = jp_fail(err, e.code, "NCCL start-up: %s", e.msg);
    if (failed && !st) st = jp_fail(err, JP_ERR_BACKEND, "another rank could not start NCCL (its message says why)");
    if (!st) {
        cudaSetDevice(c->cuda->device);
        if ((r = c->f.init_rank(&c->comm, c->host.size, id, c->host.rank)) != ncclSuccess) {
            c->comm = NULL;
            st = nccl_fail(c, r, "ncclCommInitRank", err);
        }
    }
    if (st) {
        if (c->f.lib) dlclose(c->f.lib);
        free(c);
        return st;
    }
    int v = 0;
    c->f.get_version(&v);
    snprintf(describe, len, "NCCL %d.%d.%d on the GPUs of %d rank%s", v / 10000, v / 100 % 100, v % 100,
             c->host.size, c->host.size == 1 ? "" : "s");
    *out = (jp_dist){c->host.rank, c->host.size, c, host_allreduce_f32, host_allreduce_f64, host_bcast,
                     host_gather, host_scatter, abort_all, dev_allreduce_f32, dev_bcast};
    return JP_OK;
}

extern "C" void jp_cuda_nccl_probe(char *buf, size_t len)
{
    nccl_fns f;
    memset(&f, 0, sizeof f);
    jp_error err;
    int v = 0;
    if (load_nccl(&f, &err)) snprintf(buf, len, "built, not loadable: %s", err.msg);
    else if (f.get_version(&v) == ncclSuccess)
        snprintf(buf, len, "yes, NCCL %d.%d.%d", v / 10000, v / 100 % 100, v % 100);
    else snprintf(buf, len, "built, ncclGetVersion fails");
    if (f.lib) dlclose(f.lib);
}

extern "C" void jp_cuda_nccl_close(jp_dist *d)
{
    nccl_ctx *c = d ? (nccl_ctx *)d->ctx : NULL;
    if (!c) return;
    cudaStreamSynchronize(c->cuda->stream);
    c->f.destroy(c->comm);
    dlclose(c->f.lib);
    free(c);
    memset(d, 0, sizeof *d);
}
