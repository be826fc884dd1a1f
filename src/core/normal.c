/* Standard normals of jp_rng (augmentation noise, sampler noise, initialisation):
 * Marsaglia and Tsang's ziggurat in
 * Doornik's formulation (J. A. Doornik, "An Improved Ziggurat Method to Generate Normal
 * Random Samples", 2005), 128 layers, on the xoshiro256** stream of jp_rng. For the
 * float noise of jp_zig_add_normal each 64-bit draw gives two values (per 32-bit half:
 * layer from 7 bits, u from 25); jp_zig_normal uses a whole draw (53-bit u). A few ns a
 * value instead of the ~45 ns of Box-Muller with libm, which matters for the 64 x 3072
 * values of noise of every training batch.
 *
 * The tables are exact constants (hex floats) of the formulas in jp_zig_tables_compute,
 * which recomputes them so that a test can check them: with R = 3.442619855899,
 * V = 9.91256303526217e-3, f = exp(-R^2/2): x[0] = V/f, x[1] = R, x[128] = 0,
 * x[i] = sqrt(-2 log(V/x[i-1] + exp(-x[i-1]^2/2))), r[i] = x[i+1]/x[i]. */
#include <math.h>

#include "core/normal.h"
#include "jempp/core.h"

#define ZIG_R 3.442619855899
#define ZIG_V 9.91256303526217e-3

