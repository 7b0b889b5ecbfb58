package dev.tandem.trainer;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.tandem.trainer.distill.AdamW;
import dev.tandem.trainer.distill.DistillerSettings;
import dev.tandem.trainer.distill.Divergence;
import dev.tandem.trainer.idle.IdleGovernor;

import java.util.concurrent.TimeUnit;

/**
 * Typed view of {@code tandem.trainer} (defaults in this module's {@code reference.conf}).
 *
 * @param topK                  teacher logits kept per position
 * @param samplingRate          fraction of sequences recorded
 * @param maxPendingBytes       teacher data held for running sequences
 * @param deferTeacher          whether a worker's recorder keeps a greedy row's hidden state and computes its teacher
 *                              logits in idle time, instead of asking the serving forward for its top logits
 * @param replayBytesPerClass   training samples' bytes per class
 * @param heldOutBytesPerClass  held-out samples' bytes per class
 * @param heldOutEvery          one sample in this many is held out
 * @param draftLayers           layers of a draft cut from the target
 * @param headTokens            reduced-vocabulary size of a new draft's head
 * @param baseTokens            lowest ids always in the head (special and byte tokens)
 * @param classHeads            whether a class's candidate, when it (re)starts and before each evaluation, swaps into
 *                              its head the tokens the class's recorded traffic uses but the head lacks (for unused ones)
 * @param distiller             loss, optimizer, rejected-position weight
 * @param onlineLearningRate    learning rate when fine-tuning a live draft online (the bootstrap uses the distiller's)
 * @param onlineTrainEmbedding  whether online fine-tuning trains the (target-sized) embedding
 * @param batchSize             sequences per optimizer step
 * @param evaluateEverySteps    optimizer steps between candidate evaluations
 * @param heldOutSamples        held-out samples a candidate is judged on
 * @param margin                how much better (expected accepted length) a candidate must be
 * @param perClassDrafts        train one draft per class besides the general one
 * @param classifierMinExamples tagged prompts before the classifier predicts a class
 * @param classifierMinPosterior posterior the classifier needs to predict a class
 * @param idle                  the idle governor's thresholds
 * @param pollNanos             how often the training thread polls when it may not train
 * @param idleCpuClass          whether training threads run in the OS's idle scheduling class (see
 *                              {@link dev.tandem.engine.parallel.BackgroundScheduling})
 * @param bootstrapMinutes      default duration of {@code tandem draft bootstrap}
 * @param bootstrapMaxNewTokens tokens generated per bootstrap prompt
 * @param bootstrapStreams      prompts generated at once during bootstrap
 */
public record TrainerSettings(int topK, double samplingRate, long maxPendingBytes, boolean deferTeacher, long replayBytesPerClass,
                              long heldOutBytesPerClass, int heldOutEvery, int draftLayers, int headTokens, int baseTokens,
                              boolean classHeads, DistillerSettings distiller, double onlineLearningRate, boolean onlineTrainEmbedding, int batchSize, int evaluateEverySteps, int heldOutSamples,
                              double margin, boolean perClassDrafts, int classifierMinExamples, double classifierMinPosterior,
                              IdleGovernor.Settings idle, long pollNanos, boolean idleCpuClass, double bootstrapMinutes, int bootstrapMaxNewTokens,
                              int bootstrapStreams) {

    public static final String PATH = "tandem.trainer";

    public TrainerSettings {
        if (topK < 1 || batchSize < 1 || evaluateEverySteps < 1 || heldOutSamples < 1 || draftLayers < 1 || headTokens < 1
                || bootstrapMaxNewTokens < 1 || bootstrapStreams < 1) {
            throw new IllegalArgumentException("tandem.trainer sizes must be positive");
        }
    }

    /** The defaults (reference.conf), as any node without overrides sees them. */
    public static TrainerSettings defaults() {
        return fromConfig(ConfigFactory.load());
    }

    public static TrainerSettings fromConfig(Config root) {
        Config c = root.getConfig(PATH);
        Config d = c.getConfig("distiller");
        DistillerSettings distiller = new DistillerSettings(Divergence.parse(d.getString("divergence")),
                new AdamW.Settings(d.getDouble("learning-rate"), d.getDouble("beta1"), d.getDouble("beta2"), d.getDouble("epsilon"),
                        d.getDouble("weight-decay"), d.getDouble("clip-norm")),
                d.getDouble("rejected-weight"), d.getBoolean("train-embedding"), d.getDouble("teacher-temperature"));
        Config idle = c.getConfig("idle");
        return new TrainerSettings(c.getInt("recorder.top-k"), c.getDouble("recorder.sampling-rate"),
                c.getBytes("recorder.max-pending-bytes"), c.getBoolean("recorder.defer-teacher"), c.getBytes("replay.max-bytes-per-class"),
                c.getBytes("replay.held-out-bytes-per-class"), c.getInt("replay.held-out-every"), c.getInt("draft.layers"),
                c.getInt("draft.head-tokens"), c.getInt("draft.base-tokens"), c.getBoolean("draft.class-heads"), distiller, d.getDouble("online-learning-rate"), d.getBoolean("online-train-embedding"), d.getInt("batch-size"),
                c.getInt("evaluation.every-steps"), c.getInt("evaluation.held-out-samples"), c.getDouble("evaluation.margin"),
                c.getBoolean("classes.per-class-drafts"), c.getInt("classes.min-examples"), c.getDouble("classes.min-posterior"),
                new IdleGovernor.Settings(idle.getInt("max-queue-depth"), idle.getInt("max-active-sequences"),
                        idle.getDouble("max-latency-ratio"), idle.getDuration("quiet-period", TimeUnit.NANOSECONDS)),
                idle.getDuration("poll-interval", TimeUnit.NANOSECONDS), idle.getBoolean("idle-cpu-class"), c.getDouble("bootstrap.minutes"),
                c.getInt("bootstrap.max-new-tokens"), c.getInt("bootstrap.streams"));
    }

    /** The distiller's settings for online fine-tuning of live drafts. */
    public DistillerSettings onlineDistiller() {
        DistillerSettings d = distiller.withLearningRate(onlineLearningRate);
        return new DistillerSettings(d.divergence(), d.optimizer(), d.rejectedWeight(), onlineTrainEmbedding, d.teacherTemperature());
    }

    public TrainerSettings withDistiller(DistillerSettings d) {
        return new TrainerSettings(topK, samplingRate, maxPendingBytes, deferTeacher, replayBytesPerClass, heldOutBytesPerClass, heldOutEvery,
                draftLayers, headTokens, baseTokens, classHeads, d, onlineLearningRate, onlineTrainEmbedding, batchSize, evaluateEverySteps, heldOutSamples, margin, perClassDrafts,
                classifierMinExamples, classifierMinPosterior, idle, pollNanos, idleCpuClass, bootstrapMinutes, bootstrapMaxNewTokens, bootstrapStreams);
    }
}
