package dev.tandem.trainer.online;

import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.NoneProposer;
import dev.tandem.trainer.traffic.TrafficGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/** Manual: does an idle gap before a request slow its decoding? (-Dtandem.probe=true) */
@EnabledIfSystemProperty(named = "tandem.probe", matches = "true")
class GapProbe {
    @Test
    void gaps() throws Exception {
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2);
             LocalServing s = new LocalServing(m.model().weights(), m.tokenizer(), runner, NoneProposer.factory(),
                     dev.tandem.engine.spec.SpeculationOptions.fixed(0), new ConcurrentHashMap<>(), null, null, new ServingLoad())) {
            List<TrafficGenerator.Request> reqs = TrafficGenerator.builtIn(1).take("animals", 40);
            for (int i = 0; i < 40; i++) {
                long gap = (i / 5) % 2 == 0 ? 0 : 700;
                Thread.sleep(gap);
                RequestRecord r = RequestRecord.of("a", s.serve(reqs.subList(i, i + 1), 64).getFirst(), s.counts(0));
                System.out.printf("gap %d tpot %.2f ms latency %.1f ms%n", gap, r.tpotNanos() / 1e6, r.latencyNanos() / 1e6);
            }
        }
    }
}
