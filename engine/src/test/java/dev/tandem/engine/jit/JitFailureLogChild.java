package dev.tandem.engine.jit;

import dev.tandem.engine.tensor.PackedF32Matrix;

import java.util.SplittableRandom;

/** The child JVM of {@link JitFailureLogTest}: starts the log, then runs a packed product until it is stopped. */
public final class JitFailureLogChild {

    private JitFailureLogChild() {}

    public static void main(String[] args) {
        if (!JitFailureLog.start()) throw new IllegalStateException("the log did not start");
        int rows = 64, cols = 288, batch = 5;
        SplittableRandom r = new SplittableRandom(1);
        float[] w = new float[rows * cols];
        float[] x = new float[batch * cols];
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
        float[] buffer = new float[(int) (PackedF32Matrix.packedBytes(rows, cols) / Float.BYTES)];
        float[] y = new float[batch * rows];
        float sink = 0;
        while (true) {
            PackedF32Matrix m = PackedF32Matrix.pack(w, rows, cols, buffer);
            m.matmul(x, 0, cols, batch, y, 0, rows, 0, rows);
            sink += y[7];
            if (sink == Float.MIN_VALUE) System.out.println(sink);
        }
    }
}
