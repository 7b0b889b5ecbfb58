package dev.tandem.engine.spec;

import dev.tandem.engine.model.DraftWeights;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tandem.engine.model.ModelConfig;
import org.junit.jupiter.api.Test;

class DraftKernelWarmUpTest {

    private static final ModelConfig SMALL = new ModelConfig(64, 160, 2, 4, 2, 1000, 96, 1e-5f, 10000f, true);

    @Test
    void runsTheRequestedForwardsAcrossSeveralSequences() {
        // 96 positions hold ~23 proposals of 4, so 400 forwards need several sequences (open, catch up, close).
        for (DraftWeights form : DraftWeights.values()) assertEquals(400, DraftKernelWarmUp.run(SMALL, 2, 400, form), form.name());
    }

    @Test
    void theBackgroundThreadEnds() throws InterruptedException {
        Thread t = DraftKernelWarmUp.start(SMALL, 1, 40, DraftWeights.INT8, "warm-up-test");
        t.join(60_000);
        assertTrue(!t.isAlive() && t.isDaemon());
    }
}
