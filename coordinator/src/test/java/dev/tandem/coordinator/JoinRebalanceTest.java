package dev.tandem.coordinator;

import akka.actor.typed.ActorSystem;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.tandem.coordinator.TestCluster.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A worker joining a running cluster receives layers by the automatic rule: two equal workers run 3+3; a
 * third equal one makes 2+2+2 possible, 50% more throughput of the slowest stage, above the 20% threshold.
 */
class JoinRebalanceTest {

    @Test
    void aJoiningWorkerGetsAShareWhenTheGainIsAboveTheThreshold() throws Exception {
        try (TestCluster cluster = new TestCluster("""
                tandem.coordinator.min-workers = 2
                tandem.coordinator.rebalance.on-join = on
                tandem.coordinator.rebalance.min-gain = 0.2
                """)) {
            long room = cluster.budgetForLayers(6);
            cluster.addWorker(room, "");
            cluster.addWorker(room, "");
            cluster.awaitReady();
            assertEquals(2, cluster.plan().stages().size());
            ActorSystem<Void> third = cluster.addWorker(room, "");
            TestCluster.await("the third worker runs layers", () -> {
                try {
                    return cluster.plan().stages().size() == 3;
                } catch (Exception e) {
                    return false;
                }
            });
            List<String> ranges = cluster.planRanges();
            assertEquals(List.of("0-2", "2-4", "4-6"), ranges.stream().map(r -> r.substring(0, r.indexOf('@'))).toList());
            assertTrue(ranges.getLast().endsWith(TestCluster.address(third)), ranges.toString());
            String prompt = "Once upon a time, a little fox";
            assertEquals(cluster.soloText(prompt, 40), TestCluster.text(get(cluster.generate(prompt, 40))));
        }
    }
}
