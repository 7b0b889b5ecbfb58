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
        DraftParameters z = DraftParameters.zeros(m.config());
        DraftParameters p = shareEmbedding ? new DraftParameters(m.parameters().embedding(), z.layers(), z.finalNorm(), z.output()) : z;
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
        if (vocabulary.size() != m.vocabulary().size() || vocabulary.targetVocabSize() != m.vocabulary().targetVocabSize()) {
            throw new IllegalArgumentException("a refreshed head must keep the head's size and the target's vocabulary");
        }
        DraftModel copy = copy(m, m.version(), m.trafficClass(), shareEmbedding);
        int dim = m.config().dim();
        float[] from = m.parameters().output();
        float[] to = copy.parameters().output();
        float[] embedding = m.parameters().embedding();
        for (int r = 0; r < vocabulary.size(); r++) {
            int token = vocabulary.tokenAt(r);
            int old = m.vocabulary().indexOf(token);
            if (old >= 0) System.arraycopy(from, old * dim, to, r * dim, dim);
            else System.arraycopy(embedding, token * dim, to, r * dim, dim);
        }
        return new DraftModel(m.version(), m.trafficClass(), m.config(), vocabulary, copy.parameters());
    }
}
