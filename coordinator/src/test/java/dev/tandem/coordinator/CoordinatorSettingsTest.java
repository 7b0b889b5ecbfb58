package dev.tandem.coordinator;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.worker.ModelFootprint;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CoordinatorSettingsTest {

    /** stories15M: a layer of 995,328 float32 weights, an untied head of 32,000 x 288. */
    private static final ModelFootprint STORIES15M = new ModelFootprint(995_328L * 4, 32_000L * 288 * 4, 32_000L * 288 * 4, 2L * 288 * 4);

    private static CoordinatorSettings withHeadCost(String value) {
        Config c = ConfigFactory.parseString("tandem.coordinator.placement.head-cost = " + value)
                .withFallback(ConfigFactory.defaultReference());
        return CoordinatorSettings.fromConfig(c);
    }

    @Test
    void theHeadCostsItsWeightBytesOverALayersByDefault() {
        CoordinatorSettings defaults = CoordinatorSettings.fromConfig(ConfigFactory.defaultReference());
        assertTrue(defaults.placementHeadCost().isEmpty());
        assertEquals(32_000.0 * 288 / 995_328, defaults.headCost(STORIES15M), 1e-9);
        assertEquals(9.26, defaults.headCost(STORIES15M), 0.01);
        assertEquals(0, defaults.headCost(new ModelFootprint(0, 4, 4, 0)));
    }

    @Test
    void aConfiguredHeadCostIsTakenAsIs() {
        assertEquals(2.5, withHeadCost("2.5").headCost(STORIES15M));
        assertEquals(0, withHeadCost("0").headCost(STORIES15M));
    }

    @Test
    void aHeadCostThatIsNeitherAutoNorANumberAtLeastZeroIsRefusedWithTheKey() {
        for (String bad : new String[] {"-1", "fast", "[1, 2]"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> withHeadCost(bad));
            assertTrue(e.getMessage().contains("tandem.coordinator.placement.head-cost"), e.getMessage());
        }
    }
}
