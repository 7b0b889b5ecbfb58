package dev.tandem.engine.sampling;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class SamplerSettingsTest {

    @Test
    void validates() {
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(-0.1f, 0, 1f, 1));
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(Float.NaN, 0, 1f, 1));
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(Float.POSITIVE_INFINITY, 0, 1f, 1));
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(1f, -1, 1f, 1));
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(1f, 0, 0f, 1));
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(1f, 0, 1.01f, 1));
        assertThrows(IllegalArgumentException.class, () -> new SamplerSettings(1f, 0, Float.NaN, 1));
        assertDoesNotThrow(() -> new SamplerSettings(0f, 0, 1f, 0));
        assertDoesNotThrow(() -> new SamplerSettings(2f, 40, 0.01f, -5));
    }

    @Test
    void factoryPicksGreedyAtTemperatureZero() {
        assertInstanceOf(GreedySampler.class, Samplers.create(SamplerSettings.greedy()));
        assertInstanceOf(GreedySampler.class, Samplers.create(new SamplerSettings(0f, 5, 0.5f, 3), 10));
        assertInstanceOf(StochasticSampler.class, Samplers.create(SamplerSettings.defaults(7)));
        assertThrows(IllegalArgumentException.class, () -> new StochasticSampler(SamplerSettings.greedy(), 10));
    }
}