static const double zig_x[129] = {
    0x1.db4668fe7e4a4p+1,    0x1.b8a7c476d2be8p+1,    0x1.9c8e0c7c8098fp+1,
    0x1.8aa73e440ffbcp+1,    0x1.7d45eb36eb842p+1,    0x1.7279dd4ac3f9dp+1,
    0x1.695c2be68edc9p+1,    0x1.616dff7c8f54ap+1,    0x1.5a61edf7e8f32p+1,
    0x1.54052012a04a4p+1,    0x1.4e3456b0e3a1bp+1,    0x1.48d61806d601p+1,
    0x1.43d75b60bca1dp+1,    0x1.3f29848d3b416p+1,    0x1.3ac11b8e206d6p+1,
    0x1.3694f3a3740d9p+1,    0x1.329d9725e32f7p+1,    0x1.2ed4df8099571p+1,
    0x1.2b35aa5ebee3ep+1,    0x1.27bba2b5dbc92p+1,    0x1.246317a6b53cp+1,
    0x1.2128dd36bdf09p+1,    0x1.1e0a342cf08f6p+1,    0x1.1b04b731f6bccp+1,
    0x1.18164be0c1c39p+1,    0x1.153d16d45743dp+1,    0x1.12777201834f3p+1,
    0x1.0fc3e4d95f278p+1,    0x1.0d211dd28b00fp+1,    0x1.0a8ded0ec371ap+1,
    0x1.08093fe3e40e1p+1,    0x1.05921d1c4d769p+1,    0x1.0327a1cc4cf5ep+1,
    0x1.00c8fea1720d4p+1,    0x1.fceaeb2ca5f17p+0,    0x1.f858aff31cbfp+0,
    0x1.f3da097460823p+0,    0x1.ef6dcddc7d392p+0,    0x1.eb12e91486bbcp+0,
    0x1.e6c85a849b015p+0,    0x1.e28d331c6723cp+0,    0x1.de609397e09b9p+0,
    0x1.da41aaf79a344p+0,    0x1.d62fb52580b86p+0,    0x1.d229f9bfeefdbp+0,
    0x1.ce2fcb05f8c34p+0,    0x1.ca4084e091e34p+0,    0x1.c65b8c04dbac2p+0,
    0x1.c2804d2c6b16fp+0,    0x1.beae3c60cd0e4p+0,    0x1.bae4d457ee119p+0,
    0x1.b72395df5b73bp+0,    0x1.b36a075498d64p+0,    0x1.afb7b428fe7a1p+0,
    0x1.ac0c2c6fc6382p+0,    0x1.a867047516e4fp+0,    0x1.a4c7d45d01a31p+0,
    0x1.a12e37c983369p+0,    0x1.9d99cd86b58b4p+0,    0x1.9a0a373c73f21p+0,
    0x1.967f1924c7b06p+0,    0x1.92f819c682bf5p+0,    0x1.8f74e1b37c6b8p+0,
    0x1.8bf51b49ef337p+0,    0x1.88787278810a6p+0,    0x1.84fe9484873b9p+0,
    0x1.81872fd21db73p+0,    0x1.7e11f3adaeb92p+0,    0x1.7a9e90168b8eep+0,
    0x1.772cb58a39dd6p+0,    0x1.73bc14d01a2c9p+0,    0x1.704c5ec50cb81p+0,
    0x1.6cdd4426b88a5p+0,    0x1.696e755e16b84p+0,    0x1.65ffa248e016dp+0,
    0x1.62907a0176ebfp+0,    0x1.5f20aaa4dfc1ap+0,    0x1.5bafe11654817p+0,
    0x1.583dc8bff3219p+0,    0x1.54ca0b4ffd349p+0,    0x1.515450720f455p+0,
    0x1.4ddc3d83a5b84p+0,    0x1.4a617543306ccp+0,    0x1.46e39778de063p+0,
    0x1.436240982ad9dp+0,    0x1.3fdd09591d2a4p+0,    0x1.3c538647ef792p+0,
    0x1.38c54749b9033p+0,    0x1.3531d7146a43ep+0,    0x1.3198ba982d911p+0,
    0x1.2df97057e7efbp+0,    0x1.2a536fae30e33p+0,    0x1.26a627fb9d12p+0,
    0x1.22f0ffbaa1e55p+0,    0x1.1f335374a10f8p+0,    0x1.1b6c7492c9735p+0,
    0x1.179ba80463fecp+0,    0x1.13c024b2c7ec6p+0,    0x1.0fd911b97f236p+0,
    0x1.0be58456ff4aep+0,    0x1.07e47d87a40f6p+0,    0x1.03d4e7391c5b7p+0,
    0x1.ff6b21fffe31ap-1,    0x1.f70a5866c8f46p-1,    0x1.ee848e956826fp-1,
    0x1.e5d6909f51b6ap-1,    0x1.dcfccc51c59fp-1,    0x1.d3f340dda611cp-1,
    0x1.cab56ac6a38d3p-1,    0x1.c13e2b014e85cp-1,    0x1.b787a7c516f3bp-1,
    0x1.ad8b2506a137cp-1,    0x1.a340d1baf5b18p-1,    0x1.989f85c753b2cp-1,
    0x1.8d9c6a9d35e3dp-1,    0x1.822a858af0e7dp-1,    0x1.763a1600eec74p-1,
    0x1.69b7b213f3f69p-1,    0x1.5c8afdbf0217bp-1,    0x1.4e94c08c0bab7p-1,
    0x1.3fabee1911cd7p-1,    0x1.2f98d6bb4f41fp-1,    0x1.1e0ce6b5969b3p-1,
    0x1.0a936da5e55adp-1,    0x1.e8e576e43fbefp-2,    0x1.b4c8fece48e83p-2,
    0x1.73949184db9dfp-2,    0x1.16db47e193e1ap-2,    0x0p+0,
};
static const double zig_r[128] = {
    0x1.dab48848d3c16p-1,    0x1.df5993967d2a6p-1,    0x1.e9c885d9a666bp-1,
    0x1.eea42f70ceeacp-1,    0x1.f1803c6a0781bp-1,    0x1.f366d2afaee48p-1,
    0x1.f4c3825de9f38p-1,    0x1.f5ca83ef26e1fp-1,    0x1.f69868793c53p-1,
    0x1.f73e31c89895dp-1,    0x1.f7c6a977e305fp-1,    0x1.f838ffd4ec0eap-1,
    0x1.f89a30bcaa7bbp-1,    0x1.f8edcde8cde13p-1,    0x1.f93677b627e76p-1,
    0x1.f97628687c107p-1,    0x1.f9ae64ccb1f64p-1,    0x1.f9e05ca2efdc3p-1,
    0x1.fa0d00cfbb6cdp-1,    0x1.fa3512e9cb952p-1,    0x1.fa59305b35722p-1,
    0x1.fa79da7e004a6p-1,    0x1.fa977c9ec13d6p-1,    0x1.fab27081a26dcp-1,
    0x1.facb01d4366f8p-1,    0x1.fae170d5cadc4p-1,    0x1.faf5f46a249p-1,
    0x1.fb08bbbbc73bcp-1,    0x1.fb19ef88b6409p-1,    0x1.fb29b32d77103p-1,
    0x1.fb38257d095ffp-1,    0x1.fb456170e2019p-1,    0x1.fb517eb94bd58p-1,
    0x1.fb5c92349c858p-1,    0x1.fb66ae52354dbp-1,    0x1.fb6fe3652f8b4p-1,
    0x1.fb783fe9c00dp-1,    0x1.fb7fd0bfb9735p-1,    0x1.fb86a15c1886fp-1,
    0x1.fb8cbbf324034p-1,    0x1.fb92299c5d1ep-1,    0x1.fb96f271420e9p-1,
    0x1.fb9b1da7b43fcp-1,    0x1.fb9eb1a8ade0cp-1,    0x1.fba1b423d4107p-1,
    0x1.fba42a205a48cp-1,    0x1.fba6180b97b6p-1,    0x1.fba781c59edc5p-1,
    0x1.fba86aac1a8c1p-1,    0x1.fba8d5a3a81cbp-1,    0x1.fba8c51fddb9dp-1,
    0x1.fba83b2a23e8ep-1,    0x1.fba7396782fc8p-1,    0x1.fba5c11d7fba4p-1,
    0x1.fba3d3361dd1bp-1,    0x1.fba170431ac58p-1,    0x1.fb9e9880706abp-1,
    0x1.fb9b4bd62b198p-1,    0x1.fb9789d99cec9p-1,    0x1.fb9351cdf4f98p-1,
    0x1.fb8ea2a43f27ap-1,    0x1.fb897afacf29cp-1,    0x1.fb83d91c1719ap-1,
    0x1.fb7dbafce8335p-1,    0x1.fb771e3a1a365p-1,    0x1.fb70001593e79p-1,
    0x1.fb685d72ad163p-1,    0x1.fb6032d1e043p-1,    0x1.fb577c4bbfa39p-1,
    0x1.fb4e358b1e8dp-1,    0x1.fb4459c65d655p-1,    0x1.fb39e3b7c2e55p-1,
    0x1.fb2ecd94c9ba2p-1,    0x1.fb23110445454p-1,    0x1.fb16a7133b4f5p-1,
    0x1.fb0988284ac3dp-1,    0x1.fafbabf570e44p-1,    0x1.faed0967f6925p-1,
    0x1.fadd96964622ep-1,    0x1.facd48ab5f4e1p-1,    0x1.fabc13cf91f8fp-1,
    0x1.faa9eb0e19351p-1,    0x1.fa96c0371d81cp-1,    0x1.fa8283bd8f44dp-1,
    0x1.fa6d24902fe33p-1,    0x1.fa568fecff9b9p-1,    0x1.fa3eb12e1f177p-1,
    0x1.fa25718f03b34p-1,    0x1.fa0ab7e8a2982p-1,    0x1.f9ee6862ee1b5p-1,
    0x1.f9d06419a6a63p-1,    0x1.f9b088b20ff67p-1,    0x1.f98eafde8e73bp-1,
    0x1.f96aaecc7e5e7p-1,    0x1.f9445577b49f4p-1,    0x1.f91b6dddf8427p-1,
    0x1.f8efbb0b5013fp-1,    0x1.f8c0f7f61e36fp-1,    0x1.f88ed61f8e779p-1,
    0x1.f858fbe99f8adp-1,    0x1.f81f028fc2ae1p-1,    0x1.f7e073a948fe3p-1,
    0x1.f79cc61506b24p-1,    0x1.f7535a22e3d3fp-1,    0x1.f70374c1451abp-1,
    0x1.f6ac395f78bd5p-1,    0x1.f64ca218dbb22p-1,    0x1.f5e37591f6ccfp-1,
    0x1.f56f39b2b0507p-1,    0x1.f4ee220c3044p-1,    0x1.f45df82cd25b9p-1,
    0x1.f3bbfb4b67d62p-1,    0x1.f304b35b5d591p-1,    0x1.f233b16d764dap-1,
    0x1.f143339d7d788p-1,    0x1.f02b9c88c7353p-1,    0x1.eee2a3186b515p-1,
    0x1.ed5a0a98bc7cdp-1,    0x1.eb7d8a7ccd9edp-1,    0x1.e92f39746c228p-1,
    0x1.e641170f50cafp-1,    0x1.e26896f5fbf47p-1,    0x1.dd2487adcb4e3p-1,
    0x1.d58014742e544p-1,    0x1.c96d1a883d306p-1,    0x1.b3911e9b8053ep-1,
    0x1.803c6d4f93b49p-1,    0x0p+0,
};

