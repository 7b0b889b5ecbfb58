package dev.tandem.engine.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class XorShiftRandomTest {

    @Test
    void drawsWhatRunCDraws() {
        // random_u32 / random_f32 of llama2.c's run.c from state 42, computed independently.
        var r = new XorShiftRandom(42);
        assertEquals(1456360119L, Integer.toUnsignedLong(r.nextInt()));
        assertEquals(3359763283L, Integer.toUnsignedLong(r.nextInt()));
        assertEquals(0.790136992931366f, r.nextFloat());
    }

    @Test
    void zeroSeedStillProducesNumbersAndFloatsStayInRange() {
        var r = new XorShiftRandom(0);
        boolean nonZero = false;
        for (int i = 0; i < 100_000; i++) {
            float f = r.nextFloat();
            assertTrue(f >= 0f && f < 1f, "out of range: " + f);
            nonZero |= f != 0f;
        }
        assertTrue(nonZero);
    }
}
