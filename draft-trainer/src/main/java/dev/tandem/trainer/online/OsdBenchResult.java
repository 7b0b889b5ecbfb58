package dev.tandem.trainer.online;

import java.util.List;
import java.util.Locale;

/**
 * What {@code tandem bench osd} measured. Acceptance is per draft token tried (accepted / (accepted + rejections),
 * {@code acceptedPerProposed}: over proposed drafts); tokens per step are
 * output tokens per target forward; tpot is decode time per output token (after the first).
 */
public record OsdBenchResult(String mode, String model, int requests, int maxNewTokens, int burst, long gapMillis, String familyA,
                             String familyB, List<Window> windows, double acceptanceBootstrap, double acceptanceBootstrapA,
                             double acceptanceBootstrapB, double acceptanceFinalA, double acceptanceFinalB, double plateauB,
                             int recoveryRequestsB, double speedupVsNone, double speedupVsNoneOverall, double speedupVsBootstrap,
                             double p99LatencyMsTrainerOn, double p99LatencyMsTrainerOff, double p99RatioTrainerOnOff,
                             double p50LatencyMsTrainerOn, double p50LatencyMsTrainerOff,
                             int interferenceRequests, long trainerSteps, int published, int rejected, int rolledBack,
                             double trainingSeconds, double seconds) {

    /**
     * One window of consecutive requests (of one class) in the online run, with the same requests'
     * figures in the two reference runs.
     */
    public record Window(int index, String trafficClass, int requests, double acceptance, double acceptedPerProposed, double tokensPerStep,
                         double tpotMs, double tokensPerStepBootstrap, double acceptanceBootstrap, double tpotMsBootstrap, double tpotMsNone) {}

    public String toJson() {
        StringBuilder b = new StringBuilder("{");
        b.append(String.format(Locale.ROOT, "\"mode\":\"%s\",\"model\":\"%s\",\"requests\":%d,\"max_new_tokens\":%d,\"burst\":%d,\"gap_ms\":%d,"
                + "\"family_a\":\"%s\",\"family_b\":\"%s\",\"windows\":[", mode, model, requests, maxNewTokens, burst, gapMillis, familyA, familyB));
        for (int i = 0; i < windows.size(); i++) {
            Window w = windows.get(i);
            if (i > 0) b.append(',');
            b.append(String.format(Locale.ROOT, "{\"index\":%d,\"class\":\"%s\",\"requests\":%d,\"acceptance\":%.4f,\"accepted_per_proposed\":%.4f,"
                            + "\"tokens_per_step\":%.4f,\"tpot_ms\":%.3f,\"acceptance_bootstrap\":%.4f,\"tokens_per_step_bootstrap\":%.4f,"
                            + "\"tpot_ms_bootstrap\":%.3f,\"tpot_ms_none\":%.3f}",
                    w.index, w.trafficClass, w.requests, w.acceptance, w.acceptedPerProposed, w.tokensPerStep, w.tpotMs, w.acceptanceBootstrap,
                    w.tokensPerStepBootstrap, w.tpotMsBootstrap, w.tpotMsNone));
        }
        b.append(String.format(Locale.ROOT, "],\"acceptance_bootstrap\":%.4f,\"acceptance_bootstrap_a\":%.4f,\"acceptance_bootstrap_b\":%.4f,"
                        + "\"acceptance_final_a\":%.4f,\"acceptance_final_b\":%.4f,\"plateau_b\":%.4f,\"recovery_requests_b\":%d,"
                        + "\"speedup_vs_none\":%.3f,\"speedup_vs_none_overall\":%.3f,\"speedup_vs_bootstrap\":%.3f,"
                        + "\"p99_latency_ms_trainer_on\":%.1f,\"p99_latency_ms_trainer_off\":%.1f,\"p99_ratio_trainer_on_off\":%.3f,"
                        + "\"p50_latency_ms_trainer_on\":%.1f,\"p50_latency_ms_trainer_off\":%.1f,"
                        + "\"interference_requests\":%d,\"trainer_steps\":%d,\"published\":%d,\"rejected\":%d,\"rolled_back\":%d,"
                        + "\"training_seconds\":%.1f,\"seconds\":%.1f}",
                acceptanceBootstrap, acceptanceBootstrapA, acceptanceBootstrapB, acceptanceFinalA, acceptanceFinalB, plateauB,
                recoveryRequestsB, speedupVsNone, speedupVsNoneOverall, speedupVsBootstrap, p99LatencyMsTrainerOn, p99LatencyMsTrainerOff,
                p99RatioTrainerOnOff, p50LatencyMsTrainerOn, p50LatencyMsTrainerOff, interferenceRequests, trainerSteps, published, rejected, rolledBack, trainingSeconds, seconds));
        return b.toString();
    }

    public String toText() {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Online distillation (mode: %s) on %s: %d requests (%s then %s), bursts of %d, %d ms idle gaps, %d new tokens%n",
                mode, model, requests, familyA, familyB, burst, gapMillis, maxNewTokens));
        b.append(String.format(Locale.ROOT, "%-7s %-9s %10s %8s %9s %12s %10s %13s %11s%n", "window", "class", "acceptance", "tok/step", "tpot ms",
                "boot. accept", "boot. t/s", "boot. tpot ms", "none tpot ms"));
        for (Window w : windows) {
            b.append(String.format(Locale.ROOT, "%-7d %-9s %10.3f %8.2f %9.2f %12.3f %10.2f %13.2f %11.2f%n", w.index, w.trafficClass, w.acceptance,
                    w.tokensPerStep, w.tpotMs, w.acceptanceBootstrap, w.tokensPerStepBootstrap, w.tpotMsBootstrap, w.tpotMsNone));
        }
        b.append("acceptance: per draft token tried (accepted / (accepted + rejections)); tok/step: output tokens per target forward; "
                + "boot.: the frozen bootstrap draft on the same requests\n");
        b.append(String.format(Locale.ROOT, "acceptance: bootstrap %.3f (A %.3f, B %.3f); final A %.3f, final B %.3f (plateau %.3f, recovered within 0.05 after %d requests)%n",
                acceptanceBootstrap, acceptanceBootstrapA, acceptanceBootstrapB, acceptanceFinalA, acceptanceFinalB, plateauB, recoveryRequestsB));
        b.append(String.format(Locale.ROOT, "speedup vs none: %.2fx (last window), %.2fx (whole run); vs frozen bootstrap: %.2fx (last window)%n",
                speedupVsNone, speedupVsNoneOverall, speedupVsBootstrap));
        // Local: the frozen draft with and without a second trainer; cluster: no speculation on the trainer's cluster and on one without.
        b.append(String.format(Locale.ROOT, "p99 request latency, %s, trainer on %.1f ms / off %.1f ms = %.3f (p50 %.1f / %.1f ms; %d requests)%n",
                mode.equals("local") ? "same draft" : "no speculation", p99LatencyMsTrainerOn, p99LatencyMsTrainerOff, p99RatioTrainerOnOff,
                p50LatencyMsTrainerOn, p50LatencyMsTrainerOff, interferenceRequests));
        b.append(String.format(Locale.ROOT, "trainer: %d steps, %.1f s wall time inside steps (waits at checkpoints included), %d published, %d rejected, %d rolled back; run took %.0f s%n",
                trainerSteps, trainingSeconds, published, rejected, rolledBack, seconds));
        return b.toString();
    }
}
