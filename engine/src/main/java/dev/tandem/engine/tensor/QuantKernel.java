package dev.tandem.engine.tensor;

/**
 * How a Q8_0 or Q4_0 matrix multiplies.
 *
 * <p>{@link #DECODE_ROW} (the default) decodes each weight row to floats in per-thread scratch and
 * takes float dot products with the exact activations. {@link #INT8_DOT} is ggml's scheme
 * (vec_dot_q8_0_q8_0): the activations are quantized to int8 blocks once per call and multiplied
 * integer by integer. Without the VNNI / maddubs instructions that make ggml's version fast (the
 * Vector API widens int8 to int32 before multiplying), INT8_DOT is no faster here, and quantizing
 * the activations costs accuracy: on stories15M it flips a near-tied greedy token (0.05 logits
 * apart) that DECODE_ROW keeps. DECODE_ROW is also batch-invariant: a row's result does not depend
 * on which other rows share the call.
 */
public enum QuantKernel {
    DECODE_ROW,
    INT8_DOT
}
