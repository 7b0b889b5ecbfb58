package dev.tandem.coordinator.grpc;

import akka.NotUsed;
import akka.stream.javadsl.Source;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.engine.sampling.SamplerSettings;
import dev.tandem.protocol.grpc.FinishReason;
import dev.tandem.protocol.grpc.GenerateChunk;
import dev.tandem.protocol.grpc.GenerateRequest;
import dev.tandem.protocol.grpc.Inference;
import dev.tandem.protocol.grpc.ListModelsRequest;
import dev.tandem.protocol.grpc.ListModelsResponse;
import dev.tandem.protocol.grpc.ModelInfo;
import dev.tandem.protocol.grpc.TokenizeRequest;
import dev.tandem.protocol.grpc.TokenizeResponse;
import dev.tandem.protocol.grpc.Usage;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The public {@code tandem.v1.Inference} service over an {@link InferenceBackend}: validates requests
 * (answering bad input with INVALID_ARGUMENT / NOT_FOUND / UNAVAILABLE and a message naming the
 * field), maps them to {@link GenerationSpec}s and streams the backend's events back as chunks.
 * A client that goes away cancels the response stream, and with it the backend's source.
 */
public final class InferenceService implements Inference {

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(InferenceService.class);

    /** Values of {@code GenerateRequest.speculate} (see inference.proto). */
    static final Set<String> PROPOSERS = Set.of("", "auto", "none", "ngram", "draft", "layerskip");

    private final InferenceBackend backend;
    private final GatewaySettings settings;

    public InferenceService(InferenceBackend backend, GatewaySettings settings) {
        this.backend = backend;
        this.settings = settings;
    }

    @Override
    public Source<GenerateChunk, NotUsed> generate(GenerateRequest in) {
        GenerationSpec spec;
        try {
            spec = validate(in);
        } catch (RuntimeException e) {
            akka.grpc.GrpcServiceException status = GatewayErrors.toGrpc(e);
            log.info("refused a Generate request: {} {}", status.getStatus().getCode(), status.getStatus().getDescription());
            return Source.failed(status);
        }
        Source<GenerateChunk, NotUsed> echo = in.getEchoPrompt()
                ? Source.lazySource(() -> Source.single(echoChunk(spec))).mapMaterializedValue(m -> NotUsed.getInstance())
                : Source.empty();
        // lazySource: the backend starts only when the response is actually consumed, and a
        // synchronous rejection becomes a failed stream like an asynchronous one.
        Source<GenerateChunk, NotUsed> generated = Source.lazySource(() -> backend.generate(spec))
                .mapMaterializedValue(m -> NotUsed.getInstance())
                .map(InferenceService::toChunk);
        return echo.concat(generated).mapError(Throwable.class, GatewayErrors::toGrpc);
    }

    /** Checks every field of a request and builds what the backend runs; throws a status exception on bad input. */
    GenerationSpec validate(GenerateRequest in) {
        if (in.getModel().isEmpty()) throw GatewayErrors.invalidArgument("model is required (see ListModels for the served models)");
        if (in.getPrompt().isEmpty()) throw GatewayErrors.invalidArgument("prompt must not be empty");
        int promptBytes = utf8Length(in.getPrompt());
        if (promptBytes > settings.maxPromptBytes()) {
            throw GatewayErrors.invalidArgument("prompt is " + promptBytes + " bytes of UTF-8, more than the limit of "
                    + settings.maxPromptBytes() + " bytes");
        }
        float temperature = in.getTemperature();
        if (!(temperature >= 0 && temperature <= settings.maxTemperature())) {
            throw GatewayErrors.invalidArgument("temperature must be in [0, " + settings.maxTemperature() + "], got " + temperature);
        }
        if (in.getTopK() < 0) throw GatewayErrors.invalidArgument("top_k must be >= 0 (0 = no top-k cut), got " + in.getTopK());
        float topP = in.getTopP();
        if (!(topP >= 0 && topP <= 1)) throw GatewayErrors.invalidArgument("top_p must be in [0, 1] (0 or 1 = no nucleus cut), got " + topP);
        if (in.getStopCount() > settings.maxStopStrings()) {
            throw GatewayErrors.invalidArgument("at most " + settings.maxStopStrings() + " stop strings are allowed, got " + in.getStopCount());
        }
        for (int i = 0; i < in.getStopCount(); i++) {
            String stop = in.getStop(i);
            if (stop.isEmpty()) throw GatewayErrors.invalidArgument("stop[" + i + "] must not be empty");
            int bytes = utf8Length(stop);
            if (bytes > settings.maxStopStringBytes()) {
                throw GatewayErrors.invalidArgument("stop[" + i + "] is " + bytes + " bytes of UTF-8, more than the limit of "
                        + settings.maxStopStringBytes() + " bytes");
            }
        }
        if (!PROPOSERS.contains(in.getSpeculate())) {
            throw GatewayErrors.invalidArgument("speculate must be one of \"\", auto, none, ngram, draft, layerskip; got \""
                    + in.getSpeculate() + "\"");
        }
        ModelDescriptor model = servedModel(in.getModel());
        int context = model.contextLength();
        if (in.getMaxTokens() < 0 || in.getMaxTokens() > context) {
            throw GatewayErrors.invalidArgument("max_tokens must be in [1, " + context + "] (the context length of "
                    + model.name() + "), or 0 for up to the context length; got " + in.getMaxTokens());
        }
        if (!model.ready()) {
            throw GatewayErrors.unavailable("model " + model.name() + " is not ready yet (its layers are loading or have no live owner); retry shortly");
        }
        int maxNewTokens = in.getMaxTokens() == 0 ? context : in.getMaxTokens();
        // proto3 zero values mean "off"; the engine spells "off" as topP 1 and a concrete seed.
        float effectiveTopP = topP == 0 ? SamplerSettings.NO_TOP_P : topP;
        long seed = in.getSeed() != 0 ? in.getSeed() : ThreadLocalRandom.current().nextLong();
        SamplerSettings sampling = new SamplerSettings(temperature, in.getTopK(), effectiveTopP, seed);
        return new GenerationSpec(in.getModel(), in.getPrompt(), maxNewTokens, sampling, in.getStopList(),
                in.getSpeculate(), in.getTrafficClass());
    }

