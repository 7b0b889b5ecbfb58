package dev.tandem.ops;

import akka.actor.typed.ActorSystem;
import dev.tandem.cluster.HostAndPort;
import dev.tandem.engine.generate.GenerationListener;
import dev.tandem.engine.generate.GenerationRequest;
import dev.tandem.engine.generate.GenerationResult;
import dev.tandem.engine.generate.LocalGenerator;
import dev.tandem.engine.model.OpenedModel;
import dev.tandem.engine.parallel.ParallelRunner;
import dev.tandem.engine.spec.SpeculationCosts;
import dev.tandem.engine.spec.SpeculativeGenerator;
import dev.tandem.engine.spec.SpeculativeResult;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.InferenceClient;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletionException;

/**
 * Generates text from a prompt. Stdout receives exactly the prompt followed by the generated text and
 * one newline (as llama2.c's run.c prints it); statistics go to stderr.
 */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate text from a prompt, streaming it to stdout.",
                "",
                "Runs in this process (--local) or streams from a running cluster through its gRPC endpoint "
                        + "(--target HOST:PORT). Stdout gets the prompt, the generated text and a newline, nothing else; "
                        + "statistics go to stderr."})
public final class GenerateCommand implements Callable<Integer> {

    /** How long the gRPC client may take to close after the stream ended. */
    private static final Duration CLIENT_SHUTDOWN = Duration.ofSeconds(5);

    @ArgGroup(exclusive = true, multiplicity = "1")
    Where where;

    static final class Where {
        @Option(names = "--local", required = true, description = "Run the engine in this process.")
        boolean local;

        @Option(names = "--target", required = true, paramLabel = "HOST:PORT",
                description = "Stream from a running Tandem cluster's gRPC endpoint (e.g. 127.0.0.1:50051, see 'tandem cluster up').")
        String target;
    }

    @Option(names = {"-p", "--prompt"}, required = true, description = "The prompt text.")
    String prompt;

    @Mixin
    SamplingOptions sampling;

    @Option(names = "--stop", description = "Stop before this string appears in the output (repeatable).")
    List<String> stop = List.of();

    @Mixin
    ModelOptions model;

    @Option(names = "--threads", description = "Threads for the kernels (default: all cores).")
    Integer threads;

    @Mixin
    SpeculateOptions speculate;

    @Mixin
    TlsClientOption tls = new TlsClientOption();

    @Option(names = "--token", paramLabel = "TOKEN",
            description = "Client token for a server that requires one (with --target; else $TANDEM_TOKEN).")
    String token;

    @Override
    public Integer call() {
        GenerationRequest request = sampling.request(prompt, stop);
        speculate.validate();
        if (where.target != null) {
            if (speculate.draft != null) {
                throw CommandFailure.usage("--draft applies to --local generation; a server uses its own drafts (tandem serve --draft)");
            }
            return remote(request);
        }
        try (OpenedModel opened = model.open();
             ParallelRunner runner = threads == null ? new ParallelRunner() : new ParallelRunner(Threads.validate(threads))) {
            PrintStream out = System.out;
            GenerationListener listener = new GenerationListener() {
                @Override
                public void onPrompt(byte[] text) { write(out, text); }

                @Override
                public void onText(byte[] text, int tokenId) { write(out, text); }
            };
            if (!speculate.enabled()) {
                LocalGenerator generator = new LocalGenerator(opened.model().weights(), opened.tokenizer(), runner);
                GenerationResult result = generator.generate(request, listener);
                write(out, new byte[]{'\n'});
                Statistics.printGeneration(System.err, result);
                return 0;
            }
            SpeculationCosts costs = new SpeculationCosts();
            try (SpeculativeGenerator generator = new SpeculativeGenerator(opened.model().weights(), opened.tokenizer(), runner,
                    speculate.factory(opened.model().weights(), runner, costs), costs, speculate.options())) {
                SpeculativeResult result = generator.generate(request, listener);
                write(out, new byte[]{'\n'});
                Statistics.printGeneration(System.err, result.generation());
                Statistics.printSpeculation(System.err, result.stats());
            }
        }
        return 0;
    }

    /** The same contract as --local, through the gRPC client: prompt, streamed text, newline on stdout; statistics on stderr. */
    private int remote(GenerationRequest request) {
        HostAndPort target = parseTarget(where.target);
        GenerateRequest call = RemoteStream.request(model.model, request, speculate.requested()).toBuilder()
                .setEchoPrompt(true)
                .build();
        ActorSystem<Void> system = ClientSystem.create("tandem-generate");
        InferenceClient client = InferenceClient.create(ClientSystem.settings(system, target,
                ClientSecurity.of(tls.tls, token)), system);
        PrintStream out = System.out;
        try {
            RemoteStream.Result result = RemoteStream.run(system, client, call, new RemoteStream.Listener() {
                @Override
                public void onPrompt(String text) { write(out, text.getBytes(StandardCharsets.UTF_8)); }

                @Override
                public void onText(String text) { write(out, text.getBytes(StandardCharsets.UTF_8)); }
            }).toCompletableFuture().join();
            write(out, new byte[]{'\n'});
            Statistics.printRemote(System.err, result, target);
            return 0;
        } catch (CompletionException e) {
            throw RemoteFailures.describe(e, target);
        } finally {
            client.close();
            ClientSystem.terminate(system, CLIENT_SHUTDOWN);
        }
    }

    static HostAndPort parseTarget(String text) {
        try {
            return HostAndPort.parse(text);
        } catch (IllegalArgumentException e) {
            throw CommandFailure.usage("--target: " + e.getMessage());
        }
    }

    private static void write(OutputStream out, byte[] bytes) {
        try {
            out.write(bytes);
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
