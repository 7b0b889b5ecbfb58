/**
 * The Llama forward pass over a range of layers, for batches of rows from several sequences.
 *
 * <p>Typical use by a stage owner (one thread at a time):
 * <pre>{@code
 * ParallelRunner runner = new ParallelRunner(threads);
 * LlamaStage stage = new LlamaStage(weights, from, to, runner, maxRows);   // owns its KvCache
 * ForwardBatch batch = new ForwardBatch(config.dim(), maxRows);
 *
 * batch.clear();
 * for (int i = 0; i < prompt.length; i++) batch.addToken(seq, i, prompt[i], i == prompt.length - 1);
 * StageOutput out = stage.forward(batch);          // prefill: one call for the whole prompt
 * int next = out.argmax(prompt.length - 1);        // last stage: logits of rows that asked for them
 *
 * stage.cache().truncate(seq, acceptedLength);     // drop rejected draft tokens
 * stage.cache().release(seq);                      // sequence finished or cancelled
 * }</pre>
 * A non-last stage's {@link dev.tandem.engine.llama.StageOutput#hidden()} rows feed the next stage's batch
 * through {@link dev.tandem.engine.llama.ForwardBatch#addHidden}. Results are bit-for-bit reproducible: a
 * model split into stages gives exactly the logits of the whole model, and since every dot product adds in
 * one fixed order whatever the kernel, a row's result does not depend on the other rows of its batch.
 */
package dev.tandem.engine.llama;
