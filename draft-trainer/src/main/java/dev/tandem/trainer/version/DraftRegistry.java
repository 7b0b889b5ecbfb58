package dev.tandem.trainer.version;

import dev.tandem.engine.json.JsonText;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigSyntax;
import dev.tandem.engine.draft.DraftCheckpoint;
import dev.tandem.engine.draft.DraftModel;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;

/**
 * The drafts of every traffic class: the live one, and the history of candidates with their measured
 * acceptance. A candidate is published only if the {@link DraftEvaluator} found it better than the live
 * draft; a published draft that turns out worse is rolled back to the previous one. Persisted under a
 * root directory (normally {@code $TANDEM_HOME/drafts}):
 * <pre>
 *   drafts/&lt;class&gt;/v&lt;N&gt;.draft     checkpoints of the live and the last {@link #KEEP_RETIRED} retired versions
 *   drafts/&lt;class&gt;/metrics.json  {"class", "live", "versions": [{"version", "status", "created_millis", "note",
 *                                  "greedy_acceptance", "expected_accepted", "sampled_acceptance", "positions",
 *                                  "live_greedy_acceptance", "live_expected_accepted"}]}
 * </pre>
 * and reloaded by {@link #open}. Thread-safe.
 */
public final class DraftRegistry {

    public static final String METRICS_FILE = "metrics.json";
    /** Checkpoints of retired versions kept for rollback (older ones are deleted; their metrics stay). */
    public static final int KEEP_RETIRED = 2;

    private final Path root;
    private final Map<String, ClassDrafts> classes = new TreeMap<>();
    private final List<DraftPublisher> publishers = new CopyOnWriteArrayList<>();

    private DraftRegistry(Path root) {
        this.root = root;
    }

    /** Opens (creating it if needed) the registry under {@code root} and reloads every class's live draft. */
    public static DraftRegistry open(Path root) {
        DraftRegistry r = new DraftRegistry(root);
        if (!Files.isDirectory(root)) return r;
        try (Stream<Path> dirs = Files.list(root)) {
            for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                Path metrics = dir.resolve(METRICS_FILE);
                if (Files.isRegularFile(metrics)) r.load(dir.getFileName().toString(), metrics);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list drafts under " + root, e);
        }
        return r;
    }

    public Path root() { return root; }

    public void addPublisher(DraftPublisher p) { publishers.add(p); }

    public synchronized List<String> classes() { return List.copyOf(classes.keySet()); }

    public synchronized Optional<DraftModel> live(String trafficClass) {
        ClassDrafts c = classes.get(trafficClass);
        return c == null ? Optional.empty() : Optional.ofNullable(c.live);
    }

    /** The class's live draft, else the general one's, else empty. */
    public synchronized Optional<DraftModel> liveOrGeneral(String trafficClass) {
        return live(trafficClass).or(() -> live(DraftModel.GENERAL_CLASS));
    }

    public synchronized List<DraftVersion> history(String trafficClass) {
        ClassDrafts c = classes.get(trafficClass);
        return c == null ? List.of() : List.copyOf(c.history);
    }

    /**
     * Every draft this registry holds in memory (each class's live one and its last retired ones), for a
     * receiver looking for an embedding it already has; no checkpoint is read.
     */
    public synchronized List<DraftModel> inMemory() {
        List<DraftModel> out = new ArrayList<>();
        for (ClassDrafts c : classes.values()) {
            if (c.live != null) out.add(c.live);
            out.addAll(c.retired.values());
        }
        return out;
    }

    /** A version of the class if it is held in memory (live or among the last retired), without reading a checkpoint. */
    public synchronized Optional<DraftModel> inMemory(String trafficClass, long version) {
        ClassDrafts c = classes.get(trafficClass);
        if (c == null) return Optional.empty();
        if (c.live != null && c.live.version() == version) return Optional.of(c.live);
        return Optional.ofNullable(c.retired.get(version));
    }

