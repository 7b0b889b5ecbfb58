package dev.tandem.coordinator.placement;

import dev.tandem.coordinator.api.AdminException;
import dev.tandem.worker.ModelFootprint;
import dev.tandem.worker.WorkerNode;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pure rules of plan changes, on a 6-layer model whose layers weigh 10 bytes (embedding and head 5). */
class PlanChangesTest {

    private static final ModelFootprint FOOTPRINT = new ModelFootprint(10, 5, 5, 1);
    private static final PlacementManager.ModelShape SHAPE = new PlacementManager.ModelShape(6, FOOTPRINT, 0);
    private static final List<Balancer.Assignment> THREE_THREE = List.of(
            new Balancer.Assignment("a", 0, 3), new Balancer.Assignment("b", 3, 6));

    private static PlanChanges.WorkerView worker(String address, long free, int... spans) {
        Map<String, List<ModelFootprint.Span>> held = new HashMap<>();
        for (int i = 0; i < spans.length; i += 2) {
            held.computeIfAbsent("m", k -> new java.util.ArrayList<>()).add(new ModelFootprint.Span(spans[i], spans[i + 1]));
        }
        return new PlanChanges.WorkerView(address, free, 1.0, held);
    }

    @Test
    void aMoveSplitsAndMergesStagesAroundTheRange() {
        assertEquals(List.of(new Balancer.Assignment("a", 0, 2), new Balancer.Assignment("c", 2, 4),
                        new Balancer.Assignment("b", 4, 6)),
                PlanChanges.move(THREE_THREE, 6, 2, 4, "c"));
        assertEquals(List.of(new Balancer.Assignment("a", 0, 3), new Balancer.Assignment("c", 3, 6)),
                PlanChanges.move(THREE_THREE, 6, 3, 6, "c"));
        assertEquals(AdminException.Code.INVALID_ARGUMENT,
                assertThrows(AdminException.class, () -> PlanChanges.move(THREE_THREE, 6, 4, 9, "c")).code());
        assertEquals(AdminException.Code.FAILED_PRECONDITION,
                assertThrows(AdminException.class, () -> PlanChanges.move(THREE_THREE, 6, 3, 6, "b")).code());
    }

    @Test
    void theMemoryCheckCountsOverlappingRangesOnceAndRefusesWhatDoesNotFit() {
        List<PlanChanges.WorkerView> workers = List.of(worker("a", 0, 0, 3), worker("b", 0, 3, 6), worker("c", 40));
        // [0,2) on a is inside what a holds: free; [2,4) on c needs 20 bytes.
        PlanChanges.checkMemory(Map.of("m", SHAPE), Map.of("m", PlanChanges.move(THREE_THREE, 6, 2, 4, "c")), workers);
        AdminException e = assertThrows(AdminException.class, () -> PlanChanges.checkMemory(Map.of("m", SHAPE),
                Map.of("m", PlanChanges.move(THREE_THREE, 6, 0, 6, "c")), workers));
        assertTrue(e.getMessage().contains("not enough memory on c"), e.getMessage());
    }

    @Test
    void drainingAndFailoverPreferAnIdleStandbyAndRefuseWithoutRoom() {
        List<PlanChanges.WorkerView> workers = List.of(worker("a", 100, 0, 3), worker("b", 0, 3, 6), worker("c", 40));
        assertEquals(List.of(new Balancer.Assignment("a", 0, 3), new Balancer.Assignment("c", 3, 6)),
                PlanChanges.replace("m", SHAPE, THREE_THREE, Set.of("b"), workers, new HashMap<>()));
        List<PlanChanges.WorkerView> tight = List.of(worker("a", 0, 0, 3), worker("b", 0, 3, 6));
        assertEquals(AdminException.Code.FAILED_PRECONDITION, assertThrows(AdminException.class,
                () -> PlanChanges.replace("m", SHAPE, THREE_THREE, Set.of("b"), tight, new HashMap<>())).code());
    }

    @Test
    void theAutomaticRuleMovesOnlyForAGainAboveTheThreshold() {
        List<PlanChanges.WorkerView> three = List.of(worker("a", 100, 0, 3), worker("b", 100, 3, 6), worker("c", 100));
        PlanChanges.Proposal p = PlanChanges.propose("m", SHAPE, THREE_THREE, three, 0.2);
        assertEquals(0.5, p.gain(), 1e-9);
        assertTrue(p.apply());
        assertEquals(List.of(new Balancer.Assignment("a", 0, 2), new Balancer.Assignment("b", 2, 4),
                new Balancer.Assignment("c", 4, 6)), p.stages());
        assertFalse(PlanChanges.propose("m", SHAPE, THREE_THREE, three, 0.6).apply());
        assertFalse(PlanChanges.propose("m", SHAPE, THREE_THREE, List.of(worker("a", 100, 0, 3), worker("b", 100, 3, 6)), 0).apply());
    }

    @Test
    void theHeadCountsAsWorkOfTheLastStage() {
        PlacementManager.ModelShape heavyHead = new PlacementManager.ModelShape(6, FOOTPRINT, 9.26);
        Map<String, Double> speeds = Map.of("a", 1.0, "b", 1.0);
        assertEquals(3 + 9.26, PlanChanges.bottleneck(THREE_THREE, speeds, heavyHead), 1e-9);
        assertEquals(3, PlanChanges.bottleneck(THREE_THREE, speeds, SHAPE), 1e-9);
        List<PlanChanges.WorkerView> two = List.of(worker("a", 100, 0, 3), worker("b", 100, 3, 6));
        PlanChanges.Proposal p = PlanChanges.propose("m", heavyHead, THREE_THREE, two, 0.1);
        assertEquals(List.of(new Balancer.Assignment("a", 0, 5), new Balancer.Assignment("b", 5, 6)), p.stages());
        assertEquals((3 + 9.26) / (1 + 9.26) - 1, p.gain(), 1e-9);
        assertTrue(p.apply());
    }

    @Test
    void recoveryChainsTheNewestStagesThatCoverTheModel() {
        var old = new PlanChanges.HeldStage("b", new WorkerNode.HeldRange("m", 3, 6, null, 2));
        var first = new PlanChanges.HeldStage("a", new WorkerNode.HeldRange("m", 0, 3, null, 3));
        var moved = new PlanChanges.HeldStage("c", new WorkerNode.HeldRange("m", 3, 6, null, 3));
        assertEquals(List.of(first, moved), PlanChanges.recover(6, List.of(old, first, moved)).orElseThrow());
        assertTrue(PlanChanges.recover(6, List.of(first)).isEmpty());
    }
}
