"""A training-time LSTM that does less work per step than ``keras.layers.LSTM``, with the same weights.

With recurrent dropout, Keras runs its LSTM cell with ``implementation=1``: per time step, eight
small matrix products (four gates times input and recurrent), and under autodiff the backward loop
adds four more per step for the weight gradients. Here:

- the input dropout masks are constant over time, so the input projections of all steps are a
  single batched product before the loop;
- the four recurrent products of a step are one batched product (each gate keeps its own
  recurrent dropout mask, as in Keras);
- the four gate activations are one ``tanh`` (``sigmoid(z) = (tanh(z / 2) + 1) / 2``);
- the backward pass is written out (``tf.custom_gradient``): its loop carries only what is
  sequential (the state gradients, one batched product per step), and the weight gradients are
  a few large products after it.

Weight layout, gate order (i, f, c, o), initializers and dropout semantics (one mask per gate,
drawn once per batch) are those of ``keras.layers.LSTM``, so a trained layer's weights load into a
plain ``keras.layers.LSTM``: that is what is stored (``model.keras``) and what everything else
(import, export, the NumPy engine) sees. This layer exists only inside a training run.

TensorFlow backend only (the project's backend); imported lazily by ``models.architecture``.
"""

from __future__ import annotations

from typing import Any

from models.keras_runtime import keras

GATES = 4


def _tf():
    import tensorflow as tf

    return tf


def lstm_last_state(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any, input_masks: Any,
                    recurrent_masks: Any) -> Any:
    """The LSTM's last hidden state, shape (batch, units).

    ``x``: (batch, time, features); ``kernel``: (features, 4 * units); ``recurrent_kernel``:
    (units, 4 * units); ``bias``: (4 * units,); ``input_masks``: (4, batch, features) and
    ``recurrent_masks``: (4, batch, units), one per gate, already scaled (ones when dropout is off).
    """
    tf = _tf()
    # Variables read as tensors here, outside the custom gradient, which then sees plain inputs.
    tensors = [tf.convert_to_tensor(v) for v in (x, kernel, recurrent_kernel, bias, input_masks, recurrent_masks)]
    return _lstm_fn(tf)(*tensors)


_CACHE: dict[str, Any] = {}


