/* Hand-written reference: the Jacobian of a tanh MLP with mapminmax on both
 * sides by plain reverse-mode loops over static const arrays, one output row at
 * a time.  The network itself comes from net_data.h (written by run.py):
 *   N_IN, N_OUT, N_LAYERS, MAX_WIDTH, SIZES[N_LAYERS + 1],
 *   W_START[N_LAYERS], B_START[N_LAYERS], WEIGHTS[], BIASES[] (row-major W_l: SIZES[l+1] x SIZES[l]),
 *   WEIGHTS_T[] (each W_l transposed, for the forward pass: one vectorizable axpy per input unit),
 *   X_OFFSET, X_GAIN, X_YMIN (input mapminmax), Y_GAIN (output mapminmax).
 * Hidden layers are tanh, the last layer is linear.
 */
#include <math.h>
#include <stddef.h>

#include "net_data.h"

void hand_jacobian(const double *x, double *jac)
{
    double act[N_LAYERS][MAX_WIDTH];   /* act[0]: normalized input, act[l]: output of hidden layer l */
    double g[MAX_WIDTH], previous[MAX_WIDTH];
    int l, i, j, o;

    for (i = 0; i < N_IN; ++i)
        act[0][i] = (x[i] - X_OFFSET[i]) * X_GAIN[i] + X_YMIN;
    for (l = 0; l < N_LAYERS - 1; ++l) {
        const double *wt = WEIGHTS_T + W_START[l];   /* transposed: column i of W is contiguous */
        for (j = 0; j < SIZES[l + 1]; ++j)
            act[l + 1][j] = BIASES[B_START[l] + j];
        for (i = 0; i < SIZES[l]; ++i)
            for (j = 0; j < SIZES[l + 1]; ++j)
                act[l + 1][j] += wt[i * SIZES[l + 1] + j] * act[l][i];
        for (j = 0; j < SIZES[l + 1]; ++j)
            act[l + 1][j] = tanh(act[l + 1][j]);
    }
    for (o = 0; o < N_OUT; ++o) {
        const double *last = WEIGHTS + W_START[N_LAYERS - 1] + o * SIZES[N_LAYERS - 1];
        for (i = 0; i < SIZES[N_LAYERS - 1]; ++i)
            g[i] = last[i] / Y_GAIN[o];
        for (l = N_LAYERS - 2; l >= 0; --l) {
            const double *w = WEIGHTS + W_START[l];
            for (j = 0; j < SIZES[l + 1]; ++j)
                g[j] *= 1.0 - act[l + 1][j] * act[l + 1][j];
            for (i = 0; i < SIZES[l]; ++i)
                previous[i] = 0.0;
            for (j = 0; j < SIZES[l + 1]; ++j)
                for (i = 0; i < SIZES[l]; ++i)
                    previous[i] += w[j * SIZES[l] + i] * g[j];
            for (i = 0; i < SIZES[l]; ++i)
                g[i] = previous[i];
        }
        for (i = 0; i < N_IN; ++i)
            jac[o * N_IN + i] = g[i] * X_GAIN[i];
    }
}

void hand_jacobian_batch(size_t n, const double *x, double *jac)
{
    size_t s;
    for (s = 0; s < n; ++s)
        hand_jacobian(x + s * N_IN, jac + s * N_OUT * N_IN);
}
