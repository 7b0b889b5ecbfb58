package dev.tandem.protocol.transport;

import akka.dispatch.DispatcherPrerequisites;
import akka.dispatch.ExecutorServiceConfigurator;
import akka.dispatch.ExecutorServiceFactory;
import akka.dispatch.ThreadPoolExecutorConfigurator;
import com.typesafe.config.Config;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;

/**
 * A dispatcher executor (Akka's {@code executor = "<this class>"}, with a {@code thread-pool-executor} section) that
 * runs an actor's mailbox right on the direct transport's reader thread when the reader is what scheduled it with a
 * frame of at most {@code tandem.transport.direct.inline-max-frame-bytes}, and on its thread pool otherwise.
 *
 * <p>Why: a step message read by a reader thread was handed to the stage dispatcher's pool, whose thread then had to
 * wake up (a futex wake and, on an idle virtual CPU, the host scheduling it) before the forward pass could start; the
 * reader went straight back to blocking on its socket. Running the mailbox on the reader saves that wake-up on every
 * hop into a stage. Only for actors whose sends never wait on the peer that feeds them (stages: they write forward
 * along the route, and a coordinator's reader keeps draining what comes back), so a reader busy with a forward is
 * not part of a cycle of full socket buffers in a route; the writes' stall timeout ({@link DirectPeer}) bounds any
 * other wait. Large frames (a long prompt's activations) go to the pool: their forwards are long, and meanwhile the
 * reader keeps draining its socket. At most one level deep: a mailbox scheduled from inside an inline run goes to the
 * pool.
 */
public final class ReaderInlineExecutorConfigurator extends ExecutorServiceConfigurator {

  private final ExecutorServiceConfigurator pool;

  public ReaderInlineExecutorConfigurator(Config config, DispatcherPrerequisites prerequisites) {
    super(config, prerequisites);
    this.pool = new ThreadPoolExecutorConfigurator(config.getConfig("thread-pool-executor"), prerequisites);
  }

  @Override
  public ExecutorServiceFactory createExecutorServiceFactory(String id, ThreadFactory threadFactory) {
    ExecutorServiceFactory factory = pool.createExecutorServiceFactory(id, threadFactory);
    return () -> new InlineOnReader(factory.createExecutorService());
  }

  private static final class InlineOnReader extends AbstractExecutorService {
    private final ExecutorService pool;

    InlineOnReader(ExecutorService pool) {
      this.pool = pool;
    }

    @Override
    public void execute(Runnable task) {
      if (DirectListener.takeInlineTurn()) {
        task.run();
      } else {
        pool.execute(task);
      }
    }

    @Override public void shutdown() { pool.shutdown(); }
    @Override public List<Runnable> shutdownNow() { return pool.shutdownNow(); }
    @Override public boolean isShutdown() { return pool.isShutdown(); }
    @Override public boolean isTerminated() { return pool.isTerminated(); }
    @Override public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
      return pool.awaitTermination(timeout, unit);
    }
  }
}