    /** The most recently retired version of the class (what a rollback would restore), read from its checkpoint. */
    public synchronized Optional<DraftModel> previous(String trafficClass) {
        ClassDrafts c = classes.get(trafficClass);
        if (c == null) return Optional.empty();
        for (int i = c.history.size() - 1; i >= 0; i--) {
            DraftVersion v = c.history.get(i);
            if (v.status() == DraftVersion.Status.RETIRED && hasCheckpoint(trafficClass, v)) {
                return Optional.of(retiredDraft(trafficClass, c, v));
            }
        }
        return Optional.empty();
    }

    /** The number the next candidate of the class gets. */
    public synchronized long nextVersion(String trafficClass) {
        ClassDrafts c = classes.get(trafficClass);
        long max = 0;
        if (c != null) for (DraftVersion v : c.history) max = Math.max(max, v.version());
        return max + 1;
    }

    /**
     * Records the evaluated candidate; publishes it (checkpoint, live, publishers told) iff the comparison
     * says it is better. The candidate is copied, so the caller may keep training its own. Returns the entry.
     */
    public DraftVersion submit(String trafficClass, DraftModel candidate, DraftEvaluator.Comparison comparison, String note) {
        DraftModel published;
        DraftVersion entry;
        synchronized (this) {
            ClassDrafts c = classes.computeIfAbsent(trafficClass, k -> new ClassDrafts());
            long version = nextVersion(trafficClass);
            long now = System.currentTimeMillis();
            if (!comparison.better()) {
                entry = new DraftVersion(version, DraftVersion.Status.REJECTED, now, comparison.candidate(), comparison.live(), note);
                c.history.add(entry);
                saveMetrics(trafficClass, c);
                return entry;
            }
            // A candidate whose embedding is the very (frozen) array of a live draft shares it instead of copying it.
            DraftModel general = classes.containsKey(DraftModel.GENERAL_CLASS) ? classes.get(DraftModel.GENERAL_CLASS).live : null;
            float[] embedding = candidate.parameters().embedding();
            boolean share = (c.live != null && c.live.parameters().embedding() == embedding)
                    || (general != null && general.parameters().embedding() == embedding);
            published = DraftCopies.copy(candidate, version, trafficClass, share);
            DraftCheckpoint.write(dir(trafficClass).resolve(DraftVersion.fileName(version)), published);
            retireLive(c);
            pruneRetired(trafficClass, c);
            entry = new DraftVersion(version, DraftVersion.Status.LIVE, now, comparison.candidate(), comparison.live(), note);
            c.history.add(entry);
            c.replaceLive(published);
            saveMetrics(trafficClass, c);
        }
        for (DraftPublisher p : publishers) p.live(trafficClass, published);
        return entry;
    }

    /**
     * Marks the live version rolled back and makes the most recent retired version live again (its
     * checkpoint reloaded). Returns the draft now live, or empty when there was nothing to go back to
     * (the class then has no live draft).
     */
    public Optional<DraftModel> rollback(String trafficClass, String why) {
        DraftModel now;
        synchronized (this) {
            ClassDrafts c = classes.get(trafficClass);
            if (c == null || c.live == null) return Optional.empty();
            for (int i = c.history.size() - 1; i >= 0; i--) {
                if (c.history.get(i).status() == DraftVersion.Status.LIVE) {
                    DraftVersion v = c.history.get(i);
                    c.history.set(i, new DraftVersion(v.version(), DraftVersion.Status.ROLLED_BACK, v.createdMillis(), v.metrics(),
                            v.liveMetrics(), v.note() + "; rolled back: " + why));
                }
            }
            c.live = null;
            for (int i = c.history.size() - 1; i >= 0; i--) {
                DraftVersion v = c.history.get(i);
                if (v.status() == DraftVersion.Status.RETIRED && hasCheckpoint(trafficClass, v)) {
                    c.live = retiredDraft(trafficClass, c, v);
                    c.history.set(i, v.withStatus(DraftVersion.Status.LIVE));
                    break;
                }
            }
            saveMetrics(trafficClass, c);
            now = c.live;
        }
        if (now != null) for (DraftPublisher p : publishers) p.live(trafficClass, now);
        return Optional.ofNullable(now);
    }

