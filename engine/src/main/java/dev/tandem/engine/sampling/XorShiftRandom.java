package dev.tandem.engine.sampling;

/**
 * llama2.c's xorshift* generator ({@code random_u32}/{@code random_f32}): tiny, allocation-free,
 * and with the same seed it draws the same numbers as run.c, so runs can be compared across the two.
 * Not thread-safe: each sampler owns one.
 */
public final class XorShiftRandom {

    private static final long MULTIPLIER = 0x2545F4914F6CDD1DL;
    /** xorshift never leaves the all-zero state, so seed 0 is replaced by this fixed one. */
    private static final long ZERO_SEED_REPLACEMENT = 0x9E3779B97F4A7C15L;
    private static final float FLOAT_UNIT = 1.0f / (1 << 24);

    private long state;

    public XorShiftRandom(long seed) {
        this.state = seed != 0 ? seed : ZERO_SEED_REPLACEMENT;
    }

    /** The next 32 random bits, as run.c's {@code random_u32} (read the int as unsigned). */
    public int nextInt() {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return (int) ((state * MULTIPLIER) >>> 32);
    }

    /** Uniform in [0, 1) with 24 random bits, as run.c's {@code random_f32}. */
    public float nextFloat() {
        return (nextInt() >>> 8) * FLOAT_UNIT;
    }
}
