package dev.tandem.cluster;

import akka.NotUsed;
import akka.actor.typed.ActorSystem;
import akka.actor.typed.javadsl.Behaviors;
import akka.grpc.GrpcClientSettings;
import akka.http.javadsl.ServerBinding;
import akka.stream.javadsl.Sink;
import akka.stream.javadsl.Source;
import com.typesafe.config.ConfigFactory;
import dev.tandem.coordinator.api.AdminBackend;
import dev.tandem.coordinator.api.AdminException;
import dev.tandem.coordinator.api.ClusterStatus;
import dev.tandem.coordinator.api.GenerationEvent;
import dev.tandem.coordinator.api.GenerationSpec;
import dev.tandem.coordinator.api.InferenceBackend;
import dev.tandem.coordinator.api.LayerRange;
import dev.tandem.coordinator.api.ModelDescriptor;
import dev.tandem.coordinator.api.ModelPlan;
import dev.tandem.coordinator.api.RebalanceProgress;
import dev.tandem.coordinator.api.RebalanceRequest;
import dev.tandem.coordinator.grpc.GatewayServer;
import dev.tandem.coordinator.grpc.GatewaySettings;
import dev.tandem.protocol.grpc.AdminClient;
import dev.tandem.protocol.grpc.DrainRequest;
import dev.tandem.protocol.grpc.ListDraftsRequest;
import dev.tandem.protocol.grpc.Move;
import dev.tandem.protocol.grpc.OperationProgress;
import dev.tandem.protocol.grpc.PlanRequest;
import dev.tandem.protocol.grpc.StatusRequest;
import dev.tandem.protocol.grpc.StatusResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Admin service over a stub backend, through real gRPC: the token check and the status mapping. */
class AdminServiceTest {

    private static final String TOKEN = "s3cret-token";
    private static final String WORKER = "akka://tandem@127.0.0.1:25521";
    private static ActorSystem<Void> system;
    private static ServerBinding binding;
    private static AdminClient client;

    @BeforeAll
    static void start() throws Exception {
        system = ActorSystem.create(Behaviors.empty(), "admin-service-test",
                ConfigFactory.parseString("akka.actor.provider = local\nakka.http.server.preview.enable-http2 = on").withFallback(ConfigFactory.load()));
        binding = GatewayServer.bind(system, new NoInference(), GatewaySettings.fromConfig(system.settings().config()),
                "127.0.0.1", 0, Optional.of(new AdminService(system, new StubAdmin())), Optional.of(TOKEN))
                .toCompletableFuture().get(30, TimeUnit.SECONDS);
        client = AdminClient.create(GrpcClientSettings.connectToServiceAt("127.0.0.1", binding.localAddress().getPort(), system)
                .withTls(false), system);
    }

    @AfterAll
    static void stop() {
        if (client != null) client.close();
        if (system != null) system.terminate();
    }

