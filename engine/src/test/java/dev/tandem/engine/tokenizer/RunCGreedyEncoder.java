package dev.tandem.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.List;

/** A literal port of llama2.c run.c's O(n^2) encode loop, as the reference the fast tokenizer must match. */
final class RunCGreedyEncoder {

    private RunCGreedyEncoder() {}

    static int[] encode(BpeTokenizer tokenizer, String text) {
        Vocabulary v = tokenizer.vocabulary();
        List<Integer> tokens = new ArrayList<>();
        if (!text.isEmpty()) {
            tokens.add(lookup(v, " "));
            byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
            int start = 0;
            for (int i = 0; i < bytes.length; i++) {
                boolean nextIsContinuation = i + 1 < bytes.length && (bytes[i + 1] & 0xC0) == 0x80;
                if (nextIsContinuation && i + 1 - start < 4) continue;
                int id = lookup(v, new String(bytes, start, i + 1 - start, StandardCharsets.UTF_8));
                if (id != -1) {
                    tokens.add(id);
                } else {
                    for (int j = start; j <= i; j++) tokens.add((bytes[j] & 0xFF) + 3);
                }
                start = i + 1;
            }
        }
        while (true) {
            float bestScore = -1e10f;
            int bestId = -1;
            int bestIdx = -1;
            for (int i = 0; i < tokens.size() - 1; i++) {
                int id = lookup(v, v.pieces().get(tokens.get(i)) + v.pieces().get(tokens.get(i + 1)));
                if (id != -1 && v.scores()[id] > bestScore) {
                    bestScore = v.scores()[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx == -1) break;
            tokens.set(bestIdx, bestId);
            tokens.remove(bestIdx + 1);
        }
        return tokens.stream().mapToInt(Integer::intValue).toArray();
    }

    /** run.c's str_lookup, over the pieces text can produce (normal ones; see BpeTokenizer). */
    private static int lookup(Vocabulary v, String piece) {
        Map<String, Integer> index = INDEXES.computeIfAbsent(v, RunCGreedyEncoder::index);
        return index.getOrDefault(piece, -1);
    }

    private static final Map<Vocabulary, Map<String, Integer>> INDEXES = new IdentityHashMap<>();

    private static Map<String, Integer> index(Vocabulary v) {
        Map<String, Integer> index = new HashMap<>();
        for (int id = 0; id < v.size(); id++) {
            if (v.tokenTypes()[id] == Vocabulary.TYPE_NORMAL) index.putIfAbsent(v.pieces().get(id), id);
        }
        return index;
    }
}
