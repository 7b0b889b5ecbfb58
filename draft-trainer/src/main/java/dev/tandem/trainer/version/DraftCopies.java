package dev.tandem.trainer.version;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.DraftParameters;

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
}