def _lstm_fn(tf):
    if "fn" in _CACHE:
        return _CACHE["fn"]

    def split_gates(w, units):  # (n, 4u) -> (4, n, u)
        return tf.transpose(tf.reshape(w, (tf.shape(w)[0], GATES, units)), (1, 0, 2))

    @tf.custom_gradient
    def fn(x, kernel, recurrent_kernel, bias, input_masks, recurrent_masks):
        # Layout: gates first, (4, batch, units), so every product of a step is one batched matmul.
        dtype = x.dtype
        units = tf.shape(recurrent_kernel)[0]
        batch = tf.shape(x)[0]
        w4 = split_gates(kernel, units)  # (4, d, u)
        u4 = split_gates(recurrent_kernel, units)  # (4, u, u)
        b4 = tf.reshape(bias, (GATES, 1, units))
        xt = tf.transpose(x, (1, 0, 2))  # (t, b, d), time-major
        steps = tf.shape(xt)[0]
        # All input projections at once: z_in[t, g] = (x[t] * m_g) @ w_g + b_g, as one batched product of
        # the masked inputs laid out gate-major, (4, t * b, d), which the backward pass reuses as they are.
        xm = tf.reshape(input_masks[:, None] * xt[None], (GATES, -1, tf.shape(x)[2]))
        z_in = tf.reshape(tf.matmul(xm, w4), (GATES, steps, batch, units)) + b4[:, None]  # (4, t, b, u)
        # One tanh for four gates: scale the sigmoid gates by 1/2 before and rescale after.
        half = tf.constant([0.5, 0.5, 1.0, 0.5], dtype)[:, None, None]
        shift = tf.constant([0.5, 0.5, 0.0, 0.5], dtype)[:, None, None]

        def step(carry, t):
            h, c, _, _ = carry
            z = z_in[:, t] + tf.matmul(h[None] * recurrent_masks, u4)  # (4, b, u)
            a = tf.tanh(z * half) * half + shift  # i, f, g (tanh), o
            c = a[1] * c + a[0] * a[2]
            tc = tf.tanh(c)
            return a[3] * tc, c, a, tc  # h, c, the gates and tanh(c), kept for the backward pass

        zeros = tf.zeros((batch, units), dtype)
        hs, cs, acts, tcs = tf.scan(step, tf.range(steps),  # the step's inputs are z_in[:, t], read gate-major
                                    initializer=(zeros, zeros, tf.zeros((GATES, batch, units), dtype), zeros))

        def grad(dh_last):
            c_prev = tf.concat([zeros[None], cs[:-1]], 0)
            h_prev = tf.concat([zeros[None], hs[:-1]], 0)
            # Derivative of each gate's activation with respect to its pre-activation.
            slope = tf.where(tf.constant([False, False, True, False])[:, None, None], 1.0 - acts * acts,
                             acts * (1.0 - acts))

            # What each step needs that does not depend on the state gradients, for all steps at once:
            # the loop below then does one batched product and a few products of vectors per step.
            p = acts[:, 3] * (1.0 - tcs * tcs)  # dh -> dc, through o * tanh(c)
            q = tf.stack([acts[:, 2] * slope[:, 0], c_prev * slope[:, 1], acts[:, 0] * slope[:, 2]], 1)
            r = tcs * slope[:, 3]
            f = acts[:, 1]

            # The weights as the loop multiplies by them, transposed once here: a product with a transposed
            # operand inside XLA's loop took the backward loop from 6.7 to 9.2 ms (batch 32, 80 steps).
            u4t = tf.transpose(u4, (0, 2, 1))

            def back(carry, elems):
                dh, dc, _, _ = carry
                p_t, q_t, r_t, f_t = elems
                dc = dc + dh * p_t
                dz = tf.concat([dc[None] * q_t, (dh * r_t)[None]], 0)  # (4, b, u)
                dh_prev = tf.reduce_sum(tf.matmul(dz, u4t) * recurrent_masks, 0)
                return dh_prev, dc * f_t, dc, dh  # the carried state gradients, then this step's, kept

            # The loop keeps only the two state gradients of each step; the gates' gradients (dz, four
            # times as large) are made from them after it, in one pass, already gate-major.
            _, _, dcs, dhs = tf.scan(back, (p, q, r, f), initializer=(dh_last, zeros, zeros, zeros), reverse=True)
            dz_g = tf.reshape(tf.concat([tf.transpose(dcs[:, None] * q, (1, 0, 2, 3)), (dhs * r)[None]], 0),
                              (GATES, -1, units))  # (4, t * b, u)

            # Both weight gradients in one product: [masked inputs | masked previous states]^T @ dz, per gate.
            features = tf.shape(w4)[1]
            inputs = tf.concat([xm, tf.reshape(recurrent_masks[:, None] * h_prev[None], (GATES, -1, units))], 2)
            both = tf.matmul(inputs, dz_g, transpose_a=True)  # (4, d + u, u)
            d_w4, d_u4 = both[:, :features], both[:, features:]
            # The bias gradient as a product too: XLA made the sum a reduce-window (0.8 ms) that recomputed dz.
            d_bias = tf.reshape(tf.matmul(tf.ones((GATES, 1, tf.shape(dz_g)[1]), dtype), dz_g), (-1,))
            dx_g = tf.reshape(tf.matmul(dz_g, tf.transpose(w4, (0, 2, 1))), (GATES, -1, batch, features))
            dxt = tf.reduce_sum(dx_g * input_masks[:, None], 0)  # (t, b, d)

            def merge(d4):  # (4, n, u) -> (n, 4u)
                return tf.reshape(tf.transpose(d4, (1, 0, 2)), (tf.shape(d4)[1], -1))

            return (tf.transpose(dxt, (1, 0, 2)), merge(d_w4), merge(d_u4), d_bias,
                    tf.zeros_like(input_masks), tf.zeros_like(recurrent_masks))

        return hs[-1], grad

    _CACHE["fn"] = fn
    return fn


