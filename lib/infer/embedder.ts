// What `embed`, `verify` and `score` need of a trained model, whatever its family or file: the
// features of one 16 kHz waveform under the model's own evaluation protocol (prepare, synchronous,
// a WavError for a file the front end refuses) and the embeddings of a batch of prepared inputs
// (embed, on the native compute thread). Each family implements it in its own file
// (autospeech_embedder.ts, tdnn_embedder.ts); lib/infer/load_model.ts picks one for a path.

/** A decision threshold a model file records, and where it came from. */
export interface RecordedThreshold { value: number; source: string }

/** What a loaded model is: the Node API's `model.info` (lib/index.ts). */
export interface ModelInfo {
  /** 'autospeech' (derived networks, ResNets) | 'tdnn' (EfficientTDNN subnets) */
  family: string;
  /** the network: 'network' (a derived AutoSpeech cell network) | 'resnet' | 'tdnn' */
  kind: string;
  /** the config's MODEL.NAME, e.g. 'model', 'resnet18', 'resnet34_bwn', 'tdnn8m2g' */
  name: string;
  /** the loader that read it: 'autospeech checkpoint' | 'tdnn checkpoint' | 'tdnn state_dict' | 'autospeech state_dict' | 'bwn' */
  format: string;
  /** the file or directory read */
  file: string;
  /** binary-weight convolutions (a BWN ResNet) */
  binary: boolean;
  dims: {
    /** values per embedding */
    embedding: number;
    /** feature bins per frame of the network input (257 |STFT| bins, or the TDNN's mel bins) */
    features: number;
    /** frames per window (AutoSpeech networks); null: the whole utterance at once (TDNN) */
    window: number | null;
  };
  /** parameter counts of the network as loaded (the TDNN: of its standalone subnet) */
  params: { total: number; trainable: number };
  /** a derived network's genotype (as `--text_arch` takes it); null for other kinds */
  genotype: string | null;
  /** a TDNN's subnet (depth-c0-..-k0-..-cat, as `--subnet` takes it); null for other kinds */
  subnet: string | null;
  /** the EER threshold the file records for same/different decisions, or null */
  threshold: number | null;
  description: string;
  protocol: string;
}

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
  readonly info: ModelInfo;
  /** inputs of about this total cost go to the native side together */
  readonly batchCost: number;
  prepare(samples: Float32Array, path: string): P;
  /** prepare, the same result, with the front end on the compute thread and the JS work in slices (the Node API) */
  prepareAsync(samples: Float32Array, path: string): Promise<P>;
  embed(items: P[]): Promise<Float32Array[]>;
}
