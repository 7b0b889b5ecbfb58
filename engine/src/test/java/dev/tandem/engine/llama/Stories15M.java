package dev.tandem.engine.llama;

import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.format.Llama2cModelLoader;
import dev.tandem.engine.model.LoadedModel;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test access to the real stories15M weights (fetched first when missing). */
final class Stories15M {

    static final int BOS = 1;
    /** BOS "Once upon a time" in the stories15M (Llama 2) vocabulary. */
    static final int[] ONCE_UPON_A_TIME = {BOS, 9038, 2501, 263, 931};

    private Stories15M() {}

    static Path dir() { return ModelStore.ensureDefault(ProgressListener.NONE); }

    static LoadedModel load() {
        Path model = dir().resolve("model.bin");
        return Llama2cModelLoader.load(model);
    }

    /** Token pieces read from llama2.c's tokenizer.bin: int32 max length, then per token float score, int32 length, bytes. */
    static byte[][] pieces(int vocab) throws IOException {
        Path file = dir().resolve("tokenizer.bin");
        byte[][] pieces = new byte[vocab][];
        try (InputStream in = Files.newInputStream(file); DataInputStream data = new DataInputStream(in)) {
            readIntLe(data); // max token length
            for (int i = 0; i < vocab; i++) {
                readIntLe(data); // score (float bits), unused here
                int len = readIntLe(data);
                pieces[i] = data.readNBytes(len);
            }
        }
        return pieces;
    }

    /** Decodes as run.c does: drops the leading space after BOS and maps {@code <0xXX>} pieces to raw bytes. */
    static String decode(int[] tokens, int count, byte[][] pieces) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 1; i < count; i++) {
            byte[] piece = pieces[tokens[i]];
            String s = new String(piece, StandardCharsets.UTF_8);
            if (s.length() == 6 && s.startsWith("<0x") && s.endsWith(">")) {
                out.write(Integer.parseInt(s.substring(3, 5), 16));
                continue;
            }
            int from = tokens[i - 1] == BOS && piece.length > 0 && piece[0] == ' ' ? 1 : 0;
            out.write(piece, from, piece.length - from);
        }
        return out.toString(StandardCharsets.UTF_8);
    }

    private static int readIntLe(DataInputStream in) throws IOException {
        return ByteBuffer.wrap(in.readNBytes(4)).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }
}