def lstm_last_state_inference(x: Any, kernel: Any, recurrent_kernel: Any, bias: Any) -> Any:
    """The same output without dropout and without a gradient: one product for every step's input,
    one per step for the recurrence (validation, evaluation)."""
    tf = _tf()
    x, kernel, recurrent_kernel, bias = (tf.convert_to_tensor(v) for v in (x, kernel, recurrent_kernel, bias))
    units = tf.shape(recurrent_kernel)[0]
    batch = tf.shape(x)[0]
    z_in = tf.einsum("btd,dk->tbk", x, kernel) + bias  # (t, b, 4u)
    half = tf.repeat(tf.constant([0.5, 0.5, 1.0, 0.5], x.dtype), units)
    shift = tf.repeat(tf.constant([0.5, 0.5, 0.0, 0.5], x.dtype), units)

    def step(carry, z):
        h, c = carry
        a = tf.tanh((z + tf.matmul(h, recurrent_kernel)) * half) * half + shift
        i, f, g, o = tf.split(a, GATES, axis=1)
        c = f * c + i * g
        return o * tf.tanh(c), c

    zeros = tf.zeros((batch, units), x.dtype)
    hs, _ = tf.scan(step, z_in, initializer=(zeros, zeros))
    return hs[-1]


_LAYER_CLASS: list[Any] = []


def fast_lstm_layer(units: int, dropout: float = 0.0, recurrent_dropout: float = 0.0, name: str = "lstm") -> Any:
    """A Keras layer computing ``keras.layers.LSTM(units, dropout=..., recurrent_dropout=...)``'s output
    with the same weights, faster to train (see the module's docstring)."""
    if not _LAYER_CLASS:
        _LAYER_CLASS.append(_define_layer())
    return _LAYER_CLASS[0](units, dropout, recurrent_dropout, name=name)


def _define_layer() -> Any:
    k = keras()

    class FastLSTM(k.layers.Layer):
        def __init__(self, units: int, dropout: float, recurrent_dropout: float, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dropout = min(1.0, max(0.0, dropout))
            self.recurrent_dropout = min(1.0, max(0.0, recurrent_dropout))
            self.seed_generator = k.random.SeedGenerator()

        def build(self, input_shape):
            features, units = input_shape[-1], self.units
            self.kernel = self.add_weight(shape=(features, 4 * units), initializer="glorot_uniform", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(units, 4 * units), initializer="orthogonal",
                                                    name="recurrent_kernel")

            def unit_forget_bias(shape, dtype=None):  # keras.layers.LSTM's default: the forget gate's bias is 1
                return k.ops.concatenate([k.ops.zeros((units,)), k.ops.ones((units,)), k.ops.zeros((2 * units,))])

            self.bias = self.add_weight(shape=(4 * units,), initializer=unit_forget_bias, name="bias")

        def dropout_masks(self, batch: Any, size: Any, rate: float) -> Any:
            """One mask per gate and review, (4, batch, size), scaled by 1 / (1 - rate), drawn once per
            batch and used at every step (as ``keras.layers.LSTM`` with ``implementation=1``)."""
            ones = k.ops.ones((GATES, batch, size))
            return ones if rate <= 0 else k.random.dropout(ones, rate=rate, seed=self.seed_generator)

        def call(self, inputs, training=False):
            if not training:
                return lstm_last_state_inference(inputs, self.kernel, self.recurrent_kernel, self.bias)
            batch = k.ops.shape(inputs)[0]
            return lstm_last_state(inputs, self.kernel, self.recurrent_kernel, self.bias,
                                   self.dropout_masks(batch, k.ops.shape(inputs)[-1], self.dropout),
                                   self.dropout_masks(batch, self.units, self.recurrent_dropout))

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self.units)

    return FastLSTM
