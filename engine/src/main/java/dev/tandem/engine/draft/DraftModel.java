package dev.tandem.engine.draft;

import dev.tandem.engine.model.LayerWeights;
import dev.tandem.engine.model.ModelConfig;
import dev.tandem.engine.model.ModelWeights;
import dev.tandem.engine.tensor.F32Matrix;
import dev.tandem.engine.tensor.WeightMatrix;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * A draft language model: a small Llama-style transformer whose output head covers a
 * {@link ReducedVocabulary} of the target's tokens. It is versioned (drafts are retrained and republished
 * while serving) and tagged with the traffic class it was trained for. Its weights are plain float arrays
 * ({@link DraftParameters}); {@link #weights()} views them, without copying, as {@link ModelWeights} that a
 * {@link dev.tandem.engine.llama.LlamaStage} runs (logit i of that stage is target token
 * {@code vocabulary().tokenAt(i)}).
 */
public final class DraftModel {

    /** The traffic class of a draft trained on all traffic. */
    public static final String GENERAL_CLASS = "general";
    /**
     * The traffic class of requests never recorded for distillation (drafted for as untagged ones): synthetic
     * traffic such as the gateway's warm-up, whose few prompts repeated would teach the drafts those stories only.
     */
    public static final String UNRECORDED_CLASS = "unrecorded";
    /** Scale of random initial weights, relative to 1/sqrt(fan-in). */
    private static final double INIT_SCALE = 1.0;

    private final long version;
    private final String trafficClass;
    private final DraftConfig config;
    private final ReducedVocabulary vocabulary;
    private final DraftParameters parameters;
    private final ModelWeights weights;

    public DraftModel(long version, String trafficClass, DraftConfig config, ReducedVocabulary vocabulary, DraftParameters parameters) {
        if (version < 0) throw new IllegalArgumentException("draft version must be >= 0, got " + version);
        Objects.requireNonNull(trafficClass, "trafficClass");
        if (vocabulary.size() != config.headSize() || vocabulary.targetVocabSize() != config.vocabSize()) {
            throw new IllegalArgumentException("the reduced vocabulary (" + vocabulary.size() + " of " + vocabulary.targetVocabSize()
                    + ") does not match the config's head (" + config.headSize() + " of " + config.vocabSize() + ")");
        }
        parameters.checkShapes(config);
        this.version = version;
        this.trafficClass = trafficClass;
        this.config = config;
        this.vocabulary = vocabulary;
        this.parameters = parameters;
        this.weights = view(config, parameters);
    }

    public long version() { return version; }

    public String trafficClass() { return trafficClass; }

    public DraftConfig config() { return config; }

    public ReducedVocabulary vocabulary() { return vocabulary; }

    /** The trainable weights (shared, not copied: changes show through {@link #weights()}). */
    public DraftParameters parameters() { return parameters; }

    /** The weights as a model that a LlamaStage runs; its output head has {@code config().headSize()} rows. */
    public ModelWeights weights() { return weights; }

    /** The same weights under another version number and traffic class. */
    public DraftModel withVersion(long newVersion, String newClass) {
        return new DraftModel(newVersion, newClass, config, vocabulary, parameters);
    }

    /** Random weights (Gaussian, scaled by fan-in; norms at 1) from a fixed seed. */
    public static DraftModel random(DraftConfig config, ReducedVocabulary vocabulary, long seed) {
        DraftParameters p = DraftParameters.zeros(config);
        SplittableRandom random = new SplittableRandom(seed);
        gaussian(p.embedding(), 1.0, random);
        for (DraftLayerParameters l : p.layers()) {
            java.util.Arrays.fill(l.attnNorm(), 1f);
            java.util.Arrays.fill(l.ffnNorm(), 1f);
            double scale = INIT_SCALE / Math.sqrt(config.dim());
            for (float[] w : new float[][]{l.wq(), l.wk(), l.wv(), l.wo(), l.w1(), l.w3()}) gaussian(w, scale, random);
            gaussian(l.w2(), INIT_SCALE / Math.sqrt(config.hiddenDim()), random);
        }
        java.util.Arrays.fill(p.finalNorm(), 1f);
        gaussian(p.output(), INIT_SCALE / Math.sqrt(config.dim()), random);
        return new DraftModel(0, GENERAL_CLASS, config, vocabulary, p);
    }

    /**
     * A training-free draft cut from the target: its embedding, its first {@code layers} blocks, its final
     * norm and the rows of its output head for {@code vocabulary}. A sensible starting point for
     * distillation, and a cheap draft in its own right when the head dominates the target's cost.
     */
    public static DraftModel fromTarget(ModelWeights target, int layers, ReducedVocabulary vocabulary) {
        ModelConfig t = target.config();
        if (layers < 1 || layers > t.nLayers()) throw new IllegalArgumentException("cannot take " + layers + " of " + t.nLayers() + " layers");
        if (vocabulary.targetVocabSize() != t.vocabSize()) throw new IllegalArgumentException("the reduced vocabulary is for another target");
        DraftConfig c = new DraftConfig(t.dim(), t.hiddenDim(), layers, t.nHeads(), t.nKvHeads(), t.vocabSize(), vocabulary.size(),
                t.seqLen(), t.normEps(), t.ropeTheta());
        DraftParameters p = DraftParameters.zeros(c);
        copyRows(target.tokenEmbedding(), p.embedding(), null);
        for (int l = 0; l < layers; l++) {
            LayerWeights from = target.layers().get(l);
            DraftLayerParameters to = p.layers().get(l);
            System.arraycopy(from.attnNorm(), 0, to.attnNorm(), 0, c.dim());
            System.arraycopy(from.ffnNorm(), 0, to.ffnNorm(), 0, c.dim());
            copyRows(from.wq(), to.wq(), null);
            copyRows(from.wk(), to.wk(), null);
            copyRows(from.wv(), to.wv(), null);
            copyRows(from.wo(), to.wo(), null);
            copyRows(from.w1(), to.w1(), null);
            copyRows(from.w2(), to.w2(), null);
            copyRows(from.w3(), to.w3(), null);
        }
        System.arraycopy(target.finalNorm(), 0, p.finalNorm(), 0, c.dim());
        copyRows(target.output(), p.output(), vocabulary);
        return new DraftModel(0, GENERAL_CLASS, c, vocabulary, p);
    }

    private static void copyRows(WeightMatrix from, float[] to, ReducedVocabulary rows) {
        int cols = from.cols();
        int n = rows == null ? from.rows() : rows.size();
        for (int r = 0; r < n; r++) from.readRow(rows == null ? r : rows.tokenAt(r), to, r * cols);
    }

    private static void gaussian(float[] w, double scale, SplittableRandom random) {
        for (int i = 0; i < w.length; i++) w[i] = (float) (gaussian(random) * scale);
    }

    private static double gaussian(SplittableRandom random) {
        double u = random.nextDouble();
        double v = random.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    private static ModelWeights view(DraftConfig c, DraftParameters p) {
        List<LayerWeights> layers = new ArrayList<>();
        for (DraftLayerParameters l : p.layers()) {
            layers.add(new LayerWeights(l.attnNorm(), matrix(l.wq(), c.dim(), c.dim()), matrix(l.wk(), c.kvDim(), c.dim()),
                    matrix(l.wv(), c.kvDim(), c.dim()), matrix(l.wo(), c.dim(), c.dim()), l.ffnNorm(),
                    matrix(l.w1(), c.hiddenDim(), c.dim()), matrix(l.w2(), c.dim(), c.hiddenDim()),
                    matrix(l.w3(), c.hiddenDim(), c.dim())));
        }
        return new ModelWeights(c.modelConfig(), matrix(p.embedding(), c.vocabSize(), c.dim()), List.copyOf(layers),
                p.finalNorm(), matrix(p.output(), c.headSize(), c.dim()));
    }

    private static WeightMatrix matrix(float[] data, int rows, int cols) {
        return new F32Matrix(MemorySegment.ofArray(data), rows, cols);
    }
}