    @Test
    void callsWithoutOrWithAWrongTokenAreUnauthenticated() {
        StatusRuntimeException none = failure(client.status(StatusRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, none.getStatus().getCode());
        assertTrue(none.getStatus().getDescription().contains("admin token"), none.getStatus().getDescription());
        StatusRuntimeException wrong = failure(client.status().addHeader("authorization", "Bearer nope")
                .invoke(StatusRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAUTHENTICATED, wrong.getStatus().getCode());
        StatusRuntimeException stream = failure(client.drain().addHeader("authorization", "Basic " + TOKEN)
                .invoke(DrainRequest.newBuilder().setNode(WORKER).build()).runWith(Sink.seq(), system));
        assertEquals(Status.Code.UNAUTHENTICATED, stream.getStatus().getCode());
    }

    @Test
    void withTheTokenEveryCallWorksAndRefusalsKeepTheirCodeAndMessage() throws Exception {
        StatusResponse status = get(client.status().addHeader("authorization", "Bearer " + TOKEN).invoke(StatusRequest.getDefaultInstance()));
        assertEquals(WORKER, status.getNodes(0).getAddress());
        assertEquals(3, status.getNodes(0).getRanges(0).getTo());
        assertEquals(1000, status.getNodes(0).getMemoryUsedBytes());

        var plan = get(client.plan().addHeader("authorization", "Bearer " + TOKEN).invoke(PlanRequest.newBuilder().setProposed(true).build()));
        assertTrue(plan.getProposed());
        assertEquals(2, plan.getAssignmentsCount());

        List<OperationProgress> progress = get(client.rebalance().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(dev.tandem.protocol.grpc.RebalanceRequest.newBuilder().setMove(Move.newBuilder()
                        .setRange(dev.tandem.protocol.grpc.LayerRange.newBuilder().setModel("m").setFrom(0).setTo(3)).setToNode(WORKER)).build())
                .runWith(Sink.seq(), system));
        assertEquals(OperationProgress.Phase.PHASE_DONE, progress.getLast().getPhase());
        assertEquals(1.0, progress.getLast().getFraction());

        StatusRuntimeException unknown = failure(client.drain().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(DrainRequest.newBuilder().setNode("akka://tandem@10.9.9.9:1").build()).runWith(Sink.seq(), system));
        assertEquals(Status.Code.NOT_FOUND, unknown.getStatus().getCode());
        assertEquals("no member akka://tandem@10.9.9.9:1", unknown.getStatus().getDescription());

        StatusRuntimeException drafts = failure(client.listDrafts().addHeader("authorization", "Bearer " + TOKEN)
                .invoke(ListDraftsRequest.getDefaultInstance()));
        assertEquals(Status.Code.FAILED_PRECONDITION, drafts.getStatus().getCode());
        assertEquals(AdminService.NO_DRAFT_REGISTRY, drafts.getStatus().getDescription());
    }

    private static <T> T get(CompletionStage<T> stage) throws Exception {
        return stage.toCompletableFuture().get(30, TimeUnit.SECONDS);
    }

    private static StatusRuntimeException failure(CompletionStage<?> call) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> call.toCompletableFuture().get(30, TimeUnit.SECONDS));
        return assertInstanceOf(StatusRuntimeException.class, e.getCause());
    }

    private static final class StubAdmin implements AdminBackend {
        @Override
        public CompletionStage<ClusterStatus> status() {
            return CompletableFuture.completedFuture(new ClusterStatus(List.of(new ClusterStatus.NodeStatus(WORKER, List.of("worker"),
                    true, "Up", List.of(new LayerRange("m", 0, 3)), 1000, 2000, 1, 4.5)), List.of()));
        }

        @Override
        public CompletionStage<List<ModelPlan>> plan(boolean proposed) {
            return CompletableFuture.completedFuture(List.of(new ModelPlan("m", 6, 0, List.of(new ModelPlan.Stage(WORKER, 0, 3),
                    new ModelPlan.Stage("akka://tandem@127.0.0.1:25522", 3, 6)), 3, 0.1, false)));
        }

        @Override
        public Source<RebalanceProgress, NotUsed> rebalance(RebalanceRequest request) {
            return Source.from(List.of(new RebalanceProgress(RebalanceProgress.Phase.LOADING, "loading", 0.2),
                    new RebalanceProgress(RebalanceProgress.Phase.DONE, "done", 1.0)));
        }

        @Override
        public Source<RebalanceProgress, NotUsed> drain(String nodeAddress, boolean leave) {
            return Source.failed(new AdminException(AdminException.Code.NOT_FOUND, "no member " + nodeAddress));
        }
    }

    private static final class NoInference implements InferenceBackend {
        @Override public List<ModelDescriptor> models() { return List.of(); }
        @Override public Optional<ModelDescriptor> model(String name) { return Optional.empty(); }
        @Override public int[] tokenize(String model, String text, boolean addBos) { return new int[0]; }
        @Override public List<String> pieces(String model, int[] tokens) { return List.of(); }
        @Override public Source<GenerationEvent, NotUsed> generate(GenerationSpec spec) { return Source.empty(); }
    }
}
