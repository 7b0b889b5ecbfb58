package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.engine.model.ModelStore;
import dev.tandem.engine.model.TandemHome;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The main job: starts a local cluster (a coordinator and two workers, separate JVMs on loopback),
 * streams a few stories through gRPC with live statistics, then all of them at once, and stops the
 * cluster again, also on failure or Ctrl-C.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Serve a few stories from a local cluster, with live statistics.",
                "",
                "Starts a local cluster (1 coordinator + 2 worker JVMs on loopback), streams a few stories from the "
                        + "default model through gRPC with time to first token and tokens/s, then all of them at once "
                        + "(continuous batching), then the first story greedy with each speculative proposer (same text, "
                        + "fewer pipeline steps), and stops the cluster, also on failure or Ctrl-C. Fetches the default "
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

    @Option(names = "--max-tokens", defaultValue = "200", description = "New tokens per story. Default: ${DEFAULT-VALUE}.")
    int maxTokens;

    @Option(names = "--model", defaultValue = "default", paramLabel = "PATH|default",
            description = "The model: 'default' (stories15M) or a llama2.c .bin / GGUF path. Default: ${DEFAULT-VALUE}.")
    String model;

    @Mixin
    ClusterStartOptions start;

    @Override
    public Integer call() throws InterruptedException {
        if (maxTokens <= 0) throw CommandFailure.usage("--max-tokens must be positive, got " + maxTokens);
        PrintStream out = System.out;
        // Fetch the model here, once, with a progress bar, rather than inside three node JVMs.
        if (model.equals("default")) ModelStore.ensureDefault(new CliProgress("model"));
        LocalCluster cluster = new LocalCluster(TandemHome.root().resolve("demo"));
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
                    start.threadsPerWorker(), start.readyTimeout(), start.speculation.overrides(), start.security)));
            out.printf(Locale.ROOT, "cluster serving on %s after %.1f s; the layers are split over the workers%n%n",
                    state.grpc(), (System.nanoTime() - t0) / 1e9);
            streamStories(out, state);
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

    private void streamStories(PrintStream out, LocalCluster.State state) {
        try {
            streamStoriesFrom(out, state);
        } catch (CompletionException e) {
            throw RemoteFailures.describe(e, state.grpcTarget());
        }
    }

    private void streamStoriesFrom(PrintStream out, LocalCluster.State state) {
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

    private static final List<String> SPECULATION_PROPOSERS = List.of("none", "layerskip", "ngram", "ngram", "auto");

    private GenerateRequest request(String prompt) {
        return GenerateRequest.newBuilder().setModel("default").setPrompt(prompt).setMaxTokens(maxTokens).build();
    }
}
