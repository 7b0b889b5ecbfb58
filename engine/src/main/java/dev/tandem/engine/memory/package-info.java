/**
 * Native memory the JVM does not offer by itself: anonymous mappings advised for transparent huge pages
 * ({@link dev.tandem.engine.memory.HugePageMemory}), which hold a stage's weights (see
 * {@link dev.tandem.engine.model.ResidentWeights}), and the kernel's account of them
 * ({@link dev.tandem.engine.memory.HugePageUsage}).
 */
package dev.tandem.engine.memory;
