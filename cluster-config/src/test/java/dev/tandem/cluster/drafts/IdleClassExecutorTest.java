package dev.tandem.cluster.drafts;

import akka.actor.typed.ActorSystem;
import akka.actor.typed.DispatcherSelector;
import akka.actor.typed.javadsl.Behaviors;
import com.typesafe.config.ConfigFactory;
import dev.tandem.engine.parallel.BackgroundScheduling;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Work on the drafts dispatcher (as configured in reference.conf) runs in Linux's SCHED_IDLE class; the rest does not. */
class IdleClassExecutorTest {

    @Test
    @EnabledOnOs(OS.LINUX)
    void theDraftsDispatcherRunsInTheIdleClass() throws Exception {
        ActorSystem<Void> system = ActorSystem.create(Behaviors.empty(), "idle-class-executor-test",
                ConfigFactory.parseString("akka.actor.provider = local").withFallback(ConfigFactory.load()));
        try {
            CompletableFuture<Integer> drafts = new CompletableFuture<>();
            CompletableFuture<Integer> normal = new CompletableFuture<>();
            system.systemActorOf(Behaviors.setup(c -> {
                drafts.complete(BackgroundScheduling.currentPolicy());
                return Behaviors.empty();
            }), "on-drafts", DispatcherSelector.fromConfig(DraftsSettings.DISPATCHER));
            system.systemActorOf(Behaviors.setup(c -> {
                normal.complete(BackgroundScheduling.currentPolicy());
                return Behaviors.empty();
            }), "on-default", DispatcherSelector.defaultDispatcher());
            // An idle-class thread still gets a sliver of CPU on a busy machine.
            assertEquals(BackgroundScheduling.SCHED_IDLE, drafts.get(2, TimeUnit.MINUTES));
            assertEquals(0, normal.get(1, TimeUnit.MINUTES));
        } finally {
            system.terminate();
            system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
        }
    }
}