    /**
     * Makes a draft published elsewhere (another node's registry, shipped over the cluster) live here under
     * its own version number: its checkpoint is written, the live draft retired, and publishers are told.
     * An entry of that version already in the history (e.g. the node had it live before) becomes live again;
     * otherwise one is added with the given metrics. Nothing changes when that version is live already.
     */
    public DraftVersion adopt(String trafficClass, DraftModel draft, AcceptanceMetrics metrics, AcceptanceMetrics liveMetrics,
                              long createdMillis, String note) {
        return adopt(trafficClass, draft, metrics, liveMetrics, createdMillis, note, 0);
    }

    /**
     * As {@link #adopt(String, DraftModel, AcceptanceMetrics, AcceptanceMetrics, long, String)}, for a change that
     * was a rollback elsewhere: version {@code rolledBack} (0 = none) is marked rolled back here too, so that it is
     * not what a later rollback on this node restores.
     */
    public DraftVersion adopt(String trafficClass, DraftModel draft, AcceptanceMetrics metrics, AcceptanceMetrics liveMetrics,
                              long createdMillis, String note, long rolledBack) {
        DraftVersion entry;
        synchronized (this) {
            ClassDrafts c = classes.computeIfAbsent(trafficClass, k -> new ClassDrafts());
            long version = draft.version();
            if (c.live != null && c.live.version() == version) return find(c, version);
            DraftModel adopted = draft.trafficClass().equals(trafficClass) ? draft : draft.withVersion(version, trafficClass);
            DraftCheckpoint.write(dir(trafficClass).resolve(DraftVersion.fileName(version)), adopted);
            retireLive(c);
            int back = rolledBack > 0 ? indexOf(c, rolledBack) : -1;
            if (back >= 0 && rolledBack != version) {
                DraftVersion v = c.history.get(back);
                c.history.set(back, new DraftVersion(v.version(), DraftVersion.Status.ROLLED_BACK, v.createdMillis(), v.metrics(),
                        v.liveMetrics(), v.note() + "; rolled back elsewhere"));
            }
            int at = indexOf(c, version);
            if (at >= 0) {
                entry = c.history.get(at).withStatus(DraftVersion.Status.LIVE);
                c.history.set(at, entry);
            } else {
                entry = new DraftVersion(version, DraftVersion.Status.LIVE, createdMillis, metrics, liveMetrics, note);
                c.history.add(entry);
            }
            c.replaceLive(adopted);
            pruneRetired(trafficClass, c);
            saveMetrics(trafficClass, c);
        }
        DraftModel now = live(trafficClass).orElseThrow();
        for (DraftPublisher p : publishers) p.live(trafficClass, now);
        return entry;
    }

