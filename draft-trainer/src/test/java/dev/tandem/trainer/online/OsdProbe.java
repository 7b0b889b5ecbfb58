package dev.tandem.trainer.online;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.bootstrap.DraftBootstrap;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.DraftRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;

/** A manual run of the online benchmark on stories15M (-Dtandem.probe=true; sizes by -Dtandem.probe.*). */
@EnabledIfSystemProperty(named = "tandem.probe", matches = "true")
class OsdProbe {

    @Test
    void bench() throws Exception {
        Path root = Path.of(System.getProperty("tandem.probe.dir", "/tmp/distill-probe"));
        int requests = Integer.getInteger("tandem.probe.requests", 80);
        int window = Integer.getInteger("tandem.probe.window", 20);
        long gap = Long.getLong("tandem.probe.gap", 700);
        TrainerSettings settings = TrainerSettings.defaults();
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            DraftRegistry registry = DraftRegistry.open(root.resolve("bootstrap"));
            DraftModel bootstrap = registry.live(DraftModel.GENERAL_CLASS).orElseGet(() -> DraftBootstrap.run(m.model().weights(), m.tokenizer(),
                    runner, settings, TrafficGenerator.builtIn(1), DraftModel.GENERAL_CLASS, 2, registry, System.out::println).draft());
            Path work = Files.createTempDirectory(root, "run");
            OsdBenchResult r = new OnlineDistillationBench(m.model().weights(), m.tokenizer(), runner, settings, System.out::println)
                    .run("stories15M", bootstrap, TrafficGenerator.builtIn(1),
                            new OnlineDistillationBench.Settings(requests, 64, Integer.getInteger("tandem.probe.burst", 1), gap, "animals", "space", window, Math.min(40, requests / 2), 4), work);
            System.out.println(r.toText());
            System.out.println(r.toJson());
        }
    }
}
