package dev.tandem.coordinator.placement;

import dev.tandem.coordinator.placement.Balancer.Assignment;
import dev.tandem.coordinator.placement.Balancer.WorkerCapacity;
import dev.tandem.worker.ModelFootprint;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BalancerTest {

    private static final long GIB = 1L << 30;
    /** 10 bytes per layer, 4 for the embedding, 6 for the head, no KV accounting needed here. */
    private static final ModelFootprint SMALL = new ModelFootprint(10, 4, 6, 0);

    @Test
    void twoEqualWorkersSplitSixLayersInHalves() {
        List<Assignment> plan = Balancer.plan(6, SMALL, 0, List.of(new WorkerCapacity("a", GIB, 5.0),
                new WorkerCapacity("b", GIB, 5.0)));
        assertEquals(List.of(new Assignment("a", 0, 3), new Assignment("b", 3, 6)), plan);
    }

    @Test
    void fasterWorkerGetsMoreLayers() {
        List<Assignment> plan = Balancer.plan(6, SMALL, 0, List.of(new WorkerCapacity("slow", GIB, 1.0),
                new WorkerCapacity("fast", GIB, 2.0)));
        assertEquals(List.of(new Assignment("slow", 0, 2), new Assignment("fast", 2, 6)), plan);
    }

    @Test
    void memoryCapsAreRespectedAndTheRestGoesElsewhere() {
        // "a" is much faster but holds only its embedding plus one layer.
        List<Assignment> plan = Balancer.plan(6, SMALL, 0, List.of(new WorkerCapacity("a", 4 + 10 + 9, 100.0),
                new WorkerCapacity("b", GIB, 1.0)));
        assertEquals(List.of(new Assignment("a", 0, 1), new Assignment("b", 1, 6)), plan);
    }

    @Test
    void headAndEmbeddingCountOnTheEndStages() {
        // Each worker holds 3 layers of its own, but not when it also carries the head / embedding beyond that.
        long perWorker = 3 * 10 + 6;
        List<Assignment> plan = Balancer.plan(6, SMALL, 0, List.of(new WorkerCapacity("a", perWorker, 1.0),
                new WorkerCapacity("b", perWorker, 1.0)));
        assertEquals(List.of(new Assignment("a", 0, 3), new Assignment("b", 3, 6)), plan);
        assertThrows(IllegalArgumentException.class, () -> Balancer.plan(6, SMALL, 0, List.of(
                new WorkerCapacity("a", perWorker - 3, 1.0), new WorkerCapacity("b", perWorker - 7, 1.0))));
    }

    @Test
    void rangesAreContiguousAndCoverEveryLayer() {
        List<WorkerCapacity> workers = List.of(new WorkerCapacity("a", GIB, 3.0), new WorkerCapacity("b", GIB, 0.1),
                new WorkerCapacity("c", 60, 7.0), new WorkerCapacity("d", GIB, 2.5));
        List<Assignment> plan = Balancer.plan(13, SMALL, 0, workers);
        int next = 0;
        for (Assignment a : plan) {
            assertEquals(next, a.fromLayer());
            assertTrue(a.layers() > 0);
            next = a.toLayer();
        }
        assertEquals(13, next);
        assertTrue(plan.stream().filter(a -> a.workerId().equals("c")).allMatch(a -> a.layers() <= 6));
    }

    @Test
    void workersWithoutSpeedShareEqually() {
        List<Assignment> plan = Balancer.plan(4, SMALL, 0, List.of(new WorkerCapacity("a", GIB, 0),
                new WorkerCapacity("b", GIB, 0)));
        assertEquals(List.of(new Assignment("a", 0, 2), new Assignment("b", 2, 4)), plan);
    }

    @Test
    void theLastWorkerCarriesTheHeadAsWorkAndGetsFewerLayers() {
        // stories15M's head weighs 9.3 layers: the last stage keeps one layer (the head comes after it).
        assertEquals(List.of(new Assignment("a", 0, 5), new Assignment("b", 5, 6)), Balancer.plan(6, SMALL, 9.26,
                List.of(new WorkerCapacity("a", GIB, 5.0), new WorkerCapacity("b", GIB, 5.0))));
        // A head of two layers: 4 + (2 + 2).
        assertEquals(List.of(new Assignment("a", 0, 4), new Assignment("b", 4, 6)), Balancer.plan(6, SMALL, 2,
                List.of(new WorkerCapacity("a", GIB, 5.0), new WorkerCapacity("b", GIB, 5.0))));
        // Three workers, a head of three layers: the last keeps its one layer, the others share five (ties to the earlier).
        assertEquals(List.of(new Assignment("a", 0, 3), new Assignment("b", 3, 5), new Assignment("c", 5, 6)),
                Balancer.plan(6, SMALL, 3, List.of(new WorkerCapacity("a", GIB, 1.0), new WorkerCapacity("b", GIB, 1.0),
                        new WorkerCapacity("c", GIB, 1.0))));
        // A faster last worker takes more despite the head: work 8 over speeds 1 and 3 is 2 and 6, minus 2 for the head.
        assertEquals(List.of(new Assignment("a", 0, 2), new Assignment("b", 2, 6)), Balancer.plan(6, SMALL, 2,
                List.of(new WorkerCapacity("a", GIB, 1.0), new WorkerCapacity("b", GIB, 3.0))));
    }

    @Test
    void theHeadsCostDoesNotOverrideMemory() {
        // "a" holds its embedding and two layers only: the rest goes to the last worker, head or not.
        assertEquals(List.of(new Assignment("a", 0, 2), new Assignment("b", 2, 6)), Balancer.plan(6, SMALL, 9.26,
                List.of(new WorkerCapacity("a", 4 + 2 * 10 + 9, 1.0), new WorkerCapacity("b", GIB, 1.0))));
        // A last worker with room for the head but no layer gets none; the head then runs on "a"'s last layer.
        assertEquals(List.of(new Assignment("a", 0, 6)), Balancer.plan(6, SMALL, 9.26,
                List.of(new WorkerCapacity("a", GIB, 1.0), new WorkerCapacity("b", 6 + 9, 1.0))));
    }

    @Test
    void aHeadCostThatIsNotANumberAtLeastZeroIsRefused() {
        List<WorkerCapacity> workers = List.of(new WorkerCapacity("a", GIB, 1.0));
        assertThrows(IllegalArgumentException.class, () -> Balancer.plan(6, SMALL, -1, workers));
        assertThrows(IllegalArgumentException.class, () -> Balancer.plan(6, SMALL, Double.NaN, workers));
        assertThrows(IllegalArgumentException.class, () -> Balancer.plan(6, SMALL, Double.POSITIVE_INFINITY, workers));
    }

    @Test
    void noWorkersIsAnError() {
        assertThrows(IllegalArgumentException.class, () -> Balancer.plan(6, SMALL, 0, List.of()));
    }
}
