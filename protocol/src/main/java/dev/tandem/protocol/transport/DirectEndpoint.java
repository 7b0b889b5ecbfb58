package dev.tandem.protocol.transport;

import akka.actor.Address;
import akka.actor.AddressFromURIString;
import akka.actor.typed.ActorRef;
import akka.actor.typed.ActorRefResolver;
import akka.actor.typed.Behavior;
import akka.actor.typed.javadsl.AbstractBehavior;
import akka.actor.typed.javadsl.ActorContext;
import akka.actor.typed.javadsl.Behaviors;
import akka.actor.typed.javadsl.Receive;
import akka.actor.typed.javadsl.TimerScheduler;
import dev.tandem.protocol.KryoMessage;
import java.time.Duration;

/**
 * Discovery for the direct transport, one per node (system actor {@value #NAME}): answers a peer's
 * {@link WhereIsDirect} with this node's direct port, and asks peers for theirs on behalf of
 * {@link DirectTransport} ({@link Discover}). The answer or a timeout is handed back to the transport,
 * which connects (on its connector thread) or falls back to Artery for that peer.
 */
public final class DirectEndpoint extends AbstractBehavior<DirectEndpoint.Command> {

  public static final String NAME = "tandem-direct-endpoint";

  public sealed interface Command {}

  /** A peer asks for this node's direct port. */
  public record WhereIsDirect(ActorRef<DirectAddress> replyTo) implements Command, KryoMessage {}

  /**
   * A node's direct listener: {@code node} is its Artery address, {@code port} -1 when the node has no
   * direct transport (disabled, or its port could not be bound).
   */
  public record DirectAddress(String node, String host, int port) implements Command, KryoMessage {}

  /** Local: find {@code peer}'s direct port. */
  record Discover(Address peer) implements Command {}

  private record DiscoveryTimedOut(Address peer) implements Command {}

  /** What the transport does with the outcome of a discovery. */
  interface Outcome {
    void found(Address peer, String host, int port);

    void unavailable(Address peer, String reason);
  }

  static Behavior<Command> create(DirectAddress self, Duration timeout, Outcome outcome) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new DirectEndpoint(ctx, timers, self, timeout,
        outcome)));
  }

  private final TimerScheduler<Command> timers;
  private final DirectAddress self;
  private final Duration timeout;
  private final Outcome outcome;
  private final ActorRefResolver resolver;

  private DirectEndpoint(ActorContext<Command> ctx, TimerScheduler<Command> timers, DirectAddress self,
      Duration timeout, Outcome outcome) {
    super(ctx);
    this.timers = timers;
    this.self = self;
    this.timeout = timeout;
    this.outcome = outcome;
    this.resolver = ActorRefResolver.get(ctx.getSystem());
  }

  @Override
  public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(WhereIsDirect.class, this::onWhereIs)
        .onMessage(Discover.class, this::onDiscover)
        .onMessage(DirectAddress.class, this::onAddress)
        .onMessage(DiscoveryTimedOut.class, this::onTimeout)
        .build();
  }

  private Behavior<Command> onWhereIs(WhereIsDirect request) {
    request.replyTo().tell(self);
    return this;
  }

  private Behavior<Command> onDiscover(Discover discover) {
    ActorRef<Command> remote = resolver.resolveActorRef(discover.peer() + "/system/" + NAME);
    remote.tell(new WhereIsDirect(getContext().getSelf().narrow()));
    timers.startSingleTimer(discover.peer(), new DiscoveryTimedOut(discover.peer()), timeout);
    return this;
  }

  private Behavior<Command> onAddress(DirectAddress answer) {
    Address peer;
    try {
      peer = AddressFromURIString.parse(answer.node());
    } catch (RuntimeException e) {
      getContext().getLog().warn("direct transport: ignoring an answer with a bad node address '{}'",
          answer.node());
      return this;
    }
    if (!timers.isTimerActive(peer)) {
      return this; // timed out already (Artery is in use for it) or never asked
    }
    timers.cancel(peer);
    if (answer.port() > 0) {
      outcome.found(peer, answer.host(), answer.port());
    } else {
      outcome.unavailable(peer, "it has no direct listener");
    }
    return this;
  }

  private Behavior<Command> onTimeout(DiscoveryTimedOut timedOut) {
    outcome.unavailable(timedOut.peer(), "no answer within " + timeout.toMillis() + " ms");
    return this;
  }
}
