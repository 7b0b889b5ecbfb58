package dev.tandem.engine.spec;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/** A tiny random Llama target made in memory (heap float arrays), for statistical tests of speculation. */
final class TinyTarget {

    /** Vocabulary 12, dim 16, 2 layers, 2 heads (1 KV head), context 16. */
    static final ModelConfig CONFIG = new ModelConfig(16, 32, 2, 2, 1, 12, 16, 1e-5f, 10000f, false);

    private TinyTarget() {}

    /** Weights scaled so that next-token distributions are neither flat nor one-hot. */
    static ModelWeights create(long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        ModelConfig c = CONFIG;
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.nLayers(); l++) {
            layers.add(new LayerWeights(ones(c.dim()), matrix(random, c.dim(), c.dim(), 0.5), matrix(random, c.kvDim(), c.dim(), 0.5),
                    matrix(random, c.kvDim(), c.dim(), 0.5), matrix(random, c.dim(), c.dim(), 0.5), ones(c.dim()),
                    matrix(random, c.hiddenDim(), c.dim(), 0.5), matrix(random, c.dim(), c.hiddenDim(), 0.5),
                    matrix(random, c.hiddenDim(), c.dim(), 0.5)));
        }
        return new ModelWeights(c, matrix(random, c.vocabSize(), c.dim(), 1.0), List.copyOf(layers), ones(c.dim()),
                matrix(random, c.vocabSize(), c.dim(), 0.4));
    }

    private static WeightMatrix matrix(SplittableRandom random, int rows, int cols, double scale) {
        float[] data = new float[rows * cols];
        for (int i = 0; i < data.length; i++) data[i] = (float) ((random.nextDouble() * 2 - 1) * scale * Math.sqrt(3.0 / cols) * 2);
        return new F32Matrix(MemorySegment.ofArray(data), rows, cols);
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return v;
    }
}
