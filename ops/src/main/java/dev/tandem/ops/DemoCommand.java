package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.drafts.DraftsSettings;
import dev.tandem.engine.model.FileTrees;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;
import dev.tandem.engine.draft.ReducedVocabulary;
import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import dev.tandem.trainer.traffic.TrafficGenerator;
import dev.tandem.trainer.version.AcceptanceMetrics;
import dev.tandem.trainer.version.DraftRegistry;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The main job: starts a local cluster (a coordinator and two workers, separate JVMs on loopback),
 * streams a few stories through gRPC with live statistics, then all of them at once, and stops the
 * cluster again, also on failure or Ctrl-C. Its last section serves one prompt family with the draft proposer while
 * the workers distill the draft in the gaps (a registry of its own under the demo directory).
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Serve a few stories from a local cluster, with live statistics.",
                "",
                "Starts a local cluster (1 coordinator + 2 worker JVMs on loopback), streams a few stories from the "
                        + "default model through gRPC with time to first token and tokens/s, then all of them at once "
                        + "(continuous batching), then the first story greedy with each speculative proposer (same text, "
                        + "fewer pipeline steps), then prompts of one family with the draft proposer while the workers distill "
                        + "the draft in the idle gaps (acceptance climbs as better versions are published; the draft starts "
                        + "from the bootstrap draft, or one cut from the target, in $TANDEM_HOME/demo/drafts), "
                        + "and stops the cluster, also on failure or Ctrl-C. Fetches the default "
                        + "model on first use. Node logs: $TANDEM_HOME/demo/logs/."})
public final class DemoCommand implements Callable<Integer> {

    private static final List<String> PROMPTS = List.of(
            "Once upon a time",
            "Lily and Ben went to the park",
            "The little robot wanted to fly");
    private static final int DEMO_WORKERS = 2;
    private static final String WARM_UP_PROMPT = "Tom had a red ball";
    private static final int WARM_UP_TOKENS = 32;
    /** How long the cluster may take to stop; node processes are killed after it. */
    private static final Duration STOP_GRACE = Duration.ofSeconds(20);

    /** Online distillation section: family-A requests per window (served one by one), their length, the idle gap after each. */
    private static final int DISTILL_REQUESTS_PER_WINDOW = 6;
    private static final int DISTILL_TOKENS = 48;
    private static final Duration DISTILL_GAP = Duration.ofSeconds(4);
    /** A training-free starting draft when no bootstrap exists: the target's first layer, head over its first ids. */
    private static final int CUT_DRAFT_LAYERS = 1;
    private static final int CUT_DRAFT_HEAD_TOKENS = 4096;
    private static final String PINNED_DRAFT_KEY = "tandem.coordinator.speculation.draft-checkpoint";

    @Option(names = "--max-tokens", defaultValue = "200", description = "New tokens per story. Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Option(names = "--distill-windows", defaultValue = "8",
            description = "Windows of family-A requests served while the workers distill the draft in the gaps (0 = skip). "
                    + "Default: ${DEFAULT-VALUE}.")
    int distillWindows;

    @Option(names = "--model", defaultValue = "default", paramLabel = "PATH|default",
            description = "The model: 'default' (stories15M) or a llama2.c .bin / GGUF path. Default: ${DEFAULT-VALUE}.")
    String model;

    @Mixin
    ClusterStartOptions start;

