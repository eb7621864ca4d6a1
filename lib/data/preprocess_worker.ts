// A preprocess worker process: builds the shards the parent sends, one at a time, and reports each
// shard's record. Exits when the parent disconnects (also when the parent was killed).
import { type ShardDone, type ShardJob, buildShard } from './store.ts';

process.on('disconnect', () => process.exit(0));
process.on('message', (job: ShardJob) => {
  let reply: ShardDone;
  try {
    reply = { shard: job.shard, record: buildShard(job.shard, job.files, job.out, job.resample, job.frontend) };
  } catch (err) {
    reply = { shard: job.shard, error: err instanceof Error ? err.message : String(err) };
  }
  process.send!(reply);
});
