package dev.tandem.trainer.bootstrap;

import dev.tandem.engine.draft.DraftConfig;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.trainer.sample.DistillationSample;
import dev.tandem.trainer.version.DraftCopies;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

class DraftVocabulariesTest {

    private static final int VOCAB = 64;

    /** One position per committed token after the first; the teacher's top-1 is the committed token. */
    private static DistillationSample sample(int... tokens) {
        int n = tokens.length - 1;
        int[] positions = new int[n];
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i + 1;
            ids[i] = tokens[i + 1];
        }
        return new DistillationSample("a", 0, tokens, positions, 1, ids, new float[n], new float[n], new boolean[n]);
    }

    @Test
    void refreshSwapsUnusedHighIdsForUsedMissingTokensAtTheSameSize() {
        // Head: base ids 0..3 plus 10, 11, 12, 13. Traffic uses 10, 12 and (missing) 40, 41; 13 and 11 are unused.
        ReducedVocabulary head = new ReducedVocabulary(new int[]{0, 1, 2, 3, 10, 11, 12, 13}, VOCAB);
        List<DistillationSample> traffic = List.of(sample(1, 10, 40, 12, 41, 40));
        ReducedVocabulary refreshed = DraftVocabularies.refreshed(head, traffic, 4);
        assertArrayEquals(new int[]{0, 1, 2, 3, 10, 12, 40, 41}, refreshed.tokens());
        // Nothing missing: the same object.
        assertSame(refreshed, DraftVocabularies.refreshed(refreshed, traffic, 4));
        // Base ids never leave, even unused; with no unused non-base id nothing is swapped.
        ReducedVocabulary base = new ReducedVocabulary(new int[]{0, 1, 2, 3}, VOCAB);
        assertSame(base, DraftVocabularies.refreshed(base, traffic, 4));
    }

    @Test
    void reheadedCopyKeepsTrainedRowsAndStartsNewOnesFromTheEmbedding() {
        ReducedVocabulary head = new ReducedVocabulary(new int[]{0, 1, 2, 3, 10, 11, 12, 13}, VOCAB);
        DraftModel d = DraftModel.random(new DraftConfig(8, 16, 1, 2, 1, VOCAB, head.size(), 16, 1e-5f, 10000f), head, 3);
        ReducedVocabulary v = new ReducedVocabulary(new int[]{0, 1, 2, 3, 10, 12, 40, 41}, VOCAB);
        DraftModel r = DraftCopies.withVocabulary(d, v, true);
        int dim = d.config().dim();
        assertSame(d.parameters().embedding(), r.parameters().embedding());
        assertEquals(v, r.vocabulary());
        float[] out = r.parameters().output();
        // Token 10 stays in row 4; token 12 moves from row 6 to row 5; 40 and 41 are new.
        assertArrayEquals(Arrays.copyOfRange(d.parameters().output(), 4 * dim, 5 * dim), Arrays.copyOfRange(out, 4 * dim, 5 * dim));
        assertArrayEquals(Arrays.copyOfRange(d.parameters().output(), 6 * dim, 7 * dim), Arrays.copyOfRange(out, 5 * dim, 6 * dim));
        assertArrayEquals(Arrays.copyOfRange(d.parameters().embedding(), 40 * dim, 41 * dim), Arrays.copyOfRange(out, 6 * dim, 7 * dim));
        assertArrayEquals(Arrays.copyOfRange(d.parameters().embedding(), 41 * dim, 42 * dim), Arrays.copyOfRange(out, 7 * dim, 8 * dim));
        assertArrayEquals(d.parameters().layers().get(0).wq(), r.parameters().layers().get(0).wq());
    }
}
