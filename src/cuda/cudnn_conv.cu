/* The convolution implementation "cudnn": cuDNN's three passes on plain NCHW device
 * arrays, descriptors and algorithms chosen once per plan.
 *
 * Forward:          dst = W * src + b          (residual: dst += W * src + b; an inference
 *                   plan with relu: then max(dst, 0))
 * Backward data:    dsrc = W^T * ddst          (written)
 * Backward weights: dW += ddst (x) src, db += sum ddst   (cuDNN with beta = 1: the plain
 *                   OIHW gradient accumulates in place, no scratch)
 * Weights stay in PyTorch's OIHW layout (cuDNN's KCRS): preparing them is a copy.
 *
 * Algorithms: cuDNN's heuristics (the _v7 queries), the first one that fits; with the
 * context's `deterministic` set only deterministic ones; never one that converts to half
 * precision, and none on tensor cores when TF32 is off. Math: TF32 tensor cores allowed
 * (CUDNN_DEFAULT_MATH, what PyTorch does for convolutions by default) unless the
 * context's `tf32` is 0 (CUDNN_FMA_MATH). The workspace is the context's shared
 * scratchpad. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/cuda_context.h"

typedef struct {
    cudnnTensorDescriptor_t x, y, bias;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    cudnnActivationDescriptor_t relu;
    cudnnConvolutionFwdAlgo_t fwd;
    cudnnConvolutionBwdDataAlgo_t bwd_data;
    cudnnConvolutionBwdFilterAlgo_t bwd_filter;
    char names[3][48];
} conv_state;

static jp_cuda *cuda_of(const jp_conv_plan *p) { return (jp_cuda *)p->ctx->dev->state; }

static jp_status dnn_fail(jp_error *err, cudnnStatus_t s, const char *what)
{
    return jp_fail(err, JP_ERR_BACKEND, "cuDNN %s: %s", what, cudnnGetErrorString(s));
}

#define DNN(call, what)                                   \
    do {                                                  \
        cudnnStatus_t s_ = (call);                        \
        if (s_ != CUDNN_STATUS_SUCCESS) return dnn_fail(err, s_, what); \
    } while (0)

static void grow(jp_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_need) ctx->scratch_need = bytes;
}

/* Whether an algorithm the heuristics offer computes in float32 as asked: never with a
 * conversion to half precision (TENSOR_OP_MATH_ALLOW_CONVERSION), and without tensor cores
 * (TF32) when tf32 is off. */
static int math_ok(cudnnMathType_t m, int tf32)
{
    if (m == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0;
    return tf32 || m != CUDNN_TENSOR_OP_MATH;
}

/* The first of the heuristics' got algorithms (any of the three passes' perf structs)
 * that runs, is deterministic when det asks it, and computes as math_ok says; -1: none. */
template <class Perf> static int first_usable(const Perf *perf, int got, int det, int tf32)
{
    for (int i = 0; i < got; i++)
        if (perf[i].status == CUDNN_STATUS_SUCCESS && (!det || perf[i].determinism == CUDNN_DETERMINISTIC) &&
            math_ok(perf[i].mathType, tf32))
            return i;
    return -1;
}

static jp_status pick_fwd(cudnnHandle_t h, conv_state *c, int det, int tf32, size_t *ws, jp_error *err)
{
    cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
    int got = 0;
    DNN(cudnnGetConvolutionForwardAlgorithm_v7(h, c->x, c->w, c->conv, c->y, CUDNN_CONVOLUTION_FWD_ALGO_COUNT, &got,
                                               perf),
        "forward algorithms");
    int i = first_usable(perf, got, det, tf32);
    if (i < 0)
        return jp_fail(err, JP_ERR_BACKEND, "cuDNN has no%s forward algorithm for this convolution",
                       det ? " deterministic" : "");
    c->fwd = perf[i].algo;
    DNN(cudnnGetConvolutionForwardWorkspaceSize(h, c->x, c->w, c->conv, c->y, c->fwd, ws), "forward workspace");
    return JP_OK;
}

static jp_status pick_bwd_data(cudnnHandle_t h, conv_state *c, int det, int tf32, size_t *ws, jp_error *err)
{
    cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
    int got = 0;
    DNN(cudnnGetConvolutionBackwardDataAlgorithm_v7(h, c->w, c->y, c->conv, c->x,
                                                    CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, &got, perf),
        "backward-data algorithms");
    int i = first_usable(perf, got, det, tf32);
    if (i < 0)
        return jp_fail(err, JP_ERR_BACKEND, "cuDNN has no%s backward-data algorithm for this convolution",
                       det ? " deterministic" : "");
    c->bwd_data = perf[i].algo;
    DNN(cudnnGetConvolutionBackwardDataWorkspaceSize(h, c->w, c->y, c->conv, c->x, c->bwd_data, ws),
        "backward-data workspace");
    return JP_OK;
}

static jp_status pick_bwd_filter(cudnnHandle_t h, conv_state *c, int det, int tf32, size_t *ws,
                                 jp_error *err)
{
    cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
    int got = 0;
    DNN(cudnnGetConvolutionBackwardFilterAlgorithm_v7(h, c->x, c->y, c->conv, c->w,
                                                      CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, &got, perf),
        "backward-weights algorithms");
    int i = first_usable(perf, got, det, tf32);
    if (i < 0)
        return jp_fail(err, JP_ERR_BACKEND, "cuDNN has no%s backward-weights algorithm for this convolution",
                       det ? " deterministic" : "");
    c->bwd_filter = perf[i].algo;
    DNN(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, c->x, c->y, c->conv, c->w, c->bwd_filter, ws),
        "backward-weights workspace");
    return JP_OK;
}

