package dev.tandem.ops;

import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.bootstrap.DraftBootstrap;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.DraftRegistry;
import dev.tandem.trainer.version.DraftVersion;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

@Command(name = "bootstrap", mixinStandardHelpOptions = true,
        description = {"Distills an initial draft offline from the target's own samples: generates with the target on",
                "traffic-generator prompts (recording its top-k logits), cuts a draft from the target, trains it, evaluates",
                "acceptance on held-out samples and saves it under $TANDEM_HOME/drafts/<class>/ (published only if better",
                "than the live one). A general draft is also copied to $TANDEM_HOME/drafts/default.draft (--speculate draft)."})
public final class DraftBootstrapCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    TrafficOptions traffic;

    @Option(names = "--minutes", paramLabel = "M", description = "Time budget (generation and training). Default: tandem.trainer.bootstrap.minutes.")
    Double minutes;

    @Option(names = "--class", paramLabel = "C", defaultValue = DraftModel.GENERAL_CLASS,
            description = "Traffic class: 'general' (generic prompts) or a prompt family. Default: ${DEFAULT-VALUE}.")
    String trafficClass;

    @Option(names = "--threads", description = "Threads for the target's kernels (default: all cores).")
    Integer threads;

    @Override
    public Integer call() {
        TrainerSettings settings = TrainerSettings.defaults();
        double m = minutes == null ? settings.bootstrapMinutes() : minutes;
        if (!(m > 0) || m > 24 * 60) throw CommandFailure.usage("--minutes must be in (0, 1440], got " + m);
        TrafficGenerator generator = traffic.generator();
        if (!trafficClass.equals(DraftModel.GENERAL_CLASS) && !generator.familyNames().contains(trafficClass)) {
            throw CommandFailure.usage("--class " + trafficClass + ": no such prompt family (have " + generator.familyNames() + ")");
        }
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : Threads.validate(threads);
        DraftRegistry registry = DraftRegistry.open(TandemHome.root().resolve("drafts"));
        try (OpenedModel opened = model.open(); ParallelRunner runner = new ParallelRunner(n)) {
            System.err.printf(Locale.ROOT, "tandem: bootstrapping a %s draft for %s in %.1f minutes...%n", trafficClass, opened.name(), m);
            DraftBootstrap.Result r = DraftBootstrap.run(opened.model().weights(), opened.tokenizer(), runner, settings, generator, trafficClass,
                    m, registry, line -> System.err.println("tandem: " + line));
            System.out.printf(Locale.ROOT, "acceptance before: greedy %.3f, accepted per step (k=4) %.3f%n", r.before().greedyAcceptance(),
                    r.before().expectedAccepted());
            System.out.printf(Locale.ROOT, "acceptance after:  greedy %.3f, accepted per step (k=4) %.3f (%d steps, %d held-out positions)%n",
                    r.after().greedyAcceptance(), r.after().expectedAccepted(), r.steps(), r.after().positions());
            DraftVersion e = r.entry();
            if (e.status() == DraftVersion.Status.LIVE) {
                System.out.printf("saved %s v%d to %s%n", trafficClass, e.version(),
                        registry.root().resolve(trafficClass).resolve(DraftVersion.fileName(e.version())));
                if (trafficClass.equals(DraftModel.GENERAL_CLASS)) DraftCheckpoint.write(DraftCheckpoint.defaultPath(), r.draft());
            } else {
                System.out.printf("not published: the live %s draft does better (v%d recorded as %s)%n", trafficClass, e.version(),
                        e.status().name().toLowerCase(Locale.ROOT));
            }
        }
        return 0;
    }
}
