"""The hand-written C reference: net_data.h (the numbers) for hand_jacobian.c (the code)."""

from cbuild import HERE, adapter, c_array, c_literal
from nets import parts


def net_data_header(net, path):
    x_offset, x_gain, x_ymin, layers, _, y_gain, _ = parts(net)
    sizes = [net.n_inputs] + [w.shape[0] for w, _ in layers]
    w_start, b_start, w_total, b_total = [], [], 0, 0
    for w, b in layers:
        w_start.append(w_total)
        b_start.append(b_total)
        w_total += w.size
        b_total += b.size
    import numpy as np
    text = (f"#define N_IN {net.n_inputs}\n#define N_OUT {net.n_outputs}\n"
            f"#define N_LAYERS {len(layers)}\n#define MAX_WIDTH {max(sizes)}\n"
            f"#define X_YMIN {c_literal(x_ymin)}\n"
            + c_array("SIZES", sizes, "int") + c_array("W_START", w_start, "int") + c_array("B_START", b_start, "int")
            + c_array("WEIGHTS", np.concatenate([w.reshape(-1) for w, _ in layers]))
            + c_array("WEIGHTS_T", np.concatenate([w.T.reshape(-1) for w, _ in layers]))
            + c_array("BIASES", np.concatenate([b for _, b in layers]))
            + c_array("X_OFFSET", x_offset) + c_array("X_GAIN", x_gain) + c_array("Y_GAIN", y_gain))
    path.write_text(text)
    return path


def hand_sources(net, build):
    net_data_header(net, build / "net_data.h")
    glue = adapter(build, "hand", net.n_inputs, net.n_outputs, "hand_jacobian(x, jac);",
                   "hand_jacobian_batch(n, x, jac);",
                   "void hand_jacobian(const double *x, double *jac);\n"
                   "void hand_jacobian_batch(size_t n, const double *x, double *jac);")
    return [HERE / "hand_jacobian.c", glue]