    /**
     * Makes a version of the class live again by an operator's decision, bypassing evaluation: a retired (or
     * rolled back) version whose checkpoint is still kept. Returns its entry; nothing changes when it is live.
     *
     * @throws java.util.NoSuchElementException for an unknown class or version
     * @throws IllegalStateException            when the version has no checkpoint (rejected candidates, pruned versions)
     */
    public DraftVersion promote(String trafficClass, long version, String why) {
        DraftVersion entry;
        DraftModel now;
        synchronized (this) {
            ClassDrafts c = classes.get(trafficClass);
            if (c == null) throw new java.util.NoSuchElementException("no drafts of traffic class '" + trafficClass + "'; classes: " + classes.keySet());
            int at = indexOf(c, version);
            if (at < 0) throw new java.util.NoSuchElementException("traffic class '" + trafficClass + "' has no version " + version);
            DraftVersion v = c.history.get(at);
            if (v.status() == DraftVersion.Status.LIVE) return v;
            if (!hasCheckpoint(trafficClass, v)) {
                throw new IllegalStateException("version " + version + " of '" + trafficClass + "' is " + v.status().name().toLowerCase(Locale.ROOT)
                        + " and has no checkpoint (only the live and the last " + KEEP_RETIRED + " retired versions keep theirs)");
            }
            now = DraftCheckpoint.read(dir(trafficClass).resolve(DraftVersion.fileName(version)));
            retireLive(c);
            entry = new DraftVersion(v.version(), DraftVersion.Status.LIVE, v.createdMillis(), v.metrics(), v.liveMetrics(),
                    v.note() + "; promoted: " + why);
            c.history.set(at, entry);
            c.replaceLive(now);
            pruneRetired(trafficClass, c);
            saveMetrics(trafficClass, c);
        }
        for (DraftPublisher p : publishers) p.live(trafficClass, now);
        return entry;
    }

    /** The checkpoint file of a version, if it is kept. */
    public synchronized Optional<Path> checkpoint(String trafficClass, long version) {
        Path file = dir(trafficClass).resolve(DraftVersion.fileName(version));
        return Files.isRegularFile(file) ? Optional.of(file) : Optional.empty();
    }

    /** The history entry of a version, if the class has one. */
    public synchronized Optional<DraftVersion> entry(String trafficClass, long version) {
        ClassDrafts c = classes.get(trafficClass);
        if (c == null) return Optional.empty();
        int at = indexOf(c, version);
        return at < 0 ? Optional.empty() : Optional.of(c.history.get(at));
    }

    /** Whether a traffic class can name a draft directory (letters, digits, '_', '.', '-'; not starting with '.'). */
    public static boolean isSafeClassName(String trafficClass) {
        return trafficClass != null && trafficClass.matches("[A-Za-z0-9_.-]{1,64}") && !trafficClass.startsWith(".");
    }

    private static int indexOf(ClassDrafts c, long version) {
        for (int i = c.history.size() - 1; i >= 0; i--) if (c.history.get(i).version() == version) return i;
        return -1;
    }

    private static DraftVersion find(ClassDrafts c, long version) {
        int at = indexOf(c, version);
        return at < 0 ? null : c.history.get(at);
    }

    private void pruneRetired(String trafficClass, ClassDrafts c) {
        int kept = 0;
        for (int i = c.history.size() - 1; i >= 0; i--) {
            DraftVersion v = c.history.get(i);
            if (v.status() != DraftVersion.Status.RETIRED) continue;
            if (++kept <= KEEP_RETIRED) continue;
            try {
                Files.deleteIfExists(dir(trafficClass).resolve(DraftVersion.fileName(v.version())));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot delete an old draft checkpoint of " + trafficClass, e);
            }
        }
    }

    private boolean hasCheckpoint(String trafficClass, DraftVersion v) {
        return Files.isRegularFile(dir(trafficClass).resolve(DraftVersion.fileName(v.version())));
    }

    private static void retireLive(ClassDrafts c) {
        for (int i = 0; i < c.history.size(); i++) {
            if (c.history.get(i).status() == DraftVersion.Status.LIVE) c.history.set(i, c.history.get(i).withStatus(DraftVersion.Status.RETIRED));
        }
    }

    private Path dir(String trafficClass) {
        if (!isSafeClassName(trafficClass)) {
            throw new IllegalArgumentException("traffic class '" + trafficClass + "' is not a safe directory name");
        }
        return root.resolve(trafficClass);
    }