static jp_status init(jp_conv_plan *p, jp_error *err)
{
    const jp_conv_shape *s = &p->s;
    jp_cuda *cu = cuda_of(p);
    conv_state *c = (conv_state *)calloc(1, sizeof *c);
    if (!c) return jp_fail(err, JP_ERR_NOMEM, "cuDNN convolution plan");
    p->state = c;
    DNN(cudnnCreateTensorDescriptor(&c->x), "descriptor");
    DNN(cudnnCreateTensorDescriptor(&c->y), "descriptor");
    DNN(cudnnCreateTensorDescriptor(&c->bias), "descriptor");
    DNN(cudnnCreateFilterDescriptor(&c->w), "descriptor");
    DNN(cudnnCreateConvolutionDescriptor(&c->conv), "descriptor");
    DNN(cudnnCreateActivationDescriptor(&c->relu), "descriptor");
    DNN(cudnnSetTensor4dDescriptor(c->x, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->cin, s->h, s->w), "source");
    DNN(cudnnSetTensor4dDescriptor(c->y, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, s->n, s->cout, s->oh, s->ow), "result");
    DNN(cudnnSetTensor4dDescriptor(c->bias, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 1, s->cout, 1, 1), "bias");
    DNN(cudnnSetFilter4dDescriptor(c->w, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, s->cout, s->cin, s->kh, s->kw), "weights");
    DNN(cudnnSetConvolution2dDescriptor(c->conv, s->ph, s->pw, s->sh, s->sw, 1, 1, CUDNN_CROSS_CORRELATION,
                                        CUDNN_DATA_FLOAT),
        "convolution");
    DNN(cudnnSetConvolutionMathType(c->conv, cu->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH), "math type");
    DNN(cudnnSetActivationDescriptor(c->relu, CUDNN_ACTIVATION_RELU, CUDNN_NOT_PROPAGATE_NAN, 0.0), "ReLU");
    int n, co, oh, ow;
    DNN(cudnnGetConvolution2dForwardOutputDim(c->conv, c->x, c->w, &n, &co, &oh, &ow), "output shape");
    if (n != s->n || co != s->cout || oh != s->oh || ow != s->ow)
        return jp_fail(err, JP_ERR_SHAPE, "cuDNN computes a %dx%dx%dx%d result where the plan has %dx%dx%dx%d", n, co,
                       oh, ow, s->n, s->cout, s->oh, s->ow);
    size_t ws = 0;
    jp_status st = pick_fwd(cu->dnn, c, cu->deterministic, cu->tf32, &ws, err);
    if (st) return st;
    grow(p->ctx, ws);
    snprintf(c->names[0], sizeof c->names[0], "cudnn:fwd-algo-%d", (int)c->fwd);
    if (p->backward) {
        if ((st = pick_bwd_data(cu->dnn, c, cu->deterministic, cu->tf32, &ws, err))) return st;
        grow(p->ctx, ws);
        if ((st = pick_bwd_filter(cu->dnn, c, cu->deterministic, cu->tf32, &ws, err))) return st;
        grow(p->ctx, ws);
        snprintf(c->names[1], sizeof c->names[1], "cudnn:bwd-data-algo-%d", (int)c->bwd_data);
        snprintf(c->names[2], sizeof c->names[2], "cudnn:bwd-filter-algo-%d", (int)c->bwd_filter);
    }
    p->w_bytes = (size_t)s->cout * s->cin * s->kh * s->kw * sizeof(float);
    p->wd_bytes = 0;
    p->dw_bytes = 0;
    return JP_OK;
}

