package dev.tandem.engine.jit;

import jdk.jfr.consumer.RecordedMethod;
import jdk.jfr.consumer.RecordingStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Logs, as warnings, the JIT's give-ups on Tandem's own code: an optimizing compilation that failed (a C2 bailout)
 * and a deoptimization that made a method not compilable. Either leaves that method in the interpreter or in C1's
 * code, where the Vector API kernels run many times slower, for the rest of the process. A cluster once served for
 * its whole life with a last stage five times slower on one-row steps only (the kernels that differ between one
 * and two rows), and nothing in the logs said why; this says which method, and why, when it happens again.
 * Listens to JFR's {@code jdk.Compilation}, {@code jdk.CompilationFailure} and {@code jdk.Deoptimization} events in
 * a stream (a daemon thread; the events of other code are dropped).
 */
public final class JitFailureLog {

    private static final Logger log = LoggerFactory.getLogger(JitFailureLog.class);
    private static final String OWN_CODE = "dev.tandem.";
    /** Failure messages kept until their compilation's end event names the method. */
    private static final int PENDING_FAILURES = 256;
    private static final AtomicBoolean STARTED = new AtomicBoolean();

    private JitFailureLog() {}

    /** Starts listening, once per JVM; false if it was already started or JFR is not available. */
    public static boolean start() {
        if (!STARTED.compareAndSet(false, true)) return false;
        try {
            RecordingStream stream = new RecordingStream();
            stream.enable("jdk.Compilation").withThreshold(Duration.ZERO);
            stream.enable("jdk.CompilationFailure");
            stream.enable("jdk.Deoptimization");
            Map<Integer, String> failures = new LinkedHashMap<>(16, 0.75f, false) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<Integer, String> eldest) {
                    return size() > PENDING_FAILURES;
                }
            };
            stream.onEvent("jdk.CompilationFailure", e -> failures.put(e.getInt("compileId"), e.getString("failureMessage")));
            stream.onEvent("jdk.Compilation", e -> {
                if (e.getBoolean("succeded")) return;
                String method = name(e.getValue("method"));
                String why = failures.remove(e.getInt("compileId"));
                if (method.startsWith(OWN_CODE)) {
                    log.warn("the JIT could not compile {} at tier {}: {}", method, e.getValue("compileLevel"), why == null ? "no reason given" : why);
                }
            });
            stream.onEvent("jdk.Deoptimization", e -> {
                String action = e.getString("action");
                String method = name(e.getValue("method"));
                if (action != null && action.contains("not_compilable") && method.startsWith(OWN_CODE)) {
                    log.warn("a deoptimization made {} not compilable ({} at line {}): it stays in slower code", method,
                            e.getString("reason"), e.getValue("lineNumber"));
                }
            });
            stream.setReuse(true);
            stream.startAsync();
            return true;
        } catch (RuntimeException | Error e) { // JFR left out of the runtime, or refused
            log.info("JIT failures are not logged: JFR is not available ({})", e.toString());
            return false;
        }
    }

    private static String name(Object method) {
        if (!(method instanceof RecordedMethod m)) return "";
        return m.getType().getName() + "." + m.getName();
    }
}
