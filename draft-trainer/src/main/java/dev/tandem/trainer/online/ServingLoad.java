package dev.tandem.trainer.online;

import dev.tandem.trainer.idle.ServingSignals;

import java.util.concurrent.atomic.AtomicInteger;

/** Requests queued and sequences decoding, summed over every server of this process: what the idle governors see. */
final class ServingLoad {

    private final AtomicInteger queued = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();

    void arriving(int n) { queued.addAndGet(n); }

    void started(int n) {
        queued.addAndGet(-n);
        active.addAndGet(n);
    }

    void finished(int n) { active.addAndGet(-n); }

    ServingSignals signals() { return new ServingSignals(queued.get(), active.get(), 0, 0); }
}
