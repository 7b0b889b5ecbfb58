package dev.tandem.engine.draft;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Collections;
import java.util.HexFormat;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * SHA-256 of a draft's token embedding (its floats as little-endian bytes, as in a checkpoint), in hex. Two
 * drafts with equal digests hold the same embedding bit for bit, so a node that already has one need not
 * receive it again ({@link SlimCheckpoint}).
 *
 * <p>The digest is cached per array (by identity: arrays do not override equals/hashCode, and the keys are
 * weak, so a dropped draft takes its entry with it). That is sound only because a draft's embedding is never
 * written once the draft is published or adopted: trainers that train the embedding train their own copy
 * ({@code CandidateTrainer}), and a published draft shares an embedding only with drafts whose embedding is
 * frozen. Hashing a stories15M embedding (37 MB) takes tens of milliseconds, so it runs once per array and
 * only off the serving path (the draft replicator's dispatcher).
 */
public final class EmbeddingDigest {

    private static final int CHUNK_FLOATS = 1 << 16;
    private static final Map<float[], String> CACHE = Collections.synchronizedMap(new WeakHashMap<>());

    private EmbeddingDigest() {}

    /** The digest of {@code embedding}, computed on first use of this array. */
    public static String of(float[] embedding) {
        String known = CACHE.get(embedding);
        if (known != null) return known;
        // Computed outside the map's lock: two threads may both hash the same array once, which is harmless.
        String digest = compute(embedding);
        CACHE.put(embedding, digest);
        return digest;
    }

    /** The digest without the cache (for arrays that may still change, e.g. in tests). */
    static String compute(float[] embedding) {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every Java platform has SHA-256", e);
        }
        ByteBuffer chunk = ByteBuffer.allocate(Math.min(CHUNK_FLOATS, Math.max(1, embedding.length)) * Float.BYTES)
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int from = 0; from < embedding.length; from += CHUNK_FLOATS) {
            int n = Math.min(CHUNK_FLOATS, embedding.length - from);
            chunk.clear();
            chunk.asFloatBuffer().put(embedding, from, n);
            chunk.limit(n * Float.BYTES);
            sha.update(chunk);
        }
        return HexFormat.of().formatHex(sha.digest());
    }
}
