package dev.tandem.trainer.bootstrap;

import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.ProgressListener;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.DraftRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

import java.nio.file.Files;
import java.nio.file.Path;

/** A manual measurement on stories15M (-Dtandem.probe=true -Dtandem.probe.minutes=M). */
@EnabledIfSystemProperty(named = "tandem.probe", matches = "true")
class BootstrapProbe {

    @Test
    void bootstrap() throws Exception {
        double minutes = Double.parseDouble(System.getProperty("tandem.probe.minutes", "1"));
        Path root = Files.createTempDirectory("drafts");
        try (OpenedModel m = OpenedModel.open("default", null, ProgressListener.NONE); ParallelRunner runner = new ParallelRunner(2)) {
            DraftBootstrap.Result r = DraftBootstrap.run(m.model().weights(), m.tokenizer(), runner, TrainerSettings.defaults(),
                    TrafficGenerator.builtIn(1), "general", minutes, DraftRegistry.open(root), System.out::println);
            System.out.println(r);
        }
    }
}