void jp_zig_tables_compute(double *x /* (129) */, double *r /* (128) */)
{
    double f = exp(-0.5 * ZIG_R * ZIG_R);
    x[0] = ZIG_V / f;
    x[1] = ZIG_R;
    x[128] = 0;
    for (int i = 2; i < 128; i++) {
        x[i] = sqrt(-2 * log(ZIG_V / x[i - 1] + f));
        f = exp(-0.5 * x[i] * x[i]);
    }
    for (int i = 0; i < 128; i++) r[i] = x[i + 1] / x[i];
}

const double *jp_zig_table_x(void) { return zig_x; }
const double *jp_zig_table_r(void) { return zig_r; }

static inline double uniform53(uint64_t u) { return (double)(u >> 11) * 0x1.0p-53; }


/* The tail beyond R (Marsaglia 1964), for the bottom layer. */
static double tail(jp_rng *rng, int negative)
{
    double x, y;
    do {
        double u1, u2;
        do u1 = jp_rng_uniform(rng); while (u1 <= 0);
        do u2 = jp_rng_uniform(rng); while (u2 <= 0);
        x = log(u1) / ZIG_R;
        y = log(u2);
    } while (-2 * y < x * x);
    return negative ? x - ZIG_R : ZIG_R - x;
}

/* A rejected first try: the wedge test, the tail, or (if rejected) fresh full tries. */
static double zig_slow(jp_rng *rng, double u, int i);

