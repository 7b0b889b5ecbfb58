package dev.tandem.ops;

import picocli.CommandLine;

/** Reports the version recorded in the jar manifest (or "development" when run from classes). */
public final class TandemVersion implements CommandLine.IVersionProvider {

    @Override
    public String[] getVersion() {
        String v = TandemCommand.class.getPackage().getImplementationVersion();
        return new String[]{"tandem " + (v == null ? "development" : v) + " (Java " + Runtime.version() + ")"};
    }
}
