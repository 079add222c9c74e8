/* Timing harness shared by every C backend of the benchmark.  An adapter
 * file defines BENCH_N_IN, BENCH_N_OUT, bench_jacobian and bench_jacobian_batch.
 *   harness check POINTS OUT   write the Jacobian at every point (binary doubles)
 *   harness time POINTS [BUDGET [single]]   print the best time per point of single calls and of
 *                              one batch call (with "single": of single calls only)
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

extern const int BENCH_N_IN, BENCH_N_OUT;
void bench_jacobian(const double *x, double *jac);
void bench_jacobian_batch(size_t n, const double *x, double *jac);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double *read_points(const char *path, size_t *count)
{
    FILE *f = fopen(path, "rb");
    long bytes;
    double *x;
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    bytes = ftell(f);
    fseek(f, 0, SEEK_SET);
    *count = (size_t)bytes / (sizeof(double) * (size_t)BENCH_N_IN);
    x = malloc((size_t)bytes);
    if (fread(x, 1, (size_t)bytes, f) != (size_t)bytes) { perror(path); exit(2); }
    fclose(f);
    return x;
}

int main(int argc, char **argv)
{
    size_t count, size = (size_t)BENCH_N_IN * (size_t)BENCH_N_OUT, i, calls = 1;
    double *x, *jac, best_single = 1e30, best_batch = 1e30, t, budget, spent;
    volatile double sink = 0.0;
    int rep;
    if (argc < 3) { fprintf(stderr, "usage: harness check|time POINTS [OUT]\n"); return 2; }
    x = read_points(argv[2], &count);
    jac = malloc(sizeof(double) * size * count);
    if (argv[1][0] == 'c') {
        FILE *f = fopen(argv[3], "wb");
        for (i = 0; i < count; ++i)
            bench_jacobian(x + i * BENCH_N_IN, jac + i * size);
        fwrite(jac, sizeof(double), size * count, f);
        bench_jacobian_batch(count, x, jac);
        fwrite(jac, sizeof(double), size * count, f);
        fclose(f);
        return 0;
    }
    budget = argc > 3 ? atof(argv[3]) : 0.3;
    /* calibrate: single calls taking about 10 ms per repetition */
    for (;;) {
        t = now();
        for (i = 0; i < calls; ++i) { bench_jacobian(x + (i % count) * BENCH_N_IN, jac); sink += jac[0]; }
        t = now() - t;
        if (t > 0.01) break;
        calls *= 2;
    }
    for (rep = 0, spent = 0.0; rep < 5 || (rep < 1000 && spent < budget); ++rep) {
        t = now();
        for (i = 0; i < calls; ++i) { bench_jacobian(x + (i % count) * BENCH_N_IN, jac); sink += jac[0]; }
        t = now() - t;
        spent += t;
        if (t / (double)calls < best_single) best_single = t / (double)calls;
    }
    if (argc > 4 && argv[4][0] == 's') {   /* the batch is not wanted: it may take long (a loop over single calls) */
        printf("single_ns %.2f\n", best_single * 1e9);
        free(x);
        free(jac);
        return sink == 12345.678;
    }
    for (rep = 0, spent = 0.0; rep < 3 || (rep < 100 && spent < budget); ++rep) {
        t = now();
        bench_jacobian_batch(count, x, jac);
        sink += jac[size * count - 1];
        t = now() - t;
        spent += t;
        if (t / (double)count < best_batch) best_batch = t / (double)count;
    }
    printf("single_ns %.2f\nbatch_ns %.2f\n", best_single * 1e9, best_batch * 1e9);
    free(x);
    free(jac);
    return sink == 12345.678;  /* keeps the results alive */
}
