package dev.tandem.engine.format;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.LoadedModel;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.WeightMatrix;
import dev.tandem.engine.tokenizer.Vocabulary;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/** A small random llama model in memory: grouped-query attention and an untied output head. */
final class TinyModel {

    static final ModelConfig CONFIG = new ModelConfig(64, 128, 2, 4, 2, 300, 32, 1e-6f, 500000f, false);

    private TinyModel() {}

    static LoadedModel create() {
        Arena arena = Arena.ofShared();
        Random random = new Random(11);
        ModelConfig c = CONFIG;
        List<LayerWeights> layers = new ArrayList<>();
        for (int l = 0; l < c.nLayers(); l++) {
            layers.add(new LayerWeights(vector(random, c.dim()), matrix(arena, random, c.dim(), c.dim()),
                    matrix(arena, random, c.kvDim(), c.dim()), matrix(arena, random, c.kvDim(), c.dim()),
                    matrix(arena, random, c.dim(), c.dim()), vector(random, c.dim()),
                    matrix(arena, random, c.hiddenDim(), c.dim()), matrix(arena, random, c.dim(), c.hiddenDim()),
                    matrix(arena, random, c.hiddenDim(), c.dim())));
        }
        ModelWeights w = new ModelWeights(c, matrix(arena, random, c.vocabSize(), c.dim()), List.copyOf(layers),
                vector(random, c.dim()), matrix(arena, random, c.vocabSize(), c.dim()));
        return new LoadedModel(Path.of("tiny.bin"), w, Optional.of(vocabulary(c.vocabSize())), arena);
    }

    /** llama2.c's conventions: unk, BOS, EOS, 256 byte tokens, then normal pieces (some with spaces). */
    static Vocabulary vocabulary(int size) {
        List<String> pieces = new ArrayList<>(List.of("<unk>", "<s>", "</s>"));
        int[] types = new int[size];
        float[] scores = new float[size];
        types[0] = Vocabulary.TYPE_UNKNOWN;
        types[1] = types[2] = Vocabulary.TYPE_CONTROL;
        for (int b = 0; b < 256; b++) {
            pieces.add(String.format("<0x%02X>", b));
            types[3 + b] = Vocabulary.TYPE_BYTE;
        }
        for (int i = pieces.size(); i < size; i++) {
            pieces.add(" piece" + i);
            types[i] = Vocabulary.TYPE_NORMAL;
            scores[i] = -i;
        }
        return new Vocabulary(pieces, scores, types, 1, 2, 0);
    }

    private static WeightMatrix matrix(Arena arena, Random random, int rows, int cols) {
        MemorySegment s = arena.allocate((long) rows * cols * Float.BYTES, 64);
        for (long i = 0; i < (long) rows * cols; i++) {
            s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (float) random.nextGaussian() * 0.1f);
        }
        return new F32Matrix(s, rows, cols);
    }

    private static float[] vector(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = 1f + (float) random.nextGaussian() * 0.1f;
        return v;
    }
}
