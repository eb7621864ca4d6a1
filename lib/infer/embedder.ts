// What `embed`, `verify` and `score` need of a trained model, whatever its family or file: the
// features of one 16 kHz waveform under the model's own evaluation protocol (prepare, synchronous,
// a WavError for a file the front end refuses) and the embeddings of a batch of prepared inputs
// (embed, on the native compute thread). Each family implements it in its own file
// (autospeech_embedder.ts, tdnn_embedder.ts); lib/infer/load_model.ts picks one for a path.

/** A decision threshold a model file records, and where it came from. */
export interface RecordedThreshold { value: number; source: string }

export interface Prepared {
  /** work units (windows, frames) this input costs: batches are cut at Embedder.batchCost */
  cost: number;
}

export interface Embedder<P extends Prepared = Prepared> {
  /** 'autospeech' | 'tdnn' | a later family */
  readonly family: string;
  /** the network and the file it came from, for summaries */
  readonly description: string;
  /** how an utterance becomes one embedding */
  readonly protocol: string;
  /** the EER threshold of the last verification evaluation the file records, or why there is none */
  readonly threshold: RecordedThreshold | { none: string };
  /** inputs of about this total cost go to the native side together */
  readonly batchCost: number;
  prepare(samples: Float32Array, path: string): P;
  embed(items: P[]): Promise<Float32Array[]>;
}
