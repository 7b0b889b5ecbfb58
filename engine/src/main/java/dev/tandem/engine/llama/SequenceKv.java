package dev.tandem.engine.llama;

import java.util.Arrays;

/**
 * The cached keys and values of one sequence in one {@link KvCache}: a list of pages, each holding
 * {@link KvCache#PAGE_POSITIONS} consecutive positions for all of the cache's layers.
 * Page layout: {@code [layer][keys as [kvDim][slot] | values as [slot][kvDim]]} (see {@link KvCache#keyBase}).
 */
final class SequenceKv {

    final long seqId;
    float[][] pages = new float[4][];
    int pageCount;
    int length;

    SequenceKv(long seqId) {
        this.seqId = seqId;
    }

    void addPage(float[] page) {
        if (pageCount == pages.length) pages = Arrays.copyOf(pages, pages.length * 2);
        pages[pageCount++] = page;
    }

    float[] removeLastPage() {
        float[] p = pages[--pageCount];
        pages[pageCount] = null;
        return p;
    }
}
