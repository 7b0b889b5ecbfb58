package dev.tandem.engine.parallel;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Moves the calling thread into Linux's {@code SCHED_IDLE} class: it then runs only on CPU time that no other
 * thread of the machine wants, and the kernel takes the core back the moment one does. Background work on a
 * serving node (distilling drafts, warming kernels up) runs there, so a request that arrives in the middle of a
 * training step gets the cores at once rather than at the step's next checkpoint, and a busy node simply gives
 * the background no time. Java's thread priorities cannot do this: Linux ignores them by default.
 *
 * <p>Off Linux, or when the call is refused, the thread keeps its class; that is logged once per JVM.
 */
public final class BackgroundScheduling {

    private static final Logger LOG = LoggerFactory.getLogger(BackgroundScheduling.class);
    /** The policy number of SCHED_IDLE in Linux's uapi (the same on every architecture). */
    public static final int SCHED_IDLE = 5;
    /** The policy number of the normal class, SCHED_OTHER. */
    public static final int SCHED_OTHER = 0;
    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final long ERRNO_OFFSET = CALL_STATE.byteOffset(MemoryLayout.PathElement.groupElement("errno"));
    private static final Optional<MethodHandle> SCHED_SETSCHEDULER = bind();
    private static final AtomicBoolean REFUSAL_LOGGED = new AtomicBoolean();

    private BackgroundScheduling() {}

    /** Puts the calling thread in SCHED_IDLE; returns whether it is there (false off Linux or when refused, logged once). */
    public static boolean enterIdleClass() {
        return setPolicy(SCHED_IDLE, "SCHED_IDLE");
    }

    /**
     * Puts the calling thread back in the normal class (work that must finish even on a busy machine, after a grace
     * period in the idle class); returns whether the call succeeded.
     */
    public static boolean leaveIdleClass() {
        return setPolicy(SCHED_OTHER, "SCHED_OTHER");
    }

    private static boolean setPolicy(int policy, String name) {
        if (SCHED_SETSCHEDULER.isEmpty()) {
            refused("sched_setscheduler is not available (" + System.getProperty("os.name") + ")");
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment param = arena.allocate(ValueLayout.JAVA_INT); // struct sched_param { int sched_priority = 0; }
            // pid 0 is the calling thread: Linux schedules threads, and the policy is per thread.
            int rc = (int) SCHED_SETSCHEDULER.get().invokeExact(state, 0, policy, param);
            if (rc != 0) {
                refused("sched_setscheduler(" + name + ") failed with errno " + state.get(ValueLayout.JAVA_INT, ERRNO_OFFSET));
                return false;
            }
            return true;
        } catch (Throwable t) {
            refused("sched_setscheduler could not be called: " + t);
            return false;
        }
    }

    /**
     * The calling thread's scheduling policy (0 for the normal class, {@link #SCHED_IDLE}) as Linux reports it in
     * {@code /proc/thread-self/sched}; -1 where that cannot be read (off Linux). For diagnostics and tests.
     */
    public static int currentPolicy() {
        try {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/thread-self/sched"))) {
                if (line.startsWith("policy")) return Integer.parseInt(line.substring(line.indexOf(':') + 1).trim());
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    private static void refused(String why) {
        if (REFUSAL_LOGGED.compareAndSet(false, true)) {
            LOG.warn("background work (draft training, kernel warm-up) keeps the normal CPU scheduling class: {}", why);
        }
    }

    private static Optional<MethodHandle> bind() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) return Optional.empty();
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("sched_setscheduler").map(address -> linker.downcallHandle(address,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS),
                    Linker.Option.captureCallState("errno")));
        } catch (RuntimeException e) { // e.g. native access not enabled
            return Optional.empty();
        }
    }
}
