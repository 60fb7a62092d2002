/* global console, process */
// Checks that HF Rust `tokenizers` (Node binding) gives exactly our BPE encoder's ids.
// node tools/bpe/verify.mjs models/demo/tokenizer.json IDS.json   (IDS.json from tools/bpe/dump_ids.py)
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@anush008/tokenizers';

const [tokPath, idsPath] = process.argv.slice(2);
const tok = Tokenizer.fromFile(tokPath);
const items = JSON.parse(readFileSync(idsPath, 'utf8'));
let bad = 0;
let total = 0;
for (const it of items) {
  const enc = await tok.encode(it.text, null, { addSpecialTokens: false });
  const ids = enc.getIds();
  total += ids.length;
  const same = ids.length === it.ids.length && ids.every((v, i) => v === it.ids[i]);
  if (!same) {
    bad++;
    const k = ids.findIndex((v, i) => v !== it.ids[i]);
    console.log(`MISMATCH ${it.name} at ${k}: rust ${ids.slice(k, k + 5)} py ${it.ids.slice(k, k + 5)}`);
  }
  const dec = tok.decode ? await tok.decode(ids, false) : it.text;
  if (dec !== it.text) { bad++; console.log(`DECODE MISMATCH ${it.name}`); }
}
console.log(`${items.length} docs, ${total} ids, ${bad} mismatches`);
process.exit(bad ? 1 : 0);
