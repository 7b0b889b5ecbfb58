package dev.tandem.cluster.drafts;

import akka.dispatch.DispatcherPrerequisites;
import akka.dispatch.ExecutorServiceConfigurator;
import akka.dispatch.ExecutorServiceFactory;
import com.typesafe.config.Config;
import dev.tandem.engine.parallel.BackgroundScheduling;

import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;

/**
 * The executor of the {@code tandem.drafts.dispatcher}: a fixed pool ({@code thread-pool-executor.fixed-pool-size})
 * whose threads run in the OS's idle scheduling class ({@link BackgroundScheduling}), as the trainer's do. Publishing a
 * draft (writing its checkpoint, shipping it in chunks, receiving and persisting it on the other nodes) then takes
 * only CPU time that serving leaves: at normal priority it ran next to requests and set their p99 (`bench osd`).
 * Off Linux, or if refused, the threads keep the normal class.
 */
public final class IdleClassExecutor extends ExecutorServiceConfigurator {

    private final int threads;

    public IdleClassExecutor(Config config, DispatcherPrerequisites prerequisites) {
        super(config, prerequisites);
        this.threads = config.getInt("thread-pool-executor.fixed-pool-size");
        if (threads < 1) throw new IllegalArgumentException("thread-pool-executor.fixed-pool-size must be >= 1, got " + threads);
    }

    @Override
    public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
        ThreadFactory idle = task -> threadFactory.newThread(() -> {
            BackgroundScheduling.enterIdleClass();
            task.run();
        });
        return () -> Executors.newFixedThreadPool(threads, idle);
    }
}