    private void load(String trafficClass, Path metrics) {
        Config json = ConfigFactory.parseFile(metrics.toFile(), ConfigParseOptions.defaults().setSyntax(ConfigSyntax.JSON));
        ClassDrafts c = new ClassDrafts();
        for (Config v : json.getConfigList("versions")) {
            c.history.add(new DraftVersion(v.getLong("version"), DraftVersion.Status.valueOf(v.getString("status").toUpperCase(Locale.ROOT)),
                    v.getLong("created_millis"), metrics(v, ""), metrics(v, "live_"), v.getString("note")));
        }
        if (json.hasPath("live")) {
            long live = json.getLong("live");
            c.live = DraftCheckpoint.read(dir(trafficClass).resolve(DraftVersion.fileName(live)));
        }
        classes.put(trafficClass, c);
    }

    private static AcceptanceMetrics metrics(Config v, String prefix) {
        if (!v.hasPath(prefix + "greedy_acceptance")) return AcceptanceMetrics.NONE;
        return new AcceptanceMetrics(v.getDouble(prefix + "greedy_acceptance"), v.getDouble(prefix + "expected_accepted"),
                v.getDouble(prefix + "sampled_acceptance"), v.getLong(prefix + "positions"));
    }

    private void saveMetrics(String trafficClass, ClassDrafts c) {
        StringBuilder b = new StringBuilder();
        b.append("{\n  \"class\": \"").append(trafficClass).append("\",\n");
        if (c.live != null) b.append("  \"live\": ").append(c.live.version()).append(",\n");
        b.append("  \"versions\": [");
        for (int i = 0; i < c.history.size(); i++) {
            DraftVersion v = c.history.get(i);
            b.append(i == 0 ? "\n" : ",\n").append("    {\"version\": ").append(v.version())
                    .append(", \"status\": \"").append(v.status().name().toLowerCase(Locale.ROOT)).append('"')
                    .append(", \"created_millis\": ").append(v.createdMillis())
                    .append(", \"note\": ").append(JsonText.quote(v.note()));
            appendMetrics(b, "", v.metrics());
            appendMetrics(b, "live_", v.liveMetrics());
            b.append('}');
        }
        b.append("\n  ]\n}\n");
        Path dir = dir(trafficClass);
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempFile(dir, METRICS_FILE, ".tmp");
            Files.writeString(tmp, b, StandardCharsets.UTF_8);
            Files.move(tmp, dir.resolve(METRICS_FILE), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + dir.resolve(METRICS_FILE), e);
        }
    }

    private static void appendMetrics(StringBuilder b, String prefix, AcceptanceMetrics m) {
        if (m.positions() == 0) return;
        b.append(String.format(Locale.ROOT, ", \"%sgreedy_acceptance\": %.6f, \"%sexpected_accepted\": %.6f, \"%ssampled_acceptance\": %.6f, \"%spositions\": %d",
                prefix, m.greedyAcceptance(), prefix, m.expectedAccepted(), prefix, m.sampledAcceptance(), prefix, m.positions()));
    }

    /** The state of one class. */
    /** A retired version: from memory while it is among the last few live ones, else read from its checkpoint. */
    private DraftModel retiredDraft(String trafficClass, ClassDrafts c, DraftVersion v) {
        DraftModel kept = c.retired.get(v.version());
        return kept != null ? kept : DraftCheckpoint.read(dir(trafficClass).resolve(DraftVersion.fileName(v.version())));
    }

    private static final class ClassDrafts {
        DraftModel live;
        final List<DraftVersion> history = new ArrayList<>();
        /**
         * The last {@link #KEEP_RETIRED} drafts that were live, by version: every evaluation compares the live
         * draft with its predecessor, and reading that back from disk each time cost a whole draft of garbage.
         */
        final Map<Long, DraftModel> retired = new LinkedHashMap<>();

        void replaceLive(DraftModel next) {
            if (live != null && live != next) {
                retired.remove(live.version());
                retired.put(live.version(), live);
                while (retired.size() > KEEP_RETIRED) retired.remove(retired.keySet().iterator().next());
            }
            live = next;
        }
    }
}
