package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.DraftParameters;
import dev.tandem.engine.draft.ReducedVocabulary;

import java.util.List;

/** Deep copies of drafts: the trainer trains a private copy, and a published draft is a frozen snapshot. */
public final class DraftCopies {

    private DraftCopies() {}

    public static DraftModel copy(DraftModel m, long version, String trafficClass) {
        return copy(m, version, trafficClass, false);
    }

    /** A copy; with {@code shareEmbedding} the (target-sized, read-only) embedding array is shared rather than copied. */
    public static DraftModel copy(DraftModel m, long version, String trafficClass, boolean shareEmbedding) {
        // Sharing must not allocate a zero-filled embedding first: it is target-sized (37 MB on stories15M), and the
        // trainer copies a draft at every candidate start and publication.
        DraftParameters p = shareEmbedding ? DraftParameters.zeros(m.config(), m.parameters().embedding()) : DraftParameters.zeros(m.config());
        List<float[]> from = m.parameters().arrays();
        List<float[]> to = p.arrays();
        for (int i = shareEmbedding ? 1 : 0; i < to.size(); i++) System.arraycopy(from.get(i), 0, to.get(i), 0, to.get(i).length);
        return new DraftModel(version, trafficClass, m.config(), m.vocabulary(), p);
    }

    /**
     * A copy of {@code m} whose head covers {@code vocabulary} (same size): rows of tokens already in the head
     * keep their trained weights; a new token's row starts from its embedding row, which for a target with tied
     * embedding and classifier (llama2.c's stories models) is the target's own head row for it. With
     * {@code shareEmbedding} the embedding array is shared rather than copied.
     */
    public static DraftModel withVocabulary(DraftModel m, ReducedVocabulary vocabulary, boolean shareEmbedding) {
        int[] sources = headRowSources(m.vocabulary(), vocabulary);
        DraftModel copy = copy(m, m.version(), m.trafficClass(), shareEmbedding);
        moveHeadRows(m.parameters().output(), copy.parameters().output(), sources, vocabulary, m.parameters().embedding(), m.config().dim());
        return new DraftModel(m.version(), m.trafficClass(), m.config(), vocabulary, copy.parameters());
    }

    /**
     * {@code m} with its head moved to {@code vocabulary} in place, as {@link #withVocabulary} does it: the returned
     * draft shares {@code m}'s arrays, whose head rows are rearranged (so {@code m} itself is stale afterwards).
     * {@code sources} is {@link #headRowSources}{@code (m.vocabulary(), vocabulary)}, which the caller also needs: a
     * candidate in training moves its optimizer state with the rows ({@code Distiller.moveHead}). {@code scratch}
     * holds the old head meanwhile: an array of the head's size the caller keeps from move to move, or null (one is
     * made).
     */
    public static DraftModel withVocabularyInPlace(DraftModel m, ReducedVocabulary vocabulary, int[] sources, float[] scratch) {
        float[] output = m.parameters().output();
        float[] before = scratch != null && scratch.length == output.length ? scratch : new float[output.length];
        System.arraycopy(output, 0, before, 0, output.length);
        moveHeadRows(before, output, sources, vocabulary, m.parameters().embedding(), m.config().dim());
        return new DraftModel(m.version(), m.trafficClass(), m.config(), vocabulary, m.parameters());
    }

    /**
     * For each row of a head over {@code to}, the row of the same token in a head over {@code from}, or -1 for a
     * token {@code from} lacks. Both heads must have the same size over the same target vocabulary.
     */
    public static int[] headRowSources(ReducedVocabulary from, ReducedVocabulary to) {
        if (to.size() != from.size() || to.targetVocabSize() != from.targetVocabSize()) {
            throw new IllegalArgumentException("a refreshed head must keep the head's size and the target's vocabulary");
        }
        int[] sources = new int[to.size()];
        for (int r = 0; r < to.size(); r++) sources[r] = from.indexOf(to.tokenAt(r));
        return sources;
    }

    /** Kept rows keep their weights; a new token's row starts from its embedding row. */
    private static void moveHeadRows(float[] from, float[] to, int[] sources, ReducedVocabulary vocabulary, float[] embedding, int dim) {
        for (int r = 0; r < sources.length; r++) {
            if (sources[r] >= 0) System.arraycopy(from, sources[r] * dim, to, r * dim, dim);
            else System.arraycopy(embedding, vocabulary.tokenAt(r) * dim, to, r * dim, dim);
        }
    }
}
