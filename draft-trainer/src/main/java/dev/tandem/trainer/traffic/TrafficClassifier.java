package dev.tandem.trainer.traffic;

import dev.tandem.engine.draft.DraftModel;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Assigns an untagged prompt to a traffic class: multinomial naive Bayes over the prompt's tokens (Laplace
 * smoothing), learned from tagged traffic as it arrives. Cheap (one table lookup per token and class).
 * When it has not seen enough, or no class is clearly ahead, it answers the general class.
 * Thread-safe.
 */
public final class TrafficClassifier {

    /** Laplace smoothing of token counts. */
    private static final double SMOOTHING = 1.0;

    private final int minExamplesPerClass;
    private final double minPosterior;
    private final Map<String, ClassCounts> classes = new TreeMap<>();
    private final Map<Integer, Integer> vocabulary = new HashMap<>();
    private long examples;

    /**
     * @param minExamplesPerClass a class is predicted only after this many tagged prompts
     * @param minPosterior        the winning class's posterior must reach this, else general
     */
    public TrafficClassifier(int minExamplesPerClass, double minPosterior) {
        this.minExamplesPerClass = minExamplesPerClass;
        this.minPosterior = minPosterior;
    }

    /** Learns from a tagged prompt (tokens; BOS and other special tokens may be included, they carry little). */
    public synchronized void learn(int[] tokens, String trafficClass) {
        if (trafficClass.equals(DraftModel.GENERAL_CLASS)) return;
        ClassCounts c = classes.computeIfAbsent(trafficClass, k -> new ClassCounts());
        c.examples++;
        examples++;
        for (int t : tokens) {
            c.counts.merge(t, 1, Integer::sum);
            c.total++;
            vocabulary.merge(t, 1, Integer::sum);
        }
    }

    /** The most likely class of the prompt, or the general class. */
    public synchronized String classify(int[] tokens) {
        String best = DraftModel.GENERAL_CLASS;
        double bestLog = Double.NEGATIVE_INFINITY;
        Map<String, Double> logs = new HashMap<>();
        int v = Math.max(1, vocabulary.size());
        for (Map.Entry<String, ClassCounts> e : classes.entrySet()) {
            ClassCounts c = e.getValue();
            if (c.examples < minExamplesPerClass) continue;
            double log = Math.log((double) c.examples / examples);
            for (int t : tokens) log += Math.log((c.counts.getOrDefault(t, 0) + SMOOTHING) / (c.total + SMOOTHING * v));
            logs.put(e.getKey(), log);
            if (log > bestLog) {
                bestLog = log;
                best = e.getKey();
            }
        }
        if (logs.size() < 2) return logs.size() == 1 ? best : DraftModel.GENERAL_CLASS;
        double sum = 0;
        for (double l : logs.values()) sum += Math.exp(l - bestLog);
        return 1.0 / sum >= minPosterior ? best : DraftModel.GENERAL_CLASS;
    }

    public synchronized Map<String, Long> examplesPerClass() {
        Map<String, Long> out = new TreeMap<>();
        classes.forEach((k, c) -> out.put(k, c.examples));
        return out;
    }

    private static final class ClassCounts {
        final Map<Integer, Integer> counts = new HashMap<>();
        long total;
        long examples;
    }
}