    @Override
    public Integer call() throws InterruptedException {
        if (maxTokens <= 0) throw CommandFailure.usage("--max-tokens must be positive, got " + maxTokens);
        if (distillWindows < 0) throw CommandFailure.usage("--distill-windows must be >= 0, got " + distillWindows);
        PrintStream out = System.out;
        // Fetch the model here, once, with a progress bar, rather than inside three node JVMs.
        if (model.equals("default")) ModelStore.ensureDefault(new CliProgress("model"));
        Path home = TandemHome.root().resolve("demo");
        Map<String, Object> coordinatorConfig = new LinkedHashMap<>(start.speculation.overrides());
        // A draft pinned with --draft has no registry: nothing could be distilled into it.
        boolean distill = distillWindows > 0 && !coordinatorConfig.containsKey(PINNED_DRAFT_KEY);
        if (distill) coordinatorConfig.put(DraftsSettings.DIR_KEY, seedDemoDrafts(out, home.resolve("drafts")).toString());
        LocalCluster cluster = new LocalCluster(home);
        AtomicBoolean stopped = new AtomicBoolean();
        Runnable stop = () -> {
            if (stopped.compareAndSet(false, true)) cluster.down(STOP_GRACE);
        };
        Thread hook = new Thread(stop, "tandem-demo-stop");
        Runtime.getRuntime().addShutdownHook(hook); // Ctrl-C: the node JVMs must not outlive the demo
        try {
            int grpcPort = FreePorts.pick(LocalCluster.HOST);
            out.printf("Tandem demo: starting a local cluster of %d JVMs (1 coordinator, %d workers) on loopback...%n",
                    DEMO_WORKERS + 1, DEMO_WORKERS);
            long t0 = System.nanoTime();
            LocalCluster.State state = cluster.up(start.applyTo(new LocalCluster.Spec(DEMO_WORKERS, grpcPort, model,
                    start.threadsPerWorker(), start.readyTimeout(), coordinatorConfig, start.security)));
            out.printf(Locale.ROOT, "cluster serving on %s after %.1f s; the layers are split over the workers%n%n",
                    state.grpc(), (System.nanoTime() - t0) / 1e9);
            streamStories(out, state, distill);
        } finally {
            out.println("stopping the cluster...");
            stop.run();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // Ctrl-C: the hook is running already
            }
        }
        return 0;
    }

    private void streamStories(PrintStream out, LocalCluster.State state, boolean distill) {
        try {
            streamStoriesFrom(out, state, distill);
        } catch (CompletionException e) {
            throw RemoteFailures.describe(e, state.grpcTarget());
        }
    }

    private void streamStoriesFrom(PrintStream out, LocalCluster.State state, boolean distill) {
        ActorSystem<Void> system = ClientSystem.create("tandem-demo");
        // With --client-tokens the demo's own client presents the file's first token.
        String token = start.security.clientTokensFile()
                .flatMap(f -> dev.tandem.coordinator.grpc.GatewaySettings.readTokenFile(f).stream().findFirst()).orElse(null);
        InferenceClient client = InferenceClient.create(ClientSystem.settings(system, state.grpcTarget(),
                state.clientSecurity(token)), system);
        try {
            // The node JVMs compile their hot paths on the first requests; keep that out of the statistics.
            RemoteStream.run(system, client, request(WARM_UP_PROMPT).toBuilder().setMaxTokens(WARM_UP_TOKENS).build(),
                    RemoteStream.Listener.NONE).toCompletableFuture().join();
            for (String prompt : PROMPTS) {
                out.print(prompt);
                RemoteStream.Result r = RemoteStream.run(system, client, request(prompt), text -> {
                    out.print(text);
                    out.flush();
                }).toCompletableFuture().join();
                out.println();
                out.printf(Locale.ROOT, "  [%d tokens, finished by %s; first token after %.0f ms, then %.1f tok/s through 2 pipeline stages]%n%n",
                        r.completionTokens(), Statistics.finishName(r.finishReason()), r.timeToFirstTokenMs(),
                        r.decodeTokensPerSecond());
            }
            out.printf("All %d stories at once (continuous batching shares each pipeline step):%n", PROMPTS.size());
            long start = System.nanoTime();
            List<CompletableFuture<RemoteStream.Result>> all = new ArrayList<>();
            for (String prompt : PROMPTS) {
                all.add(RemoteStream.run(system, client, request(prompt), RemoteStream.Listener.NONE).toCompletableFuture());
            }
            int tokens = 0;
            for (CompletableFuture<RemoteStream.Result> f : all) tokens += f.join().completionTokens();
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "  [%d tokens in %.2f s: %.1f tok/s aggregate]%n", tokens, seconds, tokens / seconds);
            speculation(out, system, client);
            if (distill) distillation(out, system, client);
        } finally {
            client.close();
            ClientSystem.terminate(system, Duration.ofSeconds(5));
        }
    }

    /**
     * The first story again, greedy, without and with each training-free proposer: the text is the same
     * (speculation is lossless), the pipeline steps fewer when drafts are accepted.
     */
    private void speculation(PrintStream out, ActorSystem<Void> system, InferenceClient client) {
        out.printf("%nSpeculative decoding (lossless): \"%s\" greedy, with each proposer:%n", PROMPTS.getFirst());
        String reference = null;
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (String proposer : SPECULATION_PROPOSERS) {
            String label = seen.add(proposer) ? proposer : proposer + " again";
            GenerateRequest call = request(PROMPTS.getFirst()).toBuilder().setTemperature(0).setSpeculate(proposer).build();
            RemoteStream.Result r = RemoteStream.run(system, client, call, RemoteStream.Listener.NONE).toCompletableFuture().join();
            if (reference == null) reference = r.text();
            var u = r.usage();
            double perStep = u.getSteps() == 0 ? 1 : (double) Math.max(0, u.getCompletionTokens() - 1) / u.getSteps();
            out.printf(Locale.ROOT, "  %-11s %3d tokens in %3d steps (%.2f per step), %3d/%-3d drafts accepted, %6.1f tok/s, same text: %s%n",
                    label, u.getCompletionTokens(), u.getSteps(), perStep, u.getAccepted(), u.getProposed(),
                    r.decodeTokensPerSecond(), r.text().equals(reference) ? "yes" : "NO");
        }
        out.println("  (the n-gram table learns from all traffic: once a story has been served, its next request is drafted");
        out.println("   from memory; auto picks the best proposer per sequence from what it observes)");
    }

    /**
     * A fresh registry for the demo's coordinator (the Tandem home's drafts stay untouched, and every demo starts from
     * the same draft), holding the general draft it starts from: the home's live general draft or
     * {@code drafts/default.draft} (what {@code tandem draft bootstrap} makes), else, on a machine without one, a
     * training-free draft cut from the target.
     */
    private Path seedDemoDrafts(PrintStream out, Path dir) {
        FileTrees.delete(dir);
        Path homeDrafts = TandemHome.root().resolve("drafts");
        Optional<DraftModel> bootstrap = Files.isDirectory(homeDrafts)
                ? DraftRegistry.open(homeDrafts).live(DraftModel.GENERAL_CLASS) : Optional.empty();
        String from;
        if (bootstrap.isPresent()) {
            from = "the bootstrap draft v" + bootstrap.get().version() + " under " + homeDrafts;
        } else if (Files.isRegularFile(DraftCheckpoint.defaultPath())) {
            bootstrap = Optional.of(DraftCheckpoint.read(DraftCheckpoint.defaultPath()));
            from = "the bootstrap draft " + DraftCheckpoint.defaultPath();
        } else {
            try (OpenedModel target = OpenedModel.open(model, null, new CliProgress("model"))) {
                bootstrap = Optional.of(DraftModel.fromTarget(target.model().weights(), CUT_DRAFT_LAYERS,
                        ReducedVocabulary.firstTokens(CUT_DRAFT_HEAD_TOKENS, target.config().vocabSize())));
            }
            from = "a training-free draft cut from the target (no bootstrap draft yet: `tandem draft bootstrap` makes one)";
        }
        DraftModel draft = bootstrap.get();
        DraftRegistry.open(dir).adopt(DraftModel.GENERAL_CLASS, draft.withVersion(Math.max(1, draft.version()), DraftModel.GENERAL_CLASS),
                AcceptanceMetrics.NONE, AcceptanceMetrics.NONE, System.currentTimeMillis(), "demo start");
        out.println("The draft model starts from " + from + ".");
        return dir;
    }

    /**
     * Online distillation: windows of family-A prompts served with the {@code draft} proposer while the workers record
     * verification and, in the idle gaps, distill the class's draft and publish better versions, which reach the
     * coordinator between windows.
     */
    private void distillation(PrintStream out, ActorSystem<Void> system, InferenceClient client) {
        out.printf(Locale.ROOT, "%nOnline distillation: %d windows of %d '%s' prompts with the draft proposer; the workers train in the %d s gaps:%n",
                distillWindows, DISTILL_REQUESTS_PER_WINDOW, TrafficGenerator.ANIMALS, DISTILL_GAP.toSeconds());
        out.printf("  %-6s %10s %9s %8s  %s%n", "window", "acceptance", "tok/step", "tok/s", "draft served");
        TrafficGenerator traffic = TrafficGenerator.builtIn(TrafficOptions.SEED);
        for (int w = 0; w < distillWindows; w++) {
            long t0 = System.nanoTime();
            long accepted = 0;
            long rejected = 0;
            long tokens = 0;
            long steps = 0;
            java.util.Set<String> proposers = new java.util.TreeSet<>();
            // One after the other: the draft-length controller backs off as batches grow, and one at a time it drafts.
            for (TrafficGenerator.Request r : traffic.take(TrafficGenerator.ANIMALS, DISTILL_REQUESTS_PER_WINDOW)) {
                GenerateRequest call = GenerateRequest.newBuilder().setModel("default").setPrompt(r.prompt()).setMaxTokens(DISTILL_TOKENS)
                        .setTemperature(0).setSpeculate("draft").setTrafficClass(r.trafficClass()).build();
                var u = RemoteStream.run(system, client, call, RemoteStream.Listener.NONE).toCompletableFuture().join().usage();
                accepted += u.getAccepted();
                rejected += u.getRejected();
                tokens += Math.max(0, u.getCompletionTokens() - 1); // the first token comes from the prompt's step
                steps += u.getSteps();
                proposers.add(u.getProposer());
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            // Per draft token tried (up to each step's first rejection), whatever the number of drafts per step.
            out.printf(Locale.ROOT, "  %-6d %10.3f %9.2f %8.1f  %s%n", w + 1, accepted + rejected == 0 ? 0.0 : (double) accepted / (accepted + rejected),
                    steps == 0 ? 1.0 : (double) tokens / steps, (tokens + DISTILL_REQUESTS_PER_WINDOW) / seconds, String.join(", ", proposers));
            out.flush();
            if (w + 1 < distillWindows) sleep(DISTILL_GAP);
        }
        out.println("  (acceptance: accepted draft tokens per draft token tried; draft:<class>@<version> names the version that served,");
        out.println("   a new one each time a worker's trainer published a better draft for the class)");
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private static final List<String> SPECULATION_PROPOSERS = List.of("none", "layerskip", "ngram", "ngram", "auto");

    private GenerateRequest request(String prompt) {
        return GenerateRequest.newBuilder().setModel("default").setPrompt(prompt).setMaxTokens(maxTokens).build();
    }
}