static inline double zig_normal(jp_rng *rng)
{
    uint64_t bits = jp_rng_u64(rng);
    double u = 2 * uniform53(bits) - 1;
    int i = (int)(bits & 0x7f);
    if (fabs(u) < zig_r[i]) return u * zig_x[i]; /* inside the rectangle: ~99% */
    return zig_slow(rng, u, i);
}

static double zig_slow(jp_rng *rng, double u, int i)
{
    for (;;) {
        if (i == 0) return tail(rng, u < 0);
        double x = u * zig_x[i];
        double f0 = exp(-0.5 * (zig_x[i] * zig_x[i] - x * x));
        double f1 = exp(-0.5 * (zig_x[i + 1] * zig_x[i + 1] - x * x));
        if (f1 + jp_rng_uniform(rng) * (f0 - f1) < 1.0) return x; /* under the curve */
        uint64_t bits = jp_rng_u64(rng);
        u = 2 * uniform53(bits) - 1;
        i = (int)(bits & 0x7f);
        if (fabs(u) < zig_r[i]) return u * zig_x[i];
    }
}

/* One normal from a 32-bit half of a draw: the layer from its low 7 bits, u in [-1, 1)
 * from its high 25 bits read as a signed fraction. Float noise needs no more. */
static inline double zig_half(jp_rng *rng, uint32_t w)
{
    double u = (double)(int32_t)(w & 0xffffff80u) * 0x1.0p-31;
    int i = (int)(w & 0x7f);
    if (fabs(u) < zig_r[i]) return u * zig_x[i];
    return zig_slow(rng, u, i);
}

double jp_rng_normal(jp_rng *rng) { return zig_normal(rng); }

void jp_rng_add_normal(jp_rng *rng, float *x, size_t n, float sigma)
{
    size_t k = 0;
    for (; k + 2 <= n; k += 2) {
        uint64_t b = jp_rng_u64(rng);
        x[k] += sigma * (float)zig_half(rng, (uint32_t)b);
        x[k + 1] += sigma * (float)zig_half(rng, (uint32_t)(b >> 32));
    }
    if (k < n) x[k] += sigma * (float)zig_half(rng, (uint32_t)jp_rng_u64(rng));
}

void jp_rng_fill_normal(jp_rng *rng, float *x, size_t n, float mean, float std)
{
    size_t k = 0;
    for (; k + 2 <= n; k += 2) {
        uint64_t b = jp_rng_u64(rng);
        x[k] = mean + std * (float)zig_half(rng, (uint32_t)b);
        x[k + 1] = mean + std * (float)zig_half(rng, (uint32_t)(b >> 32));
    }
    if (k < n) x[k] = mean + std * (float)zig_half(rng, (uint32_t)jp_rng_u64(rng));
}
