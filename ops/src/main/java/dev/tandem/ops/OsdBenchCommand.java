package dev.tandem.ops;

import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.model.FileTrees;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.trainer.TrainerSettings;
import dev.tandem.trainer.bootstrap.DraftBootstrap;
import dev.tandem.trainer.online.OnlineDistillationBench;
import dev.tandem.trainer.online.OsdBenchResult;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.DraftRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "osd", mixinStandardHelpOptions = true,
        description = {"Online speculative decoding: serves requests of family A then family B with idle gaps while the trainer",
                "distills per-class drafts in the gaps and publishes better ones; reports per window acceptance, tokens per step",
                "and time per output token, against no speculation and the frozen bootstrap draft in the same run, and p99",
                "latency with the trainer on and off at equal load.",
                "--mode cluster (default) serves through gRPC by an embedded cluster (coordinator and two workers, online",
                "distillation on: the worker with the last stage records and trains, drafts travel to the coordinator over",
                "Artery) and the references by a second one with the trainer off; --mode local serves in this process.",
                "The bootstrap draft is the general one under $TANDEM_HOME/drafts (made first if missing)."})
public final class OsdBenchCommand implements Callable<Integer> {

    @Mixin
    ModelOptions model;

    @Mixin
    TrafficOptions traffic;

    @Option(names = "--json", description = "Print one JSON object on stdout instead of a table.")
    boolean json;

    @Option(names = "--mode", defaultValue = "cluster",
            description = "cluster (embedded clusters through gRPC) or local (in this process). Default: ${DEFAULT-VALUE}.")
    String mode;

    @Option(names = "--requests", defaultValue = "300", description = "Requests in the stream (half A, half B). Default: ${DEFAULT-VALUE}.")
    int requests;

    @Option(names = "--tokens", defaultValue = "64", description = "Max new tokens per request. Default: ${DEFAULT-VALUE}.")
    int tokens;

    @Option(names = "--burst", defaultValue = "1", description = "Requests arriving together (served batched). Default: ${DEFAULT-VALUE}.")
    int burst;

    @Option(names = "--gap-ms", defaultValue = "700", description = "Idle time after each burst. Default: ${DEFAULT-VALUE}.")
    long gapMillis;

    @Option(names = "--window", defaultValue = "50", description = "Requests per reported window. Default: ${DEFAULT-VALUE}.")
    int window;

    @Option(names = "--family-a", defaultValue = TrafficGenerator.ANIMALS, description = "First family. Default: ${DEFAULT-VALUE}.")
    String familyA;

    @Option(names = "--family-b", defaultValue = TrafficGenerator.SPACE, description = "Family after the shift. Default: ${DEFAULT-VALUE}.")
    String familyB;

    @Option(names = "--interference-requests", defaultValue = "200",
            description = "Prefix served with the trainer on and off (p99 latency; local: frozen draft, cluster: no speculation). "
                    + "Default: ${DEFAULT-VALUE}.")
    int interference;

    @Option(names = "--draft-length", defaultValue = "0",
            description = "Drafts per step; 0 lets the engine choose per step from measured costs, as a coordinator "
                    + "does by default. Default: ${DEFAULT-VALUE}.")
    int draftLength;

    @Option(names = "--bootstrap-minutes", defaultValue = "2",
            description = "Budget of the bootstrap when no general draft exists yet. Default: ${DEFAULT-VALUE}.")
    double bootstrapMinutes;

    @Option(names = "--threads", description = "Threads for the kernels (default: all cores).")
    Integer threads;

    @Option(names = "--keep-drafts", description = "Keep the drafts the run trained (a temporary directory, named on "
            + "stderr; hundreds of MB). Default: deleted at the end.")
    boolean keepDrafts;

    @Override
    public Integer call() {
        if (requests < 2 || tokens < 1 || burst < 1 || gapMillis < 0 || window < 1 || interference < 0 || draftLength < 0) {
            throw CommandFailure.usage("--requests >= 2, --tokens, --burst, --window >= 1, --gap-ms, --interference-requests >= 0");
        }
        if (!mode.equals("local") && !mode.equals("cluster")) throw CommandFailure.usage("--mode is local or cluster, got '" + mode + "'");
        TrafficGenerator generator = traffic.generator();
        for (String f : new String[]{familyA, familyB}) {
            if (!generator.familyNames().contains(f)) throw CommandFailure.usage("no prompt family '" + f + "' (have " + generator.familyNames() + ")");
        }
        int n = threads == null ? Runtime.getRuntime().availableProcessors() : Threads.validate(threads);
        TrainerSettings settings = TrainerSettings.defaults();
        DraftRegistry home = DraftRegistry.open(TandemHome.root().resolve("drafts"));
        try (OpenedModel opened = model.open(); ParallelRunner runner = new ParallelRunner(n)) {
            DraftModel bootstrap = home.live(DraftModel.GENERAL_CLASS).orElse(null);
            if (bootstrap == null) {
                System.err.printf("tandem: no general draft under %s yet; bootstrapping one (%.1f minutes)...%n", home.root(), bootstrapMinutes);
                bootstrap = DraftBootstrap.run(opened.model().weights(), opened.tokenizer(), runner, settings, TrafficGenerator.builtIn(TrafficOptions.SEED),
                        DraftModel.GENERAL_CLASS, bootstrapMinutes, home, line -> System.err.println("tandem: " + line)).draft();
            }
            Path work;
            try {
                work = Files.createTempDirectory("tandem-osd");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            OtherTandemProcesses.warning().ifPresent(w -> System.err.println("tandem: " + w));
            System.err.printf("tandem: bench osd on %s with %d threads, bootstrap draft v%d; drafts of this run under %s%s%n", opened.name(), n,
                    bootstrap.version(), work, keepDrafts ? "" : " (deleted at the end)");
            try {
                return run(opened, runner, settings, bootstrap, generator, work);
            } finally {
                if (!keepDrafts && !FileTrees.deleteQuietly(work)) System.err.println("tandem: could not delete all of " + work);
            }
        }
    }

    private int run(OpenedModel opened, ParallelRunner runner, TrainerSettings settings, DraftModel bootstrap, TrafficGenerator generator,
                    Path work) {
        OnlineDistillationBench.Settings benchSettings = new OnlineDistillationBench.Settings(requests, tokens, burst, gapMillis, familyA,
                familyB, window, interference, draftLength);
        OsdBenchResult r;
        if (mode.equals("cluster")) {
            try {
                r = ClusterOsdBench.run(model.model, opened.name(), bootstrap, generator, benchSettings, work,
                        line -> System.err.println("tandem: " + line));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            } catch (Exception e) {
                throw e instanceof RuntimeException re ? re : new IllegalStateException(e.getMessage(), e);
            }
        } else {
            r = new OnlineDistillationBench(opened.model().weights(), opened.tokenizer(), runner, settings,
                    line -> System.err.println("tandem: " + line)).run(opened.name(), bootstrap, generator, benchSettings, work);
        }
        System.out.print(json ? r.toJson() + "\n" : r.toText());
        return 0;
    }
}
