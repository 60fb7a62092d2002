/** @file `moe-lens export TRACE.json --format csv|npy|safetensors -o OUT` (formats: src/exchange/). */
import { writeFile } from 'node:fs/promises';
import { traceToCsv } from '../../exchange/csv';
import { traceToNpy } from '../../exchange/npy';
import { traceToSafetensors } from '../../exchange/safetensorsExchange';
import { outAlias, parseCommandArgs } from '../args';
import { CliError, type CliCommand } from '../command';
import { readTraceFile } from './diff';

const usage = `usage: moe-lens export TRACE.json --format csv|npy|safetensors -o OUT

  csv           one row per (token, layer, rank): token,start,end,text,layer,rank,expert,weight,score
                (RFC 4180; a text cell starting with = + - @ ' gets a leading ' against formula injection)
  npy           int32 [tokens, moe_layers, k] expert ids (−1 pads), as vLLM/SGLang return them
  safetensors   experts i32 [T,L,k], weights f32 [T,L,k], scores and router_logits f32 [T,L,E],
                token_ids i32 [T], spans i32 [T,2] (−1 where null), the rest as __metadata__ JSON`;

export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'write a trace as CSV, npy (expert ids) or safetensors',
  usage,
  async run(argv) {
    const args = parseCommandArgs(outAlias(argv), { format: 'string', out: 'string' }, 1);
    const { format, out } = args.values;
    if (args.positional.length !== 1 || !out) {
      throw new CliError(`give one trace file and -o OUT (or --out OUT)\n${usage}`, 2);
    }
    const trace = await readTraceFile(args.positional[0]);
    const bytes =
      format === 'csv' ? traceToCsv(trace)
      : format === 'npy' ? traceToNpy(trace)
      : format === 'safetensors' ? traceToSafetensors(trace)
      : null;
    if (bytes === null) {
      throw new CliError(`--format must be csv, npy or safetensors`, 2);
    }
    await writeFile(out, bytes);
    return 0;
  },
};
