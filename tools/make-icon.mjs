#!/usr/bin/env node
/* global Buffer, console */
// Draws the Marketplace icon, media/icon.png (128×128 RGBA; the Marketplace wants a PNG, not an
// SVG): media/icon.svg's picture, tokens (blue) routed to experts (orange), on a dark rounded tile.
// No image library: signed distances, 4×4 supersampling, and a PNG written with node:zlib.
// Usage: node tools/make-icon.mjs  (rewrites media/icon.png; commit the result)
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const SIZE = 128;
const SUB = 4;
// media/icon.svg's 16-unit box, scaled into the tile with a margin.
const SCALE = 7;
const OFFSET = (SIZE - 16 * SCALE) / 2;
const at = (v) => OFFSET + v * SCALE;

const TILE = [30, 30, 46];
const TOKEN = [55, 148, 255];
const EXPERT = [209, 134, 22];
const ROUTE = [200, 200, 210];

/** Distance to a rounded rectangle (negative inside). */
function roundedRect(px, py, x, y, w, h, r) {
  const dx = Math.abs(px - (x + w / 2)) - (w / 2 - r);
  const dy = Math.abs(py - (y + h / 2)) - (h / 2 - r);
  return Math.hypot(Math.max(dx, 0), Math.max(dy, 0)) + Math.min(Math.max(dx, dy), 0) - r;
}

/** Distance to a segment. */
function segment(px, py, x1, y1, x2, y2) {
  const vx = x2 - x1;
  const vy = y2 - y1;
  const t = Math.max(0, Math.min(1, ((px - x1) * vx + (py - y1) * vy) / (vx * vx + vy * vy)));
  return Math.hypot(px - (x1 + t * vx), py - (y1 + t * vy));
}

const box = (x, y, color) => ({ d: (px, py) => roundedRect(px, py, at(x), at(y), 4 * SCALE, 3 * SCALE, SCALE), color });
const route = (x1, y1, x2, y2) => ({ d: (px, py) => segment(px, py, at(x1), at(y1), at(x2), at(y2)) - 0.35 * SCALE, color: ROUTE });

// Painted in order; the last shape that covers a point wins.
const SHAPES = [
  { d: (px, py) => roundedRect(px, py, 0, 0, SIZE, SIZE, 22), color: TILE },
  route(5, 3.5, 11, 8),
  route(5, 12.5, 11, 3.5),
  route(5, 12.5, 11, 12.5),
  box(1, 2, TOKEN),
  box(1, 11, TOKEN),
  box(11, 2, EXPERT),
  box(11, 6.5, EXPERT),
  box(11, 11, EXPERT),
];

function render() {
  const rgba = Buffer.alloc(SIZE * SIZE * 4);
  for (let y = 0; y < SIZE; y++) {
    for (let x = 0; x < SIZE; x++) {
      const sum = [0, 0, 0, 0];
      for (let sy = 0; sy < SUB; sy++) {
        for (let sx = 0; sx < SUB; sx++) {
          const px = x + (sx + 0.5) / SUB;
          const py = y + (sy + 0.5) / SUB;
          const hit = SHAPES.findLast((s) => s.d(px, py) <= 0);
          if (hit) {
            sum[0] += hit.color[0];
            sum[1] += hit.color[1];
            sum[2] += hit.color[2];
            sum[3] += 1;
          }
        }
      }
      const i = (y * SIZE + x) * 4;
      // Colour averaged over the covered samples (straight alpha), coverage as alpha.
      for (let c = 0; c < 3; c++) {
        rgba[i + c] = sum[3] ? Math.round(sum[c] / sum[3]) : 0;
      }
      rgba[i + 3] = Math.round((255 * sum[3]) / (SUB * SUB));
    }
  }
  return rgba;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) {
    c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  }
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) {
    c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

function png(rgba) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA, no interlace
  const rows = Buffer.alloc(SIZE * (1 + SIZE * 4));
  for (let y = 0; y < SIZE; y++) {
    rgba.copy(rows, y * (1 + SIZE * 4) + 1, y * SIZE * 4, (y + 1) * SIZE * 4); // filter 0 per row
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'media', 'icon.png');
writeFileSync(out, png(render()));
console.log(`wrote ${out}`);
