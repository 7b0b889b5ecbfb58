package dev.tandem.engine.llama;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ForwardBatchTest {

    @Test
    void rowsKeepTheirFieldsAndStorageGrows() {
        ForwardBatch b = new ForwardBatch(4, 1);
        b.addToken(7, 0, 11, false);
        b.addToken(7, 1, 12, true);
        b.addToken(8, 5, 13, true);
        assertEquals(3, b.rows());
        assertTrue(b.capacity() >= 3);
        assertTrue(b.hasTokens());
        assertEquals(8, b.seqId(2));
        assertEquals(5, b.position(2));
        assertEquals(12, b.token(1));
        assertFalse(b.wantsLogits(0));
        assertEquals(2, b.logitRows());
        b.clear();
        assertEquals(0, b.rows());
        assertEquals(0, b.logitRows());
        assertThrows(IndexOutOfBoundsException.class, () -> b.seqId(0));
    }

    @Test
    void hiddenRowsAreCopied() {
        ForwardBatch b = new ForwardBatch(2, 2);
        float[] src = {9, 9, 1, 2, 3, 4};
        b.addHidden(1, 3, src, 2, true);
        b.addHidden(1, 4, src, 4, false);
        src[2] = 100;
        assertFalse(b.hasTokens());
        assertEquals(1f, b.hidden()[0]);
        assertEquals(4f, b.hidden()[3]);
        assertThrows(IllegalStateException.class, () -> b.token(0));
        assertThrows(IllegalStateException.class, () -> b.addToken(2, 0, 5, true));
    }

    @Test
    void rowsOfOneSequenceMustHaveConsecutivePositions() {
        ForwardBatch b = new ForwardBatch(2, 2);
        b.addToken(1, 3, 5, true);
        assertThrows(IllegalArgumentException.class, () -> b.addToken(1, 5, 5, true));
        assertThrows(IllegalArgumentException.class, () -> b.addToken(1, -1, 5, true));
    }
}
