package dev.tandem.coordinator;

import java.time.Duration;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.fail;

/** Waiting in tests for a condition the code under test makes true, with a deadline (never a fixed sleep). */
public final class Await {

    private static final long POLL_MILLIS = 50;

    private Await() {}

    /** Returns once {@code condition} holds; fails the test, naming {@code what}, after {@code timeout}. */
    public static void until(String what, BooleanSupplier condition, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) fail("timed out waiting until " + what);
            Thread.sleep(POLL_MILLIS);
        }
    }
}