    @Override
    public CompletionStage<TokenizeResponse> tokenize(TokenizeRequest in) {
        try {
            if (in.getModel().isEmpty()) throw GatewayErrors.invalidArgument("model is required (see ListModels for the served models)");
            int bytes = utf8Length(in.getText());
            if (bytes > settings.maxPromptBytes()) {
                throw GatewayErrors.invalidArgument("text is " + bytes + " bytes of UTF-8, more than the limit of "
                        + settings.maxPromptBytes() + " bytes");
            }
            ModelDescriptor model = servedModel(in.getModel());
            int[] tokens = backend.tokenize(model.name(), in.getText(), in.getAddBos());
            List<String> pieces = backend.pieces(model.name(), tokens);
            TokenizeResponse.Builder out = TokenizeResponse.newBuilder().addAllPieces(pieces);
            for (int t : tokens) out.addTokenIds(t);
            return CompletableFuture.completedFuture(out.build());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(GatewayErrors.toGrpc(e));
        }
    }

    @Override
    public CompletionStage<ListModelsResponse> listModels(ListModelsRequest in) {
        try {
            ListModelsResponse.Builder out = ListModelsResponse.newBuilder();
            for (ModelDescriptor m : backend.models()) out.addModels(toInfo(m));
            return CompletableFuture.completedFuture(out.build());
        } catch (RuntimeException e) {
            return CompletableFuture.failedFuture(GatewayErrors.toGrpc(e));
        }
    }

    private ModelDescriptor servedModel(String name) {
        return backend.model(name).orElseThrow(() -> GatewayErrors.notFound("model \"" + name + "\" is not served here; served: "
                + String.join(", ", backend.models().stream().map(ModelDescriptor::name).toList())
                + " (\"default\" names the default model)"));
    }

    private GenerateChunk echoChunk(GenerationSpec spec) {
        GenerateChunk.Builder chunk = GenerateChunk.newBuilder().setText(spec.prompt());
        for (int t : backend.tokenize(spec.model(), spec.prompt(), true)) chunk.addTokenIds(t);
        return chunk.build();
    }

    static GenerateChunk toChunk(GenerationEvent event) {
        return switch (event) {
            case GenerationEvent.TextDelta delta -> {
                GenerateChunk.Builder chunk = GenerateChunk.newBuilder().setText(delta.text());
                for (int t : delta.tokenIds()) chunk.addTokenIds(t);
                yield chunk.build();
            }
            case GenerationEvent.Finished finished -> GenerateChunk.newBuilder()
                    .setFinishReason(toProto(finished.reason()))
                    .setUsage(toProto(finished.usage()))
                    .build();
        };
    }

    static FinishReason toProto(dev.tandem.engine.generate.FinishReason reason) {
        return switch (reason) {
            case LENGTH -> FinishReason.FINISH_REASON_LENGTH;
            case STOP -> FinishReason.FINISH_REASON_STOP;
            case EOS -> FinishReason.FINISH_REASON_EOS;
            case CANCELLED -> FinishReason.FINISH_REASON_CANCELLED;
        };
    }

    static Usage toProto(GenerationEvent.Usage u) {
        return Usage.newBuilder()
                .setPromptTokens(u.promptTokens())
                .setCompletionTokens(u.completionTokens())
                .setTimeToFirstTokenMs(u.timeToFirstTokenMs())
                .setTotalMs(u.totalMs())
                .setProposer(u.proposer())
                .setProposed(u.proposed())
                .setAccepted(u.accepted())
                .setSteps(u.steps())
                .setRejected(u.rejected())
                .build();
    }

    static ModelInfo toInfo(ModelDescriptor m) {
        return ModelInfo.newBuilder()
                .setName(m.name())
                .setLayers(m.layers())
                .setDim(m.dim())
                .setVocab(m.vocabSize())
                .setContextLength(m.contextLength())
                .setQuantization(m.quantization())
                .setReady(m.ready())
                .build();
    }

    private static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }
}