static void release(jp_conv_plan *p)
{
    conv_state *c = (conv_state *)p->state;
    if (!c) return;
    if (c->x) cudnnDestroyTensorDescriptor(c->x);
    if (c->y) cudnnDestroyTensorDescriptor(c->y);
    if (c->bias) cudnnDestroyTensorDescriptor(c->bias);
    if (c->w) cudnnDestroyFilterDescriptor(c->w);
    if (c->conv) cudnnDestroyConvolutionDescriptor(c->conv);
    if (c->relu) cudnnDestroyActivationDescriptor(c->relu);
    free(c);
    p->state = NULL;
}

static const char *kernel(const jp_conv_plan *p, int pass)
{
    const conv_state *c = (const conv_state *)p->state;
    return pass >= 0 && pass < 3 ? c->names[pass] : NULL;
}

static void prepare_weights(const jp_conv_plan *p, float *wfwd, float *wbwd, const float *w_oihw)
{
    (void)wbwd;
    jp_dev_copy(p->ctx->dev, wfwd, w_oihw, p->w_bytes);
}

/* A failed cuDNN call in a pass is a programming error (shapes and algorithms were
 * checked when the plan was made). */
static void check(cudnnStatus_t s, const char *what)
{
    if (s != CUDNN_STATUS_SUCCESS) jp_check_failed(__FILE__, __LINE__, what);
}

static void forward(const jp_conv_plan *p, float *dst, const float *src, const float *wfwd, const float *b)
{
    const conv_state *c = (const conv_state *)p->state;
    jp_cuda *cu = cuda_of(p);
    const float one = 1.0f, zero = 0.0f;
    check(cudnnConvolutionForward(cu->dnn, &one, c->x, src, c->w, wfwd, c->conv, c->fwd, p->ctx->scratch,
                                  p->ctx->scratch_size, p->residual ? &one : &zero, c->y, dst),
          "cudnnConvolutionForward");
    if (b) check(cudnnAddTensor(cu->dnn, &one, c->bias, b, &one, c->y, dst), "cudnnAddTensor (bias)");
    if (p->relu) check(cudnnActivationForward(cu->dnn, c->relu, &one, c->y, dst, &zero, c->y, dst), "ReLU");
}

static void backward_data(const jp_conv_plan *p, float *dsrc, const float *ddst, const float *wbwd)
{
    const conv_state *c = (const conv_state *)p->state;
    jp_cuda *cu = cuda_of(p);
    const float one = 1.0f, zero = 0.0f;
    check(cudnnConvolutionBackwardData(cu->dnn, &one, c->w, wbwd, c->y, ddst, c->conv, c->bwd_data, p->ctx->scratch,
                                       p->ctx->scratch_size, &zero, c->x, dsrc),
          "cudnnConvolutionBackwardData");
}

static void backward_weights(const jp_conv_plan *p, float *dw_oihw, float *db, const float *ddst, const float *src,
                             float *dw_scratch, float *db_scratch)
{
    (void)dw_scratch, (void)db_scratch;
    const conv_state *c = (const conv_state *)p->state;
    jp_cuda *cu = cuda_of(p);
    const float one = 1.0f;
    if (dw_oihw)
        check(cudnnConvolutionBackwardFilter(cu->dnn, &one, c->x, src, c->y, ddst, c->conv, c->bwd_filter,
                                             p->ctx->scratch, p->ctx->scratch_size, &one, c->w, dw_oihw),
              "cudnnConvolutionBackwardFilter");
    if (db) check(cudnnConvolutionBackwardBias(cu->dnn, &one, c->y, ddst, &one, c->bias, db), "bias gradient");
}

extern "C" const jp_conv_impl jp_conv_cudnn = {JP_CONV_CUDNN, init,    release,       kernel,
                                                prepare_weights, forward, backward_data, backward_weights};
