package dev.tandem.engine.draft;

import java.util.ArrayList;
import java.util.List;

/**
 * All weights of a draft model as plain float arrays: token embedding [vocabSize, dim], the blocks,
 * final norm [dim], output head [headSize, dim] (row i scores reduced-vocabulary token i).
 */
public record DraftParameters(float[] embedding, List<DraftLayerParameters> layers, float[] finalNorm, float[] output) {

    public DraftParameters {
        layers = List.copyOf(layers);
    }

    /** Zero-filled parameters of the right shapes. */
    public static DraftParameters zeros(DraftConfig c) {
        return zeros(c, new float[c.vocabSize() * c.dim()]);
    }

    /** Zero-filled parameters around a given embedding (shared, not copied; its length is checked by the model). */
    public static DraftParameters zeros(DraftConfig c, float[] embedding) {
        List<DraftLayerParameters> layers = new ArrayList<>();
        for (int l = 0; l < c.nLayers(); l++) layers.add(DraftLayerParameters.zeros(c));
        return new DraftParameters(embedding, layers, new float[c.dim()], new float[c.headSize() * c.dim()]);
    }

    /** Every array in checkpoint order: embedding, each layer's nine, final norm, output. */
    public List<float[]> arrays() {
        List<float[]> all = new ArrayList<>();
        all.add(embedding);
        for (DraftLayerParameters l : layers) all.addAll(List.of(l.arrays()));
        all.add(finalNorm);
        all.add(output);
        return all;
    }

    /** Throws unless every array has the length {@code config} implies. */
    public void checkShapes(DraftConfig config) {
        // Lengths only: a draft is checked each time it is built (read, copied, received), and a zero-filled
        // model to compare with would cost a target-sized embedding each time.
        List<Integer> expected = new ArrayList<>();
        expected.add(config.vocabSize() * config.dim());
        for (int l = 0; l < config.nLayers(); l++) {
            for (int n : DraftLayerParameters.lengths(config)) expected.add(n);
        }
        expected.add(config.dim());
        expected.add(config.headSize() * config.dim());
        List<float[]> actual = arrays();
        if (expected.size() != actual.size()) {
            throw new IllegalArgumentException(actual.size() + " parameter arrays, expected " + expected.size());
        }
        for (int i = 0; i < expected.size(); i++) {
            if (expected.get(i) != actual.get(i).length) {
                throw new IllegalArgumentException("parameter array " + i + " has " + actual.get(i).length
                        + " floats, expected " + expected.get(i));
            }
        }
    }
}
